"""Smoke run of Ax's default generation strategy (benchmarks/ax_method.py) on Hartmann-3.

Needs ``.venv-bench`` (``scripts/bench-venv``):

    .venv-bench/bin/python benchmarks/ax_smoke.py [--seeds 0 1] [--budget 30]

Maximises Hartmann-3 on the unit cube (optimum 3.86278) for each seed, prints the best value after
10, 20 and the whole budget and the seconds per ``suggest()`` (Sobol phase and model phase apart),
and writes ``benchmarks/results/ax_smoke.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from importlib.metadata import version
from pathlib import Path

from ax_method import AxMethod, ax_available
from families import H3_A, H3_P
from optimizer import _hartmann

RESULTS = Path(__file__).parent / "results"
H3_OPT = 3.86278
N_INITIAL = 5  # Ax's default: the centre point, then Sobol up to 5 trials, then the BoTorch model


def run(seed: int, budget: int, torch_threads: int | None) -> dict:
    method = AxMethod({f"x{i}": (0.0, 1.0) for i in (1, 2, 3)}, "maximize", seed, torch_threads=torch_threads)
    values, seconds = [], []
    for _ in range(budget):
        start = time.perf_counter()
        point = method.suggest()
        seconds.append(time.perf_counter() - start)
        value = _hartmann(point, H3_A, H3_P)
        method.ingest(point, value)
        values.append(value)
    return {"seed": seed, "values": values, "suggest_s": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--budget", type=int, default=30)
    parser.add_argument("--torch-threads", type=int, default=1, help="torch intra-op threads (0: torch's default, one per core)")
    args = parser.parse_args()
    if not ax_available():
        sys.exit("ax-platform is not importable here: run scripts/bench-venv, then use .venv-bench/bin/python")
    versions = {name: version(name) for name in ("ax-platform", "botorch", "gpytorch", "torch")}
    print(", ".join(f"{k} {v}" for k, v in versions.items()), f"; torch threads: {args.torch_threads or 'default'}")
    runs = []
    header = ["seed", "best@10", "best@20", f"best@{args.budget}", "of opt", "s/suggest (Sobol)", "s/suggest (model)", "total s"]
    print("  ".join(f"{h:>{w}}" for h, w in zip(header, (4, 8, 8, 8, 6, 17, 17, 7), strict=True)))
    for seed in args.seeds:
        start = time.perf_counter()
        r = run(seed, args.budget, args.torch_threads or None)
        r["total_s"] = time.perf_counter() - start
        best = [max(r["values"][: i + 1]) for i in range(len(r["values"]))]
        r["best"] = best
        sobol, model = r["suggest_s"][:N_INITIAL], r["suggest_s"][N_INITIAL:]
        r["suggest_s_median_sobol"] = statistics.median(sobol)
        r["suggest_s_median_model"] = statistics.median(model) if model else None
        runs.append(r)
        print(f"{seed:>4}  {best[min(9, len(best) - 1)]:8.4f}  {best[min(19, len(best) - 1)]:8.4f}  {best[-1]:8.4f}  {best[-1] / H3_OPT:6.3f}"
              f"  {r['suggest_s_median_sobol']:17.3f}  {(r['suggest_s_median_model'] or 0):17.3f}  {r['total_s']:7.1f}")
    RESULTS.mkdir(exist_ok=True)
    import torch

    out = {"problem": "hartmann3", "opt": H3_OPT, "budget": args.budget, "torch_threads": torch.get_num_threads(), "versions": versions, "runs": runs}
    (RESULTS / "ax_smoke.json").write_text(json.dumps(out, indent=1))
    print(f"wrote {RESULTS / 'ax_smoke.json'}")


if __name__ == "__main__":
    main()
