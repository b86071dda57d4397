"""Built-in SAXS analysis: polydisperse-sphere fit, McSAS-style size distribution, mesophase.

- Sphere fit: sasmodels' ``sphere`` with Schulz polydispersity (radius, polydispersity, scale =
  volume fraction, flat background) by weighted least squares; CdSe SLD 42e-6 Å⁻² in an alkane
  (8e-6 Å⁻²). Bragg-peak regions of a mesophase are masked out.
- Size distribution in the spirit of McSAS (Bressler, Pauw & Thünemann, J. Appl. Cryst. 2015, 48,
  962): 300 sphere contributions with radii drawn in bounds; scale and background by bounded least
  squares; one contribution at a time is replaced and the change kept only if χ² falls; stop at
  χ²_r ≤ 1 or after the iteration budget; several independent repetitions give the volume-weighted
  mean radius ± its spread. Form factors come from sasmodels, tabulated once on a radius grid.
- Mesophase: peaks standing above a smooth of log I, and whether the second lies at twice the
  first (lamellar order, d = 2π/q₁).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.optimize import least_squares
from scipy.signal import find_peaks, savgol_filter

from autolab.analysis import hookimpl, metric_table

CDSE_SLD = 42.0
SOLVENT_SLD = 8.0


@lru_cache(maxsize=8)
def _sphere_kernel(q_key: tuple):

    model = _model()
    return model.make_kernel([np.asarray(q_key) / 10.0])  # sasmodels works in Å⁻¹


@lru_cache(maxsize=1)
def _model():
    from sasmodels.core import load_model

    return load_model("sphere")


#: Below this relative width the spheres are taken as monodisperse: sasmodels' Schulz weights
#: (z = 1/pd²) overflow in ``exp`` for pd ≈ 1e-9, where a fit of a near-monodisperse pattern can go.
MONODISPERSE_BELOW = 1e-3


def sphere_intensity(q_nm_inv, radius_nm, polydispersity=0.0, scale=1e-3, background=0.0):
    """I(q) in cm⁻¹ of CdSe spheres (sasmodels ``sphere``, Schulz polydispersity)."""
    from sasmodels.direct_model import call_kernel

    kernel = _sphere_kernel(tuple(np.round(np.asarray(q_nm_inv, dtype=float), 12)))
    pars = {
        "radius": 10.0 * radius_nm, "radius_pd": polydispersity if polydispersity >= MONODISPERSE_BELOW else 0.0,
        "radius_pd_n": 35, "radius_pd_type": "schulz",
        "sld": CDSE_SLD, "sld_solvent": SOLVENT_SLD, "scale": scale, "background": background,
    }
    return np.asarray(call_kernel(kernel, pars), dtype=float)


def fit_sphere(q_nm_inv, intensity, sigma=None, *, mask=None) -> dict:
    """Fit polydisperse spheres; returns radius (nm), polydispersity, scale, background, χ²_r."""
    q = np.asarray(q_nm_inv, dtype=float)
    i = np.asarray(intensity, dtype=float)
    s = np.asarray(sigma, dtype=float) if sigma is not None else np.maximum(0.02 * np.abs(i), 1e-12)
    s = np.where(s > 0, s, np.max(s[s > 0]) if np.any(s > 0) else 1.0)
    keep = np.ones_like(q, dtype=bool) if mask is None else ~np.asarray(mask)
    q, i, s = q[keep], i[keep], s[keep]
    background0 = max(float(np.median(i[-max(5, len(i) // 10) :])), 0.0)
    radius0 = _guinier_radius(q, i - background0)
    contrast = ((CDSE_SLD - SOLVENT_SLD) * 1e-6 * 1e16) ** 2
    volume = 4 / 3 * np.pi * (radius0 * 1e-7) ** 3
    scale0 = max(float(i[:5].mean() - background0), 1e-6) / (contrast * volume) if volume > 0 else 1e-4

    def residual(p):
        radius, pd, log_scale, bg = p
        return (sphere_intensity(q, radius, pd, 10.0**log_scale, bg) - i) / s

    start = [radius0, 0.1, np.log10(max(scale0, 1e-9)), background0]
    lower, upper = [0.3, 0.0, -9.0, 0.0], [20.0, 0.5, 0.0, max(float(i.max()), 1e-9)]
    start = np.clip(start, np.add(lower, 1e-6), np.subtract(upper, 1e-6))
    fit = least_squares(residual, start, bounds=(lower, upper), x_scale=[0.1, 0.05, 0.5, max(background0, 1e-4)])
    dof = max(len(q) - 4, 1)
    radius, pd, log_scale, bg = fit.x
    return {
        "radius_nm": float(radius),
        "polydispersity": float(pd),
        "scale": float(10.0**log_scale),
        "background": float(bg),
        "chi2_reduced": float((fit.fun**2).sum() / dof),
        "fit_success": bool(fit.success),
    }


def _guinier_radius(q, i) -> float:
    low = (q < 1.0) & (i > 0)
    if low.sum() < 4:
        return 1.0
    slope = np.polyfit(q[low] ** 2, np.log(i[low]), 1)[0]
    rg = np.sqrt(max(-3.0 * slope, 1e-4))
    return float(np.clip(np.sqrt(5.0 / 3.0) * rg, 0.35, 15.0))


def mcsas_distribution(
    q_nm_inv, intensity, sigma=None, *, radius_range_nm=(0.4, 5.0), contributions=300, repetitions=5,
    iterations=20000, seed=0, mask=None,
) -> dict:
    """McSAS-style Monte-Carlo size distribution (volume weighted).

    Returns ``{"mean_radius_nm", "mean_radius_std_nm", "chi2_reduced", "histogram_radius_nm",
    "histogram_volume_fraction"}``; the histogram has 30 log-spaced bins over ``radius_range_nm``.
    """
    q = np.asarray(q_nm_inv, dtype=float)
    i = np.asarray(intensity, dtype=float)
    s = np.asarray(sigma, dtype=float) if sigma is not None else np.maximum(0.02 * np.abs(i), 1e-12)
    keep = np.ones_like(q, dtype=bool) if mask is None else ~np.asarray(mask)
    q, i, s = q[keep], i[keep], np.where(s[keep] > 0, s[keep], 1.0)
    grid = np.geomspace(*radius_range_nm, 400)
    # Volume-weighted contributions: V·P(q) per unit volume fraction (sasmodels, no polydispersity).
    table = np.array([sphere_intensity(q, r, 0.0, 1.0, 0.0) for r in grid])
    rng = np.random.default_rng(seed)
    edges = np.geomspace(*radius_range_nm, 31)
    means, histograms, chis = [], [], []
    for _ in range(repetitions):
        picks = rng.integers(0, len(grid), contributions)
        total = table[picks].sum(axis=0)
        chi2, _ = _scale_fit(total, i, s)
        for _ in range(iterations):
            if chi2 / max(len(q) - 2, 1) <= 1.0:
                break
            k = rng.integers(contributions)
            new = rng.integers(0, len(grid))
            trial = total - table[picks[k]] + table[new]
            trial_chi2, trial_coef = _scale_fit(trial, i, s)
            if trial_chi2 < chi2:
                total, chi2, _coef, picks[k] = trial, trial_chi2, trial_coef, new
        radii = grid[picks]
        means.append(float(radii.mean()))  # each contribution carries equal volume fraction
        histograms.append(np.histogram(radii, bins=edges)[0] / contributions)
        chis.append(chi2 / max(len(q) - 2, 1))
    return {
        "mean_radius_nm": float(np.mean(means)),
        "mean_radius_std_nm": float(np.std(means)),
        "chi2_reduced": float(np.mean(chis)),
        "histogram_radius_nm": np.sqrt(edges[1:] * edges[:-1]).tolist(),
        "histogram_volume_fraction": np.mean(histograms, axis=0).tolist(),
    }


def _scale_fit(model, i, s):
    """χ² and (scale, background) ≥ 0 of ``scale·model + background`` to ``i`` (closed form)."""
    w = 1.0 / s**2
    sxx, sx1, s11 = (w * model * model).sum(), (w * model).sum(), w.sum()
    sxy, s1y = (w * model * i).sum(), (w * i).sum()
    det = sxx * s11 - sx1 * sx1
    candidates = []
    if det > 0:
        a, b = (sxy * s11 - sx1 * s1y) / det, (sxx * s1y - sx1 * sxy) / det
        if a >= 0 and b >= 0:
            candidates.append((a, b))
    candidates.append((max(sxy / sxx, 0.0) if sxx > 0 else 0.0, 0.0))
    candidates.append((0.0, max(s1y / s11, 0.0)))
    best = None
    for a, b in candidates:
        chi2 = float((w * (a * model + b - i) ** 2).sum())
        if best is None or chi2 < best[0]:
            best = (chi2, np.array([a, b]))
    return best


def detect_mesophase(q_nm_inv, intensity, *, min_excess=0.3, max_fwhm_nm_inv=0.25) -> dict:
    """Bragg peaks (narrower than ``max_fwhm_nm_inv``, ≥ ``min_excess`` above a smooth of ln I);
    lamellar if a second peak sits at 2q₁ (± 3 %)."""
    q = np.asarray(q_nm_inv, dtype=float)
    i = np.clip(np.asarray(intensity, dtype=float), 1e-12, None)
    grid = np.linspace(max(q[0], 0.5), q[-1], 600)
    log_i = np.interp(grid, q, np.log(i))
    # A smooth of log I that ignores the peaks: smooth, drop what stands above it, repeat.
    base = log_i.copy()
    for _ in range(4):
        smooth = savgol_filter(base, 121, 2)
        base = np.minimum(base, smooth + 0.02)
    excess = log_i - smooth
    spacing = grid[1] - grid[0]
    peaks, _ = find_peaks(
        excess, height=min_excess, distance=20, prominence=min_excess, width=(None, max_fwhm_nm_inv / spacing)
    )
    positions = [float(grid[p]) for p in peaks]
    lamellar = None
    for a in positions:
        for b in positions:
            if b > a and abs(b / a - 2.0) <= 0.06:
                lamellar = (a, b)
                break
        if lamellar:
            break
    return {
        "mesophase": lamellar is not None,
        "bragg_peaks_nm-1": [round(p, 3) for p in positions],
        "order_ratio": None if lamellar is None else lamellar[1] / lamellar[0],
        "d_spacing_nm": None if lamellar is None else 2 * np.pi / lamellar[0],
    }


def analyze_pattern(q_nm_inv, intensity, sigma=None, *, distribution: bool = True) -> dict:
    """Mesophase detection, then the sphere fit (Bragg regions masked) and the size distribution."""
    q = np.asarray(q_nm_inv, dtype=float)
    meso = detect_mesophase(q, intensity)
    mask = np.zeros_like(q, dtype=bool)
    for peak in meso["bragg_peaks_nm-1"]:
        mask |= np.abs(q - peak) < 0.2
    out = {**meso, **fit_sphere(q, intensity, sigma, mask=mask)}
    if distribution:
        dist = mcsas_distribution(q, intensity, sigma, mask=mask, repetitions=3, iterations=5000)
        out.update({f"mcsas_{k}": v for k, v in dist.items()})
    return out


#: What :func:`autolab_analyze_saxs` returns.
METRICS = {
    "mesophase": ("", "a lamellar mesophase (Bragg peaks at q and 2q) is present"),
    "bragg_peaks_nm-1": ("nm⁻¹", "positions of the Bragg peaks found (list)"),
    "order_ratio": ("", "q₂/q₁ of the lamellar pair"),
    "d_spacing_nm": ("nm", "lamellar d-spacing 2π/q₁"),
    "radius_nm": ("nm", "mean radius of the polydisperse-sphere fit"),
    "polydispersity": ("", "relative radius spread σ_r/r of the sphere fit"),
    "scale": ("cm⁻¹", "volume-fraction scale of the sphere fit"),
    "background": ("cm⁻¹", "flat background of the sphere fit"),
    "chi2_reduced": ("", "reduced χ² of the sphere fit"),
    "fit_success": ("", "the sphere fit converged"),
    "mcsas_mean_radius_nm": ("nm", "volume-weighted mean radius of the Monte-Carlo size distribution"),
    "mcsas_mean_radius_std_nm": ("nm", "spread of that mean over the repetitions"),
    "mcsas_chi2_reduced": ("", "reduced χ² of the Monte-Carlo fit"),
    "mcsas_histogram_radius_nm": ("nm", "radius bin centres of the size distribution (list)"),
    "mcsas_histogram_volume_fraction": ("", "volume fraction in each radius bin (list)"),
}


@hookimpl
def autolab_metrics():
    return metric_table(METRICS)


@hookimpl
def autolab_analyze_saxs(q_nm_inv, intensity, sigma):
    return analyze_pattern(q_nm_inv, intensity, sigma)
