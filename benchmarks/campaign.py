"""A dry-run campaign point against its floor: what the physics, analysis and optimiser cost, and what the campaign costs with the catalog on.

Prints a table and writes ``benchmarks/results/campaign.json``.

    python benchmarks/campaign.py [--budget 15] [--initial-design 5] [--seed 0]

Both halves run in this process, one after the other, on the same campaign settings (msc437 over
the twin's default space):

- ``floor``: the same campaign's loop with nothing around it — the optimiser's suggestion, the
  twin's point (:func:`autolab.sim.simulate`), the inline analysis (UV-Vis and SAXS hooks through
  the plugin manager), the objective and the ingest — timed per point;
- ``campaign``: :func:`autolab.sweep.run_sweep_campaign` into a fresh embedded catalog: a
  RunEngine session, the twin devices, the live analysis and the journaled catalog writer. Its
  ``points`` part is the campaign plan (the writer works beside it); ``catalog catch-up`` is the
  wait after the last point until the catalog holds every run.

The ratio is campaign time per point (points + catch-up) over the floor per point; the target
(issue 22) is ≤ 2. The catalog writer's rate is the campaign's runs (a measurement and an
analysis per point) over the time the writer needed for them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from autolab import sim
from autolab.devices import make_twin_reactor
from autolab.sweep import SweepSpec, _campaign, run_sweep_campaign


def floor(task: dict) -> dict[str, list[float]]:
    """Time each part of the campaign's loop, point by point, without RunEngine, devices or catalog."""
    campaign = _campaign(task, make_twin_reactor(seed=task["seed"]))
    rng = np.random.default_rng(task["seed"])
    parts: dict[str, list[float]] = {"suggest": [], "twin": [], "analysis": [], "ingest": []}
    while campaign.remaining:
        mark = time.perf_counter()
        (suggestion,) = campaign.suggest(1)
        parts["suggest"].append(time.perf_counter() - mark)
        mark = time.perf_counter()
        conditions = sim.Conditions(suggestion["nucleation_temperature_c"], suggestion["growth_temperature_c"], suggestion["residence_time_s"])
        point = sim.simulate(conditions, rng=rng)
        parts["twin"].append(time.perf_counter() - mark)
        mark = time.perf_counter()
        metrics = {
            **campaign.manager.analyze_uvvis(point.wavelength_nm, point.absorbance).metrics,
            **campaign.manager.analyze_saxs(point.q_nm_inv, point.intensity, point.intensity_sigma).metrics,
        }
        value = campaign.objective_value(metrics)
        parts["analysis"].append(time.perf_counter() - mark)
        mark = time.perf_counter()
        campaign.ingest([{"_id": suggestion["_id"], campaign.settings.objective: value}])
        parts["ingest"].append(time.perf_counter() - mark)
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=int, default=15)
    parser.add_argument("--initial-design", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" / "campaign.json"))
    args = parser.parse_args()
    spec = SweepSpec.from_mapping({"objective": "msc437", "seeds": str(args.seed), "budget": args.budget,
                                   "initial_design": args.initial_design})
    with tempfile.TemporaryDirectory() as tmp:
        (task,) = spec.tasks(tmp, str(uuid.uuid4()))
        parts = floor(task)
        row = run_sweep_campaign(task)
    n = row["n_runs"]
    floor_s = sum(sum(times) for times in parts.values()) / args.budget
    campaign_s = (row["points_s"] + row["flush_s"]) / n
    runs = 2 * n  # a measurement and an analysis per point
    writer_rate = runs / (row["points_s"] + row["flush_s"])
    table = [
        *((f"floor: {name}", statistics.median(times), sum(times) / len(times)) for name, times in parts.items()),
        ("floor per point", None, floor_s),
        ("campaign: points (plan, writer beside it)", None, row["points_s"] / n),
        ("campaign: catalog catch-up", None, row["flush_s"] / n),
        ("campaign per point", None, campaign_s),
    ]
    print(f"{'part':44s} {'median ms':>10s} {'mean ms/point':>14s}")
    for name, median, mean in table:
        print(f"{name:44s} {'' if median is None else f'{median * 1e3:.1f}':>10s} {mean * 1e3:14.1f}")
    print(f"ratio campaign / floor: {campaign_s / floor_s:.1f} (target ≤ 2); catalog writer: {writer_rate:.2f} runs/s (target ≥ 5)")
    result = {
        "budget": args.budget, "initial_design": args.initial_design, "seed": args.seed, "points": n,
        "floor_parts_mean_s": {name: sum(times) / len(times) for name, times in parts.items()},
        "floor_per_point_s": floor_s, "campaign_points_per_point_s": row["points_s"] / n,
        "campaign_catch_up_per_point_s": row["flush_s"] / n, "campaign_per_point_s": campaign_s,
        "ratio": campaign_s / floor_s, "writer_runs_per_s": writer_rate,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
