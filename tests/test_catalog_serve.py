"""Real tiled servers: ``autolab serve`` and a plain ``tiled serve catalog``, written by ``autolab measure``
and read by a third process; journals kept per catalog when one address serves another catalog."""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import h5py
import pytest
import xarray

from autolab.catalog import CatalogWriter, journal_directory, open_catalog

from .conftest import run_python

API_KEY = "autolabtestkey123"


@pytest.fixture(autouse=True)
def own_data_home(tmp_path, monkeypatch):
    """Journals of the servers' catalogs go under the test's folder, not the user's data folder."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data-home"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def served_port(line: str) -> int:
    """The port in the first line ``autolab serve`` prints (``… at http://127.0.0.1:PORT; clients use …``)."""
    return int(line.split(" at http://127.0.0.1:")[1].split(";")[0])


def wait_for_line(proc: subprocess.Popen, timeout: float = 120) -> str:
    """The first line the server prints (it prints once it is about to listen), then wait until it answers."""
    deadline = time.monotonic() + timeout
    line = proc.stdout.readline()
    assert line, f"server exited: {proc.stderr.read()[-2000:]}"
    port = served_port(line)
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return line
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        time.sleep(0.2)
    pytest.fail("the server did not start listening in time")


@contextlib.contextmanager
def served(folder: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    """``autolab serve --catalog folder ARGS`` on a free port; yields (uri, its first line, process); stopped by PID with SIGTERM.

    The server picks the port (``--port 0``) and holds it from then on, and its first line names it:
    a port chosen here and handed over could be taken by another process in between.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "autolab", "serve", "--catalog", str(folder), "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd,
    )
    try:
        first = wait_for_line(proc)
        yield f"http://127.0.0.1:{served_port(first)}", first, proc
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()


@pytest.fixture
def server(tmp_path):
    """``autolab serve`` on a free port over a new catalog folder, with a write key."""
    folder = tmp_path / "served"
    with served(folder, "--api-key", API_KEY) as (uri, line, proc):
        yield uri, folder, line, proc


def autolab(*args, key: str | None = None, timeout: float = 300, data_home: Path | None = None) -> subprocess.CompletedProcess:
    """``autolab ARGS`` as a new process; ``data_home`` is its XDG_DATA_HOME (where a server's journals go)."""
    env = {k: v for k, v in os.environ.items() if k != "TILED_API_KEY"}
    if key is not None:
        env["TILED_API_KEY"] = key
    if data_home is not None:
        env["XDG_DATA_HOME"] = str(data_home)
    return subprocess.run([sys.executable, "-m", "autolab", *args], capture_output=True, text=True, env=env, timeout=timeout, check=False)


MEASURE = ("measure", "--nucleation-temperature-c", "280", "--growth-temperature-c", "280", "--residence-time-s", "14")


def wait_until_listening(proc: subprocess.Popen, port: int, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        assert proc.poll() is None, log.read_text()[-2000:]
        time.sleep(0.2)
    pytest.fail(f"the server on port {port} did not start listening in time: {log.read_text()[-2000:]}")


class Servers:
    """Starts real server processes on 127.0.0.1 and stops each by its PID (SIGTERM)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.procs: list[subprocess.Popen] = []

    def _start(self, args: list[str], port: int, name: str) -> str:
        log = self.folder / f"{name}-{len(self.procs)}.log"
        with open(log, "w") as handle:
            proc = subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.procs.append(proc)
        wait_until_listening(proc, port, log)
        return f"http://127.0.0.1:{port}"

    def tiled(self, catalog: Path, port: int, *, tables: bool) -> str:
        """A plain ``tiled serve catalog`` over ``catalog``/catalog.db, arrays in ``catalog``/data, tables in
        ``catalog``/tables.db when ``tables``; the catalog is made when it is not there yet."""
        catalog.mkdir(parents=True, exist_ok=True)
        args = [str(Path(sys.executable).parent / "tiled"), "serve", "catalog", "--port", str(port), "--api-key", API_KEY]
        args += ["--write", str(catalog / "data")]
        if tables:
            args += ["--write", f"sqlite:///{catalog / 'tables.db'}"]
        if not (catalog / "catalog.db").exists():
            args.append("--init")
        return self._start([*args, str(catalog / "catalog.db")], port, "tiled")

    def autolab(self, catalog: Path, port: int) -> str:
        """``autolab serve`` over the catalog folder ``catalog``."""
        args = [sys.executable, "-m", "autolab", "serve", "--catalog", str(catalog), "--port", str(port), "--api-key", API_KEY]
        return self._start(args, port, "autolab-serve")

    def stop(self) -> None:
        """Stop every server started so far."""
        for proc in self.procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)


@pytest.fixture
def servers(tmp_path):
    started = Servers(tmp_path)
    yield started
    started.stop()


@contextlib.contextmanager
def connected(uri: str):
    """A tiled client of the server at ``uri``, closed afterwards."""
    from tiled.client import from_uri

    client = from_uri(uri, api_key=API_KEY)
    try:
        yield client
    finally:
        client.context.close()


@contextlib.contextmanager
def journaled_writer(uri: str):
    """A :class:`CatalogWriter` on the server at ``uri`` with its journals where autolab keeps them; closed afterwards."""
    with connected(uri) as client:
        writer = CatalogWriter(client, journal_directory(uri))
        try:
            yield writer
        finally:
            writer.close()


def sim_run_documents() -> list[tuple[str, dict]]:
    """The documents of one small run (``count`` of ``ophyd.sim``'s ``det``), as a journal holds them."""
    from bluesky import RunEngine
    from bluesky.plans import count
    from ophyd.sim import det

    documents: list[tuple[str, dict]] = []
    engine = RunEngine({}, call_returns_result=False)
    engine(count([det], num=3), lambda name, doc: documents.append((name, doc)))
    return documents


def write_journal(folder: Path, documents: list[tuple[str, dict]]) -> Path:
    """The journal a writer that died mid-way leaves for the run of ``documents``."""
    from event_model import NumpyEncoder

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{documents[0][1]['uid']}.jsonl"
    path.write_text("".join(json.dumps({"name": name, "doc": doc}, cls=NumpyEncoder) + "\n" for name, doc in documents))
    return path


@pytest.mark.slow
def test_measure_through_the_server_reads_back_from_a_third_process(server):
    uri, folder, line, proc = server
    assert line.strip() == (
        f"serving catalog {folder} at {uri}; clients use --catalog {uri} with TILED_API_KEY set to the key given "
        "with --api-key (Ctrl-C stops)"
    )
    measured = autolab(
        "measure", "--nucleation-temperature-c", "280", "--growth-temperature-c", "280", "--residence-time-s", "14",
        "--catalog", uri, "--json", key=API_KEY,
    )
    assert measured.returncode == 0, measured.stderr[-2000:]
    uid = json.loads(measured.stdout.strip().splitlines()[-1])["uid"]
    code = textwrap.dedent(
        f"""
        import json
        from tiled.client import from_uri
        from tiled.queries import Key
        client = from_uri({uri!r}, api_key={API_KEY!r})
        run = client[{uid!r}]
        data = run.primary.read()
        print(json.dumps({{
            "plan": run.metadata["start"]["plan_name"],
            "exit": run.metadata["stop"]["exit_status"],
            "dims": list(data["reactor_spectrometer_absorbance"].dims),
            "a437": float(data["reactor_spectrometer_absorbance"].values[0, 137]),
            "q": data["reactor_saxs_q_nm_inv"].shape[1],
            "documents": [name for name, doc in run.documents()],
            "measure_points": len(client.search(Key("start.plan_name") == "measure_point")),
        }}))
        run.primary.export({str(folder.parent / "served.nc")!r})
        run.primary.export({str(folder.parent / "served.h5")!r})
        run.primary.export({str(folder.parent / "served.csv")!r})
        """
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-2000:]
    read = json.loads(result.stdout.strip().splitlines()[-1])
    assert read["plan"] == "measure_point"
    assert read["exit"] == "success"
    assert read["dims"] == ["time", "wavelength_nm"]
    assert read["a437"] > 0
    assert read["q"] == 250
    assert read["documents"] == ["start", "descriptor", "event", "stop"]
    assert read["measure_points"] == 1
    with xarray.open_dataset(folder.parent / "served.nc", engine="h5netcdf") as exported:
        assert float(exported["reactor_spectrometer_absorbance"].sel(wavelength_nm=437.0).values[0]) == read["a437"]
    with h5py.File(folder.parent / "served.h5") as exported:  # tiled's HDF5: one dataset per data key
        absorbance = next(exported[name] for name in _h5_names(exported) if name.endswith("reactor_spectrometer_absorbance"))
        assert float(absorbance[0, 137]) == read["a437"]
    with open(folder.parent / "served.csv", newline="") as handle:  # tiled's CSV: one row per event, scalar readings
        (row,) = list(csv.DictReader(handle))
    assert float(row["reactor_nucleation_heater_readback"]) == pytest.approx(280, abs=2)
    # The folder behind the server reads the same run directly.
    direct = open_catalog(folder, create=False)[uid]
    assert float(direct.primary.read()["reactor_spectrometer_absorbance"].values[0, 137]) == read["a437"]
    # SIGTERM stops the server cleanly (uvicorn shuts down, then ends by the signal it caught).
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=30) == -signal.SIGTERM
    assert "Traceback" not in proc.stderr.read()


@pytest.mark.slow
def test_server_refuses_a_wrong_or_missing_key_in_one_line(server):
    uri, *_ = server
    wrong = autolab("runs", "--catalog", uri, key="wrongkey")
    assert wrong.returncode == 2
    assert wrong.stderr.strip().splitlines() == [
        f"autolab: error: the tiled server at {uri} needs an API key and the API key was refused; "
        "set TILED_API_KEY to the key `autolab serve` printed"
    ]
    missing = autolab("runs", "--catalog", uri)
    assert missing.returncode == 2
    assert "needs an API key and no API key was given" in missing.stderr


class DroppingProxy:
    """A TCP relay to the server on ``port`` that resets the connection carrying the first POST, unanswered.

    A real dropped connection, as when a server's keep-alive runs out just as a request is sent:
    the client sees ``Connection reset by peer`` and cannot know whether the server got it.
    """

    def __init__(self, port: int):
        self.upstream, self.dropped = port, 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.uri = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):  # the listener closed
            while True:
                conn, _ = self.listener.accept()
                upstream = socket.create_connection(("127.0.0.1", self.upstream))
                threading.Thread(target=self._pump, args=(conn, upstream, True), daemon=True).start()
                threading.Thread(target=self._pump, args=(upstream, conn, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if from_client and data.startswith(b"POST") and not self.dropped:
                    self.dropped += 1
                    source.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with RST
                    break
                sink.sendall(data)
        for end in (source, sink):
            end.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the thread waiting in accept()
        self.listener.close()


def test_the_storage_check_tries_again_when_the_server_drops_its_connection(server):
    """A writer's start is not failed by one dropped connection; the check's tables are removed."""
    from tiled.client import from_uri

    from autolab.catalog.location import check_table_storage

    uri, *_ = server
    proxy = DroppingProxy(served_port(f" at {uri};"))
    client = from_uri(proxy.uri, api_key=API_KEY)
    try:
        check_table_storage(client)
        assert proxy.dropped == 1
        assert not [key for key in client if key.startswith("autolab-table-storage-check-")]
    finally:
        client.context.close()
        proxy.close()


def test_serve_without_a_key_prints_a_new_one(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "autolab", "serve", "--catalog", str(tmp_path / "c"), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    key = line.split("TILED_API_KEY=")[1].split()[0]
    assert len(key) == 64
    assert key.isalnum()


def test_serve_refuses_a_bad_key_and_a_busy_port(tmp_path):
    bad = autolab("serve", "--catalog", str(tmp_path / "c"), "--api-key", "not a key!", timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "autolab: error: --api-key='not a key!' is not a valid API key; use letters and digits only (or leave it out to get one)"
    )
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = autolab("serve", "--catalog", str(tmp_path / "c"), "--port", str(port), "--api-key", API_KEY, timeout=120)
    assert taken.returncode == 2
    assert taken.stderr.strip().startswith(f"autolab: error: --port={port}: cannot listen on 127.0.0.1:{port}")
    negative = autolab("serve", "--catalog", str(tmp_path / "c"), "--port", "-1", "--api-key", API_KEY, timeout=120)
    assert negative.returncode == 2
    assert negative.stderr.strip() == "autolab: error: --port=-1 is outside the allowed range 0–65535 (0: a free port, printed)"
    elsewhere = autolab("serve", "--catalog", str(tmp_path / "c"), "--host", "192.0.2.1", "--api-key", API_KEY, timeout=120)
    assert elsewhere.returncode == 2  # 192.0.2.1 (TEST-NET-1) is no address of this machine
    assert elsewhere.stderr.strip().startswith("autolab: error: --host=192.0.2.1: not an address of this machine")


@pytest.fixture(scope="module")
def plain_tiled_run(tmp_path_factory):
    """A plain ``tiled serve catalog`` with SQL storage for tables, and one point ``autolab measure`` wrote to it."""
    folder = tmp_path_factory.mktemp("plain-tiled")
    started = Servers(folder)
    try:
        uri = started.tiled(folder / "catalog", free_port(), tables=True)
        measured = autolab(*MEASURE, "--catalog", uri, "--json", key=API_KEY, data_home=folder / "data-home")
        assert measured.returncode == 0, measured.stderr[-2000:]
        yield uri, json.loads(measured.stdout.strip().splitlines()[-1])["uid"], folder
    finally:
        started.stop()


@pytest.mark.slow
@pytest.mark.xdist_group("plain_tiled")  # one worker sets up the module's plain tiled server, once
def test_a_plain_tiled_server_with_table_storage_takes_a_point_that_another_process_reads(plain_tiled_run):
    uri, uid, folder = plain_tiled_run
    code = textwrap.dedent(
        f"""
        import json
        from tiled.client import from_uri
        from tiled.queries import Key
        client = from_uri({uri!r}, api_key={API_KEY!r})
        run = client[{uid!r}]
        data = run.primary.read()
        print(json.dumps({{
            "plan": run.metadata["start"]["plan_name"],
            "exit": run.metadata["stop"]["exit_status"],
            "dims": list(data["reactor_spectrometer_absorbance"].dims),
            "a437": float(data["reactor_spectrometer_absorbance"].values[0, 137]),
            "heater": float(data["reactor_nucleation_heater_readback"].values[0]),
            "measure_points": list(client.search(Key("start.plan_name") == "measure_point")),
        }}))
        """
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-2000:]
    read = json.loads(result.stdout.strip().splitlines()[-1])
    assert (read["plan"], read["exit"], read["dims"]) == ("measure_point", "success", ["time", "wavelength_nm"])
    assert read["a437"] > 0
    assert read["heater"] == pytest.approx(280, abs=2)
    assert read["measure_points"] == [uid]
    assert not list((folder / "data-home").rglob("*.jsonl")), "every run reached the server; no journal is left"


@pytest.mark.slow
@pytest.mark.xdist_group("plain_tiled")  # one worker sets up the module's plain tiled server, once
def test_export_through_a_tiled_server_writes_files_that_read_back(plain_tiled_run, tmp_path):
    from autolab.catalog import load_point

    uri, uid, _ = plain_tiled_run
    with connected(uri) as client:
        point = load_point(client[uid])
    for fmt in ("nc", "h5", "csv"):
        exported = autolab("export", uid[:8], "--format", fmt, "--output", str(tmp_path / f"point.{fmt}"), "--catalog", uri, key=API_KEY)
        assert exported.returncode == 0, exported.stderr[-2000:]
        assert exported.stdout.splitlines()[0] == f"wrote {tmp_path / f'point.{fmt}'}"
    with xarray.open_dataset(tmp_path / "point.nc", engine="h5netcdf") as dataset:
        assert dataset.attrs["uid"] == uid
        assert float(dataset["reactor_spectrometer_absorbance"].sel(wavelength_nm=437.0).values[0]) == point.absorbance[137]
        assert dataset["reactor_saxs_intensity"].attrs["units"] == "1/cm"
    with h5py.File(tmp_path / "point.h5", "r") as handle:
        assert handle.attrs["uid"] == uid
        intensity = handle["primary/reactor_saxs_intensity"]
        assert list(intensity[0]) == list(point.intensity)
        assert list(intensity.attrs["dims"]) == ["time", "q_nm_inv"]
    with open(tmp_path / "point.csv", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert float(row["reactor_se_pump_flow_rate"]) == point.readings["se_pump_flow_rate"]
    with open(tmp_path / "point.wavelength_nm.csv", newline="") as handle:
        spectrum = list(csv.DictReader(handle))
    assert [float(line["wavelength_nm"]) for line in spectrum] == list(point.wavelength_nm)
    assert [float(line["reactor_spectrometer_absorbance"]) for line in spectrum] == list(point.absorbance)


@pytest.mark.slow
def test_a_tiled_server_without_table_storage_is_one_line_at_once_and_its_journals_wait(servers, tmp_path):
    """The recipe without SQL storage: one line, no measurement; a run left in a journal waits for a server that can store it."""
    from autolab.catalog.writer import named_dims_writer

    port, catalog, data_home = free_port(), tmp_path / "tiled-catalog", tmp_path / "data-home"
    uri = servers.tiled(catalog, port, tables=False)
    # A writer that died with a run half written: its start reached the server, the rest is in its journal.
    documents = sim_run_documents()
    uid = documents[0][1]["uid"]
    with connected(uri) as client:
        named_dims_writer(client)(*documents[0])
    journal = write_journal(data_home / "autolab" / "journal" / f"127.0.0.1_{port}", documents)
    left = journal.read_text()

    began = time.monotonic()
    refused = autolab(*MEASURE, "--catalog", uri, key=API_KEY, data_home=data_home)
    took = time.monotonic() - began
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        f"autolab: error: the tiled server at {uri} cannot store event tables (creating one answered HTTP 500); start it "
        "with SQL storage for them, `tiled serve catalog … --write sqlite:////full/path/to/tables.db`, or serve the "
        "catalog folder with `autolab serve`"
    ]
    assert took < 20, f"the refusal took {took:.1f} s"
    assert journal.read_text() == left  # neither replayed nor dropped
    with connected(uri) as client:
        assert list(client) == [uid]  # nothing was measured

    servers.stop()  # the same catalog, now with table storage, at the same address
    servers.tiled(catalog, port, tables=True)
    measured = autolab(*MEASURE, "--catalog", uri, "--json", key=API_KEY, data_home=data_home)
    assert measured.returncode == 0, measured.stderr[-2000:]
    assert not journal.exists()
    with connected(uri) as client:
        replayed = client[uid]
        assert replayed.metadata["stop"]["exit_status"] == "success"
        assert list(replayed.primary.read()["det"].values) == [doc["data"]["det"] for name, doc in documents if name == "event"]
        assert json.loads(measured.stdout.strip().splitlines()[-1])["uid"] in client


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["autolab serve", "tiled serve"])
def test_a_journal_is_replayed_only_into_the_catalog_it_was_written_for(kind, servers, tmp_path, caplog):
    """Two catalogs served one after the other at one address: a run journaled for the first waits for it."""
    port = free_port()

    def serve(name: str) -> str:
        if kind == "autolab serve":
            return servers.autolab(tmp_path / name, port)
        new = not (tmp_path / name / "catalog.db").exists()
        uri = servers.tiled(tmp_path / name, port, tables=True)
        if new:  # a plain tiled catalog is told apart by its first run
            with journaled_writer(uri) as writer:
                for name_, doc in sim_run_documents():
                    writer(name_, doc)
        return uri

    uri = serve("first")
    with journaled_writer(uri) as first:
        pass
    # The first catalog's writer died with a run whose documents never reached the server.
    documents = sim_run_documents()
    uid = documents[0][1]["uid"]
    journal = write_journal(first.journal_dir, documents)
    assert first.journal_dir.parent == journal_directory(uri)
    servers.stop()

    serve("second")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="autolab.catalog.writer"), journaled_writer(uri) as second:
        assert second.replayed == []
        assert uid not in second.client
    assert second.journal_dir != first.journal_dir
    assert journal.exists()
    assert [record.getMessage() for record in caplog.records] == [
        f"1 journal(s) in {journal_directory(uri)} hold runs written for another catalog served at {uri} before; "
        "they are kept, and each is replayed only into its own catalog"
    ]
    servers.stop()

    serve("first")
    with journaled_writer(uri) as back:
        assert back.replayed == [uid]
        assert back.client[uid].metadata["stop"]["exit_status"] == "success"
    assert not journal.exists()


def test_a_moved_catalog_keeps_its_identity_and_a_copy_gets_its_own(tmp_path):
    """The identity in the root metadata that keys a served catalog's journals follows the catalog, not the folder."""
    import shutil

    from autolab.catalog.location import CATALOG_ID_KEY, catalog_identity

    original = tmp_path / "original"
    identity = open_catalog(original).metadata[CATALOG_ID_KEY]
    assert catalog_identity(open_catalog(original)) is None  # in-process: the journals sit in the folder itself
    moved = tmp_path / "moved"
    shutil.move(original, moved)
    assert open_catalog(moved).metadata[CATALOG_ID_KEY] == identity
    copy = tmp_path / "copy"
    shutil.copytree(moved, copy)
    assert open_catalog(copy).metadata[CATALOG_ID_KEY] not in (identity, None)
    assert open_catalog(moved).metadata[CATALOG_ID_KEY] == identity


def _h5_names(group) -> list[str]:
    names = []
    group.visit(names.append)
    return names


def spectrum_run_documents() -> list[tuple[str, dict]]:
    """The documents of one run with an array field in its events (``count`` of a 50-point ``spectrum``, twice)."""
    import numpy as np
    from bluesky import RunEngine
    from bluesky.plans import count
    from ophyd.sim import SynSignal

    spectrum = SynSignal(func=lambda: np.linspace(0.0, 1.0, 50), name="spectrum")
    documents: list[tuple[str, dict]] = []
    RunEngine({}, call_returns_result=False)(count([spectrum], num=2), lambda name, doc: documents.append((name, doc)))
    return documents


@pytest.mark.slow
def test_a_run_whose_array_a_killed_server_half_made_is_replayed_whole(servers, tmp_path):
    """A server killed while it creates a run's array leaves the array's files with no record of them (tiled
    makes the storage, then commits the node; the kill falls between). The run's journal replays whole into
    the server started again on that folder: the files in the way are replaced, not an HTTP 500."""
    import zarr
    from bluesky_tiled_plugins.writing.tiled_writer import TiledWriter

    port, folder = free_port(), tmp_path / "served"
    uri = servers.autolab(folder, port)
    with journaled_writer(uri) as first:
        pass
    documents = spectrum_run_documents()
    uid = documents[0][1]["uid"]
    with connected(uri) as client:
        TiledWriter(client)(*documents[0])  # its start reached the server
    leftover = folder / "data" / uid / "primary" / "spectrum"
    zarr.create_array(str(leftover), shape=(1, 50), chunks=(1, 50), dtype="float64")
    journal = write_journal(first.journal_dir, documents)
    servers.stop()
    servers.autolab(folder, port)

    with journaled_writer(uri) as writer:
        assert writer.replayed == [uid]
    assert not journal.exists()
    assert f"array files at {leftover} belong to no node" in (tmp_path / "autolab-serve-1.log").read_text()
    with connected(uri) as client:
        run = client[uid]
        assert run.metadata["stop"]["exit_status"] == "success"
        stored = run.primary.read()["spectrum"].values
    events = [doc["data"]["spectrum"] for name, doc in documents if name == "event"]
    assert stored.shape == (2, 50)
    assert (stored == events).all()
