"""Built-in kinetics analysis: first-order growth of a band over residence time.

A(t) = A∞ − (A∞ − A₀)·e^(−kt), fitted by weighted least squares with k's standard error from the
covariance (Yu et al., two-pathway SI: CdS MSC-311 A = 0.411 − 0.417·e^(−0.015 t),
k = 0.015 min⁻¹; CdTe dMSC-371 k = 0.004 min⁻¹, first order only after ≈ 200 min).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from autolab.analysis import hookimpl, metric_table

DEFAULT_METRIC = "uvvis.msc_absorbance_CdSe-437"


def first_order(t, a_inf, a0, k):
    """A(t) = A∞ − (A∞ − A₀)·e^(−kt)."""
    return a_inf - (a_inf - a0) * np.exp(-k * t)


def fit_first_order(time, values, sigma=None) -> dict:
    """Fit :func:`first_order`; returns ``a_inf``, ``a0``, ``k`` (per unit of ``time``), ``k_std``, ``r2``."""
    t = np.asarray(time, dtype=float)
    y = np.asarray(values, dtype=float)
    if t.size < 4 or t.shape != y.shape:
        msg = f"a first-order fit needs ≥ 4 (time, value) pairs of equal length, got {t.size} and {y.size}"
        raise ValueError(msg)
    span = float(t.max() - t.min()) or 1.0
    start = (float(y[np.argmax(t)]), float(y[np.argmin(t)]), 3.0 / span)
    with warnings.catch_warnings():
        # An exact fit (noise-free data) leaves the covariance undefined; k_std is then None.
        warnings.simplefilter("ignore", OptimizeWarning)
        params, cov = curve_fit(first_order, t, y, p0=start, sigma=sigma, absolute_sigma=sigma is not None, maxfev=20000)
    residual = y - first_order(t, *params)
    r2 = 1.0 - float((residual**2).sum() / max(((y - y.mean()) ** 2).sum(), 1e-300))
    return {
        "a_inf": float(params[0]),
        "a0": float(params[1]),
        "k": float(params[2]),
        "k_std": float(np.sqrt(cov[2, 2])) if np.all(np.isfinite(cov)) else None,
        "r2": r2,
    }


#: What :func:`autolab_analyze_series` returns for a time series of points.
METRICS = {
    "metric": ("", "the metric fitted (name)"),
    "k_per_s": ("s⁻¹", "first-order rate constant"),
    "k_std_per_s": ("s⁻¹", "standard error of the rate constant"),
    "a_inf": ("", "plateau of the fitted metric, in its own unit"),
    "a0": ("", "value of the fitted metric at t = 0, in its own unit"),
    "r2": ("", "coefficient of determination of the fit"),
}


@hookimpl
def autolab_metrics():
    return metric_table(METRICS)


@hookimpl
def autolab_analyze_series(points, metadata):
    metric = metadata.get("metric", DEFAULT_METRIC)
    usable = [(p["residence_time_s"], p[metric]) for p in points if p.get(metric) is not None and "residence_time_s" in p]
    if len(usable) < 4:
        return None
    t, y = np.array(usable, dtype=float).T
    fit = fit_first_order(t, y)
    return {"metric": metric, "k_per_s": fit["k"], "k_std_per_s": fit["k_std"], "a_inf": fit["a_inf"], "a0": fit["a0"], "r2": fit["r2"]}
