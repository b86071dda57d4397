"""Several processes writing measurement runs into one embedded catalog folder at once.

Each writer is a process of its own with a RunEngine, a twin and autolab's ``CatalogWriter``, as
a sweep's Dask workers have; all start storing at the same moment. The writers of one folder take
turns only while they write its event tables (``autolab.catalog.writer``); this script times how
long each run holds that turn, and counts what the catalog holds afterwards from another process.

Prints a table and writes ``benchmarks/results/shared_catalog.json``.

    python benchmarks/shared_catalog.py [--runs 12] [--writers 1,2]

Columns: ``runs/s`` all writers together, from the moment they start storing until every run is
in tiled; ``speed-up`` against one writer; ``turn ms/run`` the time a run's writer holds the turn,
and ``turn share`` that time over the wall time each writer spends per run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONDITIONS = [(260 + 10 * (i % 5), 260, 4.5 + i % 3) for i in range(1000)]


def write_runs(folder: str, runs: int, seed: int, queue) -> None:
    """One writer: open the catalog, say ready, wait for ``go``, store ``runs`` measurements; report."""
    import autolab.catalog.writer as writer_module

    held = [0.0]

    class TimedTurn(writer_module._WriteTurn):
        def __enter__(self):
            self._entered = time.perf_counter()
            return super().__enter__()

        def __exit__(self, *exc):
            held[0] += time.perf_counter() - self._entered
            return super().__exit__(*exc)

    writer_module._WriteTurn = TimedTurn  # instrumentation: the same lock, timed
    from bluesky import RunEngine

    from autolab.catalog import CatalogWriter, journal_directory, open_catalog
    from autolab.devices import make_twin_reactor
    from autolab.plans import measure_point

    writer = CatalogWriter(open_catalog(folder), journal_directory(folder))
    RE = RunEngine({}, call_returns_result=False)
    RE.subscribe(writer)
    reactor = make_twin_reactor(seed=seed)
    RE(measure_point(reactor, 280, 280, 14.0))  # warm the twin's cache and the writer
    writer.flush(600)
    held[0] = 0.0
    queue.put("ready")
    while not (Path(folder) / "go").exists():
        time.sleep(0.005)
    started, cpu = time.perf_counter(), time.process_time()
    for t_nuc, t_growth, residence in CONDITIONS[:runs]:
        RE(measure_point(reactor, t_nuc, t_growth, residence))
    writer.flush(1800)
    queue.put({"wall_s": time.perf_counter() - started, "cpu_s": time.process_time() - cpu, "turn_s": held[0],
               "errors": list(writer.errors)})
    writer.close()


def measure(writers: int, runs: int) -> dict:
    from autolab.catalog import open_catalog

    with tempfile.TemporaryDirectory() as tmp:
        folder = str(Path(tmp) / "catalog")
        open_catalog(folder)
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        procs = [context.Process(target=write_runs, args=(folder, runs, seed, queue)) for seed in range(writers)]
        for proc in procs:
            proc.start()
        for _ in procs:
            assert queue.get(timeout=600) == "ready"
        started = time.perf_counter()
        (Path(folder) / "go").touch()
        reports = [queue.get(timeout=3600) for _ in procs]
        wall = time.perf_counter() - started
        for proc in procs:
            proc.join(timeout=120)
        count = subprocess.run(
            [sys.executable, "-c", f"from autolab.catalog import open_catalog; print(len(open_catalog({folder!r}, create=False)))"],
            capture_output=True, text=True, check=True,
        )
        stored = int(count.stdout.strip().splitlines()[-1]) - writers  # less each writer's warm-up run
    total = writers * runs
    return {
        "writers": writers, "runs": total, "wall_s": wall, "runs_per_s": total / wall, "stored": stored,
        "errors": sum(len(r["errors"]) for r in reports),
        "cpu_s_per_run": sum(r["cpu_s"] for r in reports) / total,
        "turn_ms_per_run": 1e3 * sum(r["turn_s"] for r in reports) / total,
        "turn_share": sum(r["turn_s"] for r in reports) / sum(r["wall_s"] for r in reports),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=12, help="measurement runs per writer")
    parser.add_argument("--writers", default="1,2", help="writer counts to measure, comma-separated")
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" / "shared_catalog.json"))
    args = parser.parse_args()
    rows = [measure(int(n), args.runs) for n in args.writers.split(",")]
    base = rows[0]["runs_per_s"] / rows[0]["writers"] if rows else 1.0
    print(f"{'writers':>7s} {'runs':>5s} {'wall s':>7s} {'runs/s':>7s} {'speed-up':>8s} {'cpu s/run':>9s} "
          f"{'turn ms/run':>11s} {'turn share':>10s} {'stored':>6s} {'errors':>6s}")
    for row in rows:
        row["speed_up"] = row["runs_per_s"] / base
        print(f"{row['writers']:7d} {row['runs']:5d} {row['wall_s']:7.1f} {row['runs_per_s']:7.2f} {row['speed_up']:8.2f} "
              f"{row['cpu_s_per_run']:9.2f} {row['turn_ms_per_run']:11.0f} {100 * row['turn_share']:9.0f}% {row['stored']:6d} {row['errors']:6d}")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps({"runs_per_writer": args.runs, "rows": rows}, indent=2))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
