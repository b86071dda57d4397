"""The tiled catalog: real SQLite + files on disk, read back in another process, crash-safe."""

from __future__ import annotations

import datetime
import json
import os
import select
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from event_model import compose_run

from autolab.catalog import CatalogWriter, find_runs, journal_directory, load_point, open_catalog
from autolab.catalog.writer import waiting_journals
from autolab.plans import measure_point, phase_map

from .conftest import run_python
from .test_catalog_serve import sim_run_documents, write_journal


@pytest.mark.slow
def test_phase_map_3x2x2_reads_back_in_a_fresh_process(RE, reactor, writer, catalog_dir):
    """Acceptance (issue 2): every run's metadata and array shapes survive into another process."""
    RE.subscribe(writer)
    uids = RE(phase_map(reactor, [260, 280, 300], [260, 280], [4.5, 14.0], md={"operator": "pytest"}))
    writer.flush()
    assert len(uids) == 12
    assert writer.errors == []
    code = textwrap.dedent(
        f"""
        import json
        from autolab.catalog import open_catalog, load_point
        client = open_catalog({str(catalog_dir)!r})
        out = []
        for uid in {list(uids)!r}:
            point = load_point(client[uid])
            out.append({{"uid": uid, "start": point.start, "exit": point.stop["exit_status"],
                        "shapes": [point.wavelength_nm.shape[0], point.absorbance.shape[0],
                                   point.q_nm_inv.shape[0], point.intensity.shape[0],
                                   point.intensity_sigma.shape[0]],
                        "flushed": point.readings["flush_flushed_volumes"],
                        "a437": float(point.absorbance[137])}})
        print(json.dumps(out))
        """
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout.strip().splitlines()[-1])
    expected = [(t, g, r) for t in (260, 280, 300) for g in (260, 280) for r in (4.5, 14.0)]
    assert [row["uid"] for row in rows] == list(uids)
    for row, (t_nuc, t_growth, residence) in zip(rows, expected, strict=True):
        start = row["start"]
        assert start["conditions"] == {
            "nucleation_temperature_c": t_nuc,
            "growth_temperature_c": t_growth,
            "residence_time_s": residence,
        }
        assert start["operator"] == "pytest"
        assert start["plan_name"] == "measure_point"
        assert start["grid_shape"] == [3, 2, 2]
        assert row["exit"] == "success"
        assert row["shapes"] == [401, 401, 250, 250, 250]
        assert row["flushed"] >= 3.0
        assert row["a437"] > 0.0
    map_uid = rows[0]["start"]["phase_map_uid"]
    client = open_catalog(catalog_dir)
    assert len(find_runs(client, phase_map_uid=map_uid)) == 12
    assert len(find_runs(client, phase_map_uid=map_uid, conditions={"residence_time_s": (10, 20)})) == 6
    assert len(find_runs(client, phase_map_uid=map_uid, conditions={"nucleation_temperature_c": (275, 285)})) == 4
    assert len(find_runs(client, phase_map_uid=map_uid, conditions={"nucleation_time_s": (0.0, 1.0)})) == 6  # the 4.5 s points: 0.45 s in the chamber
    hour_ago, first = datetime.datetime.now() - datetime.timedelta(hours=1), rows[0]["start"]["time"]
    assert len(find_runs(client, phase_map_uid=map_uid, since=hour_ago)) == 12  # a datetime, or Unix time
    assert len(find_runs(client, phase_map_uid=map_uid, until=datetime.datetime(2000, 1, 1))) == 0
    assert len(find_runs(client, phase_map_uid=map_uid, since=first, until=first)) == 1


