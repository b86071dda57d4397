"""Run conventions (scan ids, measurements vs derived runs, named dims and units) and exports."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest
import xarray
from bluesky import RunEngine
from bluesky.callbacks.core import CallbackBase
from bluesky.plans import count
from click.testing import CliRunner
from tiled.client.container import Container
from tiled.queries import Key, NotIn

from autolab.catalog import CatalogWriter, journal_directory, last_scan_id, load_point, measurements, open_catalog
from autolab.catalog.export import stream_dataset
from autolab.catalog.reading import ScanIdSource
from autolab.cli import cli
from autolab.plans import measure_point
from autolab.runtime import open_session

from .conftest import run_python
from .test_catalog_serve import write_journal

pytestmark = pytest.mark.xdist_group("catalog_runs")  # one module catalog for all its tests


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """A catalog with one measured point, its analysis run and its deferred analysis run; (path, raw uid)."""
    path = tmp_path_factory.mktemp("runs") / "catalog"
    session = open_session(path)
    (uid,) = session.RE(measure_point(session.reactor, 280, 280, 14.0))
    session.close()
    return path, uid


def test_detectors_describe_named_dims_and_units(reactor):
    desc = reactor.describe()
    assert desc["reactor_spectrometer_absorbance"]["dims"] == ["wavelength_nm"]
    assert desc["reactor_spectrometer_wavelength_nm"]["dims"] == ["wavelength_nm"]
    assert desc["reactor_saxs_intensity"]["dims"] == ["q_nm_inv"]
    assert desc["reactor_saxs_intensity"]["units"] == "1/cm"
    assert desc["reactor_saxs_q_nm_inv"]["units"] == "1/nm"


@pytest.mark.slow
def test_stored_arrays_have_named_dims_units_and_coordinates(measured):
    path, uid = measured
    run = open_catalog(path, create=False)[uid]
    data = run.primary.read()
    assert data["reactor_spectrometer_absorbance"].dims == ("time", "wavelength_nm")
    assert data["reactor_saxs_intensity_sigma"].dims == ("time", "q_nm_inv")
    assert dict(data.sizes) == {"time": 1, "wavelength_nm": 401, "q_nm_inv": 250}
    # tiled's plain read(): named dims, but only the time coordinate and no units (docs/reading-runs.md says so).
    assert list(data.coords) == ["time"]
    assert data["reactor_spectrometer_wavelength_nm"].dims == ("time", "wavelength_nm")
    assert all(not variable.attrs for variable in data.data_vars.values())
    with pytest.raises(ValueError, match="no associated coordinate"):
        data["reactor_spectrometer_absorbance"].sel(wavelength_nm=437, method="nearest")
    data_keys = run.primary.descriptors[0]["data_keys"]
    assert data_keys["reactor_spectrometer_absorbance"]["units"] == "AU"
    assert data_keys["reactor_saxs_intensity"]["units"] == "1/cm"
    # stream_dataset: the axes as coordinates, with units, and units on every variable that has them.
    dataset = stream_dataset(run)
    assert sorted(dataset.coords) == ["q_nm_inv", "time", "wavelength_nm"]
    assert dataset["wavelength_nm"].values[[0, -1]].tolist() == [300.0, 700.0]
    assert dataset["q_nm_inv"].values[0] == pytest.approx(0.1)
    assert (dataset["wavelength_nm"].attrs["units"], dataset["q_nm_inv"].attrs["units"]) == ("nm", "1/nm")
    assert dataset["reactor_spectrometer_absorbance"].attrs["units"] == "AU"
    assert dataset["reactor_saxs_intensity_sigma"].attrs["units"] == "1/cm"
    absorbance = dataset["reactor_spectrometer_absorbance"].isel(time=0).sel(wavelength_nm=437.0)
    assert float(absorbance) == load_point(run).absorbance[137]
    nearest = dataset["reactor_spectrometer_absorbance"].isel(time=0).sel(wavelength_nm=437.3, method="nearest")
    assert (float(nearest.wavelength_nm), float(nearest)) == (437.0, float(absorbance))


@pytest.mark.slow
def test_scan_ids_continue_across_processes(tmp_path):
    path = tmp_path / "catalog"
    code = textwrap.dedent(
        f"""
        from autolab.plans import measure_point
        from autolab.runtime import open_session
        session = open_session({str(path)!r}, analyze=False)
        session.RE(measure_point(session.reactor, 280, 280, 4.5))
        session.RE(measure_point(session.reactor, 280, 280, 4.5))
        session.close()
        """
    )
    for _ in range(2):
        result = run_python(code)
        assert result.returncode == 0, result.stderr[-2000:]
    client = open_catalog(path, create=False)
    assert sorted(run.metadata["start"]["scan_id"] for run in client.values()) == [1, 2, 3, 4]
    assert last_scan_id(client) == 4


SESSION_LOOP = """
import sys
for line in sys.stdin:  # one point per line, then this session's scan id
    RE(measure_point(reactor, 280, 280, 4.5))
    print(RE.md["scan_id"], flush=True)
