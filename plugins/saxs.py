"""Built-in SAXS analysis: input checks, lamellar mesophase, polydisperse-sphere fit, size distribution.

Every pattern first goes through :func:`validate_pattern`: what cannot be analysed (no intensity,
mismatched lengths, fewer than :data:`MIN_POINTS` usable points, no positive intensity) raises one
``ValueError`` that names the field, the value and what is allowed; what can be repaired is
repaired and said in the ``warnings`` metric (NaN/infinite points and q ≤ 0 dropped, q sorted,
duplicated q merged by inverse-variance weighting, σ ≤ 0 interpolated from the neighbouring σ,
negative intensities kept, a missing σ estimated from the point-to-point scatter). A pattern of
more than :data:`REBIN_ABOVE` (500) points is then averaged into ≤ 500 q bins (:func:`rebinned`:
1.2 % of q, at most 0.015 nm⁻¹ wide), so that every analysis below costs what a 500-point pattern
does (a 2000-point pyFAI pattern takes 82–141 ms unbinned, 21–41 ms binned; ``benchmarks/analysis.py``).

During a campaign :func:`autolab_analyze_saxs` runs (≈ 10–40 ms a pattern):

- Sphere fit (:func:`fit_sphere`): spheres with Schulz polydispersity — sasmodels' ``sphere`` form
  factor, Schulz distribution and volume normalisation, evaluated in numpy on 25 radii over
  −4σ…+7σ (:func:`schulz_spheres`, within 0.5 % of sasmodels for r ≤ 3 nm) — CdSe SLD 42e-6 Å⁻²
  in an alkane (8e-6 Å⁻²). For each radius and polydispersity the scale (volume fraction) and a
  flat background (of either sign: background-subtracted data) are solved in closed form, so the
  least-squares fit (bounded, analytic derivatives, ≤ 25 evaluations) moves only radius and
  polydispersity; it starts from the best of 270 tabulated (radius, polydispersity) models. A fit
  with χ²_r > :data:`MISFIT_CHI2` or the polydispersity at its bound is said in ``warnings``.
- Mesophase (:func:`detect_mesophase`): Bragg peaks are narrow excesses over the smooth
  scattering. At every q ≥ 0.5 nm⁻¹ and for Gaussian widths σ = 0.02, 0.04 and 0.08 nm⁻¹, a
  weighted linear fit of a local quadratic plus a Gaussian to I − (sphere fit) gives the Gaussian's
  amplitude and its standard error — from σ of the data, or without σ from
  :func:`noise_estimate`, and inflated by the reduced χ² of the window's flanks when the quadratic
  does not describe them. A Bragg peak stands ≥ :data:`BRAGG_Z` standard errors and
  ≥ :data:`BRAGG_MIN_EXCESS` of the local intensity above it. Its first order q₁ alone makes
  ``mesophase`` true; the orders n·q₁ (n ≥ 2) are then tested where they are predicted
  (≥ :data:`ORDER_Z` standard errors), every order found is reported, and d = 2π/q₁ with q₁ from
  all the orders found. The sphere fit is then repeated with the Bragg regions left out.

Inside, I and σ are in units of max |I| (any unit of the file works) and σ stays within
:data:`SIGMA_FLOOR`…1/SIGMA_FLOOR of it.

Off the critical path :func:`autolab_analyze_saxs_deferred` runs the size distribution in the
spirit of McSAS (Bressler, Pauw & Thünemann, J. Appl. Cryst. 2015, 48, 962;
:func:`mcsas_distribution`, ≈ 0.5–1 s): 300 sphere contributions with radii drawn in bounds; scale
and background by bounded least squares; one contribution at a time is replaced and the change
kept only if χ² falls; stop at χ²_r ≤ 1 or after the iteration budget; several independent
repetitions give the volume-weighted mean radius ± its spread and a volume-weighted histogram,
which resolves two populations (MSCs and NCs) that a single-population fit averages.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.optimize import least_squares

from autolab.analysis import as_numbers, hookimpl, metric_table
from autolab.materials import CDSE_SLD_1E6_PER_A2, SOLVENT_SLD_1E6_PER_A2

#: Scattering length densities of the spheres and the solvent, 1e-6 Å⁻²: CdSe in an alkane
#: (:mod:`autolab.materials`).
CDSE_SLD, SOLVENT_SLD = CDSE_SLD_1E6_PER_A2, SOLVENT_SLD_1E6_PER_A2
#: (Δρ in 1e-6 Å⁻²)² · V in nm³ → I in cm⁻¹ per unit volume fraction: 1e-12 Å⁻⁴ · 1e3 Å³ = 1e-9 Å⁻¹ = 0.1 cm⁻¹.
_CONTRAST_CM_INV_PER_NM3 = (CDSE_SLD - SOLVENT_SLD) ** 2 * 0.1

#: Fewer usable points than this (after the repairs) is an error.
MIN_POINTS = 20
#: σ below this fraction of max |I| is raised to it (a σ of 0 or 1e-300 would weigh one point
#: without bound).
SIGMA_FLOOR = 1e-12
#: Points a side over which :func:`noise_estimate` takes the median scatter.
NOISE_HALF_WINDOW = 30
#: Below this relative width the spheres are taken as monodisperse: sasmodels' Schulz weights
#: (z = 1/pd²) overflow in ``exp`` for pd ≈ 1e-9, where a fit of a near-monodisperse pattern can go.
MONODISPERSE_BELOW = 1e-3
#: Bounds of the sphere fit.
RADIUS_BOUNDS_NM = (0.3, 20.0)
POLYDISPERSITY_BOUNDS = (0.0, 0.4)
#: Above this reduced χ² (or with the polydispersity at its bound) the sphere fit is said not to
#: describe the pattern, in ``warnings``.
MISFIT_CHI2 = 10.0
#: The largest q the SAXS analysis takes, nm⁻¹: SAXS stops near 10 and laboratory WAXS near 50 (Cu Kα);
#: a q of hundreds is another quantity (a UV-Vis file's wavelengths in nm).
MAX_Q_NM_INV = 100.0
#: Radii the deferred size distribution draws from, nm: the MSCs (0.5–1 nm) to NCs of 10 nm across.
MCSAS_RADIUS_RANGE_NM = (0.4, 5.0)
#: Evaluations the sphere fit may spend after its start (a pattern without spheres wanders).
FIT_MAX_EVALUATIONS = 25
#: Quadrature of the Schulz distribution in the sphere fit: PD_POINTS radii from −PD_SIGMAS[0] σ
#: to +PD_SIGMAS[1] σ.
PD_POINTS, PD_SIGMAS = 25, (4.0, 7.0)

#: A Bragg peak stands this many standard errors above the local background …
BRAGG_Z = 6.0
#: … and at least this fraction of the local intensity (3 %), which keeps a slight misfit of the
#: local background under very many counts from passing as a peak.
BRAGG_MIN_EXCESS = 0.03
#: A higher order n·q₁, tested only where it is predicted, needs this many standard errors.
ORDER_Z = 4.0
#: Tolerance of an order's position, relative to n·q₁.
ORDER_TOLERANCE = 0.03
#: Gaussian σ of the peak shapes tried, nm⁻¹ (FWHM ≈ 0.05–0.2 nm⁻¹).
BRAGG_WIDTHS_NM_INV = (0.02, 0.04, 0.08)
#: Degree of the local polynomial under a peak (in I minus the sphere fit).
BACKGROUND_DEGREE = 2
#: The local window reaches ±max(REACH_WIDTHS · w, MIN_REACH_NM_INV), at most MAX_HALF_WINDOW
#: points a side.
REACH_WIDTHS, MIN_REACH_NM_INV, MAX_HALF_WINDOW = 4.0, 0.12, 40
#: Peaks are searched from here (below, the particles' Guinier region and the precursor's broad
#: maximum near 0.25 nm⁻¹ dominate).
BRAGG_SEARCH_FROM_NM_INV = 0.5


# --- input ---------------------------------------------------------------------------------------
def validate_pattern(q_nm_inv, intensity, sigma=None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, list[str]]:
    """Checked and repaired ``(q, I, σ or None, warnings)``; ``ValueError`` for what cannot be analysed.

    Repairs (each reported in ``warnings``): points with NaN or infinite q, I or σ, and points with
    q ≤ 0, are dropped; q is sorted; points at the same q are merged (inverse-variance mean); σ ≤ 0
    is interpolated from the neighbouring positive σ (all σ ≤ 0: σ is ignored); negative
    intensities are kept (background-subtracted data). A q range ending below 1 nm⁻¹ is said too
    (q in Å⁻¹?); one reaching beyond :data:`MAX_Q_NM_INV` is refused.
    """
    if intensity is None:
        msg = "intensity is missing: a SAXS pattern needs q_nm_inv and intensity columns (σ optional)"
        raise ValueError(msg)
    q = as_numbers(q_nm_inv, "q_nm_inv")
    i = as_numbers(intensity, "intensity")
    s = None if sigma is None else as_numbers(sigma, "sigma")
    if q.size == 0:
        msg = f"q_nm_inv is empty: a SAXS pattern needs at least {MIN_POINTS} points"
        raise ValueError(msg)
    if i.size != q.size:
        msg = f"intensity has {i.size} points but q_nm_inv has {q.size}; they must be the same length"
        raise ValueError(msg)
    if s is not None and s.size != q.size:
        msg = f"sigma has {s.size} points but q_nm_inv has {q.size}; they must be the same length (or sigma None)"
        raise ValueError(msg)
    warnings: list[str] = []
    finite = np.isfinite(q) & np.isfinite(i) & (np.isfinite(s) if s is not None else True)
    if not finite.all():
        warnings.append(f"dropped {int((~finite).sum())} point(s) with NaN or infinite q, intensity or sigma")
    positive_q = q > 0
    if (finite & ~positive_q).any():
        warnings.append(f"dropped {int((finite & ~positive_q).sum())} point(s) with q ≤ 0 nm⁻¹ (q must be positive)")
    keep = finite & positive_q
    q, i = q[keep], i[keep]
    s = None if s is None else s[keep]
    if q.size < MIN_POINTS:
        msg = f"only {q.size} usable point(s) (finite, q > 0); a SAXS pattern needs at least {MIN_POINTS}"
        raise ValueError(msg)
    if q.max() > MAX_Q_NM_INV:
        msg = (f"q_nm_inv reaches {q.max():.4g} nm⁻¹, beyond the {MAX_Q_NM_INV:g} nm⁻¹ this SAXS analysis takes "
               "(a UV-Vis spectrum's wavelengths, or q in another unit?)")
        raise ValueError(msg)
    if np.any(np.diff(q) < 0):
        order = np.argsort(q, kind="stable")
        q, i = q[order], i[order]
        s = None if s is None else s[order]
        warnings.append("q_nm_inv was not increasing: sorted")
    if s is not None and not np.any(s > 0):
        warnings.append("sigma has no positive value: ignored, the noise is estimated from the point-to-point scatter")
        s, sigma = None, "ignored"
    if s is not None and np.any(s <= 0):
        bad = s <= 0
        s = s.copy()
        s[bad] = np.interp(q[bad], q[~bad], s[~bad])
        warnings.append(f"{int(bad.sum())} sigma value(s) ≤ 0 replaced by interpolating the neighbouring sigma")
    duplicated = np.diff(q) <= 1e-12 * q[1:]
    if duplicated.any():
        q, i, s = _merge_duplicates(q, i, s, duplicated)
        warnings.append(f"merged {int(duplicated.sum())} duplicated q value(s) (inverse-variance mean)")
        if q.size < MIN_POINTS:
            msg = f"only {q.size} distinct q value(s); a SAXS pattern needs at least {MIN_POINTS}"
            raise ValueError(msg)
    if not np.any(i > 0):
        msg = f"intensity has no positive value (max {i.max():.3g}); nothing to analyse"
        raise ValueError(msg)
    if np.any(i < 0):
        warnings.append(f"{int((i < 0).sum())} negative intensity value(s) kept (background-subtracted data?)")
    if sigma is None:
        warnings.append("no sigma: the noise is estimated from the point-to-point scatter")
    if q[-1] < 1.0:
        warnings.append(f"q_nm_inv reaches only {q[-1]:.3g} nm⁻¹: if q is in Å⁻¹, multiply it by 10")
    return q, i, s, warnings



def _merge_duplicates(q, i, s, duplicated):
    """Points at one q merged: the inverse-variance mean of I, σ = (Σ σ⁻²)^(-1/2); without σ the mean.

    Scaled so that σ and I of any size merge without over- or underflow (unscaled, σ of 1e-200 or
    1e200 makes 1/σ² 0 or inf, and I NaN): each group's weights are (σ_min/σ)² ≤ 1 with σ_min the group's
    smallest σ, so their sum is ≥ 1, and I is merged in units of max |I|.
    """
    group = np.concatenate([[0], np.cumsum(~duplicated)])
    counts = np.bincount(group)
    merged_q = np.bincount(group, q) / counts
    top = float(np.abs(i).max()) or 1.0
    if s is None:
        return merged_q, top * (np.bincount(group, i / top) / counts), None
    smallest = np.full(counts.size, np.inf)
    np.minimum.at(smallest, group, s)
    w = (smallest[group] / s) ** 2
    total = np.bincount(group, w)
    merged_i = top * (np.bincount(group, w * (i / top)) / total)
    return merged_q, merged_i, smallest / np.sqrt(total)


def noise_estimate(q_nm_inv, intensity) -> np.ndarray:
    """σ of each I(q) from the scatter of ln I about its neighbours (robust, local).

    Second differences of ln I hold the noise (variance 6σ²) and little of a smooth curve; their
    median absolute deviation over ±NOISE_HALF_WINDOW points gives a relative σ, applied to |I|.
    """
    i = np.abs(np.asarray(intensity, dtype=float))
    top = i.max() if i.size and i.max() > 0 else 1.0
    y = np.log(np.clip(i, 1e-12 * top, None))
    d2 = np.abs(y[:-2] - 2.0 * y[1:-1] + y[2:])
    half = min(NOISE_HALF_WINDOW, len(d2) - 1)
    padded = np.pad(d2, half, mode="reflect")
    local = np.median(sliding_window_view(padded, 2 * half + 1), axis=1)
    rel = np.maximum(np.pad(1.4826 * local / np.sqrt(6.0), 1, mode="edge"), 1e-4)
    typical = np.median(i) if np.median(i) > 0 else top
    return np.maximum(rel * np.maximum(i, 1e-3 * typical), SIGMA_FLOOR * top)


def _prepared(q_nm_inv, intensity, sigma):
    """(q, I/n, σ/n, n) with n = max |I|, σ from :func:`noise_estimate` when None, kept within
    :data:`SIGMA_FLOOR`…1/SIGMA_FLOOR (numbers of any unit stay far from over- and underflow)."""
    q = np.asarray(q_nm_inv, dtype=float)
    i = np.asarray(intensity, dtype=float)
    norm = float(np.abs(i).max()) if i.size and np.abs(i).max() > 0 else 1.0
    s = noise_estimate(q, i) if sigma is None else np.asarray(sigma, dtype=float)
    return q, i / norm, np.clip(s / norm, SIGMA_FLOOR, 1.0 / SIGMA_FLOOR), norm


#: Patterns with more points than this are analysed on a rebinned copy (:func:`rebinned`).
REBIN_ABOVE = 500
#: Its bins: Δq/q = REBIN_RELATIVE (1.2 %) up to q = REBIN_MAX_STEP / REBIN_RELATIVE, then
#: Δq = REBIN_MAX_STEP (0.015 nm⁻¹) — at most ≈ 480 bins over 0.08–5 nm⁻¹; no coarser anywhere than
#: the validated grids (log 250 points: 1.6 %, linear 300 points: 0.016 nm⁻¹), which resolve a form
#: factor's minima at polydispersity 0.03 and Bragg peaks of σ ≥ 0.02 nm⁻¹.
REBIN_RELATIVE = 0.012
REBIN_MAX_STEP = 0.015


def rebinned(q, i, s) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A pattern of more than :data:`REBIN_ABOVE` points averaged in q bins (:data:`REBIN_RELATIVE`).

    Each bin's q and I are the means of its points, σ = √(Σσ²)/n (the mean's error; a plain mean,
    as pyFAI's own rebinning, not a σ-weighted one, which leans to the low counts of Poisson data);
    a bin with one point keeps it. The analysis costs grow with the points and, up to the local
    windows' cap, with their density (unbinned, a 2000-point pattern takes 82–141 ms, a 4000-point
    one up to 229 ms); a smooth curve and peaks wider than a bin lose nothing to it. ``q`` increasing, σ
    given (the estimate from the scatter is made on the points as measured, before rebinning).
    """
    if q.size <= REBIN_ABOVE:
        return q, i, s
    top = q[-1] * (1.0 + 1e-12)
    switch = min(REBIN_MAX_STEP / REBIN_RELATIVE, top)
    steps = int(np.ceil(np.log(switch / q[0]) / np.log1p(REBIN_RELATIVE))) if switch > q[0] else 0
    edges = q[0] * (1.0 + REBIN_RELATIVE) ** np.arange(steps + 1)
    if edges[-1] < top:
        edges = np.concatenate([edges, edges[-1] + REBIN_MAX_STEP * np.arange(1, int(np.ceil((top - edges[-1]) / REBIN_MAX_STEP)) + 1)])
    _, group, counts = np.unique(np.searchsorted(edges, q, side="right"), return_inverse=True, return_counts=True)
    if counts.size < MIN_POINTS:
        return q, i, s
    return np.bincount(group, q) / counts, np.bincount(group, i) / counts, np.sqrt(np.bincount(group, s * s)) / counts


