"""Built-in UV-Vis analysis: MSC families, the NC first exciton, NC size, dispersion, yield.

Method (docs/analysis.md):

1. Resample onto a uniform grid (any input grid works) and subtract a flat + λ⁻⁴ scattering
   baseline fitted to the red tail.
2. Savitzky–Golay second derivatives: a narrow window (≈ 9 nm) for the sharp MSC bands and a wide
   one (≈ 25 nm) for the broad NC exciton. A feature is a second-derivative minimum deeper than
   5× the derivative's own noise, which is propagated from the spectrum's noise (the residual of
   a smooth) through the filter coefficients.
3. MSC families: a narrow feature within ±4 nm of a family's position (configurable table);
   each family's absorbance from a bounded least-squares fit in a ±15 nm window of the fixed-
   position bands that reach into it and a local quadratic background (a global fit let the
   NC shoulder and continuum swallow the narrow bands).
4. NCs: found by the lowest-energy wide feature that is not an MSC band (none within 8 nm of a
   family position or blue of 411 nm; so a shoulder next to MSC bands counts). Then the spectrum
   red of 420 nm is fitted as a population of size classes (Yu 2003 position and extinction,
   homogeneous width, second transition, continuum) plus the MSC bands: the exciton is the
   maximum of the fitted first-exciton envelope, the diameter its Yu 2003 value (a warning outside
   the 1.9–8 nm calibration), concentration, mean diameter and dispersion the moments of the
   fitted classes.
5. Yield proxy: absorbance at 350 nm over that of the whole precursor as bulk-like CdSe
   (2.5e3 M⁻¹ cm⁻¹ per unit; MSC resonances make it a proxy, not a yield).
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import numpy as np
from autolab.sim.optics import DEFAULT_OPTICS, nc_class_absorbance
from autolab.sim.sizing import (
    YU_CALIBRATED_DIAMETER_NM,
    aggregation_number,
    in_calibrated_range,
    yu_diameter_nm,
    yu_wavelength_nm,
)
from scipy.optimize import lsq_linear, nnls
from scipy.signal import find_peaks, savgol_coeffs

from autolab.analysis import hookimpl, metric_table

#: MSC families: name → absorption maximum, nm (Palencia et al. 2020, Fig. 4).
DEFAULT_FAMILIES = {"CdSe-350": 350.0, "CdSe-380": 380.0, "CdSe-403": 403.0, "CdSe-437": 437.0, "CdSe-465": 465.0}
#: Continuum absorption per CdSe unit at 350 nm, M⁻¹ cm⁻¹ (bulk optical constants).
CONTINUUM_PER_UNIT_350NM = 2.5e3
HC_EV_NM = 1239.84198
#: Bluest wide feature taken for a regular NC exciton, nm: the CdSe-403 band + 8 nm (Yu 2003: d ≈ 1.65 nm).
MIN_EXCITON_NM = 411.0


def msc_sizes(wavelength_nm: float) -> tuple[float, float]:
    """Diameter (nm, Yu et al. 2003 curve) and aggregation number of an MSC band at ``wavelength_nm``."""
    d = float(yu_diameter_nm(wavelength_nm))
    return d, float(aggregation_number(d))


def analyze_spectrum(
    wavelength_nm,
    absorbance,
    *,
    families: dict[str, float] | None = None,
    path_length_cm: float = 0.05,
    precursor_mm: float = 10.0,
    msc_fwhm_nm: float = 10.0,
    homogeneous_hwhm_ev: float = 0.03,
) -> dict:
    """Analyse one absorbance spectrum; see the module docstring for the method.

    Returns a flat dict: ``msc_families`` (list), ``msc_absorbance.<family>`` (AU),
    ``nc_exciton_nm``, ``nc_diameter_nm`` (Yu 2003, from the exciton), ``nc_mean_diameter_nm``,
    ``nc_size_dispersion`` (σ_d/⟨d⟩) and ``nc_concentration_um`` (number moments of the fitted
    size population), ``nc_band_absorbance`` (AU, the first-exciton envelope at its maximum),
    ``yield_proxy``, ``noise_au``, ``warnings`` (list). NC values are None without an NC feature.
    """
    families = dict(DEFAULT_FAMILIES if families is None else families)
    raw_lam, raw_a = _sorted_pairs(wavelength_nm, absorbance)
    noise, independent_step_nm = _noise(raw_lam, raw_a)
    lam, a = _uniform(raw_lam, raw_a, independent_step_nm)
    step = lam[1] - lam[0]
    a = a - _baseline(lam, a)
    warnings: list[str] = []

    narrow = _features(lam, a, step, window_nm=9.0, noise=noise)
    wide = _features(lam, a, step, window_nm=25.0, noise=noise)
    detected = [
        name for name, position in families.items()
        if lam[0] + 3 <= position <= lam[-1] - 3 and any(abs(f - position) <= 4.0 for f in narrow)
    ]

    # The wide (25 nm) filter also answers to MSC bands, detected or too weak for the narrow one:
    # nothing within 8 nm of any family position is taken for the NC exciton, nor anything blue of
    # the CdSe-403 band's reach (≤ 411 nm, d < 1.65 nm: cluster territory, not a regular NC).
    candidates = [f for f in wide if all(abs(f - position) > 8.0 for position in families.values()) and f > MIN_EXCITON_NM]
    msc_abs = _band_fit(lam, a, families, detected, msc_fwhm_nm)
    result = {
        "msc_families": detected,
        **{f"msc_absorbance.{name}": msc_abs.get(name, 0.0) for name in families},
        "nc_exciton_nm": None,
        "nc_diameter_nm": None,
        "nc_mean_diameter_nm": None,
        "nc_size_dispersion": None,
        "nc_concentration_um": None,
        "nc_band_absorbance": None,
        "noise_au": noise,
    }
    if candidates:
        result.update(_nc_population(lam, a, max(candidates), families, msc_fwhm_nm, path_length_cm, homogeneous_hwhm_ev, warnings))
    if lam[0] <= 350.0 <= lam[-1]:
        a350 = float(np.interp(350.0, lam, a))
        result["yield_proxy"] = a350 / (CONTINUUM_PER_UNIT_350NM * path_length_cm * precursor_mm * 1e-3)
    else:
        result["yield_proxy"] = None
    result["warnings"] = warnings
    return result


def _sorted_pairs(wavelength_nm, absorbance) -> tuple[np.ndarray, np.ndarray]:
    lam, a = np.asarray(wavelength_nm, dtype=float), np.asarray(absorbance, dtype=float)
    if lam.size < 20 or lam.shape != a.shape:
        msg = f"a spectrum needs ≥ 20 (wavelength, absorbance) pairs of equal length, got {lam.size} and {a.size}"
        raise ValueError(msg)
    if not (np.all(np.isfinite(lam)) and np.all(np.isfinite(a))):
        msg = "the spectrum contains NaN or infinite values"
        raise ValueError(msg)
    order = np.argsort(lam)
    return lam[order], a[order]


def _uniform(lam: np.ndarray, a: np.ndarray, step_nm: float) -> tuple[np.ndarray, np.ndarray]:
    """Resample onto a uniform grid of ``step_nm`` (clipped to 0.25–2 nm)."""
    step = float(np.clip(step_nm, 0.25, 2.0))
    grid = np.arange(lam[0], lam[-1] + 1e-9, step)
    return grid, np.interp(grid, lam, a)


def _baseline(lam: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Flat + λ⁻⁴ scattering fitted (non-negative scatter) to the reddest 10 % of the spectrum."""
    tail = lam >= lam[-1] - 0.1 * (lam[-1] - lam[0])
    basis = np.column_stack([np.ones(tail.sum()), (400.0 / lam[tail]) ** 4])
    fit = lsq_linear(basis, a[tail], bounds=([-np.inf, 0.0], [np.inf, np.inf]))
    return fit.x[0] + fit.x[1] * (400.0 / lam) ** 4