"""


def open_session_process(code, env=None):
    """A long-lived session in its own interpreter: measures a point per line on stdin, prints its scan id."""
    process = subprocess.Popen(
        [sys.executable, "-c", code + SESSION_LOOP + "print('closed', flush=True)\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    assert process.stdout.readline() == "ready\n", process.communicate(timeout=60)[1][-2000:]
    return process


def measure_in(process):
    process.stdin.write("measure\n")
    process.stdin.flush()
    line = process.stdout.readline()
    assert line.strip().isdigit(), process.communicate(timeout=60)[1][-2000:]
    return int(line)


@pytest.mark.slow
def test_sessions_open_at_the_same_time_number_runs_in_one_sequence(tmp_path):
    """The queue worker's namespace (autolab.startup) and an open_session, both open, interleaving points."""
    path = tmp_path / "catalog"
    open_catalog(path)
    worker = open_session_process(
        "from autolab.startup import RE, reactor, measure_point\nprint('ready', flush=True)\n",
        env={**os.environ, "AUTOLAB_CATALOG": str(path), "AUTOLAB_CONFIG": "", "AUTOLAB_REACTOR": ""},
    )
    session = open_session_process(
        "from autolab.plans import measure_point\nfrom autolab.runtime import open_session\n"
        f"s = open_session({str(path)!r}, analyze=False)\nRE, reactor = s.RE, s.reactor\nprint('ready', flush=True)\n"
    )
    try:
        numbers = [measure_in(process) for _ in range(3) for process in (worker, session)]
    finally:
        for process in (worker, session):
            _, err = process.communicate(timeout=120)
            assert process.returncode == 0, err[-2000:]
    assert numbers == [1, 2, 3, 4, 5, 6]
    stored = [run.metadata["start"] for run in measurements(open_catalog(path, create=False)).values()]
    assert sorted(start["scan_id"] for start in stored) == [1, 2, 3, 4, 5, 6]
    assert (path / "last_scan_id").read_text() == "6\n"


@pytest.mark.slow
def test_scan_id_source_counts_past_the_catalog_and_past_nine(tmp_path, monkeypatch):
    """The counter file starts from the catalog's largest scan id (compared as a number, not as text)."""
    path = tmp_path / "catalog"
    client = open_catalog(path)
    writer = CatalogWriter(client, journal_directory(path))
    engine = RunEngine({"scan_id": 8}, call_returns_result=False)
    engine.subscribe(writer)
    for _ in range(3):  # scan ids 9, 10, 11: as text "9" sorts after "11"
        engine(count([]))
    writer.flush()
    assert last_scan_id(client) == 11
    source = ScanIdSource(client, path)
    assert (path / "last_scan_id").read_text() == "11\n"
    assert [source({}), source({"scan_id": 20}), source({})] == [12, 21, 22]
    (path / "last_scan_id").write_text("")  # unreadable: taken again from the catalog
    assert source({}) == 12
    # Without a counter file (a served catalog, or no fcntl): the catalog's largest, or the session's own last, + 1.
    monkeypatch.setattr("autolab.catalog.reading.fcntl", None)
    served = ScanIdSource(client, path)
    assert served.counter is None
    assert [served({}), served({"scan_id": 30})] == [12, 31]
    writer.close()


class _HalfWrittenOnce:
    """A catalog client whose first page of runs fails as tiled does on a run still being created."""

    def __init__(self, client):
        self.client, self.failed = client, 0

    def values(self):
        if not self.failed:
            self.failed += 1
            msg = "'NoneType' object has no attribute 'items'"  # tiled's Structure.from_json(None)
            raise AttributeError(msg)
        return self.client.values()

    def search(self, query):
        return self.client.search(query)


def test_the_largest_scan_id_is_read_again_when_a_page_lists_a_run_being_written(tmp_path):
    path = tmp_path / "catalog"
    client = open_catalog(path)
    writer = CatalogWriter(client, journal_directory(path))
    engine = RunEngine({"scan_id": 6}, call_returns_result=False)
    engine.subscribe(writer)
    engine(count([]))
    writer.flush()
    flaky = _HalfWrittenOnce(client)
    assert last_scan_id(flaky) == 7
    assert flaky.failed == 1
    writer.close()