# --- sphere model --------------------------------------------------------------------------------
@lru_cache(maxsize=8)
def _sphere_kernel(q_key: tuple):
    return _model().make_kernel([np.asarray(q_key) / 10.0])  # sasmodels works in Å⁻¹


@lru_cache(maxsize=1)
def _model():
    from sasmodels.core import load_model

    return load_model("sphere")


def sphere_intensity(q_nm_inv, radius_nm, polydispersity=0.0, scale=1e-3, background=0.0):
    """I(q) in cm⁻¹ of CdSe spheres computed by sasmodels ``sphere`` (Schulz polydispersity, 35 points)."""
    from sasmodels.direct_model import call_kernel

    kernel = _sphere_kernel(tuple(np.round(np.asarray(q_nm_inv, dtype=float), 12)))
    pars = {
        "radius": 10.0 * radius_nm, "radius_pd": polydispersity if polydispersity >= MONODISPERSE_BELOW else 0.0,
        "radius_pd_n": 35, "radius_pd_type": "schulz",
        "sld": CDSE_SLD, "sld_solvent": SOLVENT_SLD, "scale": scale, "background": background,
    }
    return np.asarray(call_kernel(kernel, pars), dtype=float)


def _form(q, radii):
    """V² P(qR) in nm⁶ for each radius (rows) and q (columns): sasmodels' ``sphere`` form factor."""
    radii = np.atleast_1d(np.asarray(radii, dtype=float))
    x = np.outer(radii, q)
    amplitude = np.sin(x)
    amplitude -= x * np.cos(x)
    amplitude *= 3.0 / x**3
    small = x < 1e-2  # 3(sin x − x cos x)/x³ loses digits there; its series does not
    if small.any():
        amplitude[small] = 1.0 - x[small] ** 2 / 10.0
    amplitude *= (4.0 / 3.0 * np.pi * radii**3)[:, None]
    return amplitude * amplitude


