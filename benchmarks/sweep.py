"""A sweep of dry-run campaigns on 1 and on 2 Dask workers: wall time, campaigns per minute, speed-up.

Prints a table and writes ``benchmarks/results/sweep.json``.

    python benchmarks/sweep.py [--seeds 0-3] [--budget 8] [--initial-design 5] [--workers 1,2]

Each row runs the same sweep (msc437 over the twin's default space, one campaign per seed) into a
fresh embedded catalog on a new ``LocalCluster``. ``in process`` runs the same campaigns one after
another in this process without Dask (:func:`autolab.sweep.run_sweep_campaign`), the floor a
worker cannot beat. Columns: the sweep's wall time (cluster start included), the median
campaign's own wall time inside its worker and its parts (opening the session and catalog, the
campaign's points, the writer catching up with the catalog after the last point), campaigns per
minute, and the speed-up over the one-worker cluster.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from autolab.sweep import SweepSpec, parse_seeds, run_sweep, run_sweep_campaign


def _phases(campaigns: list[dict]) -> dict:
    """Medians over the campaigns of their wall time and its parts (session, points, catalog catch-up)."""
    out = {f"median_{key}": statistics.median(c[key] for c in campaigns) for key in ("open_s", "points_s", "flush_s")}
    return {"median_campaign_s": statistics.median(c["wall_s"] for c in campaigns), **out,
            "points": sum(c["n_runs"] for c in campaigns)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0-3")
    parser.add_argument("--budget", type=int, default=8)
    parser.add_argument("--initial-design", type=int, default=5)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--skip-in-process", action="store_true")
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" / "sweep.json"))
    args = parser.parse_args()
    spec = SweepSpec.from_mapping({"objective": "msc437", "seeds": args.seeds, "budget": args.budget,
                                   "initial_design": args.initial_design})
    n = len(parse_seeds(args.seeds))
    rows = []
    if not args.skip_in_process:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            campaigns = [run_sweep_campaign(task) for task in spec.tasks(tmp, str(uuid.uuid4()))]
            wall = time.perf_counter() - start
        rows.append({"configuration": "in process, no Dask", "workers": 1, "campaigns": n, "wall_s": wall, **_phases(campaigns)})
    for workers in (int(w) for w in args.workers.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            result = run_sweep(spec, tmp, workers=workers)
        failed = [c for c in result["campaigns"] if c.get("error")]
        if failed:
            msg = f"{len(failed)} campaign(s) failed: {failed[0]['error']}"
            raise SystemExit(msg)
        rows.append({"configuration": f"LocalCluster, {workers} worker(s)", "workers": workers, "campaigns": n,
                     "wall_s": result["wall_s"], **_phases(result["campaigns"])})
    reference = next((r["wall_s"] for r in rows if r["configuration"].startswith("LocalCluster")), rows[0]["wall_s"])
    print(f"{args.budget}-point campaigns (design {args.initial_design}), seeds {args.seeds}")
    print(f"{'configuration':28s} {'wall s':>8s} {'campaign s':>11s} {'open s':>7s} {'points s':>9s} {'catalog s':>10s} "
          f"{'campaigns/min':>14s} {'speed-up':>9s}")
    for row in rows:
        row["campaigns_per_min"] = 60 * row["campaigns"] / row["wall_s"]
        row["speed_up"] = reference / row["wall_s"]
        print(f"{row['configuration']:28s} {row['wall_s']:8.1f} {row['median_campaign_s']:11.1f} {row['median_open_s']:7.1f} "
              f"{row['median_points_s']:9.1f} {row['median_flush_s']:10.1f} {row['campaigns_per_min']:14.2f} {row['speed_up']:9.2f}")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps({"seeds": args.seeds, "budget": args.budget, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