def _odd_window(window_nm: float, step: float) -> int:
    n = max(5, round(window_nm / step))
    return n + 1 if n % 2 == 0 else n


def _noise(lam: np.ndarray, a: np.ndarray) -> tuple[float, float]:
    """Noise σ of the measured points and the spacing (nm) of independent ones.

    σ is robust, from second differences: for white noise a[i+s] − (1+ρ)a[i] + ρa[i−s] (ρ = h₊/h₋,
    exact for a straight line on any grid) has variance σ²(1 + (1+ρ)² + ρ²), and the median
    absolute value is robust against the curvature of real bands. A spectrum exported on a grid
    finer than the detector's pixels (linear interpolation) has near-zero second differences at
    stride s = 1 — which made every wiggle a "band" — so strides up to 2 nm are tried. Where the
    stride-1 answer is under half the largest, the points are correlated: σ is the largest answer
    and the spacing of independent points the smallest stride giving ≥ 80 % of it (the derivative
    filters' noise gain assumes independent points, so the analysis resamples to it). Otherwise
    the points are independent and σ is the stride-1 answer: larger strides also see more band
    curvature, and taking the largest answer there inflated σ by up to 25 % and missed 2 of 60 NC
    bands on the twin's spectra.
    """
    step = float(np.median(np.diff(lam)))
    strides = [s for s in range(1, max(1, int(2.0 / step) if step > 0 else 1) + 1) if lam.size > 2 * s + 2]
    sigmas = [_noise_at_stride(lam, a, s) for s in strides]
    largest = max(sigmas)
    if sigmas[0] >= 0.5 * largest:  # independent points: stride 1 is unbiased (larger strides see more curvature)
        return sigmas[0], step
    independent = next(s for s, value in zip(strides, sigmas, strict=True) if value >= 0.8 * largest)
    return largest, independent * step