def _schulz(radius, pd, x):
    """Schulz weights at radii ``x`` (sasmodels' ``SchulzDispersion``), normalised to sum 1."""
    z = 1.0 / pd**2
    ratio = x / radius
    log_w = (z - 1.0) * np.log(ratio) - ratio * z
    w = np.exp(log_w - log_w.max(axis=-1, keepdims=True))
    return w / w.sum(axis=-1, keepdims=True)


def schulz_spheres(q_nm_inv, radius_nm, polydispersity=0.0):
    """I(q) per unit volume fraction (cm⁻¹) of CdSe spheres with Schulz polydispersity, in numpy.

    The same form factor, distribution and volume normalisation as sasmodels' ``sphere``
    (⟨V²P⟩/⟨V⟩·Δρ²), on :data:`PD_POINTS` radii r(1 + pd·t), t from −4 to +7 (the V²-weighted
    distribution leans to large radii); what the fits use.
    """
    return _schulz_spheres(np.asarray(q_nm_inv, dtype=float), float(radius_nm), float(polydispersity))[0]


def _schulz_spheres(q, radius, pd, gradient=False):
    """:func:`schulz_spheres` and, with ``gradient``, its derivatives by radius and polydispersity."""
    if pd < MONODISPERSE_BELOW:
        t, log_w, dlog_w = np.zeros(1), np.zeros(1), np.zeros(1)
        u = np.ones(1)
    else:
        t = np.linspace(-PD_SIGMAS[0], PD_SIGMAS[1], PD_POINTS)
        u = 1.0 + pd * t
        t, u = t[u > 1e-3], u[u > 1e-3]
        z = 1.0 / pd**2
        log_w = (z - 1.0) * np.log(u) - z * u  # Schulz at x/r = u, up to a factor common to all u
        dlog_w = -2.0 / pd**3 * (np.log(u) - u) + ((z - 1.0) / u - z) * t
    w = np.exp(log_w - log_w.max())
    x = radius * u
    volume = 4.0 / 3.0 * np.pi * x**3
    y = np.outer(x, q)
    sin, cos = np.sin(y), np.cos(y)
    amplitude = 3.0 * (sin - y * cos) / y**3
    small = y < 1e-2  # 3(sin y − y cos y)/y³ loses digits there; its series does not
    if small.any():
        amplitude[small] = 1.0 - y[small] ** 2 / 10.0
    wv = w * volume
    numerator = (wv * volume) @ (amplitude * amplitude)
    denominator = wv.sum()
    model = _CONTRAST_CM_INV_PER_NM3 * numerator / denominator
    if not gradient:
        return model, None, None
    slope = 3.0 * sin / y**2 - 3.0 * amplitude / y  # dF/dy
    if small.any():
        slope[small] = -y[small] / 5.0
    # d(V²F²)/dx = 2V²F·(3F/x + q·F'(qx))
    d_energy = 2.0 * (volume**2)[:, None] * amplitude * (3.0 * amplitude / x[:, None] + q[None, :] * slope)
    energy_w = w[:, None] * (volume**2)[:, None] * amplitude * amplitude
    d_num_r = (w * u) @ d_energy
    d_den_r = (wv * 3.0 / radius).sum()
    d_num_pd = dlog_w @ energy_w + (w * radius * t) @ d_energy
    d_den_pd = (dlog_w * wv).sum() + (wv * 3.0 * t / u).sum()
    c = _CONTRAST_CM_INV_PER_NM3
    d_r = (c * d_num_r - model * d_den_r) / denominator
    d_pd = (c * d_num_pd - model * d_den_pd) / denominator
    if pd < MONODISPERSE_BELOW:
        d_pd = np.zeros_like(model)
    return model, d_r, d_pd


