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
   NC shoulder and continuum swallow the narrow bands); the NC band height from a global fit.
4. NC exciton: the lowest-energy wide feature that is not an MSC band (none within 8 nm of a
   family position or blue of 411 nm; so a shoulder next to MSC
   bands counts); diameter by Yu et al. 2003 (a warning outside its 1.9–8 nm calibration); size
   dispersion from the low-energy half width at half maximum, less a homogeneous part, through the
   slope of the sizing curve; concentration from the Yu extinction coefficient.
5. Yield proxy: absorbance at 350 nm over that of the whole precursor as bulk-like CdSe
   (2.5e3 M⁻¹ cm⁻¹ per unit; MSC resonances make it a proxy, not a yield).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from autolab.sim.sizing import (
    YU_CALIBRATED_DIAMETER_NM,
    aggregation_number,
    in_calibrated_range,
    yu_diameter_nm,
    yu_extinction_m_inv_cm_inv,
    yu_wavelength_nm,
)
from scipy.optimize import lsq_linear
from scipy.signal import find_peaks, savgol_coeffs

from autolab.analysis import hookimpl

#: MSC families: name → absorption maximum, nm (Palencia et al. 2020, Fig. 4).
DEFAULT_FAMILIES = {"CdSe-350": 350.0, "CdSe-380": 380.0, "CdSe-403": 403.0, "CdSe-437": 437.0, "CdSe-465": 465.0}
#: Continuum absorption per CdSe unit at 350 nm, M⁻¹ cm⁻¹ (bulk optical constants).
CONTINUUM_PER_UNIT_350NM = 2.5e3
HC_EV_NM = 1239.84198
#: Bluest wide feature taken for a regular NC exciton, nm: the CdSe-403 band + 8 nm (Yu 2003: d ≈ 1.75 nm).
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
    ``nc_exciton_nm``, ``nc_diameter_nm``, ``nc_size_dispersion``, ``nc_concentration_um``,
    ``yield_proxy``, ``noise_au``, ``warnings`` (list). NC values are None without an NC feature.
    """
    families = dict(DEFAULT_FAMILIES if families is None else families)
    raw_lam, raw_a = np.asarray(wavelength_nm, dtype=float), np.asarray(absorbance, dtype=float)
    lam, a = _uniform(raw_lam, raw_a)
    step = lam[1] - lam[0]
    a = a - _baseline(lam, a)
    noise = _noise(raw_lam[np.argsort(raw_lam)], raw_a[np.argsort(raw_lam)])
    warnings: list[str] = []

    narrow = _features(lam, a, step, window_nm=9.0, noise=noise)
    wide = _features(lam, a, step, window_nm=25.0, noise=noise)
    detected = [
        name for name, position in families.items()
        if lam[0] + 3 <= position <= lam[-1] - 3 and any(abs(f - position) <= 4.0 for f in narrow)
    ]

    nc_nm = None
    # The wide (25 nm) filter also answers to MSC bands, detected or too weak for the narrow one:
    # nothing within 8 nm of any family position is taken for the NC exciton, nor anything blue of
    # the CdSe-403 band's reach (≤ 411 nm, d < 1.75 nm: cluster territory, not a regular NC).
    candidates = [f for f in wide if all(abs(f - position) > 8.0 for position in families.values()) and f > MIN_EXCITON_NM]
    if candidates:
        nc_nm = max(candidates)
    msc_abs, nc_height = _band_fit(lam, a, families, detected, nc_nm, msc_fwhm_nm)
    result = {
        "msc_families": detected,
        **{f"msc_absorbance.{name}": msc_abs.get(name, 0.0) for name in families},
        "nc_exciton_nm": None,
        "nc_diameter_nm": None,
        "nc_size_dispersion": None,
        "nc_concentration_um": None,
        "nc_band_absorbance": None,
        "noise_au": noise,
    }
    if nc_nm is not None:
        diameter = float(yu_diameter_nm(nc_nm))
        if not in_calibrated_range(diameter):
            low, high = YU_CALIBRATED_DIAMETER_NM
            warnings.append(f"NC diameter {diameter:.2f} nm is outside the Yu 2003 calibration ({low:g}–{high:g} nm)")
        peak_height = float(np.interp(nc_nm, lam, a))
        result.update(
            nc_exciton_nm=round(float(nc_nm), 2),
            nc_diameter_nm=diameter,
            nc_size_dispersion=_dispersion(lam, a, nc_nm, peak_height, homogeneous_hwhm_ev),
            nc_band_absorbance=max(nc_height, 0.0),
            nc_concentration_um=max(nc_height, 0.0) / (float(yu_extinction_m_inv_cm_inv(diameter)) * path_length_cm) * 1e6,
        )
    if lam[0] <= 350.0 <= lam[-1]:
        a350 = float(np.interp(350.0, lam, a))
        result["yield_proxy"] = a350 / (CONTINUUM_PER_UNIT_350NM * path_length_cm * precursor_mm * 1e-3)
    else:
        result["yield_proxy"] = None
    result["warnings"] = warnings
    return result


def _uniform(lam: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if lam.size < 20 or lam.shape != a.shape:
        msg = f"a spectrum needs ≥ 20 (wavelength, absorbance) pairs of equal length, got {lam.size} and {a.size}"
        raise ValueError(msg)
    if not (np.all(np.isfinite(lam)) and np.all(np.isfinite(a))):
        msg = "the spectrum contains NaN or infinite values"
        raise ValueError(msg)
    order = np.argsort(lam)
    lam, a = lam[order], a[order]
    step = float(np.clip(np.median(np.diff(lam)), 0.25, 2.0))
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


def _noise(lam: np.ndarray, a: np.ndarray) -> float:
    """Noise of the measured points (before resampling): robust σ from their second differences.

    For white noise the second difference a[i+1] − (1+ρ)a[i] + ρa[i−1] (ρ = h₊/h₋, exact for a
    straight line on any grid) has variance σ²(1 + (1+ρ)² + ρ²); the median absolute value is
    robust against the curvature of real bands.
    """
    h = np.diff(lam)
    h = np.where(h > 0, h, np.min(h[h > 0]) if np.any(h > 0) else 1.0)
    rho = h[1:] / h[:-1]
    second = a[2:] - (1 + rho) * a[1:-1] + rho * a[:-2]
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


#: Half-width of each MSC band's fitting window, in band FWHMs (± 15 nm for 10 nm bands): wide
#: enough for a quadratic background, narrow enough that an NC continuum onset or a shoulder
#: inside the window does not bend it (tested against the twin's band absorbance).
WINDOW_FWHM = 1.5


def _band_fit(lam, a, families, detected, nc_nm, msc_fwhm_nm):
    """MSC band heights and the NC band height by bounded least squares.

    Each detected MSC band is fitted in its own window (± ``WINDOW_FWHM`` FWHM) with the other bands that
    reach into it and a local quadratic background: a narrow band (10 nm FWHM) on the NC's
    sloping shoulder and continuum is then separated from them, which one global fit with a
    cubic background over 300–700 nm cannot do. The NC band height comes from a global fit
    (the band is wide, so the global background suits it).
    """
    def gaussian(center):
        return np.exp(-4 * np.log(2) * ((lam - center) / msc_fwhm_nm) ** 2)

    heights = {}
    for name in detected:
        center = families[name]
        window = np.abs(lam - center) <= WINDOW_FWHM * msc_fwhm_nm
        if window.sum() < 8:
            continue
        neighbours = [n for n in detected if abs(families[n] - center) <= 4 * msc_fwhm_nm]
        x = (lam[window] - center) / (WINDOW_FWHM * msc_fwhm_nm)
        columns = [gaussian(families[n])[window] for n in neighbours]
        matrix = np.column_stack([*columns, np.ones_like(x), x, x**2])
        lower = [0.0] * len(columns) + [-np.inf] * 3
        fit = lsq_linear(matrix, a[window], bounds=(lower, [np.inf] * matrix.shape[1]))
        heights[name] = float(fit.x[neighbours.index(name)])
    nc_height = 0.0
    if nc_nm is not None:
        energy = HC_EV_NM / lam
        columns = [gaussian(families[n]) for n in detected]
        columns.append(np.exp(-4 * np.log(2) * ((energy - HC_EV_NM / nc_nm) / 0.12) ** 2))
        x = (lam - lam.mean()) / (lam.max() - lam.min())
        matrix = np.column_stack([*columns, np.ones_like(x), x, x**2, x**3])
        lower = [0.0] * len(columns) + [-np.inf] * 4
        fit = lsq_linear(matrix, a, bounds=(lower, [np.inf] * matrix.shape[1]))
        nc_height = float(fit.x[len(columns) - 1])
    return heights, nc_height


def _dispersion(lam, a, peak_nm, peak_height, homogeneous_hwhm_ev) -> float | None:
    """σ_d/d from the low-energy HWHM of the exciton, through the slope of the Yu curve."""
    red = lam > peak_nm
    below = np.nonzero(red & (a <= peak_height / 2.0))[0]
    if peak_height <= 0 or below.size == 0:
        return None
    half_nm = float(lam[below[0]])
    hwhm_ev = HC_EV_NM / peak_nm - HC_EV_NM / half_nm
    inhomogeneous = np.sqrt(max(hwhm_ev**2 - homogeneous_hwhm_ev**2, 0.0))
    sigma_ev = inhomogeneous / np.sqrt(2 * np.log(2))
    d = float(yu_diameter_nm(peak_nm))
    de_dd = (HC_EV_NM / yu_wavelength_nm(d * 1.01) - HC_EV_NM / yu_wavelength_nm(d * 0.99)) / (0.02 * d)
    return float(sigma_ev / abs(de_dd) / d)


@hookimpl
def autolab_analyze_uvvis(wavelength_nm, absorbance, metadata):
    return analyze_spectrum(
        wavelength_nm,
        absorbance,
        path_length_cm=float(metadata.get("path_length_cm", 0.05)),
        precursor_mm=float(metadata.get("precursor_mm", 10.0)),
    )
