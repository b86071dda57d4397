"""Spectrum conditioning for the UV-Vis analysis: input checks and repairs, the analysed range,
the noise, a uniform grid, the scattering baseline and Savitzky–Golay derivatives.

Steps 1–3 of the method in :mod:`autolab.plugins.uvvis` (:func:`condition_spectrum` runs 1 and 2);
nothing here knows clusters or NCs.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.signal import find_peaks, savgol_coeffs

from autolab.analysis import as_numbers

#: Fewest (wavelength, absorbance) pairs analysed, after repairs, and the narrowest range, nm.
MIN_POINTS = 20
MIN_SPAN_NM = 30.0
#: Absorbance above which a spectrometer reads no light, AU: the default detector range.
MAX_ABSORBANCE_AU = 4.0
#: The spectrum is analysed up to this wavelength, nm; points red of it are not used. CdSe absorbs
#: nothing red of its bulk gap (713 nm), and the red flank of the largest calibrated NC's exciton
#: (653 nm, 8 nm) ends by ≈ 710 nm. The flat + λ⁻⁴ baseline is fitted to the reddest 10 % of what
#: is analysed, and the further red that lies, the noisier its extrapolation to the visible: of the
#: independent spectra (tests/independent_spectra.py, 23 cases × 4 seeds) generated up to 800 nm,
#: 3 excitons are misread when read to 800 nm and none when read to 750; extended with their own
#: baseline and noise to 2500 nm and read whole, 29 of 69 are lost or misread.
ANALYSED_UP_TO_NM = 750.0
#: Longest wavelength accepted, nm: UV-Vis-NIR spectrometers end near 3300 nm. Beyond it a value is
#: a corrupted row or another unit (Å, cm⁻¹), and the uniform grid the analysis resamples onto
#: would grow without bound (one row at 7e6 nm makes 3.5 million points).
MAX_WAVELENGTH_NM = 5000.0


def checked_spectrum(wavelength_nm, absorbance, *, max_absorbance_au: float = MAX_ABSORBANCE_AU) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The spectrum as increasing, unique, finite pairs, and the repairs made (sentences).

    Repaired, each with a warning: pairs with a NaN or ±inf wavelength, or a NaN or −inf absorbance,
    are dropped; a descending or unordered axis is sorted; duplicated wavelengths are averaged; a
    run of points above ``max_absorbance_au`` (or +inf) at either end of the spectrum is trimmed
    (the detector saw no light there, usually the UV end of a concentrated sample).
    ``ValueError`` (naming the field, the value and what is allowed) for: values that are not
    numbers, arrays that are not 1-D or differ in length, wavelengths ≤ 0 nm or above
    ``MAX_WAVELENGTH_NM``, saturated points inside the spectrum, fewer than ``MIN_POINTS`` pairs
    left, or a range under ``MIN_SPAN_NM``. A wavelength out of range is refused even when it is a
    single stray row, not dropped: a row mistyped in the wavelength column may have its neighbours
    mistyped too, in range, where no check can see them; the file needs a look.
    """
    lam, a = as_numbers(wavelength_nm, "wavelength_nm"), as_numbers(absorbance, "absorbance")
    if lam.size != a.size:
        msg = f"wavelength_nm has {lam.size} values and absorbance {a.size}: they must pair up one to one"
        raise ValueError(msg)
    if lam.size == 0:
        msg = f"the spectrum is empty: it needs ≥ {MIN_POINTS} (wavelength_nm, absorbance) pairs"
        raise ValueError(msg)
    warnings: list[str] = []
    bad = ~np.isfinite(lam) | np.isnan(a) | (a == -np.inf)
    if bad.any():
        warnings.append(f"dropped {int(bad.sum())} of {lam.size} points with a NaN or infinite wavelength or a NaN or −inf absorbance")
        lam, a = lam[~bad], a[~bad]
    if lam.size and lam.min() <= 0:
        msg = f"wavelength_nm={lam.min():g} is not a wavelength: wavelengths must be > 0 nm"
        raise ValueError(msg)
    if lam.size and lam.max() > MAX_WAVELENGTH_NM:
        above = int((lam > MAX_WAVELENGTH_NM).sum())
        msg = (
            f"wavelength_nm={lam.max():g} is outside a spectrometer's range: wavelengths must be > 0 and ≤ {MAX_WAVELENGTH_NM:g} nm "
            f"({above} of {lam.size} points are above it; a mistyped row, or an axis in Å or cm⁻¹?)"
        )
        raise ValueError(msg)
    steps = np.diff(lam)
    if steps.size and np.any(steps <= 0):
        order = np.argsort(lam, kind="stable")
        lam, a = lam[order], a[order]
        if np.all(steps < 0):
            warnings.append("the wavelengths were in descending order: sorted")
        elif np.any(steps < 0):
            warnings.append("the wavelengths were not in order: sorted")
        unique, inverse, counts = np.unique(lam, return_inverse=True, return_counts=True)
        if unique.size < lam.size:
            warnings.append(f"averaged the absorbance of {int((counts > 1).sum())} duplicated wavelengths ({lam.size - unique.size} extra points)")
            a = np.bincount(inverse, weights=a) / counts
            lam = unique
    saturated = a > max_absorbance_au
    if saturated.any():
        lam, a = _trim_saturated(lam, a, saturated, max_absorbance_au, warnings)
    if lam.size < MIN_POINTS:
        msg = f"the spectrum has {lam.size} usable (wavelength_nm, absorbance) pairs: it needs ≥ {MIN_POINTS}"
        raise ValueError(msg)
    if lam[-1] - lam[0] < MIN_SPAN_NM:
        msg = (
            f"wavelength_nm spans {lam[0]:g}–{lam[-1]:g} ({lam[-1] - lam[0]:.3g} nm): a spectrum needs ≥ {MIN_SPAN_NM:g} nm "
            "(is the axis in eV or cm⁻¹?)"
        )
        raise ValueError(msg)
    return lam, a, warnings