@lru_cache(maxsize=4)
def _start_models(q_bytes: bytes):
    """Tabulated polydisperse models for the start of the sphere fit: (radius, pd) pairs and I(q)."""
    q = np.frombuffer(q_bytes)
    grid = np.geomspace(0.2, 30.0, 220)
    table = _form(q, grid)
    volume = 4.0 / 3.0 * np.pi * grid**3
    radii = np.geomspace(0.35, 15.0, 90)
    pds = (0.05, 0.12, 0.25)
    pairs = np.array([(r, pd) for pd in pds for r in radii])
    ratio = grid[None, :] / pairs[:, :1]
    z = 1.0 / pairs[:, 1:] ** 2
    log_w = (z - 1.0) * np.log(ratio) - ratio * z + np.log(grid)[None, :]  # dr = r dln r on the grid
    w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
    models = _CONTRAST_CM_INV_PER_NM3 * (w @ table) / (w @ volume)[:, None]
    return pairs, models


def _scale_background(models, i, s):
    """Least-squares scale ≥ 0 and flat background of ``scale·model + background`` for each row.

    Returns ``(chi2, scale, background)`` arrays (closed form; where the best scale would be
    negative, scale 0 and the mean). The background may be negative: background-subtracted data.
    """
    models = np.atleast_2d(models)
    w = 1.0 / s**2
    sxx, sx1, s11 = (models * models) @ w, models @ w, w.sum()
    sxy, s1y, syy = models @ (w * i), (w * i).sum(), (w * i * i).sum()
    det = sxx * s11 - sx1 * sx1
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(det > 0, (sxy * s11 - sx1 * s1y) / det, 0.0)
        b = np.where(det > 0, (sxx * s1y - sx1 * sxy) / det, s1y / s11)
    negative = ~(a >= 0)
    a = np.where(negative, 0.0, a)
    b = np.where(negative, s1y / s11, b)
    chi2 = syy - 2 * a * sxy - 2 * b * s1y + a * a * sxx + 2 * a * b * sx1 + b * b * s11
    return np.maximum(chi2, 0.0), a, b


