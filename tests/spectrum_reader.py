"""A model-free reader of noisy UV-Vis absorbance spectra, for the tests (issue 19, item 1).

It reads a spectrum the way a chemist does — noise from the data, bands from the second
derivative, the nanocrystal (NC) first exciton as the longest-wavelength broad maximum or
shoulder — with no knowledge of any forward model. It is deliberately independent of autolab's
twin (``autolab.sim``) and of its analysis plugins (``autolab.plugins``): it imports nothing from
them and shares no code with them, because "a test that reads the twin through the twin's own
model proves nothing" (issue 19). numpy and ``scipy.signal`` only.

Smoothing windows are given in nm, so that the reading does not depend on the grid (0.5–2 nm).
The noise σ comes from the data (``noise_au``); a Savitzky–Golay derivative's noise is σ times
the norm of its coefficients, and a feature counts only where it stands well above that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import savgol_coeffs, savgol_filter

#: Magic-size-cluster (MSC) families by nominal band position, nm.
FAMILIES_NM = {"CdSe-350": 350.0, "CdSe-380": 380.0, "CdSe-403": 403.0, "CdSe-437": 437.0, "CdSe-465": 465.0}
#: A cluster band is narrower than this (FWHM 8–14 nm); an NC exciton is broader (≥ ~20 nm).
NARROW_FWHM_NM = 17.0
BAND_WINDOW_NM = 13.0  # second-derivative window for the narrow cluster bands
LIGHT_WINDOW_NM = 7.0  # light smoothing (quartic) for band heights and widths
EXCITON_SCALES_NM = (20.0, 30.0, 45.0, 60.0)  # quadratic windows for the broad NC exciton
MIN_SNR = 5.0  # a curvature minimum counts when it is this many σ of the derivative's noise deep
LOCATE_SNR = 10.0  # the exciton is read on the finest scale where it is this clear


@dataclass(frozen=True)
class Band:
    """A resolved band: a negative lobe of the smoothed second derivative.

    Attributes
    ----------
    position_nm, curvature_au_per_nm2, snr : float
        The lobe's deepest point (nm), its depth −d²A/dλ² (AU/nm²) and that depth over the
        second derivative's noise σ.
    fwhm_nm, height_au : float
        Full width at half maximum (nm) and height (AU) above the local baseline.
    baseline_from_nm, baseline_to_nm : float
        The range over which the local baseline was drawn, nm.
    """

    position_nm: float
    curvature_au_per_nm2: float
    snr: float
    fwhm_nm: float
    height_au: float
    baseline_from_nm: float
    baseline_to_nm: float


def _window_points(wavelength_nm, window_nm: float, polyorder: int) -> int:
    """An odd number of grid points spanning about ``window_nm``, at least ``polyorder + 3``."""
    return max(round(window_nm / float(np.median(np.diff(wavelength_nm)))) | 1, (polyorder + 3) | 1)


def noise_au(wavelength_nm, absorbance) -> float:
    """Noise level (σ, AU) estimated from the data: the MAD of the second differences.

    For white noise σ a second difference ``a[i-1] − 2a[i] + a[i+1]`` has σ√6; the median absolute
    deviation (÷ 0.6745) ignores the few points where real bands curve sharply.

    Parameters
    ----------
    wavelength_nm : array_like
        Uniform wavelength grid, nm (unused: kept for a uniform signature).
    absorbance : array_like
        Absorbance, AU.

    Returns
    -------
    float
        The estimated noise σ, AU.
    """
    d2 = np.diff(np.asarray(absorbance, dtype=float), 2)
    return float(np.median(np.abs(d2 - np.median(d2))) / 0.6745 / np.sqrt(6.0))


def _derivatives(wavelength_nm, absorbance, window_nm: float, polyorder: int = 2, sigma_au: float | None = None):
    """Smoothed A, dA/dλ and d²A/dλ² (Savitzky–Golay) and the σ of d²A/dλ² from the noise."""
    step = float(np.median(np.diff(wavelength_nm)))
    n = _window_points(wavelength_nm, window_nm, polyorder)
    a = np.asarray(absorbance, dtype=float)
    smooth, slope, curv = (savgol_filter(a, n, polyorder, deriv=k, delta=step, mode="interp") for k in range(3))
    sigma_au = noise_au(wavelength_nm, a) if sigma_au is None else sigma_au
    sigma_curv = sigma_au * float(np.linalg.norm(savgol_coeffs(n, polyorder, deriv=2, delta=step)))
    return smooth, slope, curv, sigma_curv


def _negative_lobes(curv) -> list[np.ndarray]:
    """The runs of indices where ``curv`` < 0: each is a band between its two inflection points."""
    runs = np.split(np.arange(curv.size), np.flatnonzero(np.diff(curv < 0)) + 1)
    return [run for run in runs if curv[run[0]] < 0]


def _half_width_edges(lam, excess, i):
    """Interpolated half-maximum crossings of ``excess`` either side of its peak at index ``i``, nm (nan if none)."""
    half, below = 0.5 * excess[i], np.flatnonzero(excess <= 0.5 * excess[i])
    if not (below < i).any() or not (below > i).any():
        return np.nan, np.nan
    b, r = below[below < i][-1], below[below > i][0]  # the last points below half on either side
    return np.interp(half, excess[[b, b + 1]], lam[[b, b + 1]]), np.interp(half, excess[[r, r - 1]], lam[[r, r - 1]])


def _lower_hull(x, y) -> np.ndarray:
    """The lower convex hull of the points (x, y) (a "rubber band" under them), evaluated at x."""
    hull = []
    for k in range(x.size):
        while len(hull) >= 2 and (y[hull[-1]] - y[hull[-2]]) * (x[k] - x[hull[-2]]) >= (y[k] - y[hull[-2]]) * (x[hull[-1]] - x[hull[-2]]):
            hull.pop()
        hull.append(k)
    return np.interp(x, x[hull], y[hull])


def resolved_bands(wavelength_nm, absorbance, window_nm: float = BAND_WINDOW_NM, min_snr: float = MIN_SNR) -> list[Band]:
    """Bands resolved as second-derivative minima that stand out against the derivative's noise.

    Each band's local baseline is the lower convex hull ("rubber band") of the lightly smoothed
    spectrum within 1.5 widths either side, the width first taken from the inflection points
    (FWHM ≈ 1.18 × their spacing, as for a Gaussian): a straight chord on a straight background,
    hugging a curved one, and dropping into the valley where a neighbouring band comes near.

    Parameters
    ----------
    wavelength_nm, absorbance : array_like
        Uniform grid (nm) and absorbance (AU).
    window_nm : float
        Savitzky–Golay window (quadratic) of the second derivative, nm.
    min_snr : float
        Minimum depth of the curvature minimum, in σ of the second derivative's noise.

    Returns
    -------
    list of Band
        Ordered by position.
    """
    lam = np.asarray(wavelength_nm, dtype=float)
    _, _, curv, sigma = _derivatives(lam, absorbance, window_nm)
    light = _derivatives(lam, absorbance, LIGHT_WINDOW_NM, polyorder=4)[0]
    bands = []
    for lobe in _negative_lobes(curv):
        i = lobe[np.argmin(curv[lobe])]  # one band per negative lobe of d²A/dλ², at its deepest point
        if -curv[i] < min_snr * sigma:
            continue
        left, right = lobe[0], lobe[-1]  # the inflection points
        reach_nm = 1.5 * 1.18 * (lam[right] - lam[left])
        lo, hi = np.searchsorted(lam, [lam[i] - reach_nm, lam[i] + reach_nm])
        span = slice(lo, min(hi, lam.size - 1) + 1)
        excess = light[span] - _lower_hull(lam[span], light[span])
        peak = left - lo + int(np.argmax(excess[left - lo : right - lo + 1]))
        blue, red = _half_width_edges(lam[span], excess, peak)
        record = (lam[i], -curv[i], -curv[i] / sigma, red - blue, excess[peak], lam[span][0], lam[span][-1])
        bands.append(Band(*map(float, record)))
    return bands


def _nearest_narrow(bands, position_nm, tolerance_nm, max_fwhm_nm) -> Band | None:
    near = [b for b in bands if abs(b.position_nm - position_nm) <= tolerance_nm and b.fwhm_nm <= max_fwhm_nm]  # nan fails
    return min(near, key=lambda b: abs(b.position_nm - position_nm), default=None)


def band_at(wavelength_nm, absorbance, position_nm: float, tolerance_nm: float = 4.0, max_fwhm_nm: float = NARROW_FWHM_NM) -> Band | None:
    """The resolved narrow band nearest ``position_nm`` (within ``tolerance_nm``), or None.

    Parameters
    ----------
    wavelength_nm, absorbance : array_like
        Uniform grid (nm) and absorbance (AU).
    position_nm : float
        Nominal band position, nm (e.g. 437 for CdSe-437).
    tolerance_nm : float
        Largest distance from ``position_nm``, nm.
    max_fwhm_nm : float
        Broadest band accepted, nm: MSC bands are 8–14 nm wide, NC excitons ≥ ~20 nm.

    Returns
    -------
    Band or None
    """
    return _nearest_narrow(resolved_bands(wavelength_nm, absorbance), position_nm, tolerance_nm, max_fwhm_nm)


def band_height_au(wavelength_nm, absorbance, position_nm: float) -> float:
    """Height above its local baseline (AU) of the band :func:`band_at` finds at ``position_nm``, 0 where none is resolved."""
    band = band_at(wavelength_nm, absorbance, position_nm)
    return band.height_au if band else 0.0


def msc_families(wavelength_nm, absorbance) -> set[str]:
    """Names of the MSC families in ``FAMILIES_NM`` whose narrow band is resolved (within ±4 nm)."""
    bands = resolved_bands(wavelength_nm, absorbance)
    return {name for name, nominal in FAMILIES_NM.items() if _nearest_narrow(bands, nominal, 4.0, NARROW_FWHM_NM)}


def _bridged(lam, a, exclude, exclude_nm):
    """``a`` with its narrow bands near ``exclude`` replaced by their baselines, as the eye reads past them."""
    narrow = [b for b in resolved_bands(lam, a) if b.fwhm_nm <= NARROW_FWHM_NM]
    exclude = [b.position_nm for b in narrow] if exclude is None else list(exclude)
    bridged = np.zeros(lam.size, dtype=bool)
    for b in narrow:
        if any(abs(b.position_nm - x) <= exclude_nm for x in exclude):
            bridged |= (lam >= b.baseline_from_nm) & (lam <= b.baseline_to_nm)
    out, light = a.copy(), _derivatives(lam, a, LIGHT_WINDOW_NM, polyorder=4)[0]
    for run in np.split(np.arange(lam.size), np.flatnonzero(np.diff(bridged)) + 1):
        if bridged[run[0]]:  # overlapping baselines merge into one
            out[run] = _lower_hull(lam[run], light[run])
    return out, exclude


def nc_exciton_nm(wavelength_nm, absorbance, exclude=None, exclude_nm: float = 12.0, min_snr: float = MIN_SNR) -> float | None:
    """The NC first exciton: the longest-wavelength broad excitonic maximum or shoulder, nm, or None.

    The cluster bands are bridged by their baselines first. NC 1S bands are 20–90 nm wide, so
    curvature minima are sought on several scales (``EXCITON_SCALES_NM``, quadratic
    Savitzky–Golay); those ≥ ``min_snr`` σ deep and farther than ``exclude_nm`` from a cluster
    band are candidates, and the reddest wins. It is read on a quartic smoothing 1.5 × the finest
    scale where it is ``LOCATE_SNR`` σ deep (or where it is deepest): at its maximum (dA/dλ = 0)
    or, where dA/dλ stays negative, at the shoulder's flattest point (the local maximum of dA/dλ).

    Parameters
    ----------
    wavelength_nm, absorbance : array_like
        Uniform grid (nm) and absorbance (AU).
    exclude : sequence of float, optional
        Positions of the narrow (cluster) bands, nm; by default every resolved band narrower
        than ``NARROW_FWHM_NM``.
    exclude_nm : float
        Half-width of the excluded zones, nm.
    min_snr : float
        Minimum depth of the curvature minimum, in σ of the second derivative's noise.

    Returns
    -------
    float or None
        None also where the only broad band lies within ``exclude_nm`` of a cluster band: the
        reader cannot tell such an exciton from the cluster's own shoulder.
    """
    lam = np.asarray(wavelength_nm, dtype=float)
    a = np.asarray(absorbance, dtype=float)
    sigma_au = noise_au(lam, a)
    a, exclude = _bridged(lam, a, exclude, exclude_nm)
    found = []  # (position nm, blue end nm, red end nm, snr, scale nm) of each significant broad band
    for scale_nm in EXCITON_SCALES_NM:
        _, _, curv, sigma = _derivatives(lam, a, scale_nm, sigma_au=sigma_au)
        edge = _window_points(lam, scale_nm, 2) // 2  # the ends are extrapolated
        for lobe in _negative_lobes(curv):
            i = lobe[np.argmin(curv[lobe])]
            if edge <= i < lam.size - edge and -curv[i] >= min_snr * sigma and all(abs(lam[i] - x) > exclude_nm for x in exclude):
                found.append((lam[i], lam[lobe[0]], lam[lobe[-1]], -curv[i] / sigma, scale_nm))
    if not found:
        return None
    reddest = max(found)
    same = [f for f in found if f[1] <= reddest[2] and f[2] >= reddest[1]]  # the same band on every scale
    clear = [f for f in same if f[3] >= LOCATE_SNR]
    scale_nm = min(f[4] for f in clear) if clear else max(same, key=lambda f: f[3])[4]
    _, slope, curv, _ = _derivatives(lam, a, 1.5 * scale_nm, polyorder=4, sigma_au=sigma_au)
    lobe = next((run for run in _negative_lobes(curv) if lam[run[0]] <= reddest[0] <= lam[run[-1]]), None)
    if lobe is None or lobe[0] == 0:
        return None
    j = lobe[0] - 1  # the blue inflection, between j and j + 1: the local maximum of dA/dλ
    if slope[j] < 0:  # a shoulder: its flattest point
        return float(lam[j] + (lam[j + 1] - lam[j]) * curv[j] / (curv[j] - curv[j + 1]))
    falling = np.flatnonzero(slope[j:] < 0)
    if falling.size == 0:
        return None
    j += int(falling[0]) - 1  # a maximum: where dA/dλ crosses zero, between j and j + 1
    return float(lam[j] + (lam[j + 1] - lam[j]) * slope[j] / (slope[j] - slope[j + 1]))
