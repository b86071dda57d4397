"""Speed of the built-in analysis: one UV-Vis spectrum and one SAXS pattern, inline and deferred.

Prints a table and writes ``benchmarks/results/analysis.json``.

    python benchmarks/analysis.py [--repeats 50]

Targets: UV-Vis ≤ 2 ms per spectrum; every inline SAXS analysis — what a campaign waits for, the
``autolab_analyze_saxs`` hook: checks, sphere fit, mesophase — ≤ 100 ms per pattern, on 2 cores,
for the twin's 250-point patterns and for 2000-point ones (a pyFAI 1D integration is often that
fine; patterns of more than 500 points are analysed on ≤ 500 q bins). The deferred methods — the
McSAS-like size distribution (``autolab_analyze_saxs_deferred``) and the UV-Vis NC size-population
fit (``autolab_analyze_uvvis_deferred``) — run off the critical path and have no target.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from autolab import sim
from autolab.plugins.saxs import autolab_analyze_saxs, autolab_analyze_saxs_deferred
from autolab.plugins.uvvis import analyze_spectrum, autolab_analyze_uvvis_deferred


def timed(func, repeats):
    func()  # warm caches (sasmodels kernel, imports)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" / "analysis.json"))
    args = parser.parse_args()
    point = sim.simulate(sim.Conditions(280, 280, 14.0), rng=np.random.default_rng(0))
    saxs_280 = (point.q_nm_inv, point.intensity, point.intensity_sigma)
    cold = sim.simulate(sim.Conditions(25, 25, 14.0), rng=np.random.default_rng(0))  # the precursor mesophase: two sphere fits
    saxs_25 = (cold.q_nm_inv, cold.intensity, cold.intensity_sigma)
    fine_q = np.linspace(0.1, 5.0, 2001)[:-1] + 4.9 / 4000  # bin centres of a 2000-bin pyFAI integration
    fine = sim.simulate(sim.Conditions(280, 280, 14.0), q_nm_inv=fine_q, rng=np.random.default_rng(0))
    saxs_280_fine = (fine.q_nm_inv, fine.intensity, fine.intensity_sigma)
    fine_cold = sim.simulate(sim.Conditions(25, 25, 14.0), q_nm_inv=fine_q, rng=np.random.default_rng(0))
    saxs_25_fine = (fine_cold.q_nm_inv, fine_cold.intensity, fine_cold.intensity_sigma)
    rows = {
        "uvvis spectrum (401 points)": (timed(lambda: analyze_spectrum(point.wavelength_nm, point.absorbance), args.repeats), 2e-3),
        "uvvis NC population fit, deferred": (
            timed(lambda: autolab_analyze_uvvis_deferred(point.wavelength_nm, point.absorbance, {}), args.repeats),
            None,
        ),
        "saxs inline hook (250 points)": (timed(lambda: autolab_analyze_saxs(*saxs_280), args.repeats), 0.1),
        "saxs inline hook, mesophase at 25 °C": (timed(lambda: autolab_analyze_saxs(*saxs_25), args.repeats), 0.1),
        "saxs inline hook (2000 points)": (timed(lambda: autolab_analyze_saxs(*saxs_280_fine), args.repeats), 0.1),
        "saxs inline hook, 25 °C (2000 points)": (timed(lambda: autolab_analyze_saxs(*saxs_25_fine), args.repeats), 0.1),
        "saxs McSAS, deferred (3 × 5000 it.)": (timed(lambda: autolab_analyze_saxs_deferred(*saxs_280), 3), None),
        "saxs McSAS, deferred (2000 points)": (timed(lambda: autolab_analyze_saxs_deferred(*saxs_280_fine), 3), None),
    }
    results = []
    print(f"{'step':40s} {'median ms':>10s} {'target ms':>10s}")
    for name, (times, target) in rows.items():
        median = statistics.median(times)
        results.append({"step": name, "median_s": median, "target_s": target, "n": len(times)})
        print(f"{name:40s} {median * 1e3:10.2f} {'' if target is None else f'{target * 1e3:.0f}':>10s}")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