def _trim_saturated(lam, a, saturated, max_absorbance_au, warnings):
    """Drop a saturated run at either end; saturation inside the spectrum is an error."""
    keep = np.flatnonzero(~saturated)
    if keep.size == 0:
        msg = f"absorbance is above the detector's range (≤ {max_absorbance_au:g} AU) at every wavelength: dilute the sample"
        raise ValueError(msg)
    first, last = keep[0], keep[-1]
    inside = np.flatnonzero(saturated[first : last + 1])
    if inside.size:
        i = first + inside[0]
        msg = (
            f"absorbance={a[i]:g} AU at {lam[i]:g} nm is above the detector's range (≤ {max_absorbance_au:g} AU) inside the spectrum: "
            "dilute the sample or shorten the path"
        )
        raise ValueError(msg)
    ends = [f"{lam[0]:g}–{lam[first - 1]:g} nm" if first else "", f"{lam[last + 1]:g}–{lam[-1]:g} nm" if last < lam.size - 1 else ""]
    where = ", ".join(end for end in ends if end)
    warnings.append(f"trimmed {int(saturated.sum())} points above the detector's range (> {max_absorbance_au:g} AU): {where}")
    return lam[first : last + 1], a[first : last + 1]


def condition_spectrum(
    wavelength_nm, absorbance, *, max_absorbance_au: float = MAX_ABSORBANCE_AU
) -> tuple[np.ndarray, np.ndarray, float, list[str]]:
    """Steps 1 and 2: the spectrum ready for the derivatives, its noise and the repairs made.

    Returns ``(wavelength, absorbance, noise, warnings)``: the checked pairs (:func:`checked_spectrum`)
    up to ``ANALYSED_UP_TO_NM`` (:func:`analysed_range`), resampled onto a uniform grid of
    independent points (:func:`uniform_grid`, spacing from :func:`noise_estimate`), less the flat +
    λ⁻⁴ scattering baseline (:func:`scattering_baseline`); σ of the measured points, AU; the repairs
    (sentences).
    """
    raw_lam, raw_a, warnings = checked_spectrum(wavelength_nm, absorbance, max_absorbance_au=max_absorbance_au)
    raw_lam, raw_a = analysed_range(raw_lam, raw_a)
    noise, independent_step_nm = noise_estimate(raw_lam, raw_a)
    lam, a = uniform_grid(raw_lam, raw_a, independent_step_nm)
    return lam, a - scattering_baseline(lam, a), noise, warnings