@pytest.mark.slow
def test_measurements_leave_out_derived_runs(measured):
    path, uid = measured
    client = open_catalog(path, create=False)
    assert len(client) == 3  # the point, its analysis run and its deferred analysis run
    assert list(measurements(client)) == [uid]
    assert list(client.search(NotIn("start.plan_name", ["analysis", "deferred_analysis", "autonomous_campaign"]))) == [uid]
    assert measurements(client).values().last().primary.read()["reactor_spectrometer_absorbance"].shape == (1, 401)


def test_a_derived_run_is_not_read_as_a_point_and_the_line_names_its_measurement(measured):
    """`autolab analyze` or `show` of an analysis run: it is not a measurement that failed, and the line says which run is."""
    path, uid = measured
    client = open_catalog(path, create=False)
    derived = [run for run in client.values() if run.metadata["start"]["plan_name"] != "measure_point"]
    assert sorted(run.metadata["start"]["plan_name"] for run in derived) == ["analysis", "deferred_analysis"]
    for run in derived:
        start = run.metadata["start"]
        result = CliRunner().invoke(cli, ["show", start["uid"][:8], "--catalog", str(path), "--output", str(path.parent / "x.png")])
        assert result.exit_code == 2
        assert result.output.strip().splitlines() == [
            f"autolab: error: run {start['uid']} is a derived {start['plan_name']!r} run, not a measurement: it has no primary "
            f"stream; the measurement it analyses is run {uid}"]


@pytest.mark.slow
def test_plain_key_needs_the_bluesky_catalog_client(measured):
    """``Key("plan_name")`` only works through CatalogOfBlueskyRuns; ``Key("start.plan_name")`` works everywhere."""
    path, uid = measured
    client = open_catalog(path, create=False)
    assert list(client.search(Key("plan_name") == "measure_point")) == [uid]
    # A plain tiled container (what a server without the catalog spec gives) searches top-level metadata.
    assert list(Container.search(client, Key("plan_name") == "measure_point")) == []
    assert list(Container.search(client, Key("start.plan_name") == "measure_point")) == [uid]


@pytest.mark.slow
def test_runs_lists_measurements_unless_all(measured):
    path, uid = measured
    default = CliRunner().invoke(cli, ["runs", "--catalog", str(path), "--json"])
    assert default.exit_code == 0, default.output
    assert [row["uid"] for row in json.loads(default.output)] == [uid]
    every = CliRunner().invoke(cli, ["runs", "--catalog", str(path), "--json", "--all"])
    assert sorted(row["plan_name"] for row in json.loads(every.output)) == ["analysis", "deferred_analysis", "measure_point"]
    # A table cut at --limit says so in its title; one that is not, counts its runs.
    cut = CliRunner().invoke(cli, ["runs", "--catalog", str(path), "--all", "--limit", "2"])
    assert "the newest 2 of 3 runs (--limit N for more)" in cut.output
    whole = CliRunner().invoke(cli, ["runs", "--catalog", str(path), "--all"], env={"COLUMNS": "60"})
    assert "3 run(s)" in whole.output
    # Not a terminal: the table is whole, however narrow the console says it is, not cut to "deferred…".
    for whole_text in ("deferred_analysis", "measure_point", "T_growth °C"):
        assert whole_text in whole.output


# --- exports -----------------------------------------------------------------------------


def export(path, uid, fmt, output):
    result = CliRunner().invoke(cli, ["export", uid[:8], "--catalog", str(path), "--format", fmt, "--output", str(output)])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.slow
def test_export_netcdf_reads_back_with_xarray(measured, tmp_path):
    path, uid = measured
    point = load_point(open_catalog(path, create=False)[uid])
    export(path, uid, "nc", tmp_path / "point.nc")
    with xarray.open_dataset(tmp_path / "point.nc", engine="h5netcdf") as data:
        np.testing.assert_array_equal(data["reactor_spectrometer_absorbance"].values[0], point.absorbance)
        np.testing.assert_array_equal(data["wavelength_nm"].values, point.wavelength_nm)
        np.testing.assert_array_equal(data["q_nm_inv"].values, point.q_nm_inv)
        assert data["reactor_saxs_intensity"].dims == ("time", "q_nm_inv")
        assert data["reactor_saxs_intensity"].attrs["units"] == "1/cm"
        assert json.loads(data.attrs["start"])["conditions"]["residence_time_s"] == 14.0


