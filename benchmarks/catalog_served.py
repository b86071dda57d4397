"""Writer throughput into a served catalog: ``autolab serve`` over a folder and over PostgreSQL.

Starts each server as a real process on 127.0.0.1 and a free port, then one :class:`CatalogWriter`
in this process stores ``--points`` runs of ``measure_point`` on the twin (virtual clock) and
waits until tiled holds them all. Prints a table of runs/s (wall time until every run is in the
catalog, and the twin alone for reference) and writes ``benchmarks/results/catalog_served.json``.

    python benchmarks/catalog_served.py [--points 20] [--database postgresql://USER@HOST:PORT/DB]
                                        [--workers 1,2 --writers 1,2]

With ``--workers`` and ``--writers`` the PostgreSQL server is also timed with each number of
worker processes (``autolab serve --workers N``) against each number of writer processes writing
at once, ``--points`` runs each: the rate is all their runs over the wall time from the first
writer's first run to the last writer's last run in the catalog (process start-up left out).

Without ``--database`` a PostgreSQL server is started for the run (Debian's binaries or a wheel's,
as the tests do, see ``tests/postgres.py``) and stopped by its PID afterwards; with neither, the
PostgreSQL row is left out.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bluesky import RunEngine

from autolab.catalog import CatalogWriter, journal_directory, open_catalog
from autolab.devices import make_twin_reactor
from autolab.plans import measure_point
from tests.postgres import PostgresServer, find_binaries, free_port

KEY = "benchkey123"
CONDITIONS = [(260 + 10 * (i % 5), 260, 4.5 + i % 3) for i in range(1000)]


def start_server(folder: Path, database: str | None, workers: int = 1) -> tuple[subprocess.Popen, str]:
    port = free_port()
    args = [sys.executable, "-m", "autolab", "serve", "--catalog", str(folder), "--port", str(port), "--api-key", KEY,
            "--workers", str(workers)]
    if database:
        args += ["--database", database]
    log = open(folder.parent / f"serve-{port}.log", "w")  # lives as long as the server
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"http://127.0.0.1:{port}"
        if proc.poll() is not None:
            sys.exit(f"autolab serve exited: {(folder.parent / f'serve-{port}.log').read_text()[-2000:]}")
        time.sleep(0.2)
    sys.exit("autolab serve did not listen within 120 s")


def timed_writes(catalog: str, n: int) -> tuple[float, float]:
    """Wall-clock (Unix) times from the first of ``n`` runs to the last one in the catalog, after one warm-up run."""
    client = open_catalog(catalog, api_key=KEY)
    writer = CatalogWriter(client, journal_directory(catalog))
    RE = RunEngine({}, call_returns_result=False)
    RE.subscribe(writer)
    reactor = make_twin_reactor(seed=0)
    RE(measure_point(reactor, 280, 280, 14.0))  # warm the twin and the writer
    writer.flush(timeout=300)
    start = time.time()
    for t_nuc, t_growth, residence in CONDITIONS[:n]:
        RE(measure_point(reactor, t_nuc, t_growth, residence))
    writer.flush(timeout=600)
    end = time.time()
    writer.close()
    if writer.errors:
        sys.exit(f"the writer failed: {writer.errors[:3]}")
    return start, end


def runs_per_second(catalog: str, n: int) -> float:
    start, end = timed_writes(catalog, n)
    return n / (end - start)


def concurrent_runs_per_second(catalog: str, n: int, writers: int) -> float:
    """Runs/s of ``writers`` writer processes writing ``n`` runs each at once (see the module)."""
    procs = [subprocess.Popen([sys.executable, __file__, "--write-to", catalog, "--points", str(n)], stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, TILED_API_KEY=KEY)) for _ in range(writers)]
    spans = []
    for proc in procs:
        out, _ = proc.communicate(timeout=1200)
        if proc.returncode:
            sys.exit(f"a writer process failed (exit {proc.returncode})")
        spans.append(json.loads(out.strip().splitlines()[-1]))
    return writers * n / (max(end for _, end in spans) - min(start for start, _ in spans))


def twin_only(n: int) -> float:
    RE = RunEngine({}, call_returns_result=False)
    reactor = make_twin_reactor(seed=0)
    RE(measure_point(reactor, 280, 280, 14.0))
    start = time.perf_counter()
    for t_nuc, t_growth, residence in CONDITIONS[:n]:
        RE(measure_point(reactor, t_nuc, t_growth, residence))
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=20)
    parser.add_argument("--database", default=None, help="postgresql:// URI of an existing, empty database (default: start one)")
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" / "catalog_served.json"))
    parser.add_argument("--workers", default="", help="comma-separated server worker counts for the PostgreSQL grid, e.g. 1,2")
    parser.add_argument("--writers", default="1", help="comma-separated numbers of writer processes at once, e.g. 1,2")
    parser.add_argument("--write-to", default=None, help=argparse.SUPPRESS)  # one writer process of the grid
    args = parser.parse_args()
    if args.write_to:
        print(json.dumps(timed_writes(args.write_to, args.points)))
        return
    grid = [(int(w), int(n)) for w in filter(None, args.workers.split(",")) for n in args.writers.split(",")]
    rows: dict[str, float] = {"twin only (no catalog)": twin_only(args.points)}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_DATA_HOME"] = str(Path(tmp) / "home")  # the served catalogs' journals
        postgres = None
        database = args.database
        if database is None:
            binaries, reason = find_binaries()
            if binaries is None:
                print(f"no PostgreSQL row: {reason}")
            else:
                postgres = PostgresServer(binaries).start()
                database = postgres.create_database("bench")
        try:
            for label, db in (("autolab serve, folder (SQLite)", None), ("autolab serve --database (PostgreSQL)", database)):
                if label.endswith("(PostgreSQL)") and not db:
                    continue
                folder = Path(tmp) / label.split()[2].strip(",-")
                proc, uri = start_server(folder, db)
                try:
                    rows[label] = runs_per_second(uri, args.points)
                finally:
                    os.kill(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=30)
            for workers, writers in grid if database else []:
                proc, uri = start_server(Path(tmp) / f"grid-{workers}", database, workers)
                try:
                    label = f"PostgreSQL, {workers} worker(s), {writers} writer(s) at once"
                    rows[label] = concurrent_runs_per_second(uri, args.points, writers)
                finally:
                    os.kill(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=60)
        finally:
            if postgres is not None:
                postgres.stop()
    print(f"{'writer into':50s} {'runs/s':>8s}   ({args.points} measure_point runs per writer, {os.cpu_count()} CPUs)")
    for label, rate in rows.items():
        print(f"{label:50s} {rate:8.2f}")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps({"points": args.points, "cpus": os.cpu_count(), "runs_per_s": rows}, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
