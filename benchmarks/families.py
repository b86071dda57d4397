"""Problem families for the optimiser benchmark: randomised instances the optimiser was not tuned on.

Each family draws a new instance from a seed (where the optimum sits, where the decoy sits, the
offsets and scales), so tuning on one set of seeds and reporting on another compares the same
family on different problems. Every instance is a maximisation with a known optimum ``f_opt``
(located numerically) and a reference ``f_median`` (the median of f over the domain), so a run is
scored ``(f_best − f_median)/(f_opt − f_median)``: 0 is a typical random point, 1 the optimum.
Noise is Gaussian with a standard deviation given as a fraction of the range ``f_opt − f_median``.

Families (inputs, noise):

- ``window-decoy-2`` (2, 1 %): a smooth step in a temperature-like input (240–350) times a
  peak in a second one (200–350), beside a broad decoy of 60 % height;
- ``window-decoy-3`` (3, none): the same plus a third input given linearly (1–20) whose natural
  scale is logarithmic (a peak of width 0.6 in ln r, low in the range);
- ``window-decoy-3-noisy`` (3, 3 %): the same with noise;
- ``hartmann3-odd`` (3, 1 %): Hartmann-3 mapped to inputs with ranges of 10¹, 10³ and 10⁻³,
  random offsets and axis reflections;
- ``log-ridge-3`` (3, 5 %): a curved ridge in two inputs given linearly over three decades
  (0.01–10) whose structure lives in their logarithms, and a smooth trend in the third;
- ``hartmann6-odd`` (6, 1 %): Hartmann-6 with ranges from 10⁻² to 10³ and offsets.

How hard each is: the share of the domain (uniform in the bounds as given) that scores ≥ 0.90,
over seeds 0–5 — window-decoy-2 2.9–4.8 %, window-decoy-3 0.26–0.53 %, hartmann3-odd 1.1–1.2 %,
log-ridge-3 0.04–0.46 %, hartmann6-odd ≤ 0.01 %.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.stats import qmc

H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
H3_P = 1e-4 * np.array([[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]])
H6_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann(u: np.ndarray, a: np.ndarray, p: np.ndarray) -> float:
    """Hartmann function on the unit cube (maximised: 3.86278 for d = 3, 3.32237 for d = 6)."""
    return float(np.sum(_ALPHA * np.exp(-np.sum(a * (np.asarray(u) - p) ** 2, axis=1))))


@dataclass
class Instance:
    """One problem: bounds as the user gives them (all linear), the noise-free f, the noise, f_opt, f_median."""

    family: str
    seed: int
    bounds: dict[str, tuple[float, float]]
    f: Callable[[dict[str, float]], float]
    noise_fraction: float
    f_opt: float = math.nan
    f_median: float = math.nan

    @property
    def noise_sd(self) -> float:
        return self.noise_fraction * (self.f_opt - self.f_median)

    def score(self, value: float) -> float:
        return (value - self.f_median) / (self.f_opt - self.f_median)


def _sigmoid(z):
    return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


def _window_decoy(rng: np.random.Generator, dim: int) -> tuple[dict, Callable]:
    bounds = {"t1": (240.0, 350.0), "t2": (200.0, 350.0), "r": (1.0, 20.0)}
    names = list(bounds)[:dim]
    bounds = {n: bounds[n] for n in names}
    edge = rng.uniform(265.0, 320.0)  # the step in t1 (°C-like), 4 wide
    centre = rng.uniform(215.0, 335.0)  # the peak in t2, σ = 25
    r_peak = math.exp(rng.uniform(math.log(2.0), math.log(8.0)))  # the peak in ln r, σ = 0.6
    main_u = np.array([min((edge + 15 - 240) / 110, 1.0), (centre - 200) / 150, (r_peak - 1) / 19])[:dim]
    # The decoy: broad (σ = 0.3 of each range), 60 % of the main peak's height, far from it.
    while True:
        decoy_u = rng.uniform(0.1, 0.9, dim)
        if np.linalg.norm(decoy_u - main_u) > 0.5:
            break

    def f(p):
        u = np.array([(p[n] - bounds[n][0]) / (bounds[n][1] - bounds[n][0]) for n in names])
        value = _sigmoid((p["t1"] - edge) / 4.0) * math.exp(-((p["t2"] - centre) ** 2) / (2 * 25.0**2))
        if dim == 3:
            value *= math.exp(-((math.log(p["r"]) - math.log(r_peak)) ** 2) / (2 * 0.6**2))
        return value + 0.6 * math.exp(-float(np.sum((u - decoy_u) ** 2)) / (2 * 0.3**2))

    return bounds, f


def _scaled_hartmann(rng: np.random.Generator, a: np.ndarray, p: np.ndarray, widths: list[float]) -> tuple[dict, Callable]:
    dim = len(widths)
    offsets = [float(w * rng.uniform(-50, 50)) for w in widths]
    flips = rng.random(dim) < 0.5
    names = [f"x{i + 1}" for i in range(dim)]
    bounds = {n: (o, o + w) for n, o, w in zip(names, offsets, widths, strict=True)}

    def f(q):
        u = np.array([(q[n] - bounds[n][0]) / (bounds[n][1] - bounds[n][0]) for n in names])
        return hartmann(np.where(flips, 1.0 - u, u), a, p)

    return bounds, f


def _log_ridge(rng: np.random.Generator) -> tuple[dict, Callable]:
    bounds = {"c1": (0.1, 10.0), "c2": (0.1, 10.0), "z": (0.0, 1.0)}
    # A curved ridge in (log10 c1, log10 c2) ∈ [−1, 1]²: the optimum sits low in both linear ranges.
    a = rng.uniform(-0.7, 0.3)
    b = rng.uniform(-0.7, 0.3)
    curvature = rng.uniform(-0.6, 0.6)
    z_best = rng.uniform(0.2, 0.8)

    def f(p):
        l1, l2 = math.log10(p["c1"]), math.log10(p["c2"])
        off_ridge = (l2 - b) - curvature * (l1 - a) ** 2
        along = l1 - a
        return math.exp(-(off_ridge**2) / (2 * 0.3**2) - along**2 / (2 * 0.8**2)) * (1.0 - 0.5 * (p["z"] - z_best) ** 2)

    return bounds, f


FAMILIES: dict[str, dict] = {
    "window-decoy-2": {"dim": 2, "noise": 0.01, "make": lambda rng: _window_decoy(rng, 2)},
    "window-decoy-3": {"dim": 3, "noise": 0.0, "make": lambda rng: _window_decoy(rng, 3)},
    "window-decoy-3-noisy": {"dim": 3, "noise": 0.03, "make": lambda rng: _window_decoy(rng, 3)},
    "hartmann3-odd": {"dim": 3, "noise": 0.01, "make": lambda rng: _scaled_hartmann(rng, H3_A, H3_P, [10.0, 1e3, 1e-3])},
    "log-ridge-3": {"dim": 3, "noise": 0.05, "make": _log_ridge},
    "hartmann6-odd": {"dim": 6, "noise": 0.01,
                      "make": lambda rng: _scaled_hartmann(rng, H6_A, H6_P, [1e-2, 1.0, 10.0, 1e3, 0.1, 100.0])},
}


def instance(family: str, seed: int) -> Instance:
    """The instance of ``family`` drawn from ``seed``, with its optimum and median located."""
    spec = FAMILIES[family]
    bounds, f = spec["make"](np.random.default_rng([seed, 2021]))
    inst = Instance(family, seed, bounds, f, spec["noise"])
    names, lows, highs = list(bounds), np.array([b[0] for b in bounds.values()]), np.array([b[1] for b in bounds.values()])

    def at(u):
        return f(dict(zip(names, lows + np.clip(u, 0, 1) * (highs - lows), strict=True)))

    sample = qmc.Sobol(len(names), seed=7).random(8192)
    values = np.array([at(u) for u in sample])
    inst.f_median = float(np.median(values))
    best = float(values.max())
    for start in sample[np.argsort(values)[-8:]]:
        res = minimize(lambda u: -at(u), start, method="L-BFGS-B", bounds=[(0, 1)] * len(names))
        best = max(best, float(-res.fun))
    inst.f_opt = best
    return inst
