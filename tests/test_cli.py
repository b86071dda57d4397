"""The autolab command line, run as a user runs it (a separate process)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import run_python


def autolab(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "autolab", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_help_lists_every_command():
    result = autolab("--help")
    assert result.returncode == 0
    alone = autolab()  # `autolab` alone is a request for help, not a usage error
    assert (alone.returncode, alone.stdout, alone.stderr) == (0, result.stdout, "")
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    from autolab.cli import cli

    assert len(cli.commands) == 15
    for command in cli.commands:
        assert f"`{command}`" in readme  # the README's table names every command
        assert command in result.stdout
        assert autolab(command, "--help").returncode == 0


def test_a_metric_prints_as_a_chemist_reads_it():
    """`measure` and `analyze` print floats (numpy's too) to five significant digits and a long list
    of numbers as its length, but every sentence of a long list of warnings."""
    import numpy as np

    from autolab.cli.point import metric_text

    assert metric_text(437.123456789) == "437.12"
    assert metric_text(np.float32(0.123456789)) == "0.12346"
    assert (metric_text(3), metric_text(True), metric_text(None)) == ("3", "True", "None")
    assert metric_text(list(np.linspace(0.0, 1.0, 7))) == "[7 values]"
    warnings = [f"warning {i}: the fit reached its limit" for i in range(8)]
    assert metric_text(warnings) == str(warnings)


def test_a_usage_error_points_to_the_help_of_the_command_that_was_typed(tmp_path):
    """A subcommand's hint names the whole command (`autolab queue start`), which can be typed as it is."""
    top = autolab("measure", "--nucleation-temperature-c", "hot", "--growth-temperature-c", "280", "--residence-time-s", "14")
    nested = autolab("queue", "start", "--http", "--http-port", "abc", "--dir", str(tmp_path / "queue"))
    assert top.stderr.rstrip().endswith("(see `autolab measure --help`)")
    assert nested.stderr == (
        "autolab: error: Invalid value for '--http-port': 'abc' is not a valid integer. (see `autolab queue start --help`)\n"
    )
    assert autolab("queue", "start", "--help").returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["measure", "--nucleation-temperature-c", "400", "--growth-temperature-c", "280", "--residence-time-s", "14"],
            "autolab: error: nucleation_temperature_c=400.0 is outside the nucleation heater's allowed range 20–350 °C",
        ),
        (
            ["measure", "--nucleation-temperature-c", "280", "--growth-temperature-c", "280", "--residence-time-s", "-3"],
            "autolab: error: residence_time_s=-3.0 is outside the pumps' allowed range 0.625–600 s",
        ),
        (
            ["measure", "--nucleation-temperature-c", "hot", "--growth-temperature-c", "280", "--residence-time-s", "14"],
            "autolab: error: Invalid value for '--nucleation-temperature-c': 'hot' is not a valid float.",
        ),
        (
            ["phase-map", "--nucleation-temperatures-c", "260,x", "--growth-temperatures-c", "260", "--residence-times-s", "4"],
            "autolab: error: --nucleation-temperatures-c: 'x' in '260,x' is not a number",
        ),
        (
            ["measure", "--nucleation-temperature-c", "280", "--growth-temperature-c", "280", "--residence-time-s", "14", "--seed", "-1"],
            "autolab: error: seed=-1 must be a whole number ≥ 0",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, args, message):
    result = autolab(*args, "--catalog", str(tmp_path / "never-created"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(message)
    assert not (tmp_path / "never-created").exists()  # nothing written for bad input


@pytest.mark.slow
def test_measure_runs_and_show_round_trip(tmp_path):
    catalog = str(tmp_path / "cli-catalog")
    result = autolab(
        "measure", "--nucleation-temperature-c", "280", "--growth-temperature-c", "270", "--residence-time-s", "14",
        "--catalog", catalog, "--json",
    )
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout)
    uid = measured["uid"]
    # The measurement reports its analysis and the derived run it stored; a second process finds both.
    assert measured["metrics"]["uvvis.msc_families"] == ["CdSe-437"]
    stored = run_python(
        f"from autolab.catalog import open_catalog; c = open_catalog({catalog!r}); s = c[{measured['analysis_uid']!r}].metadata['start'];"
        "import json; print(json.dumps([s['plan_name'], s['analysis_of'], s['metrics']['uvvis']['msc_absorbance_CdSe-437']]))"
    )
    assert json.loads(stored.stdout) == ["analysis", uid, measured["metrics"]["uvvis.msc_absorbance_CdSe-437"]], stored.stderr
    listed = autolab("runs", "--catalog", catalog, "--json")
    rows = json.loads(listed.stdout)
    assert [row["uid"] for row in rows] == [uid]
    assert rows[0]["growth_temperature_c"] == 270
    assert rows[0]["exit_status"] == "success"
    table = autolab("runs", "--catalog", catalog)
    assert uid[:8] in table.stdout
    png = tmp_path / "point.png"
    shown = autolab("show", uid[:8], "--catalog", catalog, "--output", str(png))
    assert shown.returncode == 0, shown.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000
    missing = autolab("show", "ffffffff", "--catalog", catalog)
    assert missing.returncode == 2
    assert "no run with uid 'ffffffff' in the catalog" in missing.stderr
    short = autolab("show", "ab", "--catalog", catalog)
    assert short.returncode == 2
    assert short.stderr.strip() == "autolab: error: run 'ab' is too short: give at least 5 characters of a run uid (`autolab runs` lists them)"


@pytest.mark.slow
def test_measure_prints_its_metrics_and_analysis_run_and_analyze_prints_the_run_it_stores(tmp_path):
    from autolab.catalog import open_catalog

    catalog = tmp_path / "cli-catalog"
    result = autolab(
        "measure", "--nucleation-temperature-c", "280", "--growth-temperature-c", "270", "--residence-time-s", "14",
        "--standby-flow-ul-min", "0", "--catalog", str(catalog),
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    head, analysed, *rows = result.stdout.splitlines()
    uid = re.fullmatch(rf"stored run (\S+) in {re.escape(str(catalog.resolve()))}", head).group(1)
    analysis_uid = re.fullmatch(r"analysis stored as run (\S+):", analysed).group(1)
    printed = dict(row.split(None, 1) for row in rows)
    client = open_catalog(catalog, create=False)
    analysis = client[analysis_uid].metadata["start"]
    assert analysis["analysis_of"] == uid
    # One line per metric of the stored analysis, `plugin.metric  value`, as the derived run holds it.
    assert set(printed) == {f"{plugin}.{name}" for plugin, metrics in analysis["metrics"].items() for name in metrics}
    assert printed["uvvis.msc_families"] == "['CdSe-437']"
    assert float(printed["uvvis.nc_exciton_nm"]) == pytest.approx(analysis["metrics"]["uvvis"]["nc_exciton_nm"], rel=1e-4)
    assert float(printed["saxs.radius_nm"]) == pytest.approx(analysis["metrics"]["saxs"]["radius_nm"], rel=1e-4)
    # A session's first point: the reactor was primed with solvent, so no room-temperature precursor
    # mesophase is left in the flow cell to show Bragg peaks at 280 °C.
    assert printed["saxs.mesophase"] == "False"
    # --standby-flow-ul-min 0 stopped the pumps while the heaters moved; the point's start document says so.
    assert client[uid].metadata["start"]["standby_flow_ul_min"] == 0.0

    # Re-analysing the run stores another derived run and names it.
    again = autolab("analyze", uid[:8], "--catalog", str(catalog))
    assert again.returncode == 0, again.stderr
    second = re.fullmatch(rf"analysis of run {uid} stored as run (\S+)", again.stdout.splitlines()[0]).group(1)
    assert second != analysis_uid
    stored = open_catalog(catalog, create=False)[second].metadata["start"]
    assert (stored["analysis_of"], stored["reanalysis"]) == (uid, True)


def test_standby_flow_comes_from_the_config_file_and_the_option_overrides_it(tmp_path, monkeypatch):
    from autolab.runtime import session_reactor

    config = tmp_path / "autolab.toml"
    config.write_text("[reactor]\nstandby_flow_ul_min = 40\n")
    monkeypatch.setenv("AUTOLAB_CONFIG", str(config))
    assert session_reactor().standby_flow_rates() == {"cd_pump": 20.0, "se_pump": 20.0}  # the worker's and IPython's too
    assert session_reactor(standby_flow_ul_min="0").standby_flow_ul_min.get() == 0.0
    config.write_text("[reactor]\nstandby_flow_ul_min = 5\n")
    assert session_reactor(standby_flow_ul_min="30").standby_flow_ul_min.get() == 30.0  # the option wins; the file's is unused

    # A bad value, from the file or the option, stops the command with one line before any catalog is made.
    allowed = "0 (stop the pumps while the heaters move) or 20–24000 µL/min"
    for args, env, message in [
        ([], {"AUTOLAB_CONFIG": str(config)},
         f"autolab: error: AUTOLAB_CONFIG {config} [reactor] standby_flow_ul_min=5 is outside the allowed standby flows: {allowed}"),
        (["--standby-flow-ul-min", "fast"], {},
         f"autolab: error: --standby-flow-ul-min='fast' is not a number; allowed: {allowed}"),
    ]:
        result = subprocess.run(
            [sys.executable, "-m", "autolab", "phase-map", "--nucleation-temperatures-c", "280", "--growth-temperatures-c", "270",
             "--residence-times-s", "14", "--catalog", str(tmp_path / "never-created"), *args],
            capture_output=True, text=True, timeout=120, check=False,
            env={**{k: v for k, v in os.environ.items() if k != "AUTOLAB_CONFIG"}, **env},
        )
        assert (result.returncode, result.stderr.strip().splitlines()) == (2, [message])
    assert not (tmp_path / "never-created").exists()


@pytest.mark.parametrize("command", [["show", "ab"], ["export", "ab"], ["analyze", "ab"]], ids=lambda c: c[0])
def test_a_run_named_by_too_few_characters_is_refused_before_the_catalog_is_opened(tmp_path, command):
    """The catalog named here does not exist: the refusal names the run, not the catalog, so it came first."""
    missing = tmp_path / "no-such-catalog"
    result = autolab(*command, "--catalog", str(missing))
    assert result.returncode == 2
    assert result.stderr.strip() == "autolab: error: run 'ab' is too short: give at least 5 characters of a run uid (`autolab runs` lists them)"
    assert not missing.exists()


def test_show_into_a_missing_folder_is_one_line_before_the_catalog_is_opened(tmp_path):
    """The catalog named here does not exist either: the refusal names the output's folder, so it came first."""
    result = autolab("show", "last", "--catalog", str(tmp_path / "no-such-catalog"), "-o", str(tmp_path / "nodir" / "p.png"))
    assert (result.returncode, result.stderr.strip().splitlines()) == (
        2, [f"autolab: error: --output={tmp_path / 'nodir' / 'p.png'}: the folder {tmp_path / 'nodir'} does not exist"]
    )


def test_simulate_plotting_into_a_missing_folder_is_one_line(tmp_path):
    result = autolab("simulate", "--nucleation-temperature-c", "280", "--growth-temperature-c", "280", "--residence-time-s", "14",
                     "--plot", str(tmp_path / "nodir" / "p.png"))
    assert (result.returncode, result.stderr.strip().splitlines()) == (
        2, [f"autolab: error: --plot={tmp_path / 'nodir' / 'p.png'}: the folder {tmp_path / 'nodir'} does not exist"]
    )


def test_simulate_figure_files_and_seed_are_checked_before_simulating(tmp_path, monkeypatch):
    """A bare name printed one path and wrote another; a .txt, a file as folder, a full disk and --seed -1 were tracebacks or numpy's words."""
    from click.testing import CliRunner
    from matplotlib.figure import Figure

    from autolab.cli import cli

    point = ["simulate", "--nucleation-temperature-c", "280", "--growth-temperature-c", "280", "--residence-time-s", "14"]
    bare = CliRunner().invoke(cli, [*point, "--plot", str(tmp_path / "myplot")])
    assert bare.exit_code == 0, bare.output
    assert bare.output.strip().splitlines()[-1] == f"wrote {tmp_path / 'myplot.png'}"
    assert (tmp_path / "myplot.png").stat().st_size > 1000
    (tmp_path / "afile").write_text("")
    for extra, message in (
        (["--plot", str(tmp_path / "p.txt")],
         f"--plot={tmp_path / 'p.txt'}: matplotlib writes no '.txt' figure; give a .png, .pdf or .svg file (or: "),
        (["--plot", str(tmp_path / "afile" / "x.png")],
         f"--plot={tmp_path / 'afile' / 'x.png'}: the folder {tmp_path / 'afile'} is a file, not a folder"),
        (["--seed", "-1", "--no-noise"], "--seed=-1 must be a whole number ≥ 0"),
    ):
        refused = CliRunner().invoke(cli, [*point, *extra])
        (line,) = refused.output.strip().splitlines()
        assert refused.exit_code == 2
        assert line.startswith(f"autolab: error: {message}")  # the other types are matplotlib's list
    jpeg = CliRunner().invoke(cli, [*point, "--plot", str(tmp_path / "p.jpg")])  # any type matplotlib writes
    assert jpeg.exit_code == 0, jpeg.output

    def full_disk(self, path, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", full_disk)
    full = CliRunner().invoke(cli, [*point, "--plot", str(tmp_path / "p.png")])
    assert (full.exit_code, full.output.strip().splitlines()) == (
        2, [f"autolab: error: cannot write the figure {tmp_path / 'p.png'}: No space left on device"])


def test_a_campaign_whose_report_folder_cannot_be_made_is_refused_before_its_first_point(tmp_path):
    """The report is written after the last point; a file where its folder would go is one line before anything is measured."""
    (tmp_path / "afile").write_text("")
    catalog = tmp_path / "cat"
    result = autolab("campaign", "--budget", "3", "--catalog", str(catalog), "--report", str(tmp_path / "afile" / "rep"))
    assert (result.returncode, result.stderr.strip().splitlines()) == (
        2, [f"autolab: error: --report={tmp_path / 'afile' / 'rep'}: {tmp_path / 'afile'} is a file, not a folder"]
    )
    assert not catalog.exists()


def test_measure_on_the_twin_outside_its_validity_domain_warns_in_one_line_and_measures(tmp_path):
    result = autolab("measure", "--nucleation-temperature-c", "280", "--growth-temperature-c", "270", "--residence-time-s", "20",
                     "--catalog", str(tmp_path / "cat"), "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines() == [
        "autolab: warning: outside the twin's validity domain, the result is extrapolated: residence_time_s=20 s is outside 1.5–14 s"
    ]
    from autolab.catalog import open_catalog

    uid = json.loads(result.stdout)["uid"]
    start = open_catalog(tmp_path / "cat")[uid].metadata["start"]
    assert (start["extrapolated"], start["extrapolated_because"]) == (True, ["residence_time_s=20 s is outside 1.5–14 s"])


def test_a_phase_map_that_leaves_no_point_is_refused_before_a_catalog_is_made(tmp_path):
    result = autolab("phase-map", "--nucleation-temperatures-c", "260", "--growth-temperatures-c", "280", "--residence-times-s", "14",
                     "--growth-not-above-nucleation", "--catalog", str(tmp_path / "cat"))
    assert (result.returncode, result.stderr.strip()) == (
        2, "autolab: error: --growth-not-above-nucleation leaves no point of the grid (every growth temperature is above every "
           "nucleation temperature); nothing to measure")
    assert not (tmp_path / "cat").exists()


def test_a_config_or_reactor_factory_that_cannot_load_is_one_line_before_ipython_or_a_measurement(tmp_path):
    """ipython.md's configuration, wrong: an unreadable AUTOLAB_CONFIG, a factory whose module is not
    installed, a factory that is not a function or returns no reactor — one line naming it, exit 2,
    no IPython prompt over an empty namespace and no traceback."""
    import os

    config = tmp_path / "autolab.toml"
    config.write_text('[reactor]\nfactory = "my_beamline.devices:flow_reactor"\n')
    seeded = tmp_path / "seeded.toml"
    seeded.write_text("[reactor]\nseed = 2.5\n")
    measure = ("measure", "--nucleation-temperature-c", "280", "--growth-temperature-c", "280", "--residence-time-s", "14",
               "--catalog", str(tmp_path / "catalog"))
    cases = [
        ({"AUTOLAB_CONFIG": str(tmp_path / "missing.toml")}, ("ipython",),
         f"AUTOLAB_CONFIG={str(tmp_path / 'missing.toml')!r} cannot be read: [Errno 2] No such file or directory"),
        ({"AUTOLAB_CONFIG": str(config)}, ("ipython",),
         "reactor factory 'my_beamline.devices:flow_reactor' ([reactor] factory in AUTOLAB_CONFIG) cannot be loaded: "
         "No module named 'my_beamline'"),
        ({"AUTOLAB_CONFIG": str(config)}, measure,
         "reactor factory 'my_beamline.devices:flow_reactor' ([reactor] factory in AUTOLAB_CONFIG) cannot be loaded: "
         "No module named 'my_beamline'"),
        ({"AUTOLAB_REACTOR": "os:sep"}, measure, "reactor factory 'os:sep' (AUTOLAB_REACTOR) is a str, not a function"),
        ({"AUTOLAB_DEVICES": str(tmp_path / "devices.yml")}, ("ipython",), f"device file {tmp_path / 'devices.yml'} cannot be read"),
        ({"AUTOLAB_REACTOR": "os:getcwd"}, measure, "reactor factory 'os:getcwd' returned str, not a FlowReactor"),
        # The twin's own settings: a seed and a time scale that are no such thing.
        ({"AUTOLAB_SEED": "abc"}, ("ipython",), "AUTOLAB_SEED='abc' must be a whole number ≥ 0"),
        ({"AUTOLAB_TIME_SCALE": "-5"}, measure,
         "AUTOLAB_TIME_SCALE='-5' must be a number ≥ 0 (real seconds per simulated second; 0: the virtual clock)"),
        ({"AUTOLAB_CONFIG": str(seeded)}, ("ipython",), f"[reactor] seed=2.5 in AUTOLAB_CONFIG {seeded} must be a whole number ≥ 0"),
    ]
    for env, args, message in cases:
        result = subprocess.run([sys.executable, "-m", "autolab", *args], capture_output=True, text=True, timeout=120,
                                check=False, env={**os.environ, **env}, stdin=subprocess.DEVNULL)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert result.stderr.startswith(f"autolab: error: {message}"), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "catalog").exists()


def test_the_twins_seed_is_taken_exactly_and_a_commands_own_seed_leaves_the_configs_unread(monkeypatch):
    from autolab.runtime import session_reactor, twin_settings

    assert twin_settings({"seed": "12345678901234567891", "time_scale": " 0.01 "}) == (12345678901234567891, 0.01)
    assert twin_settings({"seed": 9007199254740993})[0] == 9007199254740993  # not rounded through a float
    monkeypatch.setenv("AUTOLAB_SEED", "abc")
    monkeypatch.delenv("AUTOLAB_CONFIG", raising=False)
    assert session_reactor(seed=3, time_scale=0.0).name == "reactor"  # --seed 3 beside a bad AUTOLAB_SEED


def _measure_in_process(monkeypatch, tmp_path, reactor):
    """`autolab measure` at 280/270 °C, 14 s on ``reactor``, in this process (CliRunner)."""
    from click.testing import CliRunner

    import autolab.runtime
    from autolab.cli import cli

    monkeypatch.setattr(autolab.runtime, "session_reactor", lambda **_: reactor)
    args = ["measure", "--nucleation-temperature-c", "280", "--growth-temperature-c", "270", "--residence-time-s", "14",
            "--catalog", str(tmp_path / "catalog")]
    return CliRunner().invoke(cli, args)


def test_measure_leaves_the_pumps_stopped(monkeypatch, tmp_path):
    """Over EPICS the reactor runs on after the command: a point's flow left running empties the syringes."""
    from autolab.devices import make_twin_reactor

    reactor = make_twin_reactor(seed=0)
    result = _measure_in_process(monkeypatch, tmp_path, reactor)
    assert result.exit_code == 0, result.output
    assert [reactor.cd_pump.flow_rate.get(), reactor.se_pump.flow_rate.get()] == [0.0, 0.0]
    assert reactor.growth_oven.setpoint.get() == 270.0  # the heaters keep the point's temperatures


def test_a_device_failing_a_measurement_is_one_line_and_its_run_is_stored_as_failed(monkeypatch, tmp_path):
    from ophyd import DeviceStatus

    from autolab.catalog import find_runs, open_catalog
    from autolab.devices import make_twin_reactor

    reactor = make_twin_reactor(seed=0)

    def never_settles(value):
        status = DeviceStatus(reactor.growth_oven)
        status.set_exception(TimeoutError(f"growth oven did not settle at {value:g} °C"))
        return status

    monkeypatch.setattr(reactor.growth_oven, "set", never_settles)
    result = _measure_in_process(monkeypatch, tmp_path, reactor)
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [  # bluesky's "Run aborted" traceback is not printed above it
        f"autolab: error: a device failed: growth oven did not settle at 270 °C; the last run is stored with "
        f"exit_status 'fail' in {tmp_path / 'catalog'}"]
    (run,) = find_runs(open_catalog(tmp_path / "catalog"), plan_name="measure_point")
    assert run.metadata["stop"]["exit_status"] == "fail"
    assert [reactor.cd_pump.flow_rate.get(), reactor.se_pump.flow_rate.get()] == [0.0, 0.0]


def test_two_pumps_failing_one_measurement_are_both_named(monkeypatch, tmp_path):
    """Both pumps lose their connection in one turn of the RunEngine's loop: bluesky raises one failure, the line names both."""
    import threading

    from ophyd import DeviceStatus

    import autolab.runtime
    from autolab.devices import make_twin_reactor

    reactor = make_twin_reactor(seed=0)
    sessions: list = []
    open_session = autolab.runtime.open_session
    monkeypatch.setattr(autolab.runtime, "open_session", lambda *a, **k: sessions.append(open_session(*a, **k)) or sessions[-1])
    failures: list = []

    def fail_both():
        for status, message in failures:
            status.set_exception(TimeoutError(message))

    for pump in (reactor.cd_pump, reactor.se_pump):
        original = pump.set

        def failing_set(value, *, pump=pump, original=original):
            if len(failures) >= 2 or value == 0.0:  # the pumps' stop after the point works
                return original(value)
            status = DeviceStatus(pump)
            failures.append((status, f"{pump.name} lost its connection"))
            if len(failures) == 2:  # both fail from inside the RunEngine's loop, one after the other
                threading.Timer(0.3, sessions[-1].RE.loop.call_soon_threadsafe, (fail_both,)).start()
            return status

        monkeypatch.setattr(pump, "set", failing_set)

    result = _measure_in_process(monkeypatch, tmp_path, reactor)
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    head, _, tail = line.partition("; the last run is stored with exit_status 'fail' in ")
    # The RunEngine raises the failure it kept last; the other is read from its status.
    assert head.removeprefix("autolab: error: devices failed: ").split("; ") in (
        ["reactor_cd_pump lost its connection", "reactor_se_pump lost its connection"],
        ["reactor_se_pump lost its connection", "reactor_cd_pump lost its connection"]), line
    assert tail == str(tmp_path / "catalog")


@pytest.mark.parametrize("service", ["ioc", "queue"])
def test_status_of_nothing_running_exits_1_so_scripts_can_test_it(tmp_path, service):
    from click.testing import CliRunner

    from autolab.cli import cli

    plain = CliRunner().invoke(cli, [service, "status", "--dir", str(tmp_path)])
    assert plain.exit_code == 1, plain.output
    assert plain.output == (f"no IOC running (directory {tmp_path})\n" if service == "ioc" else f"no queue started from {tmp_path}\n")
    as_json = CliRunner().invoke(cli, [service, "status", "--dir", str(tmp_path), "--json"])
    assert as_json.exit_code == 1
    assert json.loads(as_json.output) == {"running": False, "directory": str(tmp_path)}
    # The command itself, not only click's runner: `autolab` passes the status on to the shell.
    shell = subprocess.run([sys.executable, "-m", "autolab", service, "status", "--dir", str(tmp_path)],
                           capture_output=True, text=True, timeout=120, check=False)
    assert shell.returncode == 1, shell.stderr