def fit_sphere(q_nm_inv, intensity, sigma=None, *, mask=None, start=None) -> dict:
    """Fit polydisperse spheres; returns radius (nm), polydispersity, scale, background, χ²_r.

    Without σ the noise comes from :func:`noise_estimate`. ``mask`` marks points to leave out;
    ``start`` ``(radius_nm, polydispersity)`` replaces the grid search for the start.
    """
    q, i, s, norm = _prepared(q_nm_inv, intensity, sigma)
    keep = np.ones_like(q, dtype=bool) if mask is None else ~np.asarray(mask, dtype=bool)
    q, i, s = q[keep], i[keep], s[keep]
    w = 1.0 / s**2
    if start is None:
        start = _grid_start(q, i, s)

    cache: dict = {}

    def evaluate(p):
        key = (float(p[0]), float(p[1]))
        if cache.get("key") != key:
            model, d_r, d_pd = _schulz_spheres(q, key[0], key[1], gradient=True)
            a, b = _scale_background_one(model, i, w)
            cache.update(key=key, model=model, d=(d_r, d_pd), a=a, b=b)
        return cache

    def residual(p):
        c = evaluate(p)
        return (c["a"] * c["model"] + c["b"] - i) / s

    def jacobian(p):
        # Variable projection (Kaufman): the derivative of a·model/σ, less its part along the
        # columns the scale and background were solved for.
        c = evaluate(p)
        if c["a"] <= 0:
            return np.zeros((len(q), 2))
        columns = np.stack([c["model"] / s, 1.0 / s], axis=1)
        direct = np.stack([c["a"] * d / s for d in c["d"]], axis=1)
        coef, *_ = np.linalg.lstsq(columns, direct, rcond=None)
        return direct - columns @ coef

    lower, upper = (RADIUS_BOUNDS_NM[0], POLYDISPERSITY_BOUNDS[0]), (RADIUS_BOUNDS_NM[1], POLYDISPERSITY_BOUNDS[1])
    start = np.clip(start, np.add(lower, 1e-6), np.subtract(upper, 1e-6))
    fit = least_squares(residual, start, jac=jacobian, bounds=(lower, upper), x_scale=[0.05 * start[0], 0.02],
                        ftol=1e-6, xtol=1e-6, max_nfev=FIT_MAX_EVALUATIONS)
    radius, pd = fit.x
    model = schulz_spheres(q, radius, pd)
    a, b = _scale_background_one(model, i, w)
    return {
        "radius_nm": float(radius),
        "polydispersity": float(pd),
        "scale": float(a * norm),
        "background": float(b * norm),
        "chi2_reduced": float((w * (a * model + b - i) ** 2).sum() / max(len(q) - 4, 1)),
        "fit_success": bool(fit.success),
    }


def _grid_start(q, i, s) -> tuple[float, float]:
    """(radius, polydispersity) of the best tabulated model (scale and background fitted to each)."""
    pairs, models = _start_models(np.ascontiguousarray(q).tobytes())
    chi2, _, _ = _scale_background(models, i, s)
    radius, pd = pairs[int(np.argmin(chi2))]
    return float(radius), float(pd)


def _scale_background_one(model, i, w) -> tuple[float, float]:
    """Scale ≥ 0 and flat background of ``scale·model + background`` for one model (closed form)."""
    sxx, sx1, s11 = float(w @ (model * model)), float(w @ model), float(w.sum())
    sxy, s1y = float(w @ (model * i)), float(w @ i)
    det = sxx * s11 - sx1 * sx1
    if det > 0:
        a = (sxy * s11 - sx1 * s1y) / det
        if a >= 0:
            return a, (sxx * s1y - sx1 * sxy) / det
    return 0.0, s1y / s11


# --- size distribution (deferred) ----------------------------------------------------------------
def mcsas_distribution(
    q_nm_inv, intensity, sigma=None, *, radius_range_nm=None, contributions=300, repetitions=5,
    iterations=20000, seed=0, mask=None,
) -> dict:
    """McSAS-style Monte-Carlo size distribution (volume weighted).

    Returns ``{"mean_radius_nm", "mean_radius_std_nm", "chi2_reduced", "histogram_radius_nm",
    "histogram_volume_fraction"}``; the histogram has 30 log-spaced bins over ``radius_range_nm``
    (default :data:`MCSAS_RADIUS_RANGE_NM`).
    """
    radius_range_nm = MCSAS_RADIUS_RANGE_NM if radius_range_nm is None else radius_range_nm
    q, i, s, _ = _prepared(q_nm_inv, intensity, sigma)
    keep = np.ones_like(q, dtype=bool) if mask is None else ~np.asarray(mask, dtype=bool)
    q, i, s = q[keep], i[keep], s[keep]
    grid = np.geomspace(*radius_range_nm, 400)
    # Volume-weighted contributions: V·P(q) per unit volume fraction (the sphere form factor, no polydispersity).
    table = _CONTRAST_CM_INV_PER_NM3 * _form(q, grid) / (4.0 / 3.0 * np.pi * grid**3)[:, None]
    rng = np.random.default_rng(seed)
    edges = np.geomspace(*radius_range_nm, 31)
    means, histograms, chis = [], [], []
    for _ in range(repetitions):
        picks = rng.integers(0, len(grid), contributions)
        total = table[picks].sum(axis=0)
        chi2 = _scale_fit(total, i, s)[0]
        for _ in range(iterations):
            if chi2 / max(len(q) - 2, 1) <= 1.0:
                break
            k = rng.integers(contributions)
            new = rng.integers(0, len(grid))
            trial = total - table[picks[k]] + table[new]
            trial_chi2 = _scale_fit(trial, i, s)[0]
            if trial_chi2 < chi2:
                total, chi2, picks[k] = trial, trial_chi2, new
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


