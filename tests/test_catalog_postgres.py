"""A facility catalog: ``autolab serve --database postgresql://…`` on a real PostgreSQL server.

The PostgreSQL server is Debian's (or a wheel's, see :mod:`tests.postgres`), started once for the
module on 127.0.0.1 and a free port; each test gets its own database. Writers are real ``autolab``
processes; what they stored is counted in PostgreSQL itself and read back through the server.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from .conftest import run_python
from .postgres import PostgresServer, find_binaries, free_port

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
    binaries, reason = find_binaries()
    if binaries is None:
        pytest.skip(reason)
    server = PostgresServer(binaries).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def database(postgres, request):
    """A new, empty database for the test; its URI."""
    name = "t_" + request.node.name.removeprefix("test_")[:40].lower()
    return postgres.create_database(name), name


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
    """``autolab serve --database URI`` on a port, started and stopped (SIGTERM, or SIGKILL) by PID."""

    def __init__(self, database: str, folder: Path, port: int | None = None):
        self.database, self.folder, self.port = database, folder, port or free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self, timeout: float = 120) -> Server:
        self.starts += 1
        self.log = self.folder.parent / f"serve-{self.port}-{self.starts}.log"
        args = [sys.executable, "-m", "autolab", "serve", "--database", self.database, "--catalog", str(self.folder),
                "--port", str(self.port), "--api-key", API_KEY]
        with open(self.log, "w") as handle:
            self.proc = subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            assert self.proc.poll() is None, self.log.read_text()[-2000:]
            time.sleep(0.2)
        pytest.fail(f"autolab serve did not listen in time: {self.log.read_text()[-2000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            self.proc.wait(timeout=30)


@pytest.fixture
def served(database, tmp_path):
    uri, name = database
    server = Server(uri, tmp_path / "arrays")
    try:
        yield server.start(), name
    finally:
        server.stop()


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


@pytest.mark.slow
def test_measure_into_postgres_reads_back_from_another_process(postgres, served, tmp_path):
    server, name = served
    assert server.log.read_text().startswith(
        f"serving catalog {server.database} (arrays in {server.folder / 'data'}) at {server.uri}; "
    )
    measured = autolab(*MEASURE, "--catalog", server.uri, "--json", home=tmp_path / "home")
    assert measured.returncode == 0, measured.stderr[-2000:]
    uid = json.loads(measured.stdout.strip().splitlines()[-1])["uid"]
    code = textwrap.dedent(
        f"""
        import json
        from tiled.client import from_uri
        client = from_uri({server.uri!r}, api_key={API_KEY!r})
        run = client[{uid!r}]
        data = run.primary.read()
        print(json.dumps({{
            "plan": run.metadata["start"]["plan_name"],
            "exit": run.metadata["stop"]["exit_status"],
            "a437": float(data["reactor_spectrometer_absorbance"].values[0, 137]),
            "catalog_id": client.metadata["autolab_catalog_id"],
        }}))
        """
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-2000:]
    read = json.loads(result.stdout.strip().splitlines()[-1])
    assert (read["plan"], read["exit"]) == ("measure_point", "success")
    assert read["a437"] > 0
    # The run's metadata row is in PostgreSQL, the catalog's identity too; its arrays are files.
    row = postgres.sql(f"SELECT metadata->'start'->>'plan_name', metadata->'stop'->>'exit_status' FROM nodes WHERE key = '{uid}'", name)
    assert row == "measure_point|success"
    assert postgres.sql("SELECT catalog_id FROM autolab_catalog", name) == read["catalog_id"]
    assert any((server.folder / "data").rglob("*.json")) or any((server.folder / "data").iterdir())
    # Event tables are in PostgreSQL too (tiled's SQL storage), not in a file beside the arrays.
    assert int(postgres.sql("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'table\\_%'", name)) >= 1
    assert not list(server.folder.rglob("*.db"))
    assert_complete_once(postgres, name, {uid})


CAMPAIGN = ("campaign", "--budget", "3", "--initial-design", "2", "--json")
PHASE_MAP = ("phase-map", "--nucleation-temperatures-c", "260,300", "--growth-temperatures-c", "260", "--residence-times-s", "10,20", "--json")


def reported_uids(output: str) -> set[str]:
    """The run uids a writer's --json object names."""
    report = json.loads(output.strip().splitlines()[-1])
    found = set(report.get("run_uids") or report.get("uids") or [])
    for key in ("uid", "best_run_uid"):
        if report.get(key):
            found.add(report[key])
    for point in report.get("points") or []:
        if isinstance(point, dict) and point.get("uid"):
            found.add(point["uid"])
    return found