def _noise_at_stride(lam: np.ndarray, a: np.ndarray, s: int) -> float:
    h = lam[s:] - lam[:-s]
    h = np.where(h > 0, h, np.min(h[h > 0]) if np.any(h > 0) else 1.0)
    rho = h[s:] / h[:-s]
    second = a[2 * s :] - (1 + rho) * a[s:-s] + rho * a[: -2 * s]
    scale = np.sqrt(1 + (1 + rho) ** 2 + rho**2)
    return float(1.4826 * np.median(np.abs(second / scale)))


@lru_cache(maxsize=64)
def _second_derivative_filter(window: int, step: float) -> tuple[np.ndarray, float]:
    """Savitzky–Golay (cubic) second-derivative coefficients and their noise gain √Σc²."""
    coeffs = savgol_coeffs(window, 3, deriv=2, delta=step, use="conv")
    return coeffs, float(np.sqrt((coeffs**2).sum()))


def _features(lam, a, step, *, window_nm, noise) -> list[float]:
    """Wavelengths of second-derivative minima deeper than 5× the derivative's noise."""
    window = _odd_window(window_nm, step)
    coeffs, gain = _second_derivative_filter(window, round(float(step), 9))
    d2 = np.convolve(a, coeffs, mode="same")  # edges are wrong and skipped below
    sigma = noise * gain
    threshold = max(5.0 * sigma, 1e-7)
    peaks, _ = find_peaks(-d2, height=threshold, distance=max(1, int(3.0 / step)))
    edge = window // 2
    return [float(lam[p]) for p in peaks if edge <= p < len(lam) - edge]


def _gaussian(x, centre, fwhm):
    """A unit-height Gaussian band (an MSC band, 10 nm FWHM by default)."""
    return np.exp(-4 * np.log(2) * ((x - centre) / fwhm) ** 2)


#: Half-width of each MSC band's fitting window, in band FWHMs (± 15 nm for 10 nm bands): wide
#: enough for a quadratic background, narrow enough that an NC continuum onset or a shoulder
#: inside the window does not bend it (tested against the twin's band absorbance).
WINDOW_FWHM = 1.5