# --- mesophase -----------------------------------------------------------------------------------
def _basis(x, width):
    """Local model of the residual about a centre: a polynomial of :data:`BACKGROUND_DEGREE` in
    x = q − q_c, then a Gaussian of σ ``width`` (last column)."""
    columns = [x**k for k in range(BACKGROUND_DEGREE + 1)]
    columns.append(np.exp(-0.5 * (x / width) ** 2))
    return np.stack(columns, axis=-1)


def _reach(width: float) -> float:
    """Half-width of the local window for a peak of σ ``width``, nm⁻¹."""
    return max(REACH_WIDTHS * width, MIN_REACH_NM_INV)


def _local_fit(x, d, wgt, width):
    """Weighted fits of :func:`_basis` to ``d`` (rows are windows; weight 0 leaves a point out).

    Returns (amplitude, standard error, background at the centre, χ² of the window); the error is
    inflated by the reduced χ² of the flanks (|x| > 2.5 w) when the polynomial does not fit them.
    """
    basis = _basis(x, width)
    n_par = basis.shape[-1]
    normal = np.einsum("jk,jka,jkb->jab", wgt, basis, basis)
    rhs = np.einsum("jk,jka,jk->ja", wgt, basis, d)
    used = (wgt > 0).sum(axis=1)
    amplitude, background = np.zeros(len(x)), np.zeros(len(x))
    error, chi2 = np.full(len(x), np.inf), np.full(len(x), np.inf)
    ok = used >= n_par + 4
    scale = np.sqrt(np.maximum(np.einsum("jaa->ja", normal), 1e-300))
    ok &= np.abs(np.linalg.det(normal / (scale[:, :, None] * scale[:, None, :]))) > 1e-12
    if ok.any():
        with np.errstate(over="ignore", invalid="ignore"):  # absurd q or I ranges: such windows are dropped
            cov = np.linalg.inv(normal[ok])
            coef = np.einsum("jab,jb->ja", cov, rhs[ok])
            resid2 = wgt[ok] * (d[ok] - np.einsum("jka,ja->jk", basis[ok], coef)) ** 2
            flank = (np.abs(x[ok]) > 2.5 * width) & (wgt[ok] > 0)
            chi2r = (resid2 * flank).sum(axis=1) / np.maximum(flank.sum(axis=1) - (n_par - 1), 1)
            amp_error = np.sqrt(np.maximum(cov[:, -1, -1], 1e-300) * np.maximum(chi2r, 1.0))
        finite = np.isfinite(amp_error) & np.isfinite(coef).all(axis=1)
        amplitude[ok] = np.where(finite, coef[:, -1], 0.0)
        background[ok] = np.where(finite, coef[:, 0], 0.0)
        error[ok] = np.where(finite, amp_error, np.inf)
        chi2[ok] = np.where(finite, resid2.sum(axis=1), np.inf)
    return amplitude, error, background, chi2


def _band(q, d, w, centre_idx, width):
    """Windows about grid points ``centre_idx``: ±reach, and at least 5 points a side (banded)."""
    reach = _reach(width)
    step = np.gradient(q)[centre_idx].min()
    half = int(np.clip(np.ceil(reach / step), 5, MAX_HALF_WINDOW))
    offsets = np.arange(-half, half + 1)
    idx = np.clip(centre_idx[:, None] + offsets[None, :], 0, len(q) - 1)
    valid = (centre_idx[:, None] + offsets[None, :] >= 0) & (centre_idx[:, None] + offsets[None, :] < len(q))
    x = q[idx] - q[centre_idx][:, None]
    inside = valid & ((np.abs(x) <= reach) | (np.abs(offsets) <= 5)[None, :])
    return x, d[idx], np.where(inside, w[idx], 0.0)


def _windows(q, d, w, centres, width):
    """Windows about arbitrary ``centres``: ±reach, and at least the 11 nearest usable points."""
    centres = np.atleast_1d(np.asarray(centres, dtype=float))
    x = q[None, :] - centres[:, None]
    distance = np.where(w[None, :] > 0, np.abs(x), np.inf)
    nearest = np.sort(distance, axis=1)[:, min(11, len(q)) - 1]
    inside = distance <= np.maximum(_reach(width), nearest)[:, None]
    return x, np.broadcast_to(d, x.shape), np.where(inside, w[None, :], 0.0)


def _z(amplitude, error, background, smooth_at_centre):
    """Significance of a peak (amplitude / error) where it stands ≥ BRAGG_MIN_EXCESS above the
    local level, else 0."""
    level = np.maximum(smooth_at_centre + background, 1e-300)
    return np.where(amplitude >= BRAGG_MIN_EXCESS * level, amplitude / error, 0.0)


