"""MSC bands in a UV-Vis spectrum: which families stand out, and the height of each band.

Step 4 of the method in :mod:`autolab.plugins.uvvis`. A family is a narrow band at a fixed
position (:data:`autolab.materials.MSC_PEAK_NM`); its height comes from a windowed least-squares fit.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

from autolab.materials import MSC_PEAK_NM, aggregation_number, gaussian_band, yu_diameter_nm

from .uvvis_spectrum import minima, second_derivative

#: MSC families looked for: name → absorption maximum, nm (:data:`autolab.materials.MSC_PEAK_NM`,
#: Palencia et al. 2020, Fig. 4). The analysis takes any such table (``families=``).
DEFAULT_FAMILIES = MSC_PEAK_NM
#: Savitzky–Golay window of MSC detection, nm: 9. A 15 nm window also answers to the twin's broad
#: cluster resonances (a false CdSe-380 at 384 nm).
MSC_WINDOW_NM = 9.0
#: Windows of the width test, nm: a feature's depth in the first over that in the second.
WIDTH_WINDOWS_NM = (15.0, 25.0)
#: Depth in the 15 nm window over that in the 25 nm one at or above which a feature is narrow: a
#: Gaussian of 8, 10, 13, 16, 20, 30 nm FWHM gives 2.8, 2.25, 1.75, 1.49, 1.31, 1.14.
NARROW_RATIO = 1.5
#: Half-width of each MSC band's fitting window, in band FWHMs (± 15 nm for 10 nm bands): wide
#: enough for a quadratic background, narrow enough that an NC continuum onset or a shoulder
#: inside the window does not bend it (tested against the twin's band absorbance).
WINDOW_FWHM = 1.5
#: Offsets of an MSC band's centre from its family's position tried in the fit, nm.
CENTRE_OFFSETS_NM = (-3.0, -1.5, 0.0, 1.5, 3.0)


def msc_sizes(wavelength_nm: float) -> tuple[float, float]:
    """Diameter (nm, Yu et al. 2003 curve) and aggregation number of an MSC band at ``wavelength_nm``."""
    d = float(yu_diameter_nm(wavelength_nm))
    return d, float(aggregation_number(d))


def is_narrow(lam, d2, wavelength_nm) -> bool:
    """Whether the feature at ``wavelength_nm`` is narrow (an MSC band): its 15 over 25 nm depth ≥ ``NARROW_RATIO``."""
    i = int(np.clip(np.searchsorted(lam, wavelength_nm), 0, lam.size - 1))
    narrow, wide = d2[15.0][0][i], d2[25.0][0][i]
    return bool(wide >= 0 or narrow <= NARROW_RATIO * wide)


def fit_bands(lam, a, positions, msc_fwhm_nm) -> tuple[dict[str, float], dict[str, float]]:
    """MSC band heights (AU) and centres (nm), one window per detected band.

    Each band (a Gaussian of ``msc_fwhm_nm``) is fitted in its own window (± ``WINDOW_FWHM``
    FWHM about the family's position) with the other bands that reach into it and a local
    quadratic background, by least squares non-negative in the band heights: a narrow band on the
    NC's sloping shoulder and continuum is then separated from them, which one global fit with a
    cubic background over 300–700 nm cannot do. The band's centre is the best of its position +
    ``CENTRE_OFFSETS_NM``: a band 2 nm off (Palencia's 465/467 nm) fitted at the nominal position
    loses a quarter of its height.
    """
    heights, centres = {}, {}
    half = WINDOW_FWHM * msc_fwhm_nm
    for name, position in positions.items():
        window = np.abs(lam - position) <= half
        if window.sum() < 8:
            continue
        x = lam[window]
        others = [gaussian_band(x, p, msc_fwhm_nm) for n, p in positions.items() if n != name and abs(p - position) <= 4 * msc_fwhm_nm]
        u = (x - position) / half
        # The quadratic background is projected out, so that non-negative least squares solves for
        # the band heights alone: the optimum of the fit bounded in the heights only.
        background, _ = np.linalg.qr(np.column_stack([np.ones_like(u), u, u**2]))
        y = a[window] - background @ (background.T @ a[window])
        best = None
        for offset in CENTRE_OFFSETS_NM:
            columns = np.column_stack([gaussian_band(x, position + offset, msc_fwhm_nm), *others])
            columns -= background @ (background.T @ columns)
            solution, misfit = nnls(columns, y)
            if best is None or misfit < best[0]:
                best = (misfit, position + offset, float(solution[0]))
        _, centres[name], heights[name] = best
    return heights, centres


def cluster_derivatives(a, step, noise) -> dict[float, tuple[np.ndarray, float, int]]:
    """Second derivatives of ``a`` (:func:`~autolab.plugins.uvvis_spectrum.second_derivative`) in the
    MSC detection window and the width-test windows, keyed by window, nm."""
    return {w: second_derivative(a, step, w, noise) for w in (MSC_WINDOW_NM, *WIDTH_WINDOWS_NM)}


def fit_clusters(lam, a, d2, noise, families, msc_fwhm_nm) -> tuple[list[str], dict[str, float], dict[str, float]]:
    """The MSC families that stand out in ``a``, their band heights (AU) and centres (nm).

    A family stands out where a narrow minimum of the 9 nm second derivative lies within 4 nm of its
    position (:func:`is_narrow`) and its fitted band (:func:`fit_bands`) is ≥ 3σ high: a curvature
    without absorbance is no band (a kink such as a continuum's onset). ``d2`` is
    :func:`cluster_derivatives` of ``a``; ``noise`` the spectrum's σ, AU.
    """
    narrow = minima(lam, *d2[MSC_WINDOW_NM])
    found = {
        name: position
        for name, position in families.items()
        if lam[0] + 3 <= position <= lam[-1] - 3 and any(abs(f - position) <= 4.0 and is_narrow(lam, d2, f) for f in narrow)
    }
    heights, centres = fit_bands(lam, a, found, msc_fwhm_nm)
    detected = [name for name in found if heights.get(name, 0.0) >= 3.0 * noise]
    return detected, {name: heights[name] for name in detected}, centres


def cluster_bands(lam, heights, centres, msc_fwhm_nm) -> np.ndarray:
    """The fitted MSC bands summed on ``lam``: Gaussians of ``msc_fwhm_nm`` with ``heights`` (AU) at ``centres`` (nm)."""
    return sum((heights[name] * gaussian_band(lam, centres[name], msc_fwhm_nm) for name in heights), np.zeros_like(lam))


def narrow_band_near(x, lam, d2, families) -> bool:
    """Whether ``x`` (nm) lies within 4 nm of a family's position where a narrow band stands.

    Such a band is the family's, too weak for the 9 nm filter (the twin at 280 °C / 4.5 s: CdSe-465
    reads as a 467 nm "exciton", its band ≥ 10σ deep in the 15 nm window). The band: the deepest
    minimum of the 15 nm second derivative within 4 nm of the position, ≥ 5σ deep (as every
    feature) and narrow (:func:`is_narrow`) — judged there, not at ``x``: a shoulder's flattest
    point is an inflection, where both second derivatives are ≈ 0 and their ratio is noise (judged
    at the exciton, 8 of 12 readings of a 2.0 nm NC shoulder at 464 nm are lost, and with a 3σ
    depth 1 of 24).
    """
    d15, sigma15, _ = d2[15.0]
    for position in families.values():
        near = np.flatnonzero(np.abs(lam - position) <= 4.0)
        if abs(x - position) > 4.0 or near.size == 0:
            continue
        deepest = near[np.argmin(d15[near])]
        if d15[deepest] < -5.0 * sigma15 and is_narrow(lam, d2, float(lam[deepest])):
            return True
    return False