def _band_fit(lam, a, families, detected, msc_fwhm_nm) -> dict[str, float]:
    """MSC band heights (AU) by bounded least squares, one window per detected band.

    Each detected MSC band is fitted in its own window (± ``WINDOW_FWHM`` FWHM) with the other bands that
    reach into it and a local quadratic background: a narrow band (10 nm FWHM) on the NC's
    sloping shoulder and continuum is then separated from them, which one global fit with a
    cubic background over 300–700 nm cannot do.
    """

    heights = {}
    for name in detected:
        center = families[name]
        window = np.abs(lam - center) <= WINDOW_FWHM * msc_fwhm_nm
        if window.sum() < 8:
            continue
        neighbours = [n for n in detected if abs(families[n] - center) <= 4 * msc_fwhm_nm]
        x = (lam[window] - center) / (WINDOW_FWHM * msc_fwhm_nm)
        columns = [_gaussian(lam[window], families[n], msc_fwhm_nm) for n in neighbours]
        matrix = np.column_stack([*columns, np.ones_like(x), x, x**2])
        lower = [0.0] * len(columns) + [-np.inf] * 3
        fit = lsq_linear(matrix, a[window], bounds=(lower, [np.inf] * matrix.shape[1]))
        heights[name] = float(fit.x[neighbours.index(name)])
    return heights


#: NC size classes of the population fit, nm: one per 4 nm of first-exciton wavelength from
#: MIN_EXCITON_NM (1.65 nm) to the top of the Yu calibration (8 nm, 653 nm), 61 classes. Uniform in
#: wavelength, not diameter: a small NC's exciton moves ≈ 10 nm per 0.1 nm of diameter, a 6 nm one
#: ≈ 2 nm. On the twin's spectra 126 classes uniform in diameter (0.05 nm) took 3.1 ms and read the
#: small NCs at 280/220 °C / 30 s 6 nm off; these 61 take 2.0 ms and read them within 3 nm.
POPULATION_DIAMETERS_NM = yu_diameter_nm(np.arange(MIN_EXCITON_NM, float(yu_wavelength_nm(YU_CALIBRATED_DIAMETER_NM[1])), 4.0))
#: The population fit uses the spectrum red of this, nm: clear of the CdSe-350/380 bands and of the
#: broad higher resonances of the clusters, which the fit does not model.
POPULATION_FIT_FROM_NM = 420.0
#: Weight of the second-difference penalty on the class concentrations (AU per mM): it keeps the
#: non-negative least squares from a comb of isolated classes. Scale-free (the residual and the
#: penalty both scale with the concentrations). Chosen on the twin's spectra (12 conditions × 4
#: noise seeds, both parameter sets): the worst exciton error was 3.5, 3.0 and 5.0 nm for 3, 10 and
#: 30 (and, on the earlier 126-class grid, 12 nm for 100).
POPULATION_SMOOTHING = 10.0
#: The envelope maximum taken for the exciton lies within this distance of the second-derivative
#: minimum that found it, nm; otherwise that minimum is kept.
POPULATION_REACH_NM = 20.0
#: Classes count towards the NC moments where the first-exciton envelope is above this share of its
#: maximum (0.1 cut a 12 % dispersion to 10 %; below 0.05 nothing changed on the twin's spectra).
BAND_FRACTION = 0.05


