"""A facility catalog: ``autolab serve --database postgresql://…`` on a real PostgreSQL server.

The PostgreSQL server is Debian's (or a wheel's, see :mod:`tests.postgres`), started once for the
module on 127.0.0.1 and a free port; without one the module is skipped, with the reason. One
``autolab serve`` on one database serves the module (a server's first start on an empty database
costs most of its start-up): five writers run at once into it, once for the module — a campaign,
a phase map, a measurement, and the queue's worker measuring what an agent queues — and the
kill/restart test kills and restarts that same server, counting only the runs it added. Writers
are real ``autolab`` processes; what they stored is counted in PostgreSQL itself and read back
through the server from this (another) process.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from autolab.catalog import CatalogWriter, journal_directory

from .postgres import PostgresServer, find_binaries, free_port
from .test_catalog_serve import served_port

BINARIES, WHY_NOT = find_binaries()
if BINARIES is None:
    pytest.skip(WHY_NOT, allow_module_level=True)

pytestmark = pytest.mark.xdist_group("postgres")

API_KEY = "autolabpgkey123"
MEASURE = ("measure", "--nucleation-temperature-c", "280", "--growth-temperature-c", "280", "--residence-time-s", "14")
# The runs of a writer: their uids and, per stream, the events its stop document counts.
RUNS_SQL = (
    "SELECT key, metadata->'start'->>'plan_name', metadata->'stop'->'num_events' FROM nodes "
    "WHERE parent = 0 ORDER BY key"
)


@pytest.fixture(scope="module")
def postgres():
    """One PostgreSQL server for the module, stopped by PID and its files removed afterwards."""
    server = PostgresServer(BINARIES).start()
    try:
        yield server
    finally:
        server.stop()


def autolab(*args, home: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """``autolab ARGS`` as a new process with the server's key and ``home`` as XDG_DATA_HOME (its journals)."""
    env = dict(os.environ, TILED_API_KEY=API_KEY, XDG_DATA_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "autolab", *args], capture_output=True, text=True, env=env, timeout=timeout, check=False)


def start_writer(*args, home: Path, log: Path, **extra_env: str) -> subprocess.Popen:
    env = dict(os.environ, TILED_API_KEY=API_KEY, XDG_DATA_HOME=str(home), **extra_env)
    with open(log, "w") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "autolab", *args], stdout=subprocess.PIPE, stderr=handle, stdin=subprocess.DEVNULL, text=True, env=env,
        )


