"""Experiment time on the twin, cost-aware suggestions against plain ones (issue 21).

Prints a table and writes ``benchmarks/results/cost.json``.

    python benchmarks/cost.py [--seeds 90] [--budget 25] [--batch-sizes 1,4] [--processes 2] [--constrained] [--targets 0.95,0.98]
                              [--tolerance 1.1]

The problem is ``benchmarks/optimizer.py``'s twin: the ``msc437`` objective of a noisy twin
spectrum (:func:`optimizer.twin_msc437`, the same noise stream per seed), over its
``TWIN_BOUNDS``, scored as the fraction of the 15 × 15 × 12 dense grid's best
(:func:`optimizer.twin_grid_best`, cached in ``results/``) at the noise-free value of the best
point measured so far, as ``optimizer.py`` scores. Per seed, budget and batch size it runs
:class:`~autolab.optimize.GPOptimizer` twice with the same seed: ``plain`` (defaults, each batch
run in the order suggested) and ``cost-aware`` (``cost_model=``: the quickest point within a factor 1.1^α of the best EI,
heaters held where they are among the candidates, α cooling from 1 to 0 over the budget, batches
and the design in the order that takes least time).
``--tolerance`` runs the cost-aware method with another factor than the default
(:data:`~autolab.optimize.cost.COST_TOLERANCE`), to compare tolerances on the seeds they are
chosen on (``--first-seed 0``).

Both runs are timed with the same :class:`~autolab.optimize.cost.ReactorCostModel`, made by
``ReactorCostModel.from_reactor`` from a twin reactor whose heaters are given lab-like timing:

- growth oven 10 °C/min, 300 s to settle within ±1 °C after a change; nucleation chamber
  30 °C/min, 60 s. These are assumed, not measured: the growth oven heats the reaction coil
  through a block or bath of some thermal mass (a tube furnace's safe rate is about
  400/inner diameter °C/min — 5 °C/min for a 75 mm tube, Carbolite STF manual — and a small oil
  bath or heated block manages roughly 5–15 °C/min), and a PID loop needs a few minutes to damp
  its overshoot; the nucleation chamber is a tenth of the oven's volume with less mass to heat.
  The twin's own defaults (120 and 30 °C/min, 10 s settling) are set fast so simulated campaigns
  run quickly; they would understate what ramps cost.
- flush 3 reactor volumes (the reactor's ``flush.required_volumes``) of the twin's geometry
  (reactor volume / oven volume from the twin), 30 s of measurement per point (as
  ``FlowReactor.reagent_need_ul`` counts).

With ``--constrained`` both methods hold to Palencia's region, ``growth_temperature_c <=
nucleation_temperature_c`` (``optimizer.TWIN_CONSTRAINT``, GPOptimizer's ``constraints=``), the
reference is the best of the grid points within it, and the results go to
``results/cost_palencia.json``.

The reactor starts at 25 °C. The clock adds ``time_s(previous point, point)`` for each point in
the order run. Reported per method and batch size, median [q25, q75] over seeds: hours for the
whole budget and the degrees the growth oven ramps over it (the sum of its |ΔT|); and at each
target fraction of the grid best (``--targets``, by default 95 % and 98 %; the centre of the box,
GPOptimizer's first point, scores 69 % on the twin) the seeds reaching it, the hours to
the first point that reaches it and the number of points to it (— : not reached within the budget;
a quartile that includes such seeds is —). A second table pairs the seeds (:func:`paired_rows`):
per batch size, the median of the cost-aware runs minus that of the plain ones, with a 95 %
bootstrap interval, for the whole budget's hours, the hours and points to the last target (a run
that misses it counts the longer of the seed's two whole-budget times and ``budget + 1`` points)
and the final score.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from optimizer import RESULTS, TWIN_BOUNDS, TWIN_CONSTRAINT, best_measured_index, paired_comparison, twin_grid_best, twin_msc437

from autolab.optimize import GPOptimizer
from autolab.optimize import gp as gp_module
from autolab.optimize.cost import COST_TOLERANCE, ReactorCostModel

#: Lab-like heater timing (see the module docstring): ramp °C/min and settle s per heater.
TIMING = {"nucleation_heater": (30.0, 60.0), "growth_oven": (10.0, 300.0)}
START = {"nucleation_temperature_c": 25.0, "growth_temperature_c": 25.0}
#: Default fractions of the grid best whose reach the table times (``--targets``).
TARGETS = (0.95, 0.98)
METHODS = ("plain", "cost-aware")


def lab_cost_model() -> ReactorCostModel:
    """The cost model of a twin reactor with :data:`TIMING` on its heaters."""
    from autolab.devices import make_twin_reactor

    reactor = make_twin_reactor(rng=np.random.default_rng(0))
    for name, (ramp_c_per_min, settle_s) in TIMING.items():
        heater = getattr(reactor, name)
        heater.ramp_rate_c_per_min.put(ramp_c_per_min)
        heater.settle_time_s.put(settle_s)
    return ReactorCostModel.from_reactor(reactor)


def run_one(method: str, batch_size: int, seed: int, budget: int, model_state: dict, constrained: bool = False,
            tolerance: float = COST_TOLERANCE) -> dict:
    """One campaign on the twin: the objective values and the clock (s) after each point, in the order run.

    ``tolerance`` is the cost-aware rule's factor for this run (the optimiser's module value,
    restored when the run ends).
    """
    warnings.simplefilter("ignore")
    default, gp_module.COST_TOLERANCE = gp_module.COST_TOLERANCE, tolerance
    try:
        return _campaign(method, batch_size, seed, budget, model_state, constrained)
    finally:
        gp_module.COST_TOLERANCE = default


def _campaign(method: str, batch_size: int, seed: int, budget: int, model_state: dict, constrained: bool) -> dict:
    model = ReactorCostModel.from_dict(model_state)
    opt = GPOptimizer(TWIN_BOUNDS, {"msc437": "maximize"}, seed=seed, max_trials=budget,
                      cost_model=model if method == "cost-aware" else None,
                      constraints=[TWIN_CONSTRAINT] if constrained else [])
    noise_rng = np.random.default_rng([seed, 437])
    here, clock = dict(START), 0.0
    values, true, clock_s, points = [], [], [], []
    while len(values) < budget:
        batch = opt.suggest(min(batch_size, budget - len(values)))
        outcomes = []
        for suggestion in batch:
            point = {k: v for k, v in suggestion.items() if k != "_id"}
            clock += float(model.time_s(here, point)[0])
            here = point
            value = twin_msc437(point, noise_rng)
            value = None if value is None or not np.isfinite(value) else float(value)
            values.append(value)
            true.append(twin_msc437(point, None))
            clock_s.append(clock)
            points.append(point)
            outcomes.append({"_id": suggestion["_id"], "msc437": value})
        opt.ingest(outcomes)
    return {"values": values, "true": true, "clock_s": clock_s, "points": points}


def oven_ramp_c(run: dict) -> float:
    """Degrees the growth oven is ramped over a run, from :data:`START`: the sum of |ΔT| between the points in the order run."""
    temperatures = [START["growth_temperature_c"], *(p["growth_temperature_c"] for p in run["points"])]
    return float(np.sum(np.abs(np.diff(temperatures))))


def reach(run: dict, reference: float, target: float) -> tuple[float, float]:
    """Hours and points until the best point measured first scores ``target`` × ``reference`` at its noise-free value (inf: never)."""
    best = np.array(best_true(run)) / reference
    hit = np.flatnonzero(best >= target)
    if not hit.size:
        return np.inf, np.inf
    return run["clock_s"][hit[0]] / 3600.0, float(hit[0] + 1)


def best_true(run: dict) -> list[float]:
    """After each point, the noise-free value of the best point measured so far (nan before any value)."""
    measured = np.array([-np.inf if v is None else v for v in run["values"]])
    first = np.isfinite(measured).argmax() if np.isfinite(measured).any() else len(measured)
    return [run["true"][i] if k >= first else np.nan for k, i in enumerate(best_measured_index(measured))]


def quartiles(values) -> list[float]:
    """q25, median, q75 (linear); inf where a not-reached seed takes part."""
    big = 1e300
    q = np.percentile(np.where(np.isfinite(values), values, big), [25, 50, 75])
    return [float(x) if x < 1e200 else np.inf for x in q]


def show(q: list[float], digits: int) -> str:
    def one(x):
        return "—" if not np.isfinite(x) else f"{x:.{digits}f}"

    return f"{one(q[1])} [{one(q[0])}, {one(q[2])}]"


def finite(obj):
    """``obj`` with every non-finite float as None (strict JSON: not reached)."""
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    return obj


def paired_rows(plain: dict, aware: dict, target: float, budget: int) -> dict[str, dict]:
    """Cost-aware against plain on the same seeds (:func:`optimizer.paired_comparison`, whose
    ``wins``/``losses`` count the seeds where the cost-aware value is larger/smaller): whole-budget
    hours, hours and points to ``target`` and final scores. A run that does not reach ``target``
    counts ``budget + 1`` points and the longer of the seed's two whole-budget times, so missing
    the target never counts as quicker than reaching it in the other run."""
    key = f"{target:.2f}"
    longer = np.maximum(plain["total_hours"], aware["total_hours"])

    def hours_to(row):
        hours = np.asarray(row["targets"][key]["hours"], dtype=float)
        return np.where(np.isfinite(hours), hours, longer)

    def points_to(row):
        return np.minimum(row["targets"][key]["points"], budget + 1)

    return {"total_hours": paired_comparison(aware["total_hours"], plain["total_hours"]),
            f"hours_to_{key}": paired_comparison(hours_to(aware), hours_to(plain)),
            f"points_to_{key}": paired_comparison(points_to(aware), points_to(plain)),
            "final_score": paired_comparison(aware["final_score"], plain["final_score"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=90)
    parser.add_argument("--first-seed", type=int, default=100, help="seeds first-seed … first-seed + seeds − 1 (the tolerance was chosen on 0–89)")
    parser.add_argument("--budget", type=int, default=25)
    parser.add_argument("--batch-sizes", default="1,4")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--constrained", action="store_true", help=f"hold both methods to {TWIN_CONSTRAINT}")
    parser.add_argument("--targets", default=",".join(f"{t:.2f}" for t in TARGETS),
                        help="fractions of the grid best to time, comma-separated, each in (0, 1.2]")
    parser.add_argument("--tolerance", type=float, default=COST_TOLERANCE,
                        help=f"the cost-aware rule's factor, > 1 (default {COST_TOLERANCE}, the optimiser's)")
    parser.add_argument("--output", default=None, help="default results/cost.json, results/cost_palencia.json with --constrained")
    args = parser.parse_args()
    try:
        targets = tuple(float(t) for t in args.targets.split(","))
    except ValueError:
        parser.error(f"--targets={args.targets}: not comma-separated numbers")
    if not all(0.0 < t <= 1.2 for t in targets):
        parser.error(f"--targets={args.targets}: each must be in (0, 1.2] (a fraction of the grid best)")
    if any(abs(100.0 * t - round(100.0 * t)) > 1e-9 for t in targets) or len(set(targets)) < len(targets):
        parser.error(f"--targets={args.targets}: each must be a different whole percentage (0.95, not 0.955)")
    if not (np.isfinite(args.tolerance) and args.tolerance > 1.0):
        parser.error(f"--tolerance={args.tolerance}: must be a finite number > 1 (a factor of the expected improvement)")
    output = args.output or str(RESULTS / ("cost_palencia.json" if args.constrained else "cost.json"))
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    model = lab_cost_model()
    reference = twin_grid_best(args.processes, constrained=args.constrained)
    jobs = [(m, b, s, args.budget, model.to_dict(), args.constrained, args.tolerance) for b in batch_sizes for m in METHODS for s in seeds]
    start = time.perf_counter()
    with ProcessPoolExecutor(args.processes, mp_context=get_context("spawn")) as pool:
        runs = list(pool.map(run_one, *zip(*jobs, strict=True)))
    elapsed = time.perf_counter() - start
    by_key = {(m, b, s): run for (m, b, s, *_), run in zip(jobs, runs, strict=True)}

    out: dict = {"seeds": seeds, "budget": args.budget, "tolerance": args.tolerance, "reference": reference, "cost_model": model.to_dict(),
                 "start": START, "constraints": [TWIN_CONSTRAINT] if args.constrained else [], "results": {}, "paired": {}}
    region = f", {TWIN_CONSTRAINT}" if args.constrained else ""
    print(f"experiment time on the twin{region} ({len(seeds)} seeds, budget {args.budget}, tolerance {args.tolerance:g}, "
          f"grid best {reference:.4f} AU; "
          f"{elapsed:.0f} s on {args.processes} processes)")
    header = "| batch | method | hours, whole budget | growth oven ramped, °C |"
    rule = "| --- | --- | --- | --- |"
    for t in targets:
        header += f" seeds at {t:.0%} | hours to {t:.0%} | points to {t:.0%} |"
        rule += " --- | --- | --- |"
    print(header)
    print(rule)
    for b in batch_sizes:
        for m in METHODS:
            seed_runs = [by_key[(m, b, s)] for s in seeds]
            total_h = [r["clock_s"][-1] / 3600.0 for r in seed_runs]
            ramped = [oven_ramp_c(r) for r in seed_runs]
            row = {"total_hours": total_h, "total_hours_quartiles": quartiles(total_h), "growth_oven_ramp_c": ramped, "targets": {}}
            line = f"| {b} | {m} | {show(quartiles(total_h), 1)} | {show(quartiles(ramped), 0)} |"
            for t in targets:
                hours, points = zip(*(reach(r, reference, t) for r in seed_runs), strict=True)
                hits = int(np.sum(np.isfinite(hours)))
                row["targets"][f"{t:.2f}"] = {"seeds_reaching": hits, "hours": list(hours), "points": list(points),
                                              "hours_quartiles": quartiles(hours), "points_quartiles": quartiles(points)}
                line += f" {hits}/{len(seeds)} | {show(quartiles(hours), 1)} | {show(quartiles(points), 0)} |"
            row["final_score"] = [best_true(r)[-1] / reference for r in seed_runs]
            row["runs"] = seed_runs
            out["results"][f"{m}/batch{b}"] = row
            print(line)
    print(f"\nseed by seed, cost-aware against plain (median difference [95 % bootstrap interval]; a point count of "
          f"{args.budget + 1} stands for not reached):")
    print(f"| batch | hours, whole budget | hours to {targets[-1]:.0%} | points to {targets[-1]:.0%} | final score |")
    print("| --- | --- | --- | --- | --- |")
    for b in batch_sizes:
        paired = out["paired"][f"batch{b}"] = paired_rows(out["results"][f"plain/batch{b}"], out["results"][f"cost-aware/batch{b}"],
                                                         targets[-1], args.budget)
        print(f"| {b} | " + " | ".join(f"{c['median_difference']:+.{d}f} [{c['ci_low']:+.{d}f}, {c['ci_high']:+.{d}f}]"
                                      for c, d in zip(paired.values(), (2, 2, 1, 3), strict=True)) + " |")
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(json.dumps(finite(out)))
    print(f"\nwrote {output}", file=sys.stderr)


if __name__ == "__main__":
    main()