@pytest.mark.parametrize(("conditions", "message"), [
    ({"residence_time": (10, 20)},
     "conditions: 'residence_time' is not a condition; search one of nucleation_temperature_c, growth_temperature_c, residence_time_s, "
     "nucleation_time_s, standby_flow_ul_min"),
    ({"residence_time_s": 14}, "conditions['residence_time_s']=14 must be a (low, high) pair of finite numbers"),
    ({"residence_time_s": (20, 10)}, "conditions['residence_time_s']=(20, 10): low 20 is above high 10"),
    ({"residence_time_s": "12"}, "conditions['residence_time_s']='12' must be a (low, high) pair of finite numbers"),
    ({"residence_time_s": (float("nan"), 20)}, "conditions['residence_time_s']=(nan, 20) must be a (low, high) pair of finite numbers"),
    ("residence_time_s", "conditions='residence_time_s' must be a dict of ranges, e.g. {'residence_time_s': (1.5, 14)}"),
])
def test_a_search_that_could_only_find_nothing_is_refused_naming_the_condition(tmp_path, conditions, message):
    """A misspelled condition or a reversed range found [] silently, and the docs' `runs[-1]` then raised IndexError."""
    from autolab.errors import LimitError

    with pytest.raises(LimitError) as raised:
        find_runs(open_catalog(tmp_path / "cat"), conditions=conditions)
    assert str(raised.value) == message


@pytest.mark.parametrize(("bounds", "message"), [
    ({"since": "yesterday"}, "since='yesterday' must be a start time: Unix time in s (e.g. time.time() - 3600) or a datetime"),
    ({"until": float("nan")}, "until=nan must be a start time: Unix time in s (e.g. time.time() - 3600) or a datetime"),
])
def test_a_time_bound_that_is_no_time_is_refused_naming_it(tmp_path, bounds, message):
    from autolab.errors import LimitError

    with pytest.raises(LimitError) as raised:
        find_runs(open_catalog(tmp_path / "cat"), **bounds)
    assert str(raised.value) == message


@pytest.mark.slow
def test_stored_spectrum_matches_what_the_detector_read(RE, reactor, writer, catalog_dir):
    docs = []
    RE.subscribe(writer)
    RE.subscribe(lambda name, doc: docs.append(doc), "event")
    (uid,) = RE(phase_map(reactor, [280], [280], [14.0]))
    writer.flush()
    point = load_point(open_catalog(catalog_dir)[uid])
    np.testing.assert_allclose(point.absorbance, docs[0]["data"]["reactor_spectrometer_absorbance"])
    np.testing.assert_allclose(point.intensity, docs[0]["data"]["reactor_saxs_intensity"])


CRASHING_CAMPAIGN = """
import os, sys
from bluesky import RunEngine
from autolab.catalog import CatalogWriter, open_catalog, journal_directory
from autolab.devices import make_twin_reactor
from autolab.plans import measure_point
path = sys.argv[1]
writer = CatalogWriter(open_catalog(path), journal_directory(path))
RE = RunEngine({}, call_returns_result=False)
RE.subscribe(writer)
reactor = make_twin_reactor(seed=3)
done = 0
def crash_in_third_point(name, doc):
    # Die the hard way (no cleanup, no flush) as soon as the third point has its event.
    if name == "event" and done == 2:
        os.kill(os.getpid(), 9)
RE.subscribe(crash_in_third_point)
for residence in (4.5, 7.6, 14.0):
    (uid,) = RE(measure_point(reactor, 280, 280, residence))
    print(uid, flush=True)
    done += 1
"""