def _find_bragg(q, i, s, smooth) -> tuple[list[tuple[float, float, float]], dict[int, tuple[float, float, float]]]:
    """Narrow peaks ``(q, z, width)`` in ascending q and the lamellar orders ``{n: peak}``.

    ``smooth`` is the pattern's smooth scattering (the sphere fit): peaks are searched in
    ``i − smooth``, which a local polynomial describes wherever nothing narrow stands.
    """
    d = i - smooth
    w = 1.0 / s**2
    centre_idx = np.flatnonzero(q >= BRAGG_SEARCH_FROM_NM_INV)
    best_z, best_w = np.zeros(len(centre_idx)), np.zeros(len(centre_idx))
    if len(centre_idx):
        for width in BRAGG_WIDTHS_NM_INV:
            amplitude, error, background, _ = _local_fit(*_band(q, d, w, centre_idx, width), width)
            z = _z(amplitude, error, background, smooth[centre_idx])
            better = z > best_z
            best_z, best_w = np.where(better, z, best_z), np.where(better, width, best_w)
    # Strongest first, one per ±2.5 w; each tested again with the cores of the stronger peaks left
    # out of its window (their flanks would lift its background).
    peaks: list[tuple[float, float, float]] = []
    for j in np.argsort(-best_z):
        if best_z[j] < BRAGG_Z:
            break
        qc, width = float(q[centre_idx[j]]), float(best_w[j])
        if any(abs(qc - p) <= 2.5 * max(width, pw) for p, _, pw in peaks):
            continue
        wj = np.where(_cores(q, peaks), 0.0, w)
        z = float(best_z[j])
        if peaks:
            z = float(_z(*_local_fit(*_windows(q, d, wj, [qc], width), width)[:3], np.interp(qc, q, smooth))[0])
        if z >= BRAGG_Z:
            peaks.append((_refine_centre(q, d, wj, qc, width), z, width))
    peaks.sort()
    orders: dict[int, tuple[float, float, float]] = {}
    if peaks:
        first = _first_order(peaks)
        for n in range(1, int(q[-1] / first[0] + ORDER_TOLERANCE) + 1):
            near = [p for p in peaks if abs(p[0] / (n * first[0]) - 1.0) <= ORDER_TOLERANCE]
            if near:
                orders[n] = max(near, key=lambda p: p[1])
                continue
            tested = _test_order(q, d, np.where(_cores(q, peaks), 0.0, w), smooth, n * first[0], first[2])
            if tested is not None:
                orders[n] = tested
    return peaks, orders


def _first_order(peaks):
    """q₁: the strongest peak, or a peak at half its q when there is one (then it was order 2)."""
    strongest = max(peaks, key=lambda p: p[1])
    half = [p for p in peaks if abs(p[0] / (0.5 * strongest[0]) - 1.0) <= ORDER_TOLERANCE]
    return half[0] if half else strongest


def _cores(q, peaks) -> np.ndarray:
    """Points within 2.5 w of the given peaks."""
    out = np.zeros_like(q, dtype=bool)
    for position, _, width in peaks:
        out |= np.abs(q - position) < 2.5 * width
    return out


def _refine_centre(q, d, w, qc, width):
    """The peak centre to a twentieth of the grid step: least χ² of the local fit over trial
    centres, on the same points."""
    x, dd, wgt = _windows(q, d, w, [qc], width)
    step = float(np.interp(qc, q, np.gradient(q)))
    trial = qc + np.linspace(-1.5 * step, 1.5 * step, 61)
    shape = (len(trial), len(q))
    amplitude, _, _, chi2 = _local_fit(x + qc - trial[:, None], np.broadcast_to(dd[0], shape), np.broadcast_to(wgt[0], shape), width)
    chi2 = np.where(amplitude > 0, chi2, np.inf)
    return float(trial[int(np.argmin(chi2))]) if np.isfinite(chi2).any() else float(qc)


def _test_order(q, d, w, smooth, predicted, width):
    """An order n·q₁ where it is predicted: (q, z, width) if it stands ≥ ORDER_Z above the background."""
    if predicted + 2 * width > q[-1] or predicted < q[0]:
        return None
    trial = predicted * (1.0 + np.linspace(-ORDER_TOLERANCE, ORDER_TOLERANCE, 13))
    best = None
    for width_k in sorted({width, *BRAGG_WIDTHS_NM_INV}):
        z = _z(*_local_fit(*_windows(q, d, w, trial, width_k), width_k)[:3], np.interp(trial, q, smooth))
        k = int(np.argmax(z))
        if z[k] >= ORDER_Z and (best is None or z[k] > best[1]):
            best = (float(trial[k]), float(z[k]), float(width_k))
    if best is not None:
        best = (_refine_centre(q, d, w, best[0], best[2]), best[1], best[2])
    return best


def _mesophase_metrics(peaks, orders) -> dict:
    found = sorted({round(p[0], 6): p for p in [*peaks, *orders.values()]}.values())
    out = {
        "mesophase": bool(orders),
        "bragg_peaks_nm_inv": [round(p[0], 3) for p in found],
        "bragg_peak_significance": [round(p[1], 1) for p in found],
        "lamellar_orders": sorted(orders),
        "order_ratio": None,
        "d_spacing_nm": None,
    }
    if orders:
        n = np.array(sorted(orders), dtype=float)
        positions = np.array([orders[k][0] for k in sorted(orders)])
        out["d_spacing_nm"] = float(2 * np.pi * (n * n).sum() / (n * positions).sum())
        if 1 in orders and 2 in orders:
            out["order_ratio"] = orders[2][0] / orders[1][0]
    return out


def detect_mesophase(q_nm_inv, intensity, sigma=None) -> dict:
    """Bragg peaks and the lamellar orders of a mesophase (see the module docstring).

    ``q_nm_inv`` increasing; ``sigma`` None for a robust estimate (:func:`noise_estimate`).
    Returns ``mesophase``, ``bragg_peaks_nm_inv`` (every narrow peak, and every order found),
    ``bragg_peak_significance`` (their heights above the local background in standard errors),
    ``lamellar_orders`` (n of the orders found at n·q₁), ``order_ratio`` (q₂/q₁ when the second
    order is found) and ``d_spacing_nm``.
    """
    q, i, s = rebinned(*_prepared(q_nm_inv, intensity, sigma)[:3])
    return _mesophase_metrics(*_find_bragg(q, i, s, _fitted(q, fit_sphere(q, i, s))))


def _fitted(q, fit) -> np.ndarray:
    """I(q) of a :func:`fit_sphere` result: the smooth scattering Bragg peaks are searched above."""
    return fit["scale"] * schulz_spheres(q, fit["radius_nm"], fit["polydispersity"]) + fit["background"]


