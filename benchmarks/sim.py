"""Speed of the physics twin: time per simulated point, and a 1000-point 3-D phase map.

Prints a table and writes ``benchmarks/results/sim.json``.

    python benchmarks/sim.py [--points 1000] [--processes 2]

A point is kinetics + absorbance spectrum (401 wavelengths) + SAXS pattern (250 q values),
computed from scratch (the steady-state cache is cleared before each timing). Targets (issue 3):
median ≤ 20 ms per point; the 1000-point map ≤ 30 s on 2 cores.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
from pathlib import Path

import numpy as np

from autolab import sim
from autolab.sim import Conditions, simulate, simulate_many


def grid(n_points: int) -> list[Conditions]:
    side = round(n_points ** (1 / 3))
    nucleation = np.linspace(240.0, 340.0, side)
    growth = np.linspace(220.0, 320.0, side)
    residence = np.geomspace(1.5, 20.0, side)
    return [Conditions(float(a), float(b), float(c)) for a, b, c in itertools.product(nucleation, growth, residence)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--single", type=int, default=60, help="points timed one by one")
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" / "sim.json"))
    args = parser.parse_args()

    points = grid(args.points)
    rng = np.random.default_rng(0)
    sample = [points[i] for i in rng.choice(len(points), size=min(args.single, len(points)), replace=False)]
    times = []
    for conditions in sample:
        sim._steady_state.cache_clear()
        start = time.perf_counter()
        simulate(conditions)
        times.append(time.perf_counter() - start)
    sim._steady_state.cache_clear()
    start = time.perf_counter()
    results = simulate_many(points, processes=args.processes)
    map_s = time.perf_counter() - start
    assert len(results) == len(points)

    q1, median, q3 = np.percentile(times, [25, 50, 75])
    rows = [
        ("per point, median (ms)", median * 1e3, 20.0),
        ("per point, quartiles (ms)", f"{q1 * 1e3:.1f}–{q3 * 1e3:.1f}", ""),
        ("per point, max (ms)", max(times) * 1e3, ""),
        (f"{len(points)}-point map on {args.processes} processes (s)", map_s, 30.0),
    ]
    print(f"{'measure':44s} {'value':>14s} {'target':>8s}")
    for name, value, target in rows:
        shown = f"{value:.1f}" if isinstance(value, float) else value
        print(f"{name:44s} {shown:>14s} {target!s:>8s}")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(
        json.dumps(
            {
                "points_timed": len(times),
                "median_s": statistics.median(times),
                "quartiles_s": [float(q1), float(q3)],
                "max_s": max(times),
                "map_points": len(points),
                "map_processes": args.processes,
                "map_s": map_s,
            },
            indent=2,
        )
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