def _nc_population(lam, a, guess_nm, families, msc_fwhm_nm, path_length_cm, homogeneous_hwhm_ev, warnings) -> dict:
    """NC exciton, size, dispersion and concentration from a fit of a size population.

    The second-derivative minimum ``guess_nm`` that found the NCs sits red of the band maximum (by
    4–13 nm on the twin's spectra): the ensemble band is broad and asymmetric and rides on
    the rising second transition and continuum. So the spectrum red of ``POPULATION_FIT_FROM_NM``
    is fitted, by non-negative least squares with a smoothness penalty, as a sum of monodisperse
    size classes — each placed and scaled by Yu et al. 2003 with the homogeneous width, second
    transition and continuum of :func:`autolab.sim.optics.nc_class_absorbance` — plus the MSC bands
    in reach and a flat + λ⁻⁴ background. Absorbance as a superposition of size classes is how
    Segets et al. (ACS Nano 2012, 6, 9021) read quantum-dot size distributions off spectra.

    - ``nc_exciton_nm``: the maximum of the fitted first-exciton envelope nearest to ``guess_nm``
      (within ``POPULATION_REACH_NM``, else ``guess_nm``); ``nc_diameter_nm`` its Yu diameter;
      ``nc_band_absorbance`` the envelope's height there (AU).
    - ``nc_concentration_um``, ``nc_mean_diameter_nm``, ``nc_size_dispersion`` (σ_d/⟨d⟩): number
      moments of the fitted classes under the band (:func:`_population_moments`).

    With fewer than 30 points red of ``POPULATION_FIT_FROM_NM`` there is no fit: the exciton is
    ``guess_nm``, the moments are None and a warning says why.
    """
    out = {}
    window = lam >= POPULATION_FIT_FROM_NM
    weights = None
    if window.sum() >= 30:
        fit_lam = lam[window]
        step = float(fit_lam[1] - fit_lam[0])
        classes, first_exciton = _population_basis(float(fit_lam[0]), step, int(window.sum()), path_length_cm, 2.0 * homogeneous_hwhm_ev)
        bands = [
            _gaussian(fit_lam, centre, msc_fwhm_nm)
            for centre in families.values()
            if centre >= POPULATION_FIT_FROM_NM - WINDOW_FWHM * msc_fwhm_nm
        ]
        flat = np.ones_like(fit_lam)
        matrix = np.column_stack([classes.T, *bands, flat, -flat, (400.0 / fit_lam) ** 4])
        n = classes.shape[0]
        penalty = _smoothness_penalty(n, matrix.shape[1])
        solution, _ = nnls(np.vstack([matrix, penalty]), np.concatenate([a[window], np.zeros(n - 2)]), maxiter=50 * matrix.shape[1])
        weights = solution[:n]
    else:
        warnings.append(f"no NC population fit: it needs ≥ 30 points red of {POPULATION_FIT_FROM_NM:g} nm, got {int(window.sum())}")
    nc_nm = guess_nm
    if weights is not None:
        envelope = weights @ first_exciton
        peaks, _ = find_peaks(envelope)
        if peaks.size:
            nearest = peaks[np.argmin(np.abs(_ENVELOPE_NM[peaks] - guess_nm))]
            if abs(_ENVELOPE_NM[nearest] - guess_nm) <= POPULATION_REACH_NM:
                nc_nm = float(_ENVELOPE_NM[nearest])
                out["nc_band_absorbance"] = float(envelope[nearest])
                low, high = _band_region(envelope, nearest)
                out.update(_population_moments(weights, low, high))
                if low == 0:
                    warnings.append(
                        f"the NC band reaches the fit's blue edge ({POPULATION_FIT_FROM_NM:g} nm): the size moments count small NCs "
                        "that the fit cannot tell from the cluster bands; read the concentration and dispersion as upper estimates"
                    )
    diameter = float(yu_diameter_nm(nc_nm))
    if not in_calibrated_range(diameter):
        low, high = YU_CALIBRATED_DIAMETER_NM
        warnings.append(f"NC diameter {diameter:.2f} nm is outside the Yu 2003 calibration ({low:g}–{high:g} nm)")
    out.update(nc_exciton_nm=round(nc_nm, 2), nc_diameter_nm=diameter)
    return out


def _band_region(envelope, peak) -> tuple[int, int]:
    """Indices on ``_ENVELOPE_NM`` of the contiguous stretch around ``peak`` above ``BAND_FRACTION`` of it."""
    above = envelope >= BAND_FRACTION * envelope[peak]
    low, high = peak, peak
    while low > 0 and above[low - 1]:
        low -= 1
    while high < envelope.size - 1 and above[high + 1]:
        high += 1
    return low, high


