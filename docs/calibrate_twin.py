"""Calibrate the twin's eleven kinetic parameters on a named subset of Palencia's facts (a developer's tool).

    python docs/calibrate_twin.py --report                   # the defaults: every fact, fitted or predicted
    python docs/calibrate_twin.py --generations 40 --processes 2 --seed 0 > calibration.json

The search is scipy's differential evolution over :data:`SPACE` (log-rates, activation energies,
the solubility, the surface energy and CdSe-437's closed shell φ₂₈₀, E_shell of
``autolab.sim.parameters.KineticParameters``), started
from the current defaults. Its loss sums tolerance-scaled misses of the **fitted** facts
(:func:`fitted_terms`): Fig. 1's window panels (CdSe-437 on the diagonal, rising over the top three
growth temperatures), the panels outside the window at growth 0, 30, 60 and 90 °C below the
chamber, NCs at 14 s below the window and none at 260 °C / 4.5 s, Fig. S2's bands at 4.5 s, the NC
excitons at 280 °C (4.5 and 14 s) and 350 °C / 7.6 s and the TEM diameter. The **predicted** facts
(:func:`predicted_terms`) never enter it: the outside panels at the growth steps between those,
nucleation in the oven after a cold chamber, no jumps in yield between neighbouring chamber
temperatures, the NC spread at 350 °C not widening with time — and every fact as the independent
reader sees it on the noisy spectra (``tests/test_sim_facts.py``). The winning parameters are
copied by hand into ``KineticParameters``; ``--report`` prints each fact's miss for the defaults,
and docs/sim.md ("Fitted and predicted") tabulates it.

The loss reads the twin's own noise-free ``truth`` (band absorbances and the NC envelope's
maximum) because a search needs thousands of points; the physics tests read the noisy spectra
with an independent reader instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import multiprocessing
import sys
import time

import numpy as np
from scipy.optimize import differential_evolution

from autolab.materials import MSC_FAMILIES
from autolab.sim import Conditions, steady_state
from autolab.sim.observables import band_absorbance, nc_exciton_nm
from autolab.sim.parameters import DEFAULT_PARAMETERS, KineticParameters

#: (field of KineticParameters, low, high, log-scaled?): physical ranges of the search.
SPACE = (
    ("k_precursor_per_s", 0.05, 5.0, True),
    ("ea_precursor_j_per_mol", 50e3, 200e3, False),
    ("k_nucleation_per_mm_s", 1e-5, 10.0, True),
    ("ea_nucleation_j_per_mol", 30e3, 400e3, False),
    ("growth_rate_constant_m_per_s", 1e-8, 1e-5, True),
    ("ea_growth_j_per_mol", 20e3, 220e3, False),
    ("solubility_mm", 1e-5, 1.0, True),
    ("dh_solubility_j_per_mol", 20e3, 250e3, False),
    ("surface_energy_j_per_m2", 0.1, 0.5, False),
    ("closed_shell_factor", 1e-3, 1.0, True),
    ("ea_closed_shell_j_per_mol", -80e3, 150e3, False),
)
NAMES = tuple(name for name, *_ in SPACE)
#: A band this strong (AU) counts as present for the loss; absent means below a tenth of the window's weakest diagonal band.
PRESENT_AU = 0.05
#: Radius classes of the NC grid during the search (the twin uses 100; 60 keeps each point ≈ 10 ms
#: and moves the facts' values by < 2 nm and < 5 % of a band).
SEARCH_BINS = 60
#: The miss of an exciton or a diameter the twin does not have at all (no NCs): above any finite miss
#: a search would accept (0.3·(46 nm / 8 nm)² for an exciton), so a search cannot meet the absent-band
#: and no-NC facts by making no NCs anywhere.
MISSING = 10.0
WINDOW_C = (270, 280, 290, 300)
OUTSIDE_C = (240, 250, 320, 330, 340, 350)


def to_params(x, base: KineticParameters = DEFAULT_PARAMETERS) -> KineticParameters:
    """The parameter set at search coordinates ``x`` (natural logs for the log-scaled fields)."""
    values = {name: float(math.exp(v) if log else v) for (name, _, _, log), v in zip(SPACE, x, strict=True)}
    return dataclasses.replace(base, **values)


def to_x(params: KineticParameters = DEFAULT_PARAMETERS) -> np.ndarray:
    """Search coordinates of ``params``."""
    return np.array([math.log(getattr(params, name)) if log else getattr(params, name) for name, _, _, log in SPACE])


def bounds():
    return [(math.log(low), math.log(high)) if log else (low, high) for _, low, high, log in SPACE]


def _point(params, t_nuc, t_growth, residence_s):
    return steady_state(Conditions(t_nuc, t_growth, residence_s), params)


def _log_short(value, target):
    """Squared log-shortfall of ``value`` below ``target`` (0 at or above it, and for a target of 0)."""
    return max(math.log(max(target, 1e-12) / max(value, 1e-6)), 0.0) ** 2


def _exciton_miss(state, target_nm, tolerance_nm=8.0):
    exciton = nc_exciton_nm(state)
    return MISSING if exciton is None else 0.3 * ((exciton - target_nm) / tolerance_nm) ** 2


def _bands(state):
    return {name: band_absorbance(state, name) for name, _, _ in MSC_FAMILIES}


def fitted_terms(params: KineticParameters) -> dict[str, float]:
    """Misses of the fitted facts (each 0 when the fact holds)."""
    terms = {}
    window = {}
    for t in WINDOW_C:
        bands = [band_absorbance(_point(params, t, t - below, 14.0), "CdSe-437") for below in (20, 10, 0)]
        window[t] = bands
        terms[f"fig1_window_{t}"] = _log_short(bands[-1], PRESENT_AU)
        terms[f"fig1_rises_with_growth_{t}"] = 300.0 * sum(max(a - b, 0.0) ** 2 for a, b in itertools.pairwise(bands))
        terms[f"fig1_rises_with_growth_{t}"] += _log_short(bands[0], 0.015)
    weakest = max(min(bands[-1] for bands in window.values()), PRESENT_AU)
    for t in OUTSIDE_C:
        for below in (0, 30, 60, 90):
            band = band_absorbance(_point(params, t, t - below, 14.0), "CdSe-437")
            terms[f"fig1_absent_{t}_{t - below}"] = 2.0 * _log_short(0.1 * weakest, band)
    for t in (240, 250, 260):
        state = _point(params, t, t, 14.0)
        terms[f"ncs_at_14s_{t}"] = 3.0 * _log_short(state.units_in_nc_mm / state.precursor0_mm, 0.08)
        terms[f"ncs_at_14s_{t}"] += _log_short(state.nc_total_mm, 0.004)
    early = _point(params, 260, 260, 4.5)
    terms["no_ncs_260c_4.5s"] = 200.0 * max(early.units_in_nc_mm / early.precursor0_mm - 0.01, 0.0) ** 2
    terms["figs2_mscs_260"] = _log_short(max(_bands(early).values()), PRESENT_AU)
    state = _point(params, 280, 280, 4.5)
    terms["exciton_280c_4.5s"] = _exciton_miss(state, 490.0)
    terms["figs2_msc437_280"] = _log_short(band_absorbance(state, "CdSe-437"), 0.03)
    terms["figs2_several_families_350"] = _log_short(sorted(_bands(_point(params, 350, 350, 4.5)).values())[-2], 0.02)
    terms["exciton_280c_14s"] = _exciton_miss(_point(params, 280, 280, 14.0), 527.0)
    state = _point(params, 350, 350, 7.6)
    terms["exciton_350c_7.6s"] = _exciton_miss(state, 572.0)
    diameter = state.nc_mean_diameter_nm
    terms["tem_diameter_350c"] = MISSING if not np.isfinite(diameter) else 0.3 * ((diameter - 3.6) / 0.3) ** 2
    return terms


def predicted_terms(params: KineticParameters) -> dict[str, float]:
    """Misses of the predicted facts (each 0 when the fact holds); never part of the search's loss."""
    terms = {}
    weakest = max(min(band_absorbance(_point(params, t, t, 14.0), "CdSe-437") for t in WINDOW_C), PRESENT_AU)
    for t in OUTSIDE_C:
        worst = max(band_absorbance(_point(params, t, t - below, 14.0), "CdSe-437") for below in (10, 20, 40, 50, 70, 80))
        terms[f"fig1_absent_between_steps_{t}"] = 2.0 * _log_short(0.1 * weakest, worst)
    for chamber_c in (20, 100, 150):
        terms[f"oven_nucleation_{chamber_c}"] = _log_short(_point(params, chamber_c, 350, 14.0).yield_fraction, 0.8)
    yields = [_point(params, t, 350, 14.0).yield_fraction for t in range(20, 360, 10)]
    terms["yield_without_jumps"] = sum(max(abs(b - a) - 0.15, 0.0) for a, b in itertools.pairwise(yields)) * 10.0
    spreads = [_point(params, 350, 350, t).nc_size_dispersion for t in (4.5, 7.6, 14.0, 30.0)]
    terms["spread_does_not_widen_350c"] = 100.0 * sum(max(b - a - 0.01, 0.0) ** 2 for a, b in itertools.pairwise(spreads))
    return terms


