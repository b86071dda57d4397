"""Time per stored point: RunEngine + twin (virtual clock) with and without the catalog.

Prints a table and writes ``benchmarks/results/catalog.json``.

    python benchmarks/catalog.py [--points 10]

Rows:
- ``twin only``: RunEngine + ``measure_point`` on the twin, no catalog (the baseline);
- ``CatalogWriter, RunEngine thread``: the same with autolab's writer subscribed — the time the
  experiment waits per point (journal on disk; tiled writes happen in the background);
- ``CatalogWriter, until in tiled``: wall time until every run is in tiled, per point;
- ``TiledWriter, synchronous``: bluesky-tiled-plugins' TiledWriter called on the RunEngine thread;
- ``TiledWriter, bare tiled catalog``: the same into a catalog made by tiled alone (its
  ``tiled.catalog.from_uri`` and ``Context.from_app``, none of autolab's catalog code): what
  any Bluesky user of this tiled gets: plain TiledWriter on plain tiled, for reference.
The storage overhead is each row minus the baseline; ``runs/s`` (one over the median) is given for
the rows timed until tiled holds the run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from bluesky import RunEngine
from bluesky_tiled_plugins import TiledWriter

from autolab.catalog import CatalogWriter, journal_directory, open_catalog
from autolab.devices import make_twin_reactor
from autolab.plans import measure_point

CONDITIONS = [(260 + 10 * (i % 5), 260, 4.5 + i % 3) for i in range(1000)]


def time_points(RE: RunEngine, n: int) -> list[float]:
    reactor = make_twin_reactor(seed=0)
    RE(measure_point(reactor, 280, 280, 14.0))  # warm the twin's cache and the writer
    times = []
    for t_nuc, t_growth, residence in CONDITIONS[:n]:
        start = time.perf_counter()
        RE(measure_point(reactor, t_nuc, t_growth, residence))
        times.append(time.perf_counter() - start)
    return times


def bare_tiled_catalog(folder: Path):
    """A new SQLite catalog served in-process by tiled alone, as tiled's docs set one up: a client on it."""
    from tiled.catalog import from_uri
    from tiled.client import Context, from_context
    from tiled.server.app import build_app

    adapter = from_uri(
        f"sqlite:///{folder / 'catalog.db'}", writable_storage=[str(folder / "data"), f"sqlite:///{folder / 'tables.db'}"],
        init_if_not_exists=True,
    )
    return from_context(Context.from_app(build_app(adapter)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=10)
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" / "catalog.json"))
    args = parser.parse_args()
    n = args.points
    rows = {}

    rows["twin only"] = time_points(RunEngine({}, call_returns_result=False), n)

    with tempfile.TemporaryDirectory() as tmp:
        client = open_catalog(tmp)
        writer = CatalogWriter(client, journal_directory(tmp))
        RE = RunEngine({}, call_returns_result=False)
        RE.subscribe(writer)
        writer.flush()
        start = time.perf_counter()
        rows["CatalogWriter, RunEngine thread"] = time_points(RE, n)
        writer.flush(timeout=600)
        total = time.perf_counter() - start
        rows["CatalogWriter, until in tiled"] = [total / (n + 1)]
        writer.close()

    with tempfile.TemporaryDirectory() as tmp:
        RE = RunEngine({}, call_returns_result=False)
        RE.subscribe(TiledWriter(open_catalog(tmp), batch_size=1))
        rows["TiledWriter, synchronous"] = time_points(RE, n)

    with tempfile.TemporaryDirectory() as tmp:
        RE = RunEngine({}, call_returns_result=False)
        RE.subscribe(TiledWriter(bare_tiled_catalog(Path(tmp)), batch_size=1))
        rows["TiledWriter, bare tiled catalog"] = time_points(RE, n)

    baseline = statistics.median(rows["twin only"])
    results = []
    print(f"{'configuration':36s} {'median ms/point':>16s} {'overhead ms':>12s} {'runs/s':>7s}")
    for name, times in rows.items():
        median = statistics.median(times)
        overhead = median - baseline if name != "twin only" else 0.0
        stored = name not in ("twin only", "CatalogWriter, RunEngine thread")  # timed until tiled holds the run
        results.append({"configuration": name, "median_s": median, "overhead_s": overhead, "runs_per_s": 1 / median if stored else None,
                        "n": len(times)})
        print(f"{name:36s} {median * 1e3:16.1f} {overhead * 1e3:12.1f} {f'{1 / median:.2f}' if stored else '—':>7s}")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps({"points": n, "results": results}, indent=2))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