@pytest.mark.slow
def test_killed_process_loses_no_finished_point(tmp_path):
    """A process killed mid-point: the finished points and the partial one reach the catalog."""
    path = tmp_path / "crash-catalog"
    proc = subprocess.run(
        [sys.executable, "-c", CRASHING_CAMPAIGN, str(path)], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    finished = proc.stdout.split()
    assert len(finished) == 2
    journals = list(journal_directory(path).glob("*.jsonl"))
    assert journals, "the interrupted point's journal should be on disk"
    # Reopening the catalog with a writer replays what the crash left behind.
    writer = CatalogWriter(open_catalog(path), journal_directory(path))
    writer.close()
    client = open_catalog(path)
    for uid in finished:
        assert client[uid].metadata["stop"]["exit_status"] == "success"
        assert load_point(client[uid]).absorbance.shape == (401,)
    assert len(client) == 3  # the two finished points and the interrupted one
    partial = [uid for uid in client if uid not in finished]
    assert partial[0] in writer.replayed
    assert client[partial[0]].metadata["start"]["residence_time_s"] == 14.0
    assert not list(journal_directory(path).glob("*.jsonl"))


def test_a_writer_stores_a_runs_arrays_while_another_holds_the_write_turn_and_its_table_after(tmp_path, RE, reactor):
    """Writers of one folder take turns only for the event tables (SQLite through ADBC does not wait for a lock).

    This test holds the turn (``journal/write.lock``) as another process's writer would: the run's
    arrays reach the catalog meanwhile, its event table waits, and the run is whole once the turn is free.
    """
    import fcntl
    import time

    folder = tmp_path / "catalog"
    client = open_catalog(folder)
    writer = CatalogWriter(client, journal_directory(folder))
    RE.subscribe(writer)
    with open(journal_directory(folder) / "write.lock", "a") as turn:
        fcntl.flock(turn.fileno(), fcntl.LOCK_EX)
        try:
            (uid,) = RE(measure_point(reactor, 280, 270, 14.0))
            expected = {"reactor_spectrometer_wavelength_nm", "reactor_spectrometer_absorbance", "reactor_spectrometer_counts",
                        "reactor_spectrometer_saturated", "reactor_saxs_q_nm_inv", "reactor_saxs_intensity",
                        "reactor_saxs_intensity_sigma"}
            deadline = time.monotonic() + 120
            arrays: set[str] = set()
            while time.monotonic() < deadline and not expected <= arrays:  # the arrays are written in no set order
                time.sleep(0.1)
                arrays = set(client[uid]["primary"].base) if uid in client and "primary" in client[uid] else set()
            assert expected <= arrays
            time.sleep(1.0)  # the table's creation is still waiting for the turn
            assert "internal" not in set(client[uid]["primary"].base)
            assert not client[uid].metadata.get("stop")
        finally:
            fcntl.flock(turn.fileno(), fcntl.LOCK_UN)
    try:
        writer.flush()
        assert writer.errors == []
        run = open_catalog(folder)[uid]
        assert run.metadata["stop"]["num_events"] == {"primary": 1}
        assert len(run["primary"].base["internal"].read()) == 1
    finally:
        writer.close()


def test_every_write_to_the_event_tables_holds_the_turn_and_nothing_else_does(tmp_path, RE, reactor, monkeypatch):
    """Whatever bluesky-tiled-plugins calls them from: a table's creation and each append run in the turn, arrays outside it."""
    from tiled.client.container import Container
    from tiled.client.dataframe import DataFrameClient

    from autolab.catalog.writer import named_dims_writer

    class Turn:
        held = False

        def __enter__(self):
            assert not Turn.held, "the turn is taken twice"
            Turn.held = True

        def __exit__(self, *exc):
            Turn.held = False

    calls = []

    def recording(cls, name):
        original = getattr(cls, name)

        def call(self, *args, **kwargs):
            calls.append((name, Turn.held))
            return original(self, *args, **kwargs)

        monkeypatch.setattr(cls, name, call)

    for cls, name in ((Container, "create_appendable_table"), (DataFrameClient, "append_partition"), (Container, "write_array")):
        recording(cls, name)
    RE.subscribe(named_dims_writer(open_catalog(tmp_path / "catalog"), table_turn=Turn()))
    RE(measure_point(reactor, 280, 270, 14.0))
    RE(measure_point(reactor, 280, 270, 4.5))
    assert calls.count(("create_appendable_table", True)) == 2  # one table per run's stream
    assert calls.count(("append_partition", True)) == 2  # one row per event
    assert calls.count(("write_array", False)) == 14  # seven arrays per run, none in the turn
    assert len(calls) == 18


WRITERS_AT_ONCE = """
import json, sys, time
from pathlib import Path
from bluesky import RunEngine
from autolab.catalog import CatalogWriter, journal_directory, open_catalog
from autolab.devices import make_twin_reactor
from autolab.plans import measure_point
folder, seed = sys.argv[1], int(sys.argv[2])
writer = CatalogWriter(open_catalog(folder), journal_directory(folder))
RE = RunEngine({}, call_returns_result=False)
RE.subscribe(writer)
reactor = make_twin_reactor(seed=seed)
print("ready", flush=True)
while not (Path(folder) / "go").exists():  # both writers start storing at once
    time.sleep(0.01)
uids = [RE(measure_point(reactor, 260 + 10 * i, 260, 4.5 + i))[0] for i in range(4)]
writer.close(timeout=300)
print(json.dumps({"uids": uids, "errors": writer.errors}))
"""


@pytest.mark.slow
def test_two_processes_writing_one_folder_at_once_store_every_run_once(tmp_path):
    folder = tmp_path / "catalog"
    open_catalog(folder)
    procs = [subprocess.Popen([sys.executable, "-c", WRITERS_AT_ONCE, str(folder), str(seed)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for seed in (1, 2)]
    outputs = []
    try:
        for proc in procs:  # each has opened the catalog and its writer
            ready, _, _ = select.select([proc.stdout], [], [], 300)
            assert ready, "a writer did not open the catalog within 300 s"
            assert proc.stdout.readline().strip() == "ready", proc.stderr.read()[-2000:]
        (folder / "go").touch()
        for proc in procs:
            out, err = proc.communicate(timeout=400)
            assert proc.returncode == 0, err[-2000:]
            outputs.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert [out["errors"] for out in outputs] == [[], []]
    uids = [uid for out in outputs for uid in out["uids"]]
    read = run_python(
        "import json\nfrom autolab.catalog import open_catalog\n"
        f"client = open_catalog({str(folder)!r}, create=False)\n"
        "print(json.dumps({uid: [client[uid].metadata['stop']['num_events'], len(client[uid]['primary'].base['internal'].read())] "
        "for uid in client}))"
    )
    assert read.returncode == 0, read.stderr[-2000:]
    stored = json.loads(read.stdout.strip().splitlines()[-1])
    assert len(uids) == 8
    assert sorted(stored) == sorted(uids)
    assert all(value == [{"primary": 1}, 1] for value in stored.values()), stored


WRITER_IN_A_RUN = """
import sys, time
from event_model import compose_run
from autolab.catalog import CatalogWriter, open_catalog, journal_directory
path = sys.argv[1]
writer = CatalogWriter(open_catalog(path), journal_directory(path))
bundle = compose_run(metadata={"plan_name": "still_running"})
writer("start", bundle.start_doc)
print(bundle.start_doc["uid"], flush=True)
time.sleep(300)  # a live writer in the middle of a run (a queue worker still closing)
"""


@pytest.mark.slow
def test_waiting_journals_are_those_no_live_writer_holds(tmp_path):
    import fcntl

    from autolab.catalog.writer import waiting_journals

    (tmp_path / "served").mkdir()
    left, held, nested = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "served" / "c.jsonl"
    for path in (left, held, nested):
        path.write_text(json.dumps({"name": "start", "doc": {"uid": path.stem, "time": 0.0}}) + "\n")
    (tmp_path / "empty.jsonl").touch()  # a writer killed before its first line: no run waits in it
    (tmp_path / "corrupt.jsonl").write_text("{}\n")  # not a document: no writer can replay it
    with open(held) as handle:  # a live writer's lock (flock is per open file: this process's test open is refused too)
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        assert waiting_journals(tmp_path) == [left, nested]
    assert waiting_journals(tmp_path) == [left, held, nested]


def test_a_second_writer_replays_only_the_journals_of_writers_that_are_gone(tmp_path):
    """Two writers share a catalog: the journal of a run another live process is writing is left to it."""
    path = tmp_path / "shared"
    open_catalog(path)
    process = subprocess.Popen([sys.executable, "-c", WRITER_IN_A_RUN, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        uid = process.stdout.readline().strip()
        assert (journal_directory(path) / f"{uid}.jsonl").exists()
        second = CatalogWriter(open_catalog(path), journal_directory(path))
        second.close()
        assert second.replayed == []  # not its run: the other writer is alive
        assert (journal_directory(path) / f"{uid}.jsonl").exists()
    finally:
        process.kill()
        process.wait(timeout=30)
        process.stdout.close()
    third = CatalogWriter(open_catalog(path), journal_directory(path))  # the other writer is gone: replay
    third.close()
    assert third.replayed == [uid]
    assert open_catalog(path)[uid].metadata["start"]["plan_name"] == "still_running"
    assert not list(journal_directory(path).glob("*.jsonl"))


def test_autolab_runs_stores_what_a_killed_writer_left_and_lists_it(tmp_path):
    """`autolab queue stop` mid-plan says its runs are stored the next time the catalog is opened:
    `autolab runs` opens it, stores them with one line on stderr and lists them."""
    path = tmp_path / "shared"
    open_catalog(path)
    process = subprocess.Popen([sys.executable, "-c", WRITER_IN_A_RUN, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        uid = process.stdout.readline().strip()
    finally:
        process.kill()
        process.wait(timeout=30)
        process.stdout.close()
    assert waiting_journals(journal_directory(path)) == [journal_directory(path) / f"{uid}.jsonl"]
    later = compose_run(metadata={"plan_name": "after_the_kill"})  # stored before the killed run is: listed after it
    writer = CatalogWriter(open_catalog(path), tmp_path / "own-journal")
    for name, doc in (("start", later.start_doc), ("stop", later.compose_stop())):
        writer(name, doc)
    writer.close()
    listed = subprocess.run([sys.executable, "-m", "autolab", "runs", "--all", "--json", "--catalog", str(path)],
                            capture_output=True, text=True, timeout=300, check=False)
    assert listed.returncode == 0, listed.stderr
    assert f"storing 1 run(s) a stopped writer left in the journal {journal_directory(path)} …" in listed.stderr
    rows = json.loads(listed.stdout)
    assert [row["uid"] for row in rows] == [uid, later.start_doc["uid"]]  # newest last, by start time
    assert [row["exit_status"] for row in rows] == ["unfinished", "success"]  # no stop document: not "in progress"
    assert waiting_journals(journal_directory(path)) == []
    again = subprocess.run([sys.executable, "-m", "autolab", "runs", "--all", "--catalog", str(path)],
                           capture_output=True, text=True, timeout=300, check=False)
    assert "storing" not in again.stderr


def test_an_empty_journal_left_by_a_killed_writer_is_deleted_and_a_strange_one_is_kept(tmp_path):
    """A writer killed between creating a journal and writing the start document leaves an empty file."""
    path = tmp_path / "cat"
    open_catalog(path)
    journal = journal_directory(path)
    journal.mkdir(parents=True, exist_ok=True)
    (journal / "killed-before-start.jsonl").touch()
    strange = journal / "no-start.jsonl"
    strange.write_text(json.dumps({"name": "stop", "doc": {"run_start": "x", "uid": "y"}}) + "\n")
    writer = CatalogWriter(open_catalog(path), journal)
    writer.close()
    assert writer.replayed == []
    assert sorted(p.name for p in journal.glob("*.jsonl")) == ["no-start.jsonl"]


def test_a_journal_cut_mid_document_is_replayed_up_to_the_cut_and_a_corrupt_one_is_kept(tmp_path, caplog):
    """A writer killed while appending a document leaves the journal's last line cut short."""
    from bluesky import RunEngine
    from bluesky.plans import count
    from ophyd.sim import det

    path = tmp_path / "cat"
    open_catalog(path)
    journal = journal_directory(path)
    journal.mkdir(parents=True, exist_ok=True)
    docs = []
    RunEngine(call_returns_result=False)(count([det], num=3), lambda name, doc: docs.append((name, doc)))
    uid = docs[0][1]["uid"]
    lines = [json.dumps({"name": name, "doc": doc}) for name, doc in docs if name != "stop"]
    assert [json.loads(line)["name"] for line in lines[-2:]] == ["event", "event"]
    cut = lines[-1][: len(lines[-1]) // 2]  # the third event, half written
    (journal / f"{uid}.jsonl").write_text("\n".join([*lines[:-1], cut]))
    (journal / "only-start-cut.jsonl").write_text(lines[0][:40])  # killed while writing the start: nothing to replay
    other = lines[0].replace(uid, "other")
    kept = {  # lines no writer writes: each journal is left alone, and the other journals are replayed
        "middle.jsonl": "\n".join([other, "{not json", lines[1]]) + "\n",
        "last-with-newline.jsonl": "\n".join([other, lines[1][:30]]) + "\n",
        "not-a-document.jsonl": "\n".join([other, "{}"]) + "\n",
    }
    for name, text in kept.items():
        (journal / name).write_text(text)
    (journal / "not-utf8.jsonl").write_bytes(other.encode() + b"\n" + lines[1].encode()[:20] + b"\xff\xfe}\n")
    assert sorted(p.name for p in waiting_journals(journal)) == [f"{uid}.jsonl"]
    writer = CatalogWriter(open_catalog(path), journal)
    writer.close()
    assert writer.replayed == [uid]
    run = open_catalog(path)[uid]
    assert list(run["primary"].read()["det"]) == [pytest.approx(docs[i][1]["data"]["det"]) for i in (2, 3)]
    assert sorted(p.name for p in journal.glob("*.jsonl")) == sorted([*kept, "not-utf8.jsonl"])
    assert f"{uid}.jsonl: its last document was cut short" in caplog.text
    assert "the 4 before it are replayed" in caplog.text
    for name, reason in [("middle", "line 2 is not JSON"), ("last-with-newline", "line 2 is not JSON"),
                         ("not-a-document", "line 2 is not a {name, doc} document"), ("not-utf8", "line 2 is not JSON")]:
        assert f"{name}.jsonl: {reason}" in caplog.text


def test_a_journal_the_catalog_fails_on_is_kept_with_one_line_and_the_others_are_replayed(tmp_path, caplog):
    """A journal whose run cannot be written (here: events of a descriptor it does not hold) does not stop the
    writer, nor every later one on the catalog: it stays as it was, one error line names it and the error, the
    other journal is replayed, and a session opens on the catalog."""
    import logging

    from autolab.runtime import open_session

    path = tmp_path / "cat"
    open_catalog(path)
    journal = journal_directory(path)
    broken_documents = [(name, doc) for name, doc in sim_run_documents() if name != "descriptor"]
    missing = next(doc["descriptor"] for name, doc in broken_documents if name == "event")
    broken = write_journal(journal, broken_documents)
    whole = sim_run_documents()
    write_journal(journal, whole)
    message = (f"journal {broken} could not be written into the catalog (KeyError: '{missing}'); it is kept, and the "
               "next writer on this catalog tries again")
    left = broken.read_bytes()
    with caplog.at_level(logging.WARNING, logger="autolab.catalog.writer"):
        writer = CatalogWriter(open_catalog(path), journal)
        writer.close()
    assert writer.replayed == [whole[0][1]["uid"]]
    assert writer.errors == [message]
    assert open_catalog(path)[whole[0][1]["uid"]].metadata["stop"]["exit_status"] == "success"
    assert broken.read_bytes() == left
    assert [record.getMessage() for record in caplog.records if record.name == "autolab.catalog.writer"] == [message]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="autolab.catalog.writer"):
        session = open_session(path)
        session.close()
    assert [record.getMessage() for record in caplog.records if record.name == "autolab.catalog.writer"] == [message]
    assert broken.read_bytes() == left


def test_a_writer_that_fails_to_start_leaves_no_file_open(tmp_path, monkeypatch):
    """The replay at start raising (a full disk, say) closes the write-turn lock file it had opened."""
    import gc
    import warnings

    path = tmp_path / "cat"
    client = open_catalog(path)

    def fail(self):
        msg = "No space left on device"
        raise OSError(msg)

    monkeypatch.setattr(CatalogWriter, "_replay_journals", fail)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(OSError, match="No space left"):
            CatalogWriter(client, journal_directory(path))
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_catalog_path_that_is_a_file_is_a_clear_error(tmp_path):
    from autolab.errors import CatalogError

    target = tmp_path / "not-a-dir"
    target.write_text("x")
    with pytest.raises(CatalogError, match=f"catalog path {target} exists and is not a directory"):
        open_catalog(target)


def test_catalog_location_from_environment(monkeypatch, tmp_path):
    from autolab.catalog import default_location

    monkeypatch.setenv("AUTOLAB_CATALOG", str(tmp_path / "c"))
    assert default_location() == str(tmp_path / "c")
    monkeypatch.delenv("AUTOLAB_CATALOG")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_location() == os.path.join(str(tmp_path / "xdg"), "autolab", "catalog")


def _stored_events(path, docs: list[tuple[str, dict]]) -> list[int]:
    """The seq_num of each event of ``docs``'s run that its primary stream holds, read by a fresh client."""
    times = open_catalog(path, create=False)[docs[0][1]["uid"]]["primary"].read()["time"].to_numpy()
    sent = {doc["time"]: doc["seq_num"] for name, doc in docs if name == "event"}
    return [sent[time] for time in times]


def test_a_run_whose_event_did_not_reach_the_catalog_is_written_again_whole_at_its_stop(tmp_path, caplog):
    """A write that fails mid-run (server down, a request timed out) and a stop that gets through."""
    path = tmp_path / "cat"
    writer = CatalogWriter(open_catalog(path), journal_directory(path))
    tiled_writer, refused = writer._tiled_writer, []

    def flaky(name, doc):  # the server refuses the run's second event only
        if name == "event" and doc["seq_num"] == 2 and not refused:
            refused.append(doc["uid"])
            msg = "Connection refused"
            raise ConnectionError(msg)
        tiled_writer(name, doc)

    writer._tiled_writer = flaky
    docs = sim_run_documents()
    for name, doc in docs:
        writer(name, doc)
    writer.close()
    uid = docs[0][1]["uid"]
    assert refused
    assert _stored_events(path, docs) == [1, 2, 3]
    assert open_catalog(path, create=False)[uid].metadata["stop"]["num_events"] == {"primary": 3}
    assert not list(journal_directory(path).glob("*.jsonl"))
    assert f"run {uid} had a document that did not reach the catalog; it was written again" in caplog.text


def test_a_replay_rewrites_a_run_stored_with_its_stop_but_short_of_an_event(tmp_path):
    """The catalog's stop alone does not make a run whole: the replay counts each stream's events."""
    from autolab.catalog.writer import named_dims_writer

    path = tmp_path / "cat"
    client = open_catalog(path)
    journal = journal_directory(path)
    short, whole = sim_run_documents(), sim_run_documents()
    for docs, skip in ((short, 2), (whole, None)):  # what a writer left in tiled before it died
        tiled = named_dims_writer(client)
        for name, doc in docs:
            if not (name == "event" and doc["seq_num"] == skip):
                tiled(name, doc)
        write_journal(journal, docs)
    short_uid = short[0][1]["uid"]
    assert _stored_events(path, short) == [1, 3]
    writer = CatalogWriter(open_catalog(path), journal)
    writer.close()
    assert writer.replayed == [short_uid]  # the whole run's journal is only deleted
    assert _stored_events(path, short) == [1, 2, 3]
    assert _stored_events(path, whole) == [1, 2, 3]
    assert len(open_catalog(path, create=False)) == 2
    assert not list(journal.glob("*.jsonl"))


def test_journals_an_earlier_agent_left_in_its_own_folder_join_the_catalogs_and_are_replayed(tmp_path, caplog):
    import fcntl

    from autolab.catalog.writer import adopt_journals

    path = tmp_path / "cat"
    open_catalog(path)
    journal, old = journal_directory(path), path / "journal-agent"
    (old / "served-catalog-id").mkdir(parents=True)
    (old / "write.lock").touch()
    left, held, other = sim_run_documents(), sim_run_documents(), sim_run_documents()
    for docs, folder in ((left, old), (held, old), (other, old / "served-catalog-id")):
        write_journal(folder, docs)
    with open(old / f"{held[0][1]['uid']}.jsonl") as handle:  # a live writer holds this one
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        moved = adopt_journals(old, journal)
    assert sorted(moved) == sorted([journal / f"{left[0][1]['uid']}.jsonl", journal / "served-catalog-id" / f"{other[0][1]['uid']}.jsonl"])
    assert sorted(p.name for p in old.glob("**/*.jsonl")) == [f"{held[0][1]['uid']}.jsonl"]
    assert f"journal {old / (held[0][1]['uid'] + '.jsonl')} is left where it is: a live writer holds it" in caplog.text
    writer = CatalogWriter(open_catalog(path, create=False), journal)
    writer.close()
    assert writer.replayed == [left[0][1]["uid"]]
    assert _stored_events(path, left) == [1, 2, 3]

    # Its writer gone, the held journal follows, and the old folder, emptied, is removed.
    assert adopt_journals(old, journal) == [journal / f"{held[0][1]['uid']}.jsonl"]
    assert not old.exists()
    writer = CatalogWriter(open_catalog(path, create=False), journal)
    writer.close()
    assert writer.replayed == [held[0][1]["uid"]]
    assert _stored_events(path, held) == [1, 2, 3]
    assert adopt_journals(old, journal) == []  # nothing left to move


def test_a_journal_whose_name_the_catalogs_folder_has_stays_in_the_old_one(tmp_path, caplog):
    from autolab.catalog.writer import adopt_journals

    old, journal = tmp_path / "journal-agent", tmp_path / "journal"
    docs = sim_run_documents()
    for folder in (old, journal):
        write_journal(folder, docs)
    assert adopt_journals(old, journal) == []
    assert (old / f"{docs[0][1]['uid']}.jsonl").exists()
    name = f"{docs[0][1]['uid']}.jsonl"
    assert f"journal {old / name} is left where it is: {journal / name} already has a journal of that name" in caplog.text


@pytest.mark.slow
def test_a_run_with_a_frame_file_written_again_keeps_its_frame_and_a_write_lost_on_its_way_back_is_not_rewritten(tmp_path, caplog):
    """The journal holds the frame's stream_datum; a document tiled stored though its request failed leaves the run as it is."""
    import logging

    from autolab.runtime import open_session

    session = open_session(str(tmp_path / "cat"), analyze=False)
    saxs = session.reactor.saxs
    saxs.image.kind = "normal"  # the frame is kept, in an HDF5 file beside the catalog
    tiled_writer, trouble = session.writer._tiled_writer, []

    def flaky(name, doc):
        if name == "event" and len(trouble) < 2:
            trouble.append(doc["uid"])
            if len(trouble) == 2:  # the second run's event reaches tiled, but its answer is lost
                tiled_writer(name, doc)
            msg = "Connection reset by peer"
            raise ConnectionError(msg)
        tiled_writer(name, doc)

    session.writer._tiled_writer = flaky
    frames = {}
    with caplog.at_level(logging.INFO, logger="autolab.catalog.writer"):
        for t_nuc in (270, 290):
            (uid,) = session.RE(measure_point(session.reactor, t_nuc, 260, 14.0))
            frames[uid] = saxs.image.get().copy()
        session.close()
    lost, delivered = frames
    assert len(trouble) == 2
    assert f"run {lost} had a document that did not reach the catalog; it was written again, whole" in caplog.text
    assert f"run {delivered}: a write reported as failed had reached the catalog, which holds the run whole" in caplog.text
    assert f"run {delivered} had a document" not in caplog.text
    client = open_catalog(tmp_path / "cat", create=False)
    for uid, frame in frames.items():  # read back by a fresh client: the table, the spectra and the frame from its file
        events = client[uid]["primary"]
        assert len(events.base["internal"].read()) == 1
        assert events["reactor_spectrometer_absorbance"].read().shape == (1, 401)
        np.testing.assert_array_equal(np.asarray(events["reactor_saxs_image"].read())[0], frame)
    assert not list(journal_directory(tmp_path / "cat").glob("*.jsonl"))


def test_runs_waiting_counts_finished_runs_the_catalog_does_not_hold_yet(tmp_path):
    """`autolab campaign` says how many runs it still stores (a 12-point dry run outpaces the catalog by ~20 s)."""
    import threading

    path = tmp_path / "cat"
    writer = CatalogWriter(open_catalog(path), journal_directory(path))
    release = threading.Event()
    tiled_writer = writer._tiled_writer

    def slow(name, doc):
        release.wait(30)
        tiled_writer(name, doc)

    writer._tiled_writer = slow
    for _ in range(2):
        run = compose_run(metadata={"plan_name": "held"})
        writer("start", run.start_doc)
        writer("stop", run.compose_stop())
    assert writer.runs_waiting == 2
    release.set()
    writer.flush(timeout=60)
    assert writer.runs_waiting == 0
    writer.close()
    assert len(open_catalog(path, create=False)) == 2