_BASE = [DEFAULT_PARAMETERS]
_DEADLINE = [math.inf]


def _configure(bins: int, deadline: float = math.inf):
    """Set the search's grid and its wall-clock deadline (``time.time()``) in this process."""
    _BASE[0] = dataclasses.replace(DEFAULT_PARAMETERS, radius_grid_nm=(None, DEFAULT_PARAMETERS.radius_grid_nm[1], bins))
    _DEADLINE[0] = deadline


def loss(x) -> float:
    """The search's loss: the sum of :func:`fitted_terms` (1e3 where the kinetics fail or past the deadline)."""
    if time.time() > _DEADLINE[0]:
        return 1e3
    try:
        return float(sum(fitted_terms(to_params(x, _BASE[0])).values()))
    except (RuntimeError, ValueError, FloatingPointError):
        return 1e3


def report(params: KineticParameters = DEFAULT_PARAMETERS) -> dict:
    """Every fact's miss for ``params``, split into fitted and predicted."""
    fitted, predicted = fitted_terms(params), predicted_terms(params)
    return {"fitted_loss": sum(fitted.values()), "predicted_loss": sum(predicted.values()),
            "fitted": fitted, "predicted": predicted}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", action="store_true", help="print the defaults' fitted and predicted misses and stop")
    parser.add_argument("--generations", type=int, default=40, help="differential-evolution generations (≥ 1)")
    parser.add_argument("--population", type=int, default=8, help="population per coordinate (≥ 2)")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit-s", type=float, default=7200.0, help="stop with exit status 3 after this many seconds")
    args = parser.parse_args(argv)
    for name, value, low in (("--generations", args.generations, 1), ("--population", args.population, 2),
                             ("--processes", args.processes, 1)):
        if value < low:
            parser.error(f"{name}={value}: must be ≥ {low}")
    if not args.time_limit_s > 0:
        parser.error(f"--time-limit-s={args.time_limit_s:g}: must be > 0 seconds")
    if args.report:
        print(json.dumps(report(), indent=1, default=float))
        return 0
    deadline = time.time() + args.time_limit_s

    def stop_at_deadline(*_):
        return time.time() > deadline

    _configure(SEARCH_BINS, deadline)
    with multiprocessing.get_context("spawn").Pool(args.processes, initializer=_configure, initargs=(SEARCH_BINS, deadline)) as pool:
        result = differential_evolution(loss, bounds(), x0=np.clip(to_x(), *np.array(bounds()).T), popsize=args.population,
                                        maxiter=args.generations, seed=args.seed, workers=pool.map, updating="deferred",
                                        polish=False, callback=stop_at_deadline)
    if time.time() > deadline:
        print(f"calibrate_twin.py: stopped after --time-limit-s={args.time_limit_s:g} s; best loss {result.fun:.4g} "
              "(raise the limit or lower --generations)", file=sys.stderr)
        return 3
    params = to_params(result.x)
    print(json.dumps({"loss": result.fun, **report(params), "params": dataclasses.asdict(params)}, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
