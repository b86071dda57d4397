"""The plugin manager, instrument files, the CLI and the live callback into the catalog."""

from __future__ import annotations

import importlib.metadata
import json
import math
import subprocess
import sys
import types

import numpy as np
import pytest

from autolab import sim
from autolab.analysis import PluginManager, hookimpl
from autolab.analysis.files import FileFormatError, read_saxs, read_uvvis


def test_builtins_load_through_entry_points():
    manager = PluginManager()
    names = {p.name: p for p in manager.plugins()}
    assert {"uvvis", "saxs", "kinetics", "objectives"} <= set(names)
    assert names["uvvis"].distribution == "autolab"
    assert "autolab_analyze_uvvis" in names["uvvis"].hooks
    assert manager.load_errors == []


def test_autoload_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("AUTOLAB_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert PluginManager().plugins() == []


class _Broken:
    @hookimpl
    def autolab_analyze_uvvis(self, wavelength_nm):
        msg = "detector file is corrupt"
        raise RuntimeError(msg)


def test_a_raising_plugin_is_recorded_and_the_others_stand():
    manager = PluginManager()
    manager.register(_Broken(), "broken")
    result = sim.simulate(sim.Conditions(280, 280, 14.0), rng=np.random.default_rng(0))
    report = manager.analyze_uvvis(result.wavelength_nm, result.absorbance)
    assert "RuntimeError: detector file is corrupt" in report.errors["broken"]
    assert "plugin 'broken'" in report.errors["broken"]
    assert "CdSe-437" in report.metrics["uvvis.msc_families"]


def test_metric_names_are_namespaced_and_a_name_clash_is_refused():
    manager = PluginManager()
    with pytest.raises(ValueError, match="an analysis plugin named 'uvvis' is already registered"):
        manager.register(types.SimpleNamespace(), "uvvis")


def installed_plugin(monkeypatch, distribution: str, version: str, name: str, target: str) -> None:
    """Make ``importlib.metadata`` list one more distribution, whose ``autolab.plugins`` entry point ``name`` loads ``target``."""
    real = list(importlib.metadata.distributions())
    fake = types.SimpleNamespace(metadata={"Name": distribution}, version=version,
                                 entry_points=[importlib.metadata.EntryPoint(name, target, "autolab.plugins")])
    monkeypatch.setattr(importlib.metadata, "distributions", lambda: [*real, fake])


def test_entry_point_name_clash_is_reported_at_load_time(monkeypatch):
    """Two distributions claiming one plugin name: the second is reported, not silently lost."""
    installed_plugin(monkeypatch, "evil-plugins", "9.9", "uvvis", "autolab.plugins.uvvis")
    manager = PluginManager()
    assert any("'uvvis' is registered by both autolab and evil-plugins" in e for e in manager.load_errors)


def test_a_plugin_that_fails_to_import_is_named_in_every_analysis(monkeypatch):
    """Installed but broken: `autolab plugins` listed it and every analysis was silent about its missing metrics."""
    installed_plugin(monkeypatch, "autolab-broken", "0.1", "broken", "no_such_module_for_autolab:plugin")
    manager = PluginManager()
    assert any("plugin 'broken' (autolab-broken) failed to import" in e for e in manager.load_errors)
    result = sim.simulate(sim.Conditions(280, 280, 14.0), rng=np.random.default_rng(0))
    for report in (manager.analyze_uvvis(result.wavelength_nm, result.absorbance),
                   manager.analyze_saxs(result.q_nm_inv, result.intensity, result.intensity_sigma)):
        assert report.errors == {"broken": "plugin 'broken' (autolab-broken 0.1) failed to import and did not run: "
                                           "ModuleNotFoundError(\"No module named 'no_such_module_for_autolab'\")"}
        assert report.metrics  # the other plugins' results stand


def test_objectives_declared_and_computed():
    from autolab.sim.observables import band_absorbance

    manager = PluginManager()
    assert set(manager.objectives()) >= {"msc437", "msc437_selectivity", "nc_size", "yield"}
    result = sim.simulate(sim.Conditions(280, 280, 14.0), rng=np.random.default_rng(0))
    metrics = manager.analyze_uvvis(result.wavelength_nm, result.absorbance).metrics
    assert manager.objective("msc437", metrics) == pytest.approx(band_absorbance(result.state, "CdSe-437"), rel=0.1)
    share = manager.objective("msc437_selectivity", metrics)
    assert 0.0 < share < 1.0
    assert manager.objective("nc_size", metrics, {"target_diameter_nm": 3.0}) > 0
    assert math.isnan(manager.objective("nc_size", {}, {}))
    with pytest.raises(ValueError, match="objective='foo' is not provided by any plugin; available: msc437, msc437_selectivity, nc_size, yield"):
        manager.objective("foo", metrics)


def test_kinetics_hook_on_a_series():
    manager = PluginManager()
    t = np.linspace(0.5, 20, 10)
    points = [{"residence_time_s": ti, "uvvis.msc_absorbance_CdSe-437": 0.1 - 0.1 * np.exp(-0.3 * ti)} for ti in t]
    report = manager.analyze_series(points)
    assert report.metrics["kinetics.k_per_s"] == pytest.approx(0.3, rel=1e-3)


def write_uvvis_csv(path, wavelength, absorbance, header="wavelength_nm,absorbance"):
    path.write_text(header + "\n" + "\n".join(f"{w:g},{a:.6f}" for w, a in zip(wavelength, absorbance, strict=True)) + "\n")


def test_uvvis_readers_accept_common_exports(tmp_path):
    w = np.arange(300.0, 400.0, 2.0)
    a = np.linspace(1, 0, w.size)
    write_uvvis_csv(tmp_path / "a.csv", w, a)
    (tmp_path / "b.txt").write_text("Ocean Optics export\nWavelength\tAbs\n" + "\n".join(f"{x}\t{y}" for x, y in zip(w, a, strict=True)))
    for name in ("a.csv", "b.txt"):
        wl, ab = read_uvvis(tmp_path / name)
        np.testing.assert_allclose(wl, w)
        np.testing.assert_allclose(ab, a, atol=1e-6)


def test_malformed_file_names_file_and_line(tmp_path):
    w = np.arange(300.0, 400.0, 2.0)
    write_uvvis_csv(tmp_path / "bad.csv", w, np.ones_like(w))
    lines = (tmp_path / "bad.csv").read_text().splitlines()
    lines[5] = "310,abc"
    (tmp_path / "bad.csv").write_text("\n".join(lines))
    with pytest.raises(FileFormatError, match=r"bad.csv:6: '310,abc' is not numbers"):
        read_uvvis(tmp_path / "bad.csv")


def test_pyfai_saxs_file_in_inverse_angstrom_is_converted(tmp_path):
    q = np.geomspace(0.01, 0.5, 40)
    body = "\n".join(f"{x:.6e} {1 / x:.6e} {0.01:.3e}" for x in q)
    (tmp_path / "p.dat").write_text("# pyFAI integrate1d\n# q_A^-1  I  sigma\n" + body)
    qq, _intensity, sigma = read_saxs(tmp_path / "p.dat")
    np.testing.assert_allclose(qq, q * 10, rtol=1e-5)
    assert sigma is not None
    assert sigma.shape == q.shape


def autolab(*args):
    return subprocess.run([sys.executable, "-m", "autolab", *args], capture_output=True, text=True, timeout=300, check=False)


def test_cli_analyze_files_as_json(tmp_path):
    result = sim.simulate(sim.Conditions(280, 280, 14.0), rng=np.random.default_rng(2))
    write_uvvis_csv(tmp_path / "s.csv", result.wavelength_nm, result.absorbance)
    out = autolab("analyze", "--kind", "uvvis", str(tmp_path / "s.csv"), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert "CdSe-437" in data["uvvis.msc_families"]
    assert data["uvvis.nc_exciton_nm"] == pytest.approx(result.truth["nc_exciton_nm"], abs=10)
    for key in ("uvvis.nc_diameter_nm", "uvvis.nc_size_dispersion", "uvvis.nc_population_mean_diameter_nm"):
        assert key in data  # one name per metric: as `autolab plugins`, `analyze RUN` and the objectives write it
    # Without --json a table of the same values, each to five significant digits as `measure` prints them.
    out = autolab("analyze", "--kind", "uvvis", str(tmp_path / "s.csv"))
    assert out.returncode == 0, out.stderr
    printed = dict(line.split(maxsplit=1) for line in out.stdout.splitlines())
    assert printed["uvvis.nc_exciton_nm"] == f"{data['uvvis.nc_exciton_nm']:.5g}"
    assert printed["uvvis.yield_proxy"] == f"{data['uvvis.yield_proxy']:.5g}"
    cold = sim.simulate(sim.Conditions(25, 25, 14.0), rng=np.random.default_rng(2))
    (tmp_path / "p.dat").write_text(
        "# q_nm^-1 I sigma\n" + "\n".join(f"{a} {b} {c}" for a, b, c in zip(cold.q_nm_inv, cold.intensity, cold.intensity_sigma, strict=True))
    )
    out = autolab("analyze", "--kind", "saxs", str(tmp_path / "p.dat"), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["saxs.mesophase"] is True
    assert data["saxs.bragg_peaks_nm_inv"][0] == pytest.approx(1.84, abs=0.05)
    assert "saxs.radius_nm" in data
    assert "saxs.polydispersity" in data
    assert data["saxs.mcsas_mean_radius_nm"] > 0  # the deferred hook runs at once for a file


def _pattern_lines(q, intensity):
    return "# q_nm^-1 I\n" + "\n".join(f"{a} {b}" for a, b in zip(q, intensity, strict=True)) + "\n"


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        ("uvvis", "", "only 0 data line(s); a UV-Vis file needs at least 20"),
        ("saxs", "\n".join(["1.0"] * 30), ":1: expected 2 or 3 or 4 columns for a SAXS file, found 1"),
        ("uvvis", "400,0.1\n401,inf\n" + "\n".join(f"{402 + i},0.1" for i in range(30)), ":2: '401,inf' contains infinity"),
        ("saxs", _pattern_lines(np.linspace(0.1, 5, 40), -np.ones(40)), ": plugin saxs: intensity has no positive value"),
        # A European export (semicolons, decimal commas) and a file with absorbance first: what is wrong, and the fix.
        ("uvvis", "Wellenlänge;Extinktion\n" + "\n".join(f"{400 + i},0;0,{10 + i}" for i in range(30)),
         ":2: expected 2 columns for a UV-Vis file, found 4; decimal commas? write 437.5, not 437,5"),
        ("uvvis", "absorbance,wavelength\n" + "\n".join(f"0.{10 + i},{400 + i}" for i in range(30)),
         ": the columns look swapped (absorbance first, then wavelength; 0.1, 400 on the first data line): write the wavelength (nm) first"),
    ],
)
def test_cli_bad_files_are_one_line_naming_the_file(tmp_path, kind, text, message):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    out = autolab("analyze", "--kind", kind, str(path))
    assert out.returncode == 2, out.stdout
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith(f"autolab: error: {path}")
    assert message in line


def test_cli_repairs_a_descending_pattern_and_says_so(tmp_path):
    cold = sim.simulate(sim.Conditions(25, 25, 14.0), rng=np.random.default_rng(2))
    path = tmp_path / "reversed.dat"
    path.write_text(_pattern_lines(cold.q_nm_inv[::-1], cold.intensity[::-1]))
    out = autolab("analyze", "--kind", "saxs", str(path), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["saxs.mesophase"] is True
    assert data["notes"] == ["q_nm_inv was in descending order; sorted before the analysis"]
    assert any("estimated" in w for w in data["saxs.warnings"])  # no σ column: estimated, and said


def test_cli_drops_a_nan_row_of_a_file_and_says_so(tmp_path):
    """An instrument writes NaN for a pixel without a reading: the pair is dropped, as docs/analysis.md says, not the file refused."""
    spectrum = sim.simulate(sim.Conditions(280, 280, 14.0), rng=np.random.default_rng(3))
    absorbance = spectrum.absorbance.copy()
    absorbance[40] = np.nan
    path = tmp_path / "with-nan.csv"
    path.write_text("wavelength_nm,absorbance\n" + "\n".join(f"{w},{a}" for w, a in zip(spectrum.wavelength_nm, absorbance, strict=True)))
    out = autolab("analyze", "--kind", "uvvis", str(path), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert any(w.startswith(f"dropped 1 of {spectrum.wavelength_nm.size} points") for w in data["uvvis.warnings"]), data["uvvis.warnings"]
    assert data["uvvis.nc_exciton_nm"] > 480


def test_cli_malformed_file_is_one_line_exit_2(tmp_path):
    (tmp_path / "x.csv").write_text("wavelength_nm,absorbance\n1,2\n3\n")
    out = autolab("analyze", "--kind", "uvvis", str(tmp_path / "x.csv"))
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [f"autolab: error: {tmp_path / 'x.csv'}:3: expected 2 columns for a UV-Vis file, found 1"]


def test_cli_plugins_lists_builtins():
    out = autolab("plugins", "--json")
    names = {p["name"] for p in json.loads(out.stdout)["plugins"]}
    assert {"uvvis", "saxs", "kinetics", "objectives"} <= names


@pytest.mark.slow
def test_live_analysis_is_stored_beside_the_raw_run(RE, reactor, writer, catalog_dir):
    from tiled.queries import Key

    from autolab.analysis.runs import AnalysisCallback
    from autolab.catalog import open_catalog
    from autolab.plans import measure_point

    manager = PluginManager()
    manager.register(_Broken(), "broken")
    seen = []
    callback = AnalysisCallback(manager, writer, on_report=lambda start, report: seen.append(start["uid"]))
    RE.subscribe(writer)
    RE.subscribe(callback)
    (uid,) = RE(measure_point(reactor, 280, 280, 14.0))
    writer.flush()
    assert seen == [uid]
    client = open_catalog(catalog_dir)
    derived = list(client.search(Key("start.analysis_of") == uid).values())
    assert len(derived) == 1
    start = derived[0].metadata["start"]
    assert "CdSe-437" in start["metrics"]["uvvis"]["msc_families"]
    assert "detector file is corrupt" in start["errors"]["broken"]
    assert start["plugin_versions"]["uvvis"]
    stored = derived[0]["analysis"]["uvvis__nc_exciton_nm"].read()
    assert float(np.asarray(stored)[-1]) == pytest.approx(start["metrics"]["uvvis"]["nc_exciton_nm"])
    assert callback.errors == []
    # The raw run is untouched and re-analysable later from the CLI.
    out = autolab("analyze", uid, "--catalog", str(catalog_dir), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["uvvis.nc_exciton_nm"] == pytest.approx(start["metrics"]["uvvis"]["nc_exciton_nm"])
    assert len(list(open_catalog(catalog_dir).search(Key("start.analysis_of") == uid))) == 2


def test_documented_example_plugin_loads_by_entry_point(monkeypatch):
    """docs/example-plugin, registered as a (faked) installed distribution, adds its metric."""
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "docs" / "example-plugin"))
    installed_plugin(monkeypatch, "autolab-peakcount", "0.1.0", "peakcount", "autolab_peakcount")
    manager = PluginManager()
    info = {p.name: p for p in manager.plugins()}["peakcount"]
    assert (info.distribution, info.version, info.hooks) == ("autolab-peakcount", "0.1.0", ("autolab_analyze_uvvis", "autolab_metrics"))
    assert manager.metrics()["peakcount"] == {"n_peaks": {"unit": "", "description": "absorbance maxima 0.01 AU above their surroundings"}}
    wavelength = np.arange(300.0, 701.0, 1.0)
    spectrum = 0.05 * np.exp(-(((wavelength - 437) / 5) ** 2)) + 0.05 * np.exp(-(((wavelength - 560) / 15) ** 2))
    assert manager.analyze_uvvis(wavelength, spectrum).metrics["peakcount.n_peaks"] == 2


def test_a_file_without_kind_and_a_run_with_kind_each_say_which_option_to_use(tmp_path, monkeypatch):
    """`analyze spectrum.csv` said there was no run 'spectrum.csv'; `analyze last --kind saxs` that it could not read 'last'."""
    from click.testing import CliRunner

    from autolab.cli import cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "spectrum.csv").write_text("400,0.1\n")
    file_alone = CliRunner().invoke(cli, ["analyze", "spectrum.csv"])
    assert file_alone.exit_code == 2
    assert file_alone.output.strip().splitlines() == [
        "autolab: error: spectrum.csv is a file: give --kind uvvis or --kind saxs to analyse it (without --kind, analyze re-analyses a stored run)"]
    run_as_file = CliRunner().invoke(cli, ["analyze", "last", "--kind", "saxs"])
    assert run_as_file.exit_code == 2
    assert run_as_file.output.strip().splitlines() == [
        "autolab: error: --kind saxs reads an instrument file, and 'last' is not a file; to re-analyse a stored run leave out --kind"]