# --- the analysis --------------------------------------------------------------------------------
def analyze_pattern(q_nm_inv, intensity, sigma=None, *, distribution: bool = False) -> dict:
    """The campaign's SAXS analysis: checks, mesophase, sphere fit (Bragg regions masked).

    With ``distribution`` also the McSAS-style size distribution (``mcsas_…``, ≈ 0.5–1 s), which
    the plugin otherwise runs only in the deferred hook.
    """
    q, i, s, warnings = validate_pattern(q_nm_inv, intensity, sigma)
    q, i, s, norm = _prepared(q, i, s)  # I in units of its maximum from here on
    q, i, s = rebinned(q, i, s)
    fit = fit_sphere(q, i, s)
    peaks, orders = _find_bragg(q, i, s, _fitted(q, fit))
    mask = _bragg_mask(q, [*peaks, *orders.values()])
    if mask.any():
        fit = fit_sphere(q, i, s, mask=mask, start=(fit["radius_nm"], fit["polydispersity"]))
    out = _mesophase_metrics(peaks, orders)
    out.update(fit, scale=fit["scale"] * norm, background=fit["background"] * norm)
    if fit["chi2_reduced"] > MISFIT_CHI2 or fit["polydispersity"] >= POLYDISPERSITY_BOUNDS[1] - 1e-3:
        warnings.append(
            f"sphere fit χ²_r = {fit['chi2_reduced']:.3g}, polydispersity {fit['polydispersity']:.2f}: one population of "
            "spheres does not describe this pattern (several populations, or no particles); see the deferred size distribution"
        )
    low, high = RADIUS_BOUNDS_NM
    if not low * 1.01 < fit["radius_nm"] < high * 0.99:
        warnings.append(
            f"sphere fit radius {fit['radius_nm']:.3g} nm sits at the fit's limit ({low:g}–{high:g} nm): the particles are outside "
            "the sizes this fit can give, or q is not in nm⁻¹; the radius is not a size"
        )
    if distribution:
        out.update(_distribution(q, i, s, mask))
    out["warnings"] = warnings
    return out


def _bragg_mask(q, peaks) -> np.ndarray:
    """Points within max(0.15 nm⁻¹, 4 w) of the peaks; none when too few points would be left."""
    mask = np.zeros_like(q, dtype=bool)
    for position, _, width in peaks:
        mask |= np.abs(q - position) < max(0.15, 4.0 * width)
    return mask if (~mask).sum() >= MIN_POINTS else np.zeros_like(mask)


def _distribution(q, i, s, mask) -> dict:
    """The size distribution's ``mcsas_…`` metrics, with ``mcsas_warnings`` saying where not to trust it."""
    dist = mcsas_distribution(q, i, s, mask=mask, repetitions=3, iterations=5000)
    warnings = []
    low, high = MCSAS_RADIUS_RANGE_NM
    if dist["chi2_reduced"] > MISFIT_CHI2:
        warnings.append(f"size distribution χ²_r = {dist['chi2_reduced']:.3g}: it does not describe this pattern (particles outside "
                        f"its {low:g}–{high:g} nm radii, q not in nm⁻¹, or a search stopped short of a fit), so its mean radius is not a size")
    elif dist["histogram_volume_fraction"][-1] > 0.1:
        warnings.append(f"{dist['histogram_volume_fraction'][-1]:.0%} of the size distribution's volume is in its top bin, at "
                        f"{high:g} nm: larger particles may be present")
    return {**{f"mcsas_{k}": v for k, v in dist.items()}, "mcsas_warnings": warnings}


#: What :func:`autolab_analyze_saxs` and (marked "deferred") :func:`autolab_analyze_saxs_deferred` return.
METRICS = {
    "mesophase": ("", "a mesophase is present: a first-order Bragg peak stands above the noise"),
    "bragg_peaks_nm_inv": ("nm⁻¹", "positions of the Bragg peaks found (list)"),
    "bragg_peak_significance": ("", "height of each Bragg peak above the local background in standard errors (list)"),
    "lamellar_orders": ("", "lamellar orders n found at n·q₁, e.g. [1, 2] (list)"),
    "order_ratio": ("", "q₂/q₁ of the first two lamellar orders (None without a second order)"),
    "d_spacing_nm": ("nm", "lamellar d-spacing 2π/q₁, q₁ from all the orders found"),
    "radius_nm": ("nm", "mean radius of the polydisperse-sphere fit"),
    "polydispersity": ("", "relative radius spread σ_r/r of the sphere fit (Schulz)"),
    "scale": ("", "volume fraction of the sphere fit (CdSe in an alkane)"),
    "background": ("cm⁻¹", "flat background of the sphere fit"),
    "chi2_reduced": ("", "reduced χ² of the sphere fit"),
    "fit_success": ("", "the sphere fit converged"),
    "warnings": ("", "repairs made to the input (dropped, sorted, merged points; estimated σ) and a sphere fit that "
                 "does not describe the pattern (list of sentences)"),
    "mcsas_mean_radius_nm": ("nm", "(deferred) volume-weighted mean radius of the Monte-Carlo size distribution"),
    "mcsas_mean_radius_std_nm": ("nm", "(deferred) spread of that mean over the repetitions"),
    "mcsas_chi2_reduced": ("", "(deferred) reduced χ² of the Monte-Carlo fit"),
    "mcsas_histogram_radius_nm": ("nm", "(deferred) radius bin centres of the size distribution (list)"),
    "mcsas_histogram_volume_fraction": ("", "(deferred) volume fraction in each radius bin (list)"),
    "mcsas_warnings": ("", "(deferred) where the size distribution is not to be trusted: a misfit, or volume at its top radius (list)"),
}


@hookimpl
def autolab_metrics():
    return metric_table(METRICS)


@hookimpl
def autolab_analyze_saxs(q_nm_inv, intensity, sigma):
    return analyze_pattern(q_nm_inv, intensity, sigma)


@hookimpl
def autolab_analyze_saxs_deferred(q_nm_inv, intensity, sigma):
    """The McSAS-style size distribution, off the campaign's critical path (``mcsas_…`` metrics)."""
    q, i, s, _ = validate_pattern(q_nm_inv, intensity, sigma)
    q, i, s = rebinned(*_prepared(q, i, s)[:3])
    peaks, orders = _find_bragg(q, i, s, _fitted(q, fit_sphere(q, i, s)))
    return _distribution(q, i, s, _bragg_mask(q, [*peaks, *orders.values()]))