def _population_moments(weights, low, high) -> dict:
    """Concentration (µM), mean diameter (nm) and σ_d/⟨d⟩ of the classes under the exciton band.

    Counted: classes whose exciton lies between ``_ENVELOPE_NM[low]`` and ``_ENVELOPE_NM[high]``
    (:func:`_band_region`), and from 1.9 nm (the Yu calibration's lower end) up. A small class
    absorbs little per particle, so a noise bump blue of the band would otherwise weigh heavily in
    a number count (it tripled the concentration on some of the twin's spectra).
    """
    counted = (_CLASS_EXCITON_NM >= _ENVELOPE_NM[low]) & (_CLASS_EXCITON_NM <= _ENVELOPE_NM[high])
    counted &= POPULATION_DIAMETERS_NM >= YU_CALIBRATED_DIAMETER_NM[0]
    total_mm = float(weights[counted].sum())
    if total_mm <= 0:
        return {}
    d = POPULATION_DIAMETERS_NM[counted]
    mean = float((weights[counted] * d).sum() / total_mm)
    spread = float(np.sqrt((weights[counted] * (d - mean) ** 2).sum() / total_mm))
    return {"nc_concentration_um": 1e3 * total_mm, "nc_mean_diameter_nm": mean, "nc_size_dispersion": spread / mean}


_CLASS_EXCITON_NM = yu_wavelength_nm(POPULATION_DIAMETERS_NM)
_ENVELOPE_NM = np.arange(POPULATION_FIT_FROM_NM, 720.0, 0.5)


@lru_cache(maxsize=16)
def _smoothness_penalty(classes: int, columns: int) -> np.ndarray:
    """Rows ``POPULATION_SMOOTHING``·(w[i] − 2w[i+1] + w[i+2]) over the class weights (read-only)."""
    penalty = np.zeros((classes - 2, columns))
    rows = np.arange(classes - 2)
    for offset, value in enumerate((1.0, -2.0, 1.0)):
        penalty[rows, rows + offset] = POPULATION_SMOOTHING * value
    penalty.flags.writeable = False
    return penalty


@lru_cache(maxsize=16)
def _population_basis(first_nm, step_nm, points, path_length_cm, homogeneous_fwhm_ev):
    """The size classes' spectra on the fit grid and their first-exciton bands on ``_ENVELOPE_NM``."""
    optics = replace(DEFAULT_OPTICS, path_length_cm=path_length_cm, nc_homogeneous_fwhm_ev=homogeneous_fwhm_ev)
    grid = first_nm + step_nm * np.arange(points)
    return (
        nc_class_absorbance(POPULATION_DIAMETERS_NM, grid, optics),
        nc_class_absorbance(POPULATION_DIAMETERS_NM, _ENVELOPE_NM, optics, first_exciton_only=True),
    )


#: What :func:`autolab_analyze_uvvis` returns (``msc_absorbance.<family>`` for each family).
METRICS = {
    "msc_families": ("", "MSC families resolved in the spectrum (list of names)"),
    **{f"msc_absorbance.{name}": ("AU", f"absorbance of the {name} band") for name in DEFAULT_FAMILIES},
    "nc_exciton_nm": ("nm", "NC first-exciton maximum"),
    "nc_diameter_nm": ("nm", "NC diameter at the exciton (Yu et al. 2003 sizing curve)"),
    "nc_mean_diameter_nm": ("nm", "number-mean NC diameter of the fitted population"),
    "nc_size_dispersion": ("", "relative NC size dispersion σ_d/⟨d⟩ of the fitted population"),
    "nc_concentration_um": ("µM", "NC number concentration"),
    "nc_band_absorbance": ("AU", "height of the NC first-exciton envelope"),
    "noise_au": ("AU", "noise of the spectrum"),
    "yield_proxy": ("", "absorbance at 350 nm over that of the whole precursor as bulk-like CdSe"),
    "warnings": ("", "what the analysis could not do as usual (list of sentences)"),
}


@hookimpl
def autolab_metrics():
    return metric_table(METRICS)


@hookimpl
def autolab_analyze_uvvis(wavelength_nm, absorbance, metadata):
    return analyze_spectrum(
        wavelength_nm,
        absorbance,
        path_length_cm=float(metadata.get("path_length_cm", 0.05)),
        precursor_mm=float(metadata.get("precursor_mm", 10.0)),
    )