@pytest.mark.slow
def test_three_writers_at_once_store_every_run_once(postgres, served, tmp_path):
    server, name = served
    home = tmp_path / "home"
    writers = {
        "campaign-a": (*CAMPAIGN, "--seed", "1", "--fix", "growth_temperature_c=280", "--report", str(tmp_path / "a")),
        "campaign-b": (*CAMPAIGN, "--seed", "2", "--fix", "residence_time_s=12", "--report", str(tmp_path / "b")),
        "phase-map": PHASE_MAP,
    }
    began = time.monotonic()
    procs = {
        label: start_writer(*args, "--catalog", server.uri, home=home, log=tmp_path / f"{label}.log")
        for label, args in writers.items()
    }
    outputs = {}
    for label, proc in procs.items():
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, (tmp_path / f"{label}.log").read_text()[-2000:]
        outputs[label] = out
    took = time.monotonic() - began
    expected = set().union(*(reported_uids(out) for out in outputs.values()))
    runs = assert_complete_once(postgres, name, expected)
    campaigns = {json.loads(outputs[label].strip().splitlines()[-1])["campaign_id"] for label in ("campaign-a", "campaign-b")}
    for campaign in campaigns:  # each point's measurement and its analysis, none twice
        by_plan = postgres.sql(
            f"SELECT metadata->'start'->>'plan_name', count(*) FROM nodes WHERE parent = 0 "
            f"AND metadata->'start'->>'campaign_id' = '{campaign}' GROUP BY 1 ORDER BY 1", name,
        )
        plans = dict(line.split("|") for line in by_plan.splitlines())
        assert plans["measure_point"] == "3", plans
        assert plans["analysis"] == "3", plans
    assert not list(home.rglob("*.jsonl")), "every journal was confirmed and removed"
    print(f"\n3 writers: {len(runs)} runs, {sum(sum(c.values()) for _, _, c in runs)} events in {took:.1f} s")


@pytest.mark.slow
def test_a_killed_server_restarted_on_its_database_gets_every_run_from_the_journals(postgres, served, tmp_path):
    server, name = served
    home = tmp_path / "home"
    grid = ("phase-map", "--nucleation-temperatures-c", "240,260,280,300", "--growth-temperatures-c", "260",
            "--residence-times-s", "10,20", "--json")
    # tiled's client retries a failed request for up to 45 s, long enough to outlast a quick restart;
    # with retries cut to 1 s the writer meets the dead server, so its journals must carry the runs.
    writer = start_writer(*grid, "--catalog", server.uri, home=home, log=tmp_path / "writer.log", TILED_RETRY_TIMEOUT="1")
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and len(stored_runs(postgres, name)) < 2:
            assert writer.poll() is None, (tmp_path / "writer.log").read_text()[-2000:]
            time.sleep(0.2)
        before = len(stored_runs(postgres, name))
        assert before >= 2, "the writer stored nothing before the kill"
        server.stop(signal.SIGKILL)
        time.sleep(3)  # the writer meets a dead server for a while
        server.start()
        out, _ = writer.communicate(timeout=300)
    finally:
        if writer.poll() is None:
            os.kill(writer.pid, signal.SIGTERM)
            writer.wait(timeout=30)
    log = (tmp_path / "writer.log").read_text()
    reported = reported_uids(out) if out.strip() else set()
    left = sorted(path.stem for path in home.rglob("*.jsonl"))
    failed = [line for line in log.splitlines() if "to the catalog failed" in line]
    assert failed, f"the writer never met the dead server: {log[-2000:]}"
    assert left, "the runs that met the dead server wait in journals"
    # A later writer on the same catalog replays whatever the first one could not store.
    measured = autolab(*MEASURE, "--catalog", server.uri, "--json", home=home)
    assert measured.returncode == 0, measured.stderr[-2000:]
    reported |= reported_uids(measured.stdout)
    runs = assert_complete_once(postgres, name, reported)
    assert not list(home.rglob("*.jsonl")), "every journal was replayed and removed"
    plans = [plan for _, plan, _ in runs]
    assert plans.count("measure_point") == 8 + 1, (plans, log[-2000:])
    print(f"\nkill/restart: {before} runs stored before SIGKILL, {len(runs)} after; writer exit {writer.returncode}; "
          f"{len(failed)} failed writes, {len(left)} journals left for the next writer: {left}\n" + "\n".join(failed[:5]))
