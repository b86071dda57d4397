"""Fit the twin's kinetic parameters to the Palencia et al. 2020 facts (a developer's tool).

    python docs/calibrate_twin.py --samples 300 --refine 3 --seed 0 > calibration.json
    python docs/calibrate_twin.py --start default --samples 0 --local-samples 30 --refine 2 \
        --processes 2 --free k_nc465 --free ea_to_nc_j_per_mol    # refit two coordinates, hold the rest

Random search over log-rates and activation energies (over the whole space, or near the ``--start``
set), then Nelder–Mead (adaptive) from the best few. The loss is a sum of squared, tolerance-scaled
misses of the facts in ``autolab.sim.facts``; it is zero when every fact holds. Fact 5 is scored on
its shape too (the 190 → 200 °C step, the 200–220 °C plateau, no NCs before 250 °C), the precursor
mixture must survive 14 s at 50 °C (fact 6 needs it), and a coordinate outside its range in
``SPACE`` (physical limits; ``--bound`` narrows them) pays a steep penalty, since Nelder–Mead itself
is unbounded. The winning parameters are copied by hand into
``autolab.sim.parameters.KineticParameters``; docs/sim.md describes the loss and the options.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import multiprocessing
import signal
import time

import numpy as np
from scipy.optimize import minimize

from autolab.sim import Conditions, steady_state
from autolab.sim.kinetics import DEFAULT_PARAMETERS, SINGLE_EA_PARAMETERS, KineticParameters
from autolab.sim.observables import (
    PRESENT_MIN_AU,
    PRESENT_MIN_SHARE,
    band_absorbance,
    nc_exciton_nm,
    saxs_mean_radius_nm,
    saxs_resolved_fraction,
    saxs_volume_fractions,
)
from autolab.sim.optics import absorbance

# (name, low, high, log10?)
SPACE = [
    ("k_precursor_per_s", -1.5, 2.0, True),
    ("ea_precursor_j_per_mol", 40e3, 150e3, False),
    ("k_nucleation_per_mm_s", -2.0, 2.0, True),
    ("ea_nucleation_j_per_mol", -100e3, 300e3, False),
    ("k_step0", -1.0, 2.5, True),
    ("k_step1", -2.5, 2.5, True),
    ("k_step2", -1.0, 2.5, True),
    ("k_step3", -2.5, 1.5, True),
    ("k_nc403", -4.0, 1.0, True),
    ("k_nc465", -1.5, 2.0, True),
    ("ea_step0", 0.0, 250e3, False),
    ("ea_step1", 0.0, 250e3, False),
    ("ea_step2", 0.0, 250e3, False),
    ("ea_step3", 0.0, 250e3, False),
    ("ea_to_nc_j_per_mol", 0.0, 250e3, False),
    ("solubility_mm", -4.0, -1.0, True),
    ("dh_solubility_j_per_mol", 50e3, 250e3, False),
    ("surface_energy_j_per_m2", 0.1, 0.35, False),
    ("growth_rate_constant_m_per_s", -7.0, -4.5, True),
    ("ea_growth_j_per_mol", 0.0, 150e3, False),
    ("chamber_to_oven_volume_ratio", 0.02, 0.3, False),
    # Yu's Pathway 1: precursor compounds formed in the chamber, their family set by its temperature.
    ("precursor_compound_fraction", 0.0, 0.1, False),
    ("pc_switch_low_c", 180.0, 215.0, False),
    ("pc_switch_high_c", 215.0, 250.0, False),
    ("precursor_compound_switch_j_per_mol", 5.0, 6.3, True),
    ("k_precursor_compound_per_s", -3.0, 2.0, True),
    ("ea_precursor_compound_j_per_mol", 0.0, 300e3, False),
    ("precursor_compound_direct_c", 230.0, 400.0, False),
    ("precursor_compound_direct_j_per_mol", 5.0, 6.3, True),
]


def to_params(x) -> KineticParameters:
    values = {}
    for (name, _, _, is_log), v in zip(SPACE, x, strict=True):
        values[name] = 10.0**v if is_log else float(v)
    steps = tuple(values.pop(f"k_step{i}") for i in range(4))
    ea_steps = tuple(values.pop(f"ea_step{i}") for i in range(4))
    to_nc = (0.0, 0.0, values.pop("k_nc403"), 0.0, values.pop("k_nc465"))
    switch = (values.pop("pc_switch_low_c"), values.pop("pc_switch_high_c"))
    candidate = dataclasses.replace(BASE, k_steps_per_mm_s=steps, ea_steps_j_per_mol=ea_steps, k_to_nc_per_mm_s=to_nc,
                                    precursor_compound_switch_c=switch, **values)
    if not FREE:
        return candidate
    # A staged fit (--free) changes only its free coordinates: every other value stays exactly as
    # in the start set (default_x rounds some, e.g. a k_nc403 below its range).
    changes = {}
    for name, *_ in (SPACE[i] for i in FREE):
        field, index = _FIELD_OF.get(name, (name, None))
        if index is None:
            changes[field] = getattr(candidate, field)
        else:
            values = list(changes.get(field, np.broadcast_to(getattr(BASE, field), (len(getattr(candidate, field)),))))
            values[index] = getattr(candidate, field)[index]
            changes[field] = tuple(float(v) for v in values)
    return dataclasses.replace(BASE, **changes)


#: Coordinates that are one element of a tuple field: (field, index).
_FIELD_OF = {
    **{f"k_step{i}": ("k_steps_per_mm_s", i) for i in range(4)},
    **{f"ea_step{i}": ("ea_steps_j_per_mol", i) for i in range(4)},
    "k_nc403": ("k_to_nc_per_mm_s", 2), "k_nc465": ("k_to_nc_per_mm_s", 4),
    "pc_switch_low_c": ("precursor_compound_switch_c", 0), "pc_switch_high_c": ("precursor_compound_switch_c", 1),
}


def presence_margin(state, family, peak_nm):
    band = band_absorbance(state, family)
    total = float(absorbance(state, np.array([peak_nm]))[0])
    return min(band / PRESENT_MIN_AU, band / (PRESENT_MIN_SHARE * total)) + 1e-9


def hinge(x):
    return max(0.0, x) ** 2


class Timeout(Exception):
    pass


#: Loss-term prefixes left out (``--without``), e.g. ``f5`` for a fact the model's structure cannot meet.
WITHOUT: tuple[str, ...] = ()


#: Loss-term weights by prefix (``--weight``); 1 for the rest.
WEIGHTS: dict[str, float] = {}
#: The set a candidate's coordinates are written into: its fields outside SPACE (growth exponent,
#: radius grid, …) stay those of the ``--start`` set.
BASE: KineticParameters = DEFAULT_PARAMETERS


#: Coordinates the search varies (``--free``; all when empty) and the full vector the others are
#: held at: a staged fit of a new piece of the model on top of the rest.
FREE: list[int] = []
HELD_X: np.ndarray | None = None


def _configure(without, space=None, weights=None, base=DEFAULT_PARAMETERS, free=(), held_x=None):
    global WITHOUT, BASE, HELD_X
    WITHOUT = tuple(without)
    BASE = base
    FREE[:] = free
    HELD_X = held_x
    WEIGHTS.clear()
    WEIGHTS.update(weights or {})
    if space is not None:
        SPACE[:] = space


def loss(x, details=False):
    params = to_params(x)

    def st(tn, tg, tr):
        return steady_state(Conditions(tn, tg, tr), params)

    terms = {}
    # Fact 1: 437 window at 14 s and its rise with growth T.
    for t in (270, 280, 290, 300):
        # (aimed 2 % above the line: the window's edge at 270 °C sits on it)
        terms[f"f1_present_{t}"] = hinge(-math.log(presence_margin(st(t, t, 14.0), "CdSe-437", 437.0) / 1.02))
    for t in (230, 240, 250, 320, 330, 350):
        terms[f"f1_absent_{t}"] = hinge(math.log(presence_margin(st(t, t, 14.0), "CdSe-437", 437.0)))
    for t in (280, 300):
        a = [band_absorbance(st(t, t - dt, 14.0), "CdSe-437") + 1e-6 for dt in (20, 10, 0)]
        terms[f"f1_rise_{t}"] = hinge(math.log(a[0] / a[1]) + 0.05) + hinge(math.log(a[1] / a[2]) + 0.05)
    # Fact 2: MSCs at 4.5 s at 260, 280, 350 (best family), several families somewhere.
    families = (("CdSe-350", 350.0), ("CdSe-380", 380.0), ("CdSe-403", 403.0), ("CdSe-437", 437.0), ("CdSe-465", 465.0))
    counts = []
    for t in (260, 280, 350):
        margins = [presence_margin(st(t, t, 4.5), f, nm) for f, nm in families]
        terms[f"f2_msc_{t}"] = hinge(-math.log(max(margins)))
        counts.append(sorted(margins)[-2])
    terms["f2_several"] = 0.3 * hinge(-math.log(max(counts)))
    # Fact 3 and 4: exciton positions.
    for (t, tr, target, tol) in ((350, 7.6, 572.0, 8.0), (280, 4.5, 490.0, 10.0), (280, 14.0, 527.0, 10.0)):
        lam = nc_exciton_nm(st(t, t, tr))
        terms[f"exciton_{t}_{tr}"] = 25.0 if lam is None else hinge((abs(lam - target) - 0.5 * tol) / tol)
    terms["f4_437_4.5"] = hinge(-math.log(presence_margin(st(280, 280, 4.5), "CdSe-437", 437.0)))
    # No NCs at 260 °C / 4.5 s; NCs rather than MSCs at ≤ 260 °C / 14 s.
    s = st(260, 260, 4.5)
    # (aimed at ≤ 1.8 % and steep: 2 % is the test's line, and a search trades a small term away)
    terms["no_nc_260_4.5"] = hinge(math.log((s.units_in_nc_mm + 1e-9) / (0.018 * s.precursor0_mm)) / 0.05)
    s = st(250, 250, 14.0)
    terms["nc_not_msc_250_14"] = hinge(math.log((s.units_in_msc_mm + 1e-9) / (s.units_in_nc_mm + 1e-9)))
    # Fact 5: SAXS radius steps at 1.5 s, growth 230 °C.
    targets = {190: 0.87, 200: 0.94, 210: 0.94, 220: 0.94, 240: 1.02}
    # The radius is read whatever the resolved share; a share under SAXS's 2 % (where
    # saxs_mean_radius_nm reports no radius) costs its own term, graded so a search can climb it.
    states = {t: st(t, 230, 1.5) for t in (190, 200, 210, 220, 230, 240, 250, 260, 270, 280)}
    radii = {t: saxs_mean_radius_nm(s, min_fraction=0.0) or 0.0 for t, s in states.items()}
    for t, s in states.items():
        terms[f"f5_seen_{t}"] = hinge(math.log(0.03 / (saxs_resolved_fraction(s) + 1e-9)))
    for t, target in targets.items():
        terms[f"f5_r{t}"] = hinge((abs(radii[t] - target) - 0.02) / 0.04)
    r230 = radii[230]
    terms["f5_230_between"] = hinge((0.94 - r230) / 0.04) + hinge((r230 - 1.04) / 0.04)
    # "The onset of continuous growth of the NCs" from 250 °C: the radius rises with nucleation T
    # and an NC population makes the rise (≥ 10 % of the resolved volume at 280 °C in the test;
    # aimed at 15 %, each step ≥ 2 points).
    onset = (240, 250, 260, 270, 280)
    terms["f5_growth"] = sum(hinge((radii[lo] + 0.003 - radii[hi]) / 0.003) for lo, hi in itertools.pairwise(onset))
    fractions = {t: saxs_volume_fractions(s) for t, s in states.items()}
    nc = {t: fractions[t].get("NC", 0.0) for t in onset[1:]}
    terms["f5_nc_share"] = hinge((0.15 - nc[280]) / 0.05) + sum(
        hinge((nc[lo] + 0.02 - nc[hi]) / 0.02) for lo, hi in itertools.pairwise(onset[1:]))
    # The shape, not only the numbers: a step of ≥ 0.04 nm from 190 to 200 °C, a plateau (≤ 0.03 nm
    # spread) over 200–220 °C, and no continuous NC growth before 250 °C (< 2 % of the CdSe in NCs).
    terms["f5_step"] = hinge((0.04 - (radii[200] - radii[190])) / 0.02)
    # Palencia's reading of their fits: CdSe-403 leads at 190 °C, CdSe-437 at 200–220 °C, a CdSe-465
    # shoulder at 230 °C, CdSe-465 leading at 240 °C. The test asks > 50 % of the resolved volume to
    # lead and 10–50 % for the shoulder; the loss aims inside that (≥ 60 %, 20–40 %) for a margin.
    for t, family in ((190, "CdSe-403"), (200, "CdSe-437"), (210, "CdSe-437"), (220, "CdSe-437"), (240, "CdSe-465")):
        terms[f"f5_leads_{t}"] = hinge((0.6 - fractions[t].get(family, 0.0)) / 0.1)
    shoulder = fractions[230].get("CdSe-465", 0.0)
    terms["f5_shoulder_230"] = hinge((0.2 - shoulder) / 0.1) + hinge((shoulder - 0.4) / 0.1)
    plateau = [radii[t] for t in (200, 210, 220)]
    terms["f5_plateau"] = hinge((max(plateau) - min(plateau) - 0.03) / 0.02)
    for t in (190, 200, 210, 220, 230, 240):
        s = states[t]
        terms[f"f5_no_nc_{t}"] = hinge(math.log((s.units_in_nc_mm + 1e-9) / (0.02 * s.precursor0_mm)))
    # Fact 6 needs the precursor mixture itself: it must not react at 50 °C within 14 s.
    s = st(50, 50, 14.0)
    terms["f6_precursor_stable_50"] = hinge((0.95 - s.precursor_mm / s.precursor0_mm) / 0.05)
    # SPACE's ranges are physical limits (--bound narrows them): Nelder–Mead is unbounded, so a
    # coordinate outside its range pays a steep penalty instead.
    for (name, low, high, _), v in zip(SPACE, x, strict=True):
        terms[f"bound_{name}"] = 100.0 * (hinge((low - v) / (high - low)) + hinge((v - high) / (high - low)))
    weight = {k: math.prod(w for prefix, w in WEIGHTS.items() if k.startswith(prefix)) for k in terms}
    total = sum(weight[k] * v for k, v in terms.items() if not k.startswith(WITHOUT))
    return (total, terms) if details else total


def full_x(x):
    """The whole coordinate vector for a search vector ``x`` (only the ``--free`` ones, when set)."""
    if not FREE:
        return np.asarray(x, dtype=float)
    full = np.array(HELD_X, dtype=float)
    full[FREE] = x
    return full


def safe_loss(x, seconds=20):
    def handler(*_):
        raise Timeout

    signal.signal(signal.SIGALRM, handler)
    signal.alarm(seconds)
    try:
        return loss(full_x(x))
    except Exception:
        return 1e3
    finally:
        signal.alarm(0)


#: Hand-set start for Yu's Pathway 1 on top of the default set (whose other values it keeps): 3 % of
#: the CdSe as precursor compounds, family switches at 196 and 233 °C with 600 kJ/mol, PC → MSC
#: 0.3 s⁻¹ at 280 °C with 100 kJ/mol — values set by hand, none taken from a fit.
PATHWAY1_HAND = dataclasses.replace(
    DEFAULT_PARAMETERS, precursor_compound_fraction=0.03, precursor_compound_switch_c=(196.0, 233.0),
    precursor_compound_switch_j_per_mol=6e5, k_precursor_compound_per_s=0.3, ea_precursor_compound_j_per_mol=1e5,
)
#: Yu's Pathway 1 with no PC passing straight on to its MSC (the direct share's temperature far
#: out of reach): a start for fitting the direct share with the growth law and → NC (docs/sim.md).
PATHWAY1_FIT = dataclasses.replace(
    DEFAULT_PARAMETERS, k_steps_per_mm_s=(1.859, 0.05185, 138.8, 0.04148),
    k_to_nc_per_mm_s=(0.0, 0.0, 1.154e-05, 0.0, 0.1197), ea_to_nc_j_per_mol=14650.0,
    growth_rate_constant_m_per_s=5.11e-07, ea_growth_j_per_mol=91960.0, precursor_compound_fraction=0.03041,
    precursor_compound_direct_c=1000.0, precursor_compound_direct_j_per_mol=3e5,
)
STARTS = {"default": DEFAULT_PARAMETERS, "single-ea": SINGLE_EA_PARAMETERS, "pathway1-hand": PATHWAY1_HAND,
          "pathway1": PATHWAY1_FIT}


def default_x(p: KineticParameters = DEFAULT_PARAMETERS):
    """The coordinates of ``p`` (the inverse of :func:`to_params`, but k_nc403 is raised to its
    range's floor, 1e-4 mM⁻¹ s⁻¹: the default 1.15e-5 lies below it)."""
    raw = {}
    for name, *_ in SPACE:
        field, index = _FIELD_OF.get(name, (name, None))
        value = np.atleast_1d(getattr(p, field))  # one activation energy may stand for all steps
        raw[name] = float(value[0 if index is None or value.size == 1 else index])
    raw["k_nc403"] = max(raw["k_nc403"], 1e-4)
    return np.array([math.log10(raw[n]) if lg else raw[n] for n, _, _, lg in SPACE])


def _from_json(path) -> KineticParameters:
    """The parameter set of this script's output (its ``params`` object)."""
    with open(path) as handle:
        values = json.load(handle)["params"]
    tuples = {k: tuple(v) for k, v in values.items() if isinstance(v, list)}
    return KineticParameters(**(values | tuples))


def _refine(args):
    x, iterations = args
    res = minimize(safe_loss, x, method="Nelder-Mead", options={"maxiter": iterations, "xatol": 1e-3, "fatol": 1e-4, "adaptive": True})
    return res.fun, res.x


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=300, help="random starts over the whole space")
    parser.add_argument("--local-samples", type=int, default=0, help="random starts within ±10 %% of each range around the --start set")
    parser.add_argument("--refine", type=int, default=3, help="Nelder–Mead runs from the best starts")
    parser.add_argument("--iterations", type=int, default=400)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--time-limit-s", type=float, default=7200.0,
                        help="give up (exit status 3) if the search has not finished after this many seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", default="default",
                        help=f"parameter set the local starts are drawn around: {', '.join(sorted(STARTS))}, or the JSON "
                             "this script printed (a file name)")
    parser.add_argument("--without", action="append", default=[], help="leave out loss terms with this prefix (repeatable)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="change one coordinate of the default start (log10 for log-scaled ones), e.g. ea_step1=2e5")
    parser.add_argument("--bound", action="append", default=[], metavar="NAME=LOW:HIGH",
                        help="change the range of one coordinate (log10 for log-scaled ones): random starts are drawn "
                             "from it and the loss penalises leaving it")
    parser.add_argument("--free", action="append", default=[], metavar="NAME",
                        help="vary only this coordinate (repeatable); the others stay at the start set (with --set)")
    parser.add_argument("--weight", action="append", default=[], metavar="PREFIX=W",
                        help="multiply the loss terms starting with PREFIX by W (repeatable)")
    args = parser.parse_args()
    if not args.time_limit_s > 0:
        parser.error(f"--time-limit-s={args.time_limit_s:g}: must be > 0 seconds")
    space = list(SPACE)
    names = [n for n, *_ in space]
    for item in args.bound:
        try:
            name, limits = item.split("=")
            lo, hi = (float(v) for v in limits.split(":"))
        except ValueError:
            parser.error(f"--bound {item!r}: write NAME=LOW:HIGH with numbers, LOW < HIGH")
        if name not in names:
            parser.error(f"--bound {item!r}: no coordinate {name!r}; coordinates: {', '.join(names)}")
        if not lo < hi:
            parser.error(f"--bound {item!r}: LOW={lo} must be below HIGH={hi}")
        space = [(n, lo, hi, lg) if n == name else (n, a, b, lg) for n, a, b, lg in space]
    weights = {}
    for item in args.weight:
        prefix, _, value = item.partition("=")
        try:
            weights[prefix] = float(value)
        except ValueError:
            parser.error(f"--weight {item!r}: write PREFIX=W with W a number ≥ 0")
        if not weights[prefix] >= 0:
            parser.error(f"--weight {item!r}: W={weights[prefix]} must be ≥ 0")
    try:
        start = STARTS.get(args.start) or _from_json(args.start)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        parser.error(f"--start {args.start!r}: not {' or '.join(sorted(STARTS))}, nor this script's JSON output ({exc})")
    start_x = default_x(start)
    for item in args.set:
        name, _, value = item.partition("=")
        if name not in names:
            parser.error(f"--set {item!r}: no coordinate {name!r}; coordinates: {', '.join(names)}")
        try:
            start_x[names.index(name)] = float(value)
        except ValueError:
            parser.error(f"--set {item!r}: write NAME=VALUE with VALUE a number (log10 for log-scaled coordinates)")
    for name in args.free:
        if name not in names:
            parser.error(f"--free {name!r}: no coordinate {name!r}; coordinates: {', '.join(names)}")
    free = [names.index(name) for name in args.free]
    _configure(args.without, space, weights, start, free, start_x)
    rng = np.random.default_rng(args.seed)
    low = np.array([s[1] for s in SPACE])
    high = np.array([s[2] for s in SPACE])
    starts = [default_x(start), start_x]
    starts += [rng.uniform(low, high) for _ in range(args.samples)]
    starts += [np.clip(start_x + rng.uniform(-0.1, 0.1, len(SPACE)) * (high - low), low, high) for _ in range(args.local_samples)]
    if free:
        starts = [x[free] for x in starts]
    deadline = time.monotonic() + args.time_limit_s

    def gather(pool, function, items):
        # map_async + get(timeout): a pool whose workers died would otherwise wait for ever.
        try:
            return pool.map_async(function, items).get(timeout=max(deadline - time.monotonic(), 0.0))
        except multiprocessing.TimeoutError:
            parser.exit(3, f"calibrate_twin.py: stopped after --time-limit-s={args.time_limit_s:g} s without a result "
                           "(raise the limit, or fewer --samples/--iterations)\n")

    with multiprocessing.get_context("spawn").Pool(args.processes, initializer=_configure,
                                              initargs=(args.without, space, weights, start, free, start_x)) as pool:
        scored = sorted(zip(gather(pool, safe_loss, starts), range(len(starts)), starts, strict=True), key=lambda item: item[:2])
        best_starts = scored[: args.refine]
        refined = gather(pool, _refine, [(x, args.iterations) for _, _, x in best_starts])
    results = sorted(((fun, i, x, start[0]) for i, ((fun, x), start) in enumerate(zip(refined, best_starts, strict=True))), key=lambda r: r[:2])
    _best_value, _, best_x, start_value = results[0]
    best_x = full_x(best_x)
    total, terms = loss(best_x, details=True)
    left_out = {k: v for k, v in terms.items() if k.startswith(WITHOUT) and v > 0}
    params = to_params(best_x)
    print(json.dumps({"loss": total, "start_loss": start_value, "default_loss": loss(default_x()),
                      "terms": {k: v for k, v in terms.items() if v > 0 and k not in left_out},
                      "left_out": left_out, "params": dataclasses.asdict(params)}, indent=1, default=float))


if __name__ == "__main__":
    main()