def analysed_range(lam: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pairs at or blue of ``ANALYSED_UP_TO_NM``; ``ValueError`` when too few are left there."""
    if lam[-1] <= ANALYSED_UP_TO_NM:
        return lam, a
    keep = lam <= ANALYSED_UP_TO_NM
    if keep.sum() < MIN_POINTS or lam[keep][-1] - lam[0] < MIN_SPAN_NM:
        msg = (
            f"wavelength_nm spans {lam[0]:g}–{lam[-1]:g} nm with {int(keep.sum())} points at or below {ANALYSED_UP_TO_NM:g} nm: "
            f"the analysis needs ≥ {MIN_POINTS} there over ≥ {MIN_SPAN_NM:g} nm (CdSe absorbs blue of ≈ 720 nm)"
        )
        raise ValueError(msg)
    return lam[keep], a[keep]


def uniform_grid(lam: np.ndarray, a: np.ndarray, step_nm: float) -> tuple[np.ndarray, np.ndarray]:
    """Resample onto a uniform grid of ``step_nm`` (clipped to 0.25–2 nm)."""
    step = float(np.clip(step_nm, 0.25, 2.0))
    grid = np.arange(lam[0], lam[-1] + 1e-9, step)
    return grid, np.interp(grid, lam, a)


def scattering_baseline(lam: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Flat + λ⁻⁴ scattering fitted (non-negative scatter) to the reddest 10 % of the spectrum."""
    tail = lam >= lam[-1] - 0.1 * (lam[-1] - lam[0])
    basis = np.column_stack([np.ones(tail.sum()), (400.0 / lam[tail]) ** 4])
    coefficients, *_ = np.linalg.lstsq(basis, a[tail], rcond=None)
    if coefficients[1] < 0:  # scatter cannot be negative: flat only
        coefficients = np.array([a[tail].mean(), 0.0])
    return coefficients[0] + coefficients[1] * (400.0 / lam) ** 4


def odd_window(window_nm: float, step: float) -> int:
    """Points (odd, ≥ 5) of a Savitzky–Golay window of ``window_nm`` on a grid of ``step`` nm."""
    n = max(5, round(window_nm / step))
    return n + 1 if n % 2 == 0 else n


def noise_estimate(lam: np.ndarray, a: np.ndarray) -> tuple[float, float]:
    """Noise σ of the measured points and the spacing (nm) of independent ones.

    σ is robust, from second differences: for white noise a[i+s] − (1+ρ)a[i] + ρa[i−s] (ρ = h₊/h₋,
    exact for a straight line on any grid) has variance σ²(1 + (1+ρ)² + ρ²), and the median
    absolute value is robust against the curvature of real bands. A spectrum exported on a grid
    finer than the detector's pixels (linear interpolation) has near-zero second differences at
    stride s = 1 — every wiggle would be a "band" — so strides up to 2 nm are tried. Where the
    stride-1 answer is under half the largest, the points are correlated: σ is the largest answer
    and the spacing of independent points the smallest stride giving ≥ 80 % of it (the derivative
    filters' noise gain assumes independent points, so the analysis resamples to it). Otherwise
    the points are independent and σ is the stride-1 answer: larger strides also see more band
    curvature, and the largest answer there inflates σ by up to 25 % and misses 2 of 60 NC bands on
    the twin's spectra.
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
    """Robust σ from the second differences at stride ``s`` (see :func:`noise_estimate`)."""
    h = lam[s:] - lam[:-s]
    rho = h[s:] / h[:-s]
    second = a[2 * s :] - (1 + rho) * a[s:-s] + rho * a[: -2 * s]
    scale = np.sqrt(1 + (1 + rho) ** 2 + rho**2)
    return float(1.4826 * np.median(np.abs(second / scale)))


@lru_cache(maxsize=64)
def savgol(window: int, polyorder: int, deriv: int, step: float) -> tuple[np.ndarray, float]:
    """Savitzky–Golay coefficients (for ``np.convolve``) and their noise gain √Σc² (read-only)."""
    coeffs = savgol_coeffs(window, polyorder, deriv=deriv, delta=step, use="conv")
    coeffs.flags.writeable = False
    return coeffs, float(np.sqrt((coeffs**2).sum()))


def second_derivative(a, step, window_nm, noise) -> tuple[np.ndarray, float, int]:
    """Cubic Savitzky–Golay second derivative, its noise σ, and the half-window (edges are wrong)."""
    window = odd_window(window_nm, step)
    if window >= a.size:  # a spectrum shorter than the window has no inner point to judge
        return np.zeros_like(a), np.inf, a.size
    coeffs, gain = savgol(window, 3, 2, round(float(step), 9))
    return np.convolve(a, coeffs, mode="same"), noise * gain, window // 2


def minima(lam, d2, sigma, edge) -> list[float]:
    """Wavelengths of second-derivative minima deeper than 5× the derivative's noise."""
    threshold = max(5.0 * sigma, 1e-7)
    peaks, _ = find_peaks(-d2, height=threshold, distance=max(1, int(3.0 / (lam[1] - lam[0]))))
    return [float(lam[p]) for p in peaks if edge <= p < len(lam) - edge]
