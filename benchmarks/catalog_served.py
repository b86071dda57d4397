"""Writer throughput into a served catalog: ``autolab serve`` over a folder and over PostgreSQL.

Starts each server as a real process on 127.0.0.1 and a free port, then one :class:`CatalogWriter`
in this process stores ``--points`` runs of ``measure_point`` on the twin (virtual clock) and
waits until tiled holds them all. Prints a table of runs/s (wall time until every run is in the
catalog, and the twin alone for reference) and writes ``benchmarks/results/catalog_served.json``.

    python benchmarks/catalog_served.py [--points 20] [--database postgresql://USER@HOST:PORT/DB]

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


def start_server(folder: Path, database: str | None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    args = [sys.executable, "-m", "autolab", "serve", "--catalog", str(folder), "--port", str(port), "--api-key", KEY]
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


def runs_per_second(catalog: str, n: int) -> float:
    client = open_catalog(catalog, api_key=KEY)
    writer = CatalogWriter(client, journal_directory(catalog))
    RE = RunEngine({}, call_returns_result=False)
    RE.subscribe(writer)
    reactor = make_twin_reactor(seed=0)
    RE(measure_point(reactor, 280, 280, 14.0))  # warm the twin and the writer
    writer.flush(timeout=300)
    start = time.perf_counter()
    for t_nuc, t_growth, residence in CONDITIONS[:n]:
        RE(measure_point(reactor, t_nuc, t_growth, residence))
    writer.flush(timeout=600)
    took = time.perf_counter() - start
    writer.close()
    if writer.errors:
        sys.exit(f"the writer failed: {writer.errors[:3]}")
    return n / took


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
    args = parser.parse_args()
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
        finally:
            if postgres is not None:
                postgres.stop()
    print(f"{'writer into':42s} {'runs/s':>8s}   ({args.points} measure_point runs, one writer, {os.cpu_count()} CPUs)")
    for label, rate in rows.items():
        print(f"{label:42s} {rate:8.2f}")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps({"points": args.points, "cpus": os.cpu_count(), "runs_per_s": rows}, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