@pytest.mark.slow
def test_export_hdf5_reads_back_with_h5py(measured, tmp_path):
    path, uid = measured
    point = load_point(open_catalog(path, create=False)[uid])
    export(path, uid, "h5", tmp_path / "point.h5")
    with h5py.File(tmp_path / "point.h5", "r") as handle:
        assert handle.attrs["uid"] == uid
        intensity = handle["primary/reactor_saxs_intensity"]
        np.testing.assert_array_equal(intensity[0], point.intensity)
        assert intensity.attrs["units"] == "1/cm"
        assert list(intensity.attrs["dims"]) == ["time", "q_nm_inv"]
        assert handle["primary/reactor_cd_pump_flow_rate"][0] == point.readings["cd_pump_flow_rate"]


@pytest.mark.slow
def test_export_csv_reads_back_with_csv_and_numpy(measured, tmp_path):
    path, uid = measured
    point = load_point(open_catalog(path, create=False)[uid])
    output = export(path, uid, "csv", tmp_path / "point.csv")
    assert output.splitlines() == [f"wrote {tmp_path / name}" for name in ("point.csv", "point.q_nm_inv.csv", "point.wavelength_nm.csv")]
    with open(tmp_path / "point.csv", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert float(row["reactor_se_pump_flow_rate"]) == point.readings["se_pump_flow_rate"]
    spectrum = np.genfromtxt(tmp_path / "point.wavelength_nm.csv", delimiter=",", names=True)
    np.testing.assert_array_equal(spectrum["wavelength_nm"], point.wavelength_nm)
    np.testing.assert_array_equal(spectrum["reactor_spectrometer_absorbance"], point.absorbance)
    saxs = np.genfromtxt(tmp_path / "point.q_nm_inv.csv", delimiter=",", names=True)
    np.testing.assert_array_equal(saxs["reactor_saxs_intensity_sigma"], point.intensity_sigma)


def test_a_run_cut_off_before_its_first_event_exports_its_documents_without_a_stop_and_no_empty_stream(tmp_path):
    """A point killed after its descriptor: the stream formats refuse in one line, writing nothing, and the
    documents end where the run did (the catalog's documents() adds an empty stop, which no schema takes)."""
    from event_model import DocumentNames, compose_run, schema_validators

    path = tmp_path / "cat"
    open_catalog(path)
    bundle = compose_run(metadata={"plan_name": "measure_point"})
    described = bundle.compose_descriptor(name="primary", data_keys={"reactor_saxs_transmission": {"source": "sim", "dtype": "number", "shape": []}})
    # What a process killed after the descriptor leaves: its journal, replayed by the next writer (no event, no stop).
    write_journal(journal_directory(path), [("start", bundle.start_doc), ("descriptor", described.descriptor_doc)])
    CatalogWriter(open_catalog(path), journal_directory(path)).close()
    uid = bundle.start_doc["uid"]
    assert open_catalog(path)[uid].metadata.get("stop") is None
    for fmt in ("nc", "h5", "csv"):
        result = CliRunner().invoke(cli, ["export", uid[:8], "--catalog", str(path), "--format", fmt, "--output", str(tmp_path / f"p.{fmt}")])
        assert result.exit_code == 2, result.output
        assert result.output.strip().splitlines() == [
            f"autolab: error: run {uid} (unfinished) has no readings in its 'primary' stream: its descriptor has no event"
        ]
        assert not (tmp_path / f"p.{fmt}").exists()
    export(path, uid, "jsonl", tmp_path / "p.jsonl")
    entries = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert [entry["name"] for entry in entries] == ["start", "descriptor"]
    for entry in entries:
        schema_validators[DocumentNames[entry["name"]]].validate(entry["doc"])
    too_long = tmp_path / ("p" * 300 + ".jsonl")  # its folder is writable; the file system refuses the name, for any user
    unwritable = CliRunner().invoke(cli, ["export", uid[:8], "--catalog", str(path), "--format", "jsonl", "--output", str(too_long)])
    assert unwritable.exit_code == 2, unwritable.output
    assert unwritable.output.strip().splitlines() == [f"autolab: error: --output={too_long}: cannot be written (File name too long)"]


class CollectSpectra(CallbackBase):
    """A bluesky callback that keeps the start document and each event's absorbance."""

    def __init__(self):
        super().__init__()
        self.start_doc, self.absorbance, self.stop_doc = None, [], None

    def start(self, doc):
        self.start_doc = doc

    def event(self, doc):
        self.absorbance.append(np.asarray(doc["data"]["reactor_spectrometer_absorbance"]))

    def stop(self, doc):
        self.stop_doc = doc


@pytest.mark.slow
def test_export_jsonl_replays_into_callbacks_and_another_catalog(measured, tmp_path):
    path, uid = measured
    point = load_point(open_catalog(path, create=False)[uid])
    export(path, uid, "jsonl", tmp_path / "point.jsonl")
    entries = [json.loads(line) for line in (tmp_path / "point.jsonl").read_text().splitlines()]
    assert [entry["name"] for entry in entries] == ["start", "descriptor", "event", "stop"]
    collector = CollectSpectra()
    for entry in entries:
        collector(entry["name"], entry["doc"])
    assert collector.start_doc["uid"] == uid
    assert collector.stop_doc["exit_status"] == "success"
    np.testing.assert_array_equal(collector.absorbance[0], point.absorbance)
    # The same documents written into a new catalog give back the same point.
    copy = tmp_path / "copy"
    writer = CatalogWriter(open_catalog(copy), journal_directory(copy))
    for entry in entries:
        writer(entry["name"], entry["doc"])
    writer.close()
    assert writer.errors == []
    np.testing.assert_array_equal(load_point(open_catalog(copy, create=False)[uid]).intensity, point.intensity)



@pytest.mark.slow
def test_tiled_exports_the_stream_as_netcdf_hdf5_and_csv(measured, tmp_path):
    """``run.primary.export(…)`` (tiled's own export) gives the same files as ``autolab export``."""
    path, uid = measured
    run = open_catalog(path, create=False)[uid]
    point = load_point(run)
    for suffix in ("nc", "h5", "csv"):
        run.primary.export(str(tmp_path / f"stream.{suffix}"))
    with xarray.open_dataset(tmp_path / "stream.nc", engine="h5netcdf") as data:
        np.testing.assert_array_equal(data["reactor_spectrometer_absorbance"].values[0], point.absorbance)
        np.testing.assert_array_equal(data["q_nm_inv"].values, point.q_nm_inv)
        assert data["reactor_saxs_intensity"].attrs["units"] == "1/cm"
    with h5py.File(tmp_path / "stream.h5", "r") as handle:
        np.testing.assert_array_equal(handle["primary/reactor_saxs_intensity"][0], point.intensity)
        assert list(handle["primary/reactor_saxs_intensity"].attrs["dims"]) == ["time", "q_nm_inv"]
    with open(tmp_path / "stream.csv", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert float(row["reactor_cd_pump_flow_rate"]) == point.readings["cd_pump_flow_rate"]


def test_last_is_the_newest_finished_point_and_campaign_option_clashes_are_one_line(tmp_path):
    """An aborted point (Ctrl-C) made `autolab show last` fail on a run without readings."""
    import time

    from event_model import compose_run

    path = tmp_path / "catalog"
    session = open_session(path)
    (good,) = session.RE(measure_point(session.reactor, 280, 280, 14.0))
    session.close()
    aborted = compose_run(metadata={"plan_name": "measure_point"}, time=time.time() + 1)
    writer = CatalogWriter(open_catalog(path), journal_directory(path))
    writer("start", aborted.start_doc)
    writer("stop", aborted.compose_stop(exit_status="abort", reason="interrupted"))
    writer.close()
    shown = CliRunner().invoke(cli, ["show", "last", "--catalog", str(path), "-o", str(tmp_path / "last.png")])
    assert shown.exit_code == 0, shown.output
    analysed = CliRunner().invoke(cli, ["analyze", "last", "--catalog", str(path), "--json"])
    assert json.loads(analysed.output)["uid"] == good

    twice = CliRunner().invoke(cli, ["campaign", "--bound", "nucleation_temperature_c=240:350", "--bound",
                                     "nucleation-temperature-c=250:300", "--catalog", str(tmp_path / "never")])
    assert twice.exit_code == 2
    assert twice.output.strip().splitlines() == [
        "autolab: error: --bound gives nucleation_temperature_c twice ([240.0, 350.0] and [250.0, 300.0]); give it once"]
    ucb = CliRunner().invoke(cli, ["campaign", "--budget", "7", "--cost-aware", "--acquisition", "ucb", "--catalog", str(tmp_path / "never")])
    assert ucb.exit_code == 2
    assert ucb.output.strip().splitlines() == [  # before the budget's warning, in the command's own option names
        "autolab: error: --cost-aware weighs log-EI values by the cost of moving the reactor: --acquisition ucb cannot be cost-aware; "
        "give --acquisition log_ei or leave out --cost-aware"]
    assert not (tmp_path / "never").exists()