class Server:
    """``autolab serve --database URI`` on a port, started and stopped (SIGTERM, or SIGKILL) by PID.

    The first start lets the server pick a free port (``--port 0``; its first line names it), so no
    other process can take the port between choosing and listening; a restart uses the same port.
    """

    def __init__(self, database: str, folder: Path, workers: int = 1):
        self.database, self.folder, self.workers = database, folder, workers
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120, *, sigint_default: bool = False) -> Server:
        """Start the server; ``sigint_default``: with SIGINT's default disposition, as in a terminal
        (pytest-xdist's workers ignore SIGINT, and their children inherit that)."""
        self.starts += 1
        self.log = self.folder.parent / f"serve-{self.starts}.log"
        args = [sys.executable, "-m", "autolab", "serve", "--database", self.database, "--catalog", str(self.folder),
                "--port", str(self.port), "--api-key", API_KEY, "--workers", str(self.workers)]
        with open(self.log, "w") as handle:
            self.proc = subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         preexec_fn=_default_sigint if sigint_default else None)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-2000:]
            if not self.port and " at http://127.0.0.1:" in self.log.read_text():
                self.port = served_port(self.log.read_text())
            if self.port:
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                        return self
            time.sleep(0.2)
        pytest.fail(f"autolab serve did not listen in time: {self.log.read_text()[-2000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            self.proc.wait(timeout=30)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="module")
def served(postgres, tmp_path_factory):
    """``autolab serve`` on a new, empty database, for the module; the server and the database's name."""
    name = "t_served"
    server = Server(postgres.create_database(name), tmp_path_factory.mktemp("served") / "arrays")
    try:
        yield server.start(), name
    finally:
        server.stop()


@pytest.fixture
def server(served):
    """The module's server, started again if a test that killed it failed before restarting it."""
    server, name = served
    if server.proc is None or server.proc.poll() is not None:
        server.start()
    return server, name


def stored_runs(postgres: PostgresServer, name: str) -> list[tuple[str, str, dict]]:
    """(uid, plan name, stop's num_events) of every run in the database ``name``, by uid."""
    rows = postgres.sql(RUNS_SQL, name).splitlines()
    runs = []
    for row in rows:
        uid, plan, counts = row.split("|")
        runs.append((uid, plan, json.loads(counts) if counts else None))
    return runs


def stored_event_counts(postgres: PostgresServer, name: str) -> dict[str, dict[str, int]]:
    """Per run uid, the rows each stream's event table holds in PostgreSQL (tiled's SQL storage).

    A stream's events are the rows of its ``internal`` table node's dataset, in the table that
    node's data source names.
    """
    datasets = postgres.sql(
        "SELECT run.key, stream.key, source.parameters->>'table_name', source.parameters->>'dataset_id' "
        "FROM nodes run JOIN nodes stream ON stream.parent = run.id JOIN nodes tab ON tab.parent = stream.id "
        "JOIN data_sources source ON source.node_id = tab.id WHERE run.parent = 0 AND tab.key = 'internal'",
        name,
    ).splitlines()
    counts: dict[str, dict[str, int]] = {}
    if not datasets:
        return counts
    rows = [line.split("|") for line in datasets]
    union = " UNION ALL ".join(
        f"SELECT '{uid}', '{stream}', count(*) FROM \"{table}\" WHERE _dataset_id = {int(dataset)}" for uid, stream, table, dataset in rows
    )
    for line in postgres.sql(union, name).splitlines():
        uid, stream, count = line.split("|")
        counts.setdefault(uid, {})[stream] = int(count)
    return counts


def assert_complete_once(postgres: PostgresServer, name: str, expected: set[str]) -> list[tuple[str, str, dict]]:
    """Every uid of ``expected`` is stored exactly once, finished, with as many events as its stop counts."""
    runs = stored_runs(postgres, name)
    uids = [uid for uid, _, _ in runs]
    assert len(uids) == len(set(uids)), "a run is stored twice"
    starts = postgres.sql("SELECT count(DISTINCT metadata->'start'->>'uid'), count(*) FROM nodes WHERE parent = 0", name)
    assert starts == f"{len(uids)}|{len(uids)}", "two nodes hold one run's start"
    assert expected <= set(uids), f"missing from the catalog: {sorted(expected - set(uids))}"
    unfinished = [uid for uid, _, counts in runs if counts is None]
    assert not unfinished, f"runs without a stop document: {unfinished}"
    counted = stored_event_counts(postgres, name)
    for uid, _, counts in runs:
        assert {stream: counted.get(uid, {}).get(stream, 0) for stream in counts} == counts, uid
    return runs


def test_an_unreachable_database_is_one_line_before_the_server_starts(postgres, tmp_path):
    folder, port = tmp_path / "arrays", free_port()
    closed = free_port()
    cases = {
        f"postgresql://lab:secret@127.0.0.1:{closed}/catalog": (
            f"--database=postgresql://lab:***@127.0.0.1:{closed}/catalog: cannot connect to PostgreSQL"
        ),
        postgres.uri("no_such_database"): (
            f"--database={postgres.uri('no_such_database')}: cannot connect to PostgreSQL (database \"no_such_database\" does not exist)"
        ),
        "mysql://lab@127.0.0.1/catalog": "--database='mysql://lab@127.0.0.1/catalog' is not a PostgreSQL URI",
    }
    for uri, start in cases.items():
        began = time.monotonic()
        result = autolab("serve", "--database", uri, "--catalog", str(folder), "--port", str(port), "--api-key", API_KEY, home=tmp_path)
        took = time.monotonic() - began
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith(f"autolab: error: {start}"), lines[0]
        assert "secret" not in result.stderr
        assert took < 10, f"{uri}: {took:.1f} s"
        assert not result.stdout, "nothing is served"
    assert not folder.exists()


# Small writers: the campaign's one model-chosen point is over one free condition, two are fixed.
CAMPAIGN = ("campaign", "--budget", "3", "--initial-design", "2", "--seed", "1", "--fix", "growth_temperature_c=280",
            "--fix", "residence_time_s=12", "--json")
PHASE_MAP = ("phase-map", "--nucleation-temperatures-c", "260,300", "--growth-temperatures-c", "260", "--residence-times-s", "10", "--json")


def reported_uids(report: dict) -> set[str]:
    """The run uids a writer's --json object names."""
    found = set(report.get("run_uids") or report.get("uids") or [])
    for key in ("uid", "best_run_uid"):
        if report.get(key):
            found.add(report[key])
    for point in report.get("points") or []:
        if isinstance(point, dict) and point.get("uid"):
            found.add(point["uid"])
    return found


@dataclass
class Written:
    """What the writers running at once reported (their --json objects), how long they took, and their data home."""

    outputs: dict[str, dict]
    took: float
    home: Path


# The agent's campaign: three points over one free condition, each queued to the worker.
AGENT = ("agent", "--budget", "3", "--initial-design", "2", "--seed", "4", "--fix", "growth_temperature_c=280",
         "--fix", "residence_time_s=10", "--json")


@pytest.fixture(scope="module")
def many_writers(served, tmp_path_factory) -> Written:
    """Five writers at once into the module's server: a campaign, a phase map and a measurement
    (``autolab`` processes), and the queue's worker measuring the points an agent queues.

    The queue (real Redis and RE Manager) is started on the server's catalog first; every writer
    then starts together and runs until it is done.
    """
    server, _ = served
    folder = tmp_path_factory.mktemp("writers")
    home = folder / "home"
    queue_dir = folder / "queue"
    started = autolab("queue", "start", "--catalog", server.uri, "--dir", str(queue_dir), home=home)
    assert started.returncode == 0, started.stderr
    writers = {
        "campaign": (*CAMPAIGN, "--report", str(folder / "report"), "--catalog", server.uri),
        "phase-map": (*PHASE_MAP, "--catalog", server.uri),
        "measure": (*MEASURE, "--json", "--catalog", server.uri),
        "agent": (*AGENT, "--dir", str(queue_dir)),
    }
    began = time.monotonic()
    procs = {label: start_writer(*args, home=home, log=folder / f"{label}.log") for label, args in writers.items()}
    outputs = {}
    try:
        for label, proc in procs.items():
            out, _ = proc.communicate(timeout=400)
            assert proc.returncode == 0, (folder / f"{label}.log").read_text()[-2000:]
            outputs[label] = json.loads(out.strip().splitlines()[-1])
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
            proc.stdout.close()  # closed even when a writer failed before communicate() read it
        stopped = autolab("queue", "stop", "--dir", str(queue_dir), home=home)  # the worker's writer flushes first
    assert stopped.returncode == 0, stopped.stderr
    return Written(outputs, time.monotonic() - began, home)


@pytest.mark.slow
def test_measure_into_postgres_reads_back_from_another_process(postgres, served, many_writers):
    server, name = served
    assert server.log.read_text().startswith(
        f"serving catalog {server.database} (arrays in {server.folder / 'data'}) at {server.uri}; "
    )
    uid = many_writers.outputs["measure"]["uid"]
    from tiled.client import from_uri

    client = from_uri(server.uri, api_key=API_KEY)  # this process is neither the writer nor the server
    try:
        run = client[uid]
        data = run.primary.read()
        plan, exit_status = run.metadata["start"]["plan_name"], run.metadata["stop"]["exit_status"]
        a437 = float(data["reactor_spectrometer_absorbance"].values[0, 137])
        catalog_id = client.metadata["autolab_catalog_id"]
    finally:
        client.context.close()
    assert (plan, exit_status) == ("measure_point", "success")
    assert a437 > 0
    # The run's metadata row is in PostgreSQL, the catalog's identity too; its arrays are files.
    row = postgres.sql(f"SELECT metadata->'start'->>'plan_name', metadata->'stop'->>'exit_status' FROM nodes WHERE key = '{uid}'", name)
    assert row == "measure_point|success"
    assert postgres.sql("SELECT catalog_id FROM autolab_catalog", name) == catalog_id
    assert any((server.folder / "data").rglob("*.json")) or any((server.folder / "data").iterdir())
    # Event tables are in PostgreSQL too (tiled's SQL storage), not in a file beside the arrays.
    assert int(postgres.sql("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'table\\_%'", name)) >= 1
    assert not list(server.folder.rglob("*.db"))
    assert_complete_once(postgres, name, {uid})


def campaign_plans(postgres: PostgresServer, name: str, campaign_id: str) -> dict[str, str]:
    """How many runs of each plan one campaign stored, counted in PostgreSQL (``{plan name: count}``)."""
    rows = postgres.sql(
        f"SELECT metadata->'start'->>'plan_name', count(*) FROM nodes WHERE parent = 0 "
        f"AND metadata->'start'->>'campaign_id' = '{campaign_id}' GROUP BY 1 ORDER BY 1", name,
    )
    return dict(line.split("|") for line in rows.splitlines())


@pytest.mark.slow
def test_five_writers_with_the_queue_and_an_agent_store_every_run_once(postgres, served, many_writers):
    _, name = served
    outputs = many_writers.outputs
    expected = set().union(*(reported_uids(out) for out in outputs.values()))
    assert len(reported_uids(outputs["phase-map"])) == 2
    runs = assert_complete_once(postgres, name, expected)
    # each point's measurement and its analysis, none twice
    plans = campaign_plans(postgres, name, outputs["campaign"]["campaign_id"])
    assert plans["measure_point"] == "3", plans
    assert plans["analysis"] == "3", plans
    # the agent's points, measured by the queue's worker, and their analyses
    agent = outputs["agent"]
    assert agent["n_runs"] == 3
    assert len(agent["run_uids"]) == 3
    plans = campaign_plans(postgres, name, agent["campaign_id"])
    assert plans["measure_point"] == "3", plans
    assert plans["analysis"] == "3", plans
    assert not list(many_writers.home.rglob("*.jsonl")), "every journal was confirmed and removed"
    print(f"\n5 writers: {len(runs)} runs, {sum(sum(c.values()) for _, _, c in runs)} events in {many_writers.took:.1f} s")


@pytest.mark.slow
def test_a_killed_server_restarted_on_its_database_gets_every_run_from_the_journals(postgres, server, tmp_path, monkeypatch):
    server, name = server
    home, log = tmp_path / "home", tmp_path / "writer.log"
    earlier = {uid for uid, _, _ in stored_runs(postgres, name)}  # the module's other tests' runs

    def new_runs() -> list[tuple[str, str, dict]]:
        return [run for run in stored_runs(postgres, name) if run[0] not in earlier]

    grid = ("phase-map", "--nucleation-temperatures-c", "260,280,300", "--growth-temperatures-c", "260", "--residence-times-s", "10", "--json")
    # tiled's client retries a failed request for up to 45 s, long enough to outlast a quick restart;
    # with retries cut to 1 s the writer meets the dead server, so its journals must carry the runs.
    writer = start_writer(*grid, "--catalog", server.uri, home=home, log=log, TILED_RETRY_TIMEOUT="1")
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and len(new_runs()) < 2:
            assert writer.poll() is None, log.read_text()[-2000:]
            time.sleep(0.2)
        before = len(new_runs())
        assert before >= 2, "the writer stored nothing before the kill"
        server.stop(signal.SIGKILL)
        deadline = time.monotonic() + 60  # the writer meets the dead server (a write fails), then it comes back
        while time.monotonic() < deadline and writer.poll() is None and "to the catalog failed" not in log.read_text():
            time.sleep(0.2)
        server.start()
        out, _ = writer.communicate(timeout=300)
    finally:
        if writer.poll() is None:
            os.kill(writer.pid, signal.SIGTERM)
            writer.wait(timeout=30)
    text = log.read_text()
    reported = reported_uids(json.loads(out.strip().splitlines()[-1])) if out.strip() else set()
    left = sorted(path.stem for path in home.rglob("*.jsonl"))
    failed = [line for line in text.splitlines() if "to the catalog failed" in line]
    rewritten = [line for line in text.splitlines() if "it was written again, whole" in line]
    assert failed, f"the writer never met the dead server: {text[-2000:]}"
    assert left, "the runs that met the dead server wait in journals"
    # A later writer on the same catalog (here in this process) replays whatever the first one could not store.
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    from tiled.client import from_uri

    client = from_uri(server.uri, api_key=API_KEY)
    try:
        later = CatalogWriter(client, journal_directory(server.uri))
        later.close()
    finally:
        client.context.close()
    assert set(later.replayed) <= set(left), (later.replayed, left)
    runs = assert_complete_once(postgres, name, reported | set(later.replayed))
    assert not list(home.rglob("*.jsonl")), "every journal was replayed and removed"
    plans = [plan for _, plan, _ in new_runs()]
    assert plans.count("measure_point") == 3, (plans, text[-2000:])
    print(f"\nkill/restart: {before} runs stored before SIGKILL, {len(runs) - len(earlier)} after; writer exit {writer.returncode}; "
          f"{len(failed)} failed writes, {len(rewritten)} runs rewritten at their stop, {len(left)} journals left, "
          f"{len(later.replayed)} replayed: {left}\n" + "\n".join(failed[:5]))


def _workers(pid: int) -> list:
    """The server processes uvicorn's supervisor ``pid`` runs (multiprocessing's spawned children)."""
    import psutil

    def is_worker(child) -> bool:
        try:
            return "spawn_main" in " ".join(child.cmdline())
        except psutil.Error:  # gone, or a zombie its supervisor has not reaped yet
            return False

    return [child for child in psutil.Process(pid).children() if is_worker(child)]


def _listening(worker, port: int) -> bool:
    """Whether ``worker`` (a psutil process) listens on ``port``."""
    import psutil

    try:
        return any(c.status == "LISTEN" and c.laddr.port == port for c in worker.net_connections("tcp"))
    except psutil.Error:
        return False


def _wait(condition, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not (found := condition()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def _listening_workers(server: Server, count: int = 2) -> list:
    """The server's workers once ``count`` of them listen on its port (fewer, or none, after 60 s)."""

    def listening() -> list:
        workers = _workers(server.proc.pid)
        return [w for w in workers if _listening(w, server.port)] if len(workers) == count else []

    return _wait(listening)


@pytest.mark.slow
def test_two_worker_processes_serve_two_writers_at_once_and_stop_with_their_supervisor(postgres, tmp_path):
    """`autolab serve --database URI --workers 2`: two server processes listening on one port, every
    run of two writers at once stored once; a worker that dies is started again; SIGKILL of the
    supervisor leaves no worker serving."""
    import psutil

    name = "t_workers"
    server = Server(postgres.create_database(name), tmp_path / "arrays", workers=2).start()
    try:
        assert f"\n2 worker processes answer on port {server.port}, each request in one of them\n" in server.log.read_text()
        workers = _listening_workers(server)
        assert len(workers) == 2
        assert not any(API_KEY in " ".join(worker.cmdline()) for worker in workers)  # the key reaches them in their environment
        home = tmp_path / "home"
        writers = {label: start_writer(*args, "--catalog", server.uri, home=home, log=tmp_path / f"{label}.log")
                   for label, args in (("measure", (*MEASURE, "--json")), ("phase-map", PHASE_MAP))}
        outputs = {}
        for label, proc in writers.items():
            out, _ = proc.communicate(timeout=300)
            proc.stdout.close()
            assert proc.returncode == 0, (tmp_path / f"{label}.log").read_text()[-2000:]
            assert "could not delete" not in (tmp_path / f"{label}.log").read_text()
            outputs[label] = json.loads(out.strip().splitlines()[-1])
        expected = set().union(*(reported_uids(out) for out in outputs.values()))
        assert len(expected) == 3
        assert_complete_once(postgres, name, expected)

        # A worker that dies is replaced, and the port goes on answering.
        workers[0].kill()
        replaced = _wait(lambda: [w for w in _workers(server.proc.pid) if w.pid != workers[0].pid and w.pid != workers[1].pid
                                  and _listening(w, server.port)])
        assert len(replaced) == 1, server.log.read_text()[-2000:]
        workers = [workers[1], *replaced]
    finally:
        server.stop(signal.SIGKILL)
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive, [p.pid for p in alive]
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", server.port)) != 0


@pytest.mark.slow
def test_ctrl_c_stops_a_server_of_workers_as_it_stops_one_process(postgres, tmp_path):
    """SIGINT to `autolab serve --workers 2` stops both workers and ends the command like a
    one-process server: `autolab: interrupted`, exit code 130."""
    import psutil

    server = Server(postgres.create_database("t_workers_int"), tmp_path / "arrays", workers=2).start(sigint_default=True)
    workers = _listening_workers(server)
    assert len(workers) == 2
    server.stop(signal.SIGINT)
    assert server.proc.returncode == 130, server.log.read_text()[-2000:]
    assert server.log.read_text().rstrip().endswith("autolab: interrupted")
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive


def test_several_workers_need_a_database_and_a_count_in_range(tmp_path):
    for args, message in (
        (("--workers", "2"), "autolab: error: --workers=2 needs --database: a catalog folder's event tables (SQLite) take one "
                             "writing process at a time; serve a folder with --workers 1"),
        (("--workers", "0", "--database", "postgresql://lab@127.0.0.1:1/x"), "autolab: error: --workers=0 is outside the allowed range 1–32"),
        (("--workers", "33", "--database", "postgresql://lab@127.0.0.1:1/x"), "autolab: error: --workers=33 is outside the allowed range 1–32"),
    ):
        result = autolab("serve", "--catalog", str(tmp_path / "folder"), "--port", "0", *args, home=tmp_path / "home", timeout=60)
        assert (result.returncode, result.stderr.strip()) == (2, message)
        assert not (tmp_path / "folder").exists()  # refused before anything is made


@pytest.mark.slow
def test_workers_creating_new_tables_at_once_all_succeed(postgres, tmp_path):
    """Through `--workers 2` on a fresh database, six clients at once, five times: each creates a
    table of one new schema, and each creates a table of its own schema and deletes it again, as
    every writer's storage check does. Every creation and deletion answers 200, and the database's
    asset outlives the deleted tables. (Without autolab's lock around tiled's table creation,
    PostgreSQL's "if not exists" races between the workers; without the asset kept, a deletion
    that leaves it unreferenced removes it while another worker's new table is about to name it,
    and that creation fails on the foreign key of ``data_source_asset_association``. Either
    answers HTTP 500.)"""
    import threading
    import uuid
    from dataclasses import asdict

    import httpx
    import pyarrow
    from tiled.structures.data_source import DataSource
    from tiled.structures.table import TableStructure
    from tiled.utils import safe_json_dump

    server = Server(postgres.create_database("t_workers_tables"), tmp_path / "arrays", workers=2).start()
    try:
        assert len(_listening_workers(server)) == 2
        codes: list[int] = []

        def create(column: str, *, delete: bool = False) -> None:
            source = DataSource(structure=TableStructure.from_schema(pyarrow.schema([(column, pyarrow.int64())])),
                                structure_family="table", mimetype="application/x-tiled-sql-table")
            body = {"id": uuid.uuid4().hex, "ancestors": [], "metadata": {}, "structure_family": "table", "specs": [],
                    "data_sources": [asdict(source)], "access_tags": None}
            with httpx.Client(headers={"Authorization": f"Apikey {API_KEY}", "Content-Type": "application/json"}, timeout=60) as client:
                codes.append(client.post(f"{server.uri}/api/v1/metadata/", content=safe_json_dump(body)).status_code)
                if delete:
                    deleted = client.delete(f"{server.uri}/api/v1/metadata/{body['id']}", params={"recursive": False, "external_only": False})
                    codes.append(deleted.status_code)

        def at_once(threads: list[threading.Thread]) -> None:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        for round_ in range(5):  # storage checks alone: no table stays to name the asset
            at_once([threading.Thread(target=create, args=(f"checked_{round_}_{n}",), kwargs={"delete": True}) for n in range(6)])
        database_assets = postgres.sql("SELECT count(*) FROM assets WHERE data_uri LIKE 'postgresql://%'", "t_workers_tables")
        for schema in range(5):
            at_once([threading.Thread(target=create, args=(f"column_{schema}",)) for _ in range(6)])
    finally:
        server.stop()
    assert codes == [200] * 90, server.log.read_text()[-2000:]
    assert database_assets == "1"


def test_a_new_table_commits_the_databases_asset_before_tiled_stores_its_node(postgres, tmp_path):
    """When tiled's table creation returns, the table's one asset (the database) is already in the
    catalog, committed and seen from another connection, and a second table adds no second row.
    Otherwise tiled inserts it with the node, after the lock: two workers storing their first
    tables at once both insert it and the second fails on ``ix_assets_data_uri`` (HTTP 500)."""
    import pyarrow
    from tiled.adapters.sql import SQLAdapter
    from tiled.storage import parse_storage
    from tiled.structures.data_source import DataSource
    from tiled.structures.table import TableStructure

    from autolab.catalog.serve import prepare_facility, serialize_table_creation

    name = "t_asset_first"
    uri = postgres.create_database(name)
    prepare_facility(uri, tmp_path / "arrays")
    serialize_table_creation()

    def new_table(column: str):
        source = DataSource(structure=TableStructure.from_schema(pyarrow.schema([(column, pyarrow.int64())])),
                            structure_family="table", mimetype="application/x-tiled-sql-table")
        return SQLAdapter.init_storage(parse_storage(uri), source)

    [asset] = new_table("first").assets
    assert asset.data_uri == f"postgresql://127.0.0.1:{postgres.port}/{name}"  # tiled keeps no user in the catalog
    query = f"SELECT count(*), bool_or(is_directory) FROM assets WHERE data_uri = '{asset.data_uri}'"
    assert postgres.sql(query, name) == "1|f"
    new_table("second")
    assert postgres.sql(query, name) == "1|f"
    assert postgres.sql("SELECT count(*) FROM assets", name) == "1"


@pytest.mark.slow
def test_a_run_whose_array_a_killed_server_half_made_replays_whole_on_postgresql(server, tmp_path, monkeypatch):
    """As ``tests/test_catalog_serve.py`` shows on a catalog folder, on the facility catalog: array files that no
    node names (a server killed between making them and committing their node) are replaced when the run's journal
    replays, instead of every replay failing with HTTP 500."""
    import zarr
    from bluesky_tiled_plugins.writing.tiled_writer import TiledWriter
    from tiled.client import from_uri

    from .test_catalog_serve import spectrum_run_documents, write_journal

    server, _ = server
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home"))
    documents = spectrum_run_documents()
    uid = documents[0][1]["uid"]
    client = from_uri(server.uri, api_key=API_KEY)
    try:
        first = CatalogWriter(client, journal_directory(server.uri))
        first.close()
        TiledWriter(client)(*documents[0])  # its start reached the server
        zarr.create_array(str(server.folder / "data" / uid / "primary" / "spectrum"), shape=(1, 50), chunks=(1, 50), dtype="float64")
        journal = write_journal(first.journal_dir, documents)
        writer = CatalogWriter(client, journal_directory(server.uri))
        writer.close()
        assert (writer.replayed, writer.errors) == ([uid], [])
        assert not journal.exists()
        run = client[uid]
        assert run.metadata["stop"]["exit_status"] == "success"
        stored = run.primary.read()["spectrum"].values
    finally:
        client.context.close()
    assert stored.tolist() == [doc["data"]["spectrum"].tolist() for name, doc in documents if name == "event"]
