"""The NC band of a UV-Vis spectrum: its first exciton read model-free, the size, dispersion and
concentration there, and the model-based size population of the deferred analysis.

Step 5 of the method in :mod:`autolab.plugins.uvvis` (:func:`find_nc_band`, :func:`nc_metrics`)
and the deferred population fit (:func:`nc_population`), whose size classes are CdSe's NC
absorbance model (:func:`autolab.materials.nc_class_absorbance`).
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import numpy as np
from scipy.optimize import nnls
from scipy.signal import find_peaks

from autolab.materials import (
    HC_EV_NM,
    NC_HOMOGENEOUS_FWHM_EV,
    NC_LINE_SHAPE,
    YU_CALIBRATED_DIAMETER_NM,
    gaussian_band,
    in_calibrated_range,
    nc_class_absorbance,
    yu_diameter_nm,
    yu_extinction_m_inv_cm_inv,
    yu_wavelength_nm,
)

from .uvvis_clusters import WINDOW_FWHM, is_narrow, narrow_band_near
from .uvvis_spectrum import minima, odd_window, savgol, second_derivative

#: Bluest broad feature taken for a regular NC exciton, nm: the CdSe-403 band + 8 nm (Yu 2003: d ≈ 1.65 nm).
MIN_EXCITON_NM = 411.0
#: An NC band is looked for red of every detected cluster band by this margin, in band FWHMs
#: (20 nm for 10 nm bands): blue of a band lie its own higher resonances and, after the fitted band
#: is subtracted, the misfit of its shape on both sides (asymmetric, Lorentzian-tailed bands of
#: the independent set leave broad "features" 6–13 nm blue and up to 17 nm red of them).
CLUSTER_MARGIN_FWHM = 2.0
#: Savitzky–Golay windows of NC detection (broad features of the remainder), nm.
NC_WINDOWS_NM = (25.0, 49.0)
#: Quartic Savitzky–Golay first derivative that reads the exciton, nm. On the independent set
#: (tests/independent_spectra.py, 16 NC cases × 6 seeds) 31–49 nm windows read every exciton within
#: 3 nm, 25 nm misses 3; on the twin's noisy spectra 37 nm is the best (worst 4.0 nm, against
#: 5.8 for 31 and 5.2 for 43). A quadratic one biases broad bands by up to 5 nm.
EXCITON_WINDOW_NM = 37.0
#: The exciton is looked for within this distance blue of the red flank's steepest point, nm.
EXCITON_REACH_NM = 70.0
#: The red flank of an NC band: its steepest descent, looked for from 10 nm blue to 40 nm red of the
#: broad feature, must exceed ``RED_FLANK_SIGMAS`` times the derivative's noise (:func:`nc_band`).
RED_FLANK_NM = (10.0, 40.0)
RED_FLANK_SIGMAS = 6.0
#: A shoulder's flattest point stands this many times the derivative's noise above its surroundings.
SHOULDER_SIGMAS = 3.0
#: A derivative top less than this many times its noise above zero that falls through zero within
#: ``FLAT_TOP_REACH_NM`` red of it may be a shoulder's flat top lifted by the noise, and is read as
#: a shoulder (on the independent shoulder cases, such a top's zero crossing reads 1 of 192
#: readings 7.4 nm off). A band's true maximum falls through zero further red (the crowded
#: independent cases at 0.003 AU: 25 nm) or stands higher.
FLAT_TOP_SIGMAS = 3.0
FLAT_TOP_REACH_NM = 4.0
#: Homogeneous FWHM of one NC size class, eV, removed from the band's width for the dispersion
#: (:data:`autolab.materials.NC_HOMOGENEOUS_FWHM_EV`).
HOMOGENEOUS_FWHM_EV = NC_HOMOGENEOUS_FWHM_EV


def find_nc_band(lam, remainder, d2, noise, families, cluster_centres_nm, msc_fwhm_nm, warnings) -> dict | None:
    """Step 5's search: the NC band of ``remainder`` (the spectrum less the fitted MSC bands), or None.

    Broad features are the minima of the 25 and 49 nm second derivatives of the remainder red of
    ``MIN_EXCITON_NM`` and ``CLUSTER_MARGIN_FWHM`` band FWHMs red of every detected cluster band
    (``cluster_centres_nm``), except narrow ones at a family's position; :func:`nc_band` then takes
    the reddest with a red flank and an exciton. ``d2`` holds the spectrum's second derivatives
    (:func:`autolab.plugins.uvvis_clusters.cluster_derivatives`); what could not be done is
    appended to ``warnings``.
    """
    step = float(lam[1] - lam[0])
    bluest = max([MIN_EXCITON_NM, *(centre + CLUSTER_MARGIN_FWHM * msc_fwhm_nm for centre in cluster_centres_nm)])
    features = set()
    for w in NC_WINDOWS_NM:
        features.update(
            f
            for f in minima(lam, *second_derivative(remainder, step, w, noise))
            if f > bluest and (all(abs(f - p) > 4.0 for p in families.values()) or not is_narrow(lam, d2, f))
        )
    if not features:
        return None
    return nc_band(lam, remainder, step, noise, sorted(features, reverse=True), bluest, lambda x: narrow_band_near(x, lam, d2, families), warnings)


def nc_band(lam, remainder, step, noise, features, bluest_nm, on_a_cluster, warnings) -> dict | None:
    """The NC band: the longest-wavelength broad feature with a red flank and an exciton, or None.

    For each feature, red to blue: its red flank is the steepest descent of the remainder within
    ``RED_FLANK_NM`` (10 nm blue to 40 nm red of the feature), and it must be steeper than
    ``RED_FLANK_SIGMAS`` times the derivative's noise, as the red side of every absorption band
    is (a knee of a misfitted baseline or a cluster band's misfit has a flat red side: on the
    independent set such features reach 4.2σ, the weakest NC band 9.8σ). The exciton is then read
    blue of the flank (:func:`_read_exciton`) and must lie red of ``bluest_nm`` (clear of the
    cluster bands) on positive absorbance, and not on a narrow band at a family's position. When
    no band is taken, ``warnings`` names a band whose maximum is unresolved from the clusters, or
    else a feature whose red flank runs past the spectrum's end.
    """
    window = odd_window(EXCITON_WINDOW_NM, step)
    if window >= lam.size:
        return None
    coeffs, gain = savgol(window, 4, 1, round(float(step), 9))
    slope = np.convolve(remainder, coeffs, mode="same")
    sigma = noise * gain
    edge = window // 2
    inner = np.zeros(lam.size, dtype=bool)
    inner[edge : lam.size - edge] = True
    inside = np.flatnonzero(inner)
    if inside.size < 5:
        return None
    tops, _ = find_peaks(slope[inside], prominence=SHOULDER_SIGMAS * sigma)
    tops = inside[tops]
    cut, unresolved = [], []
    for feature in features:
        flank = np.flatnonzero(inner & (lam >= feature - RED_FLANK_NM[0]) & (lam <= feature + RED_FLANK_NM[1]))
        if flank.size == 0 or (flank[-1] == inside[-1] and lam[-1] < feature + RED_FLANK_NM[1]):
            cut.append(feature)  # the red flank runs past the end of the spectrum
            continue
        steepest = flank[np.argmin(slope[flank])]
        if slope[steepest] > -RED_FLANK_SIGMAS * sigma:
            continue
        exciton, how = _read_exciton(lam, remainder, noise, slope, sigma, tops, steepest)
        if exciton is None or exciton <= bluest_nm:
            unresolved.append(float(lam[steepest]))
            continue
        if np.interp(exciton, lam, remainder) <= 0 or on_a_cluster(exciton):
            continue
        return {"lam": lam, "remainder": remainder, "slope": slope, "inner": inner, "exciton_nm": exciton, "how": how, "feature_nm": feature}
    if unresolved:
        warnings.append(
            f"an NC band falls off at {max(unresolved):.0f} nm, but its maximum is not resolved red of the cluster bands "
            f"(> {bluest_nm:.0f} nm): no exciton is reported"
        )
    elif cut:
        warnings.append(
            f"a broad feature at {max(cut):.0f} nm may be an NC band, but the spectrum ends at {lam[-1]:.0f} nm, before its red flank: "
            f"no exciton is reported (it needs the spectrum to reach ≈ {max(cut) + RED_FLANK_NM[1] + EXCITON_WINDOW_NM / 2:.0f} nm)"
        )
    return None


def _read_exciton(lam, remainder, noise, slope, sigma, tops, steepest) -> tuple[float | None, str]:
    """The first excitonic maximum (or shoulder) blue of the red flank's steepest point, nm, and which.

    ``slope`` is the remainder's quartic Savitzky–Golay first derivative over
    ``EXCITON_WINDOW_NM`` and ``sigma`` its noise; ``tops`` its local maxima standing
    ``SHOULDER_SIGMAS`` times that above their surroundings (weaker ones are noise). Walking blue
    from the flank, the first such maximum of the derivative within ``EXCITON_REACH_NM``: at or
    above zero, the band has a true maximum between it and the flank, the zero crossing of the
    derivative ("maximum"); below zero, the band is a shoulder on the rising higher transitions, and
    the exciton is its flattest point (:func:`_shoulder_vertex`, "shoulder"). (None, "") without one.
    """
    blue = tops[(tops < steepest) & (lam[tops] >= lam[steepest] - EXCITON_REACH_NM)]
    if blue.size == 0:
        return None, ""
    top = blue[-1]
    if slope[top] >= 0:
        k = top + int(np.flatnonzero(slope[top : steepest + 1] < 0)[0]) - 1
        x0, x1 = lam[k], lam[k + 1]
        crossing = float(x0 + (x1 - x0) * slope[k] / (slope[k] - slope[k + 1]))
        if slope[top] >= FLAT_TOP_SIGMAS * sigma or crossing - lam[top] > FLAT_TOP_REACH_NM:
            return crossing, "maximum"
        vertex = _shoulder_vertex(lam, remainder, noise, top, steepest)
        return (crossing, "maximum") if vertex is None else (vertex, "shoulder")
    vertex = _shoulder_vertex(lam, remainder, noise, top, steepest)
    if vertex is None:  # no fit (the top too near the spectrum's ends): the three-point vertex
        curvature = slope[top - 1] - 2 * slope[top] + slope[top + 1]
        offset = 0.5 * (slope[top - 1] - slope[top + 1]) / curvature if curvature < 0 else 0.0
        vertex = float(lam[top] + offset * (lam[1] - lam[0]))
    return vertex, "shoulder"


#: A shoulder's flattest point: the vertex of a parabola fitted to the top of the remainder's
#: quartic Savitzky–Golay derivative, where the derivative stands within ``SHOULDER_FIT_SIGMAS``
#: times its noise of its top, over at least ±``SHOULDER_FIT_NM[0]`` and at most
#: ±``SHOULDER_FIT_NM[1]`` nm. The derivative's window is the narrowest of ``SHOULDER_WINDOWS_NM``
#: whose vertex has a standard error (the spectrum's noise propagated through the filter and the
#: fit) ≤ ``SHOULDER_VERTEX_SE_NM``, else the one with the smallest if that is ≤
#: ``SHOULDER_VERTEX_MAX_SE_NM``, else (a top barely above the noise) the 37 nm derivative's
#: three-point maximum (on the twin at 270 °C / 14 s, seed 0, a 61 nm fit with an error of 1.9 nm
#: reads 12.5 nm off where the three-point maximum reads 3.3 nm off). A shoulder's derivative has
#: a flat top: its three-point maximum on the 37 nm derivative wanders with the noise and puts 40
#: of 96 independent shoulder readings (tests/independent_spectra.py, ``SHOULDER_CASES``, 12 seeds)
#: > 3 nm off, up to 8.5 nm. The parabola on the 37 nm derivative leaves 11 of 192 (24 seeds) off,
#: on a 61 nm one alone 1 — but that window flattens the twin's weak, narrow shoulder at 280 °C /
#: 4.5 s away (3 nm off noise-free); widening only where the noise asks for it leaves 0 of 192 off
#: and the twin's noise-free shoulders at +0.8 nm (4.5 s) and −2.2 nm (14 s); its quiet 10 s
#: spectra at 4.5 s read +0.7…+2.2 nm, against −0.3…+1.8 with the three-point maximum. A fixed
#: part of ±15 or ±25 nm does worse than the part chosen by the noise (the stronger the shoulder,
#: the narrower the part and the smaller the bias of an asymmetric top), a part cut symmetric
#: worse (4 of 192), a cubic worse than the parabola (35 of 192).
SHOULDER_WINDOWS_NM = (37.0, 49.0, 61.0)
SHOULDER_VERTEX_SE_NM = 0.7
SHOULDER_VERTEX_MAX_SE_NM = 1.5
SHOULDER_FIT_SIGMAS = 8.0
SHOULDER_FIT_NM = (2.0, 25.0)


def _shoulder_vertex(lam, remainder, noise, top, steepest) -> float | None:
    """The flattest point of the shoulder whose 37 nm derivative peaks at index ``top``, nm (see ``SHOULDER_WINDOWS_NM``)."""
    fits = []
    for window_nm in SHOULDER_WINDOWS_NM:
        fit = _parabola_vertex(lam, remainder, noise, window_nm, top, steepest)
        if fit is not None:
            if fit[1] <= SHOULDER_VERTEX_SE_NM:
                return fit[0]
            fits.append(fit)
    best = min(fits, key=lambda fit: fit[1], default=None)
    return best[0] if best is not None and best[1] <= SHOULDER_VERTEX_MAX_SE_NM else None


def _parabola_vertex(lam, remainder, noise, window_nm, top, steepest) -> tuple[float, float] | None:
    """(vertex, its standard error), nm, of a parabola through the top of the ``window_nm`` derivative.

    The top: the derivative's local maximum nearest ``top`` within 10 nm (blue of ``steepest``,
    clear of the filter's edges); the part fitted: see ``SHOULDER_FIT_SIGMAS``. The vertex is
    linear in the spectrum to first order (the delta method), its error the noise propagated
    through the filter and the fit. None without a top or without a vertex inside the part fitted.
    """
    step = float(lam[1] - lam[0])
    window = odd_window(window_nm, step)
    if window >= lam.size:
        return None
    coeffs, gain = savgol(window, 4, 1, round(step, 9))
    derivative = np.convolve(remainder, coeffs, mode="same")
    first, last = max(window // 2, 1), min(lam.size - window // 2, steepest) - 1
    near = np.arange(max(first, top - int(10.0 / step)), min(last, top + int(10.0 / step)) + 1)
    near = near[(derivative[near] >= derivative[near - 1]) & (derivative[near] >= derivative[near + 1])]
    if near.size == 0:
        return None
    centre = int(near[np.argmin(np.abs(near - top))])
    level = derivative[centre] - SHOULDER_FIT_SIGMAS * noise * gain
    reach, least = int(SHOULDER_FIT_NM[1] / step), int(np.ceil(SHOULDER_FIT_NM[0] / step))
    low = centre
    while low > max(centre - reach, first) and (derivative[low - 1] >= level or centre - low < least):
        low -= 1
    high = centre
    while high < min(centre + reach, last) and (derivative[high + 1] >= level or high - centre < least):
        high += 1
    x = lam[low : high + 1] - lam[centre]
    design = np.stack([x**2, x, np.ones_like(x)])
    projection = np.linalg.solve(design @ design.T, design)  # least squares: (XᵀX)⁻¹Xᵀ
    curvature, linear, _ = projection @ derivative[low : high + 1]
    if not (curvature < 0 and x[0] <= -linear / (2.0 * curvature) <= x[-1]):
        return None
    # d(vertex) = (linear/(2c²)) dc − (1/(2c)) d(linear); through the fit and the filter to the spectrum.
    gradient = np.array([linear / (2.0 * curvature**2), -1.0 / (2.0 * curvature), 0.0]) @ projection
    influence = np.convolve(gradient, coeffs[::-1])
    return float(lam[centre] - linear / (2.0 * curvature)), float(noise * np.sqrt(influence @ influence))


def nc_metrics(nc: dict, path_length_cm: float, homogeneous_fwhm_ev: float, warnings: list[str]) -> dict:
    """Exciton, Yu diameter, dispersion from the red half-width, absorbance and Yu concentration."""
    exciton = nc["exciton_nm"]
    lam = nc["lam"]
    exciton = round(exciton, 2)
    diameter = float(yu_diameter_nm(exciton))
    if not in_calibrated_range(diameter):
        low, high = YU_CALIBRATED_DIAMETER_NM
        warnings.append(f"NC diameter {diameter:.2f} nm is outside the Yu 2003 calibration ({low:g}–{high:g} nm)")
    band = float(np.interp(exciton, lam, nc["remainder"]))
    out = {"nc_exciton_nm": exciton, "nc_diameter_nm": diameter, "nc_band_absorbance": band}
    if band > 0:
        out["nc_concentration_um"] = 1e6 * band / (float(yu_extinction_m_inv_cm_inv(diameter)) * path_length_cm)
    out["nc_size_dispersion"] = _dispersion(nc, exciton, diameter, homogeneous_fwhm_ev)
    return out


def _dispersion(nc, exciton, diameter, homogeneous_fwhm_ev) -> float | None:
    """σ_d/⟨d⟩ from the band's red half-width: exciton → red inflection (σ of a Gaussian band).

    Red of the exciton only the first transition absorbs, so the distance to the steepest descent
    there is the band's σ (in nm). The homogeneous width is removed in quadrature and the rest
    mapped onto diameters by the Yu curve's slope. None where the inflection is past the spectrum.
    """
    lam, slope = nc["lam"], nc["slope"]
    red = np.flatnonzero(nc["inner"] & (lam > exciton) & (lam <= exciton + 60.0))
    if red.size < 3:
        return None
    steepest = red[np.argmin(slope[red])]
    if steepest == red[-1]:
        return None
    sigma_nm = float(lam[steepest]) - exciton
    homogeneous_nm = exciton**2 / HC_EV_NM * homogeneous_fwhm_ev / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    inhomogeneous_nm = np.sqrt(max(sigma_nm**2 - homogeneous_nm**2, 0.0))
    slope_nm = float(yu_diameter_nm(exciton + 0.5) - yu_diameter_nm(exciton - 0.5))
    return float(abs(slope_nm) * inhomogeneous_nm / diameter)


#: NC size classes of the population fit, nm: one per 4 nm of first-exciton wavelength from
#: MIN_EXCITON_NM (1.65 nm) to the top of the Yu calibration (8 nm, 653 nm), 61 classes. Uniform in
#: wavelength, not diameter: a small NC's exciton moves ≈ 10 nm per 0.1 nm of diameter, a 6 nm one
#: ≈ 2 nm, so classes uniform in diameter would be too coarse for small NCs and needlessly fine
#: for large ones.
POPULATION_DIAMETERS_NM = yu_diameter_nm(np.arange(MIN_EXCITON_NM, float(yu_wavelength_nm(YU_CALIBRATED_DIAMETER_NM[1])), 4.0))
#: The population fit uses the spectrum red of this, nm: clear of the CdSe-350/380 bands and of the
#: broad higher resonances of the clusters, which the fit does not model.
POPULATION_FIT_FROM_NM = 420.0
#: Weight of the second-difference penalty on the class concentrations (AU per mM): it keeps the
#: non-negative least squares from a comb of isolated classes. Scale-free (the residual and the
#: penalty both scale with the concentrations). Chosen on the twin's spectra (12 conditions × 4
#: noise seeds, both parameter sets): the worst exciton error is 3.5, 3.0, 5.0 and 12 nm for 3,
#: 10, 30 and 100.
POPULATION_SMOOTHING = 10.0
#: The envelope band whose classes are counted is the one whose maximum lies nearest the exciton,
#: within this distance, nm.
POPULATION_REACH_NM = 20.0
#: Classes count towards the NC moments where the first-exciton envelope is above this share of its
#: maximum (0.1 cuts a 12 % dispersion to 10 %; below 0.05 nothing changes on the twin's spectra).
BAND_FRACTION = 0.05


def nc_population(lam, a, exciton_nm, families, msc_fwhm_nm, path_length_cm, homogeneous_hwhm_ev, warnings) -> dict:
    """Number moments of a fitted size population: ``nc_concentration_um``, ``nc_mean_diameter_nm``, ``nc_size_dispersion``.

    The spectrum red of ``POPULATION_FIT_FROM_NM`` is fitted, by non-negative least squares with a
    smoothness penalty (``POPULATION_SMOOTHING``), as a sum of the size classes
    ``POPULATION_DIAMETERS_NM`` (:func:`autolab.materials.nc_class_absorbance` with a homogeneous
    FWHM of 2 × ``homogeneous_hwhm_ev``), the MSC bands of ``families`` in reach and a flat +
    λ⁻⁴ background (:func:`autolab.plugins.uvvis.analyze_population`). The classes counted are those under the envelope
    band whose maximum lies nearest ``exciton_nm`` (within ``POPULATION_REACH_NM``). There is no
    result, and a warning says why, with fewer than 30 points red of ``POPULATION_FIT_FROM_NM``,
    where the fitted classes make no band within reach of the exciton, and where that band holds
    only sizes below the Yu calibration's 1.9 nm.
    """
    window = lam >= POPULATION_FIT_FROM_NM
    if window.sum() < 30:
        warnings.append(f"no NC population fit: it needs ≥ 30 points red of {POPULATION_FIT_FROM_NM:g} nm, got {int(window.sum())}")
        return {}
    fit_lam = lam[window]
    step = float(fit_lam[1] - fit_lam[0])
    classes, first_exciton = _population_basis(float(fit_lam[0]), step, int(window.sum()), path_length_cm, 2.0 * homogeneous_hwhm_ev)
    reach_nm = POPULATION_FIT_FROM_NM - WINDOW_FWHM * msc_fwhm_nm
    bands = [gaussian_band(fit_lam, centre, msc_fwhm_nm) for centre in families.values() if centre >= reach_nm]
    flat = np.ones_like(fit_lam)
    matrix = np.column_stack([classes.T, *bands, flat, -flat, (400.0 / fit_lam) ** 4])
    n = classes.shape[0]
    penalty = _smoothness_penalty(n, matrix.shape[1])
    solution, _ = nnls(np.vstack([matrix, penalty]), np.concatenate([a[window], np.zeros(n - 2)]), maxiter=50 * matrix.shape[1])
    weights = solution[:n]
    envelope = weights @ first_exciton
    peaks, _ = find_peaks(envelope)
    if not peaks.size:
        warnings.append(f"no NC population fit: the fitted size classes make no band maximum red of {POPULATION_FIT_FROM_NM:g} nm "
                        f"to match the exciton at {exciton_nm:.1f} nm")
        return {}
    nearest = peaks[np.argmin(np.abs(_ENVELOPE_NM[peaks] - exciton_nm))]
    if abs(_ENVELOPE_NM[nearest] - exciton_nm) > POPULATION_REACH_NM:
        warnings.append(f"no NC population fit: the fitted band maximum nearest the exciton ({exciton_nm:.1f} nm) lies at "
                        f"{_ENVELOPE_NM[nearest]:.1f} nm, more than {POPULATION_REACH_NM:g} nm away")
        return {}
    low, high = _band_region(envelope, nearest)
    if low == 0:
        warnings.append(
            f"the NC band reaches the fit's blue edge ({POPULATION_FIT_FROM_NM:g} nm): the size moments count small NCs "
            "that the fit cannot tell from the cluster bands; read the concentration and dispersion as upper estimates"
        )
    moments = _population_moments(weights, low, high)
    if not moments:
        warnings.append(f"no NC population fit: the band at {_ENVELOPE_NM[nearest]:.1f} nm holds only sizes below "
                        f"{YU_CALIBRATED_DIAMETER_NM[0]:g} nm, the smallest the Yu calibration covers")
    return moments


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
    a number count (it triples the concentration on some of the twin's spectra).
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
    shape = replace(NC_LINE_SHAPE, homogeneous_fwhm_ev=homogeneous_fwhm_ev)
    grid = first_nm + step_nm * np.arange(points)
    return (
        nc_class_absorbance(POPULATION_DIAMETERS_NM, grid, path_length_cm=path_length_cm, line_shape=shape),
        nc_class_absorbance(POPULATION_DIAMETERS_NM, _ENVELOPE_NM, path_length_cm=path_length_cm, line_shape=shape, first_exciton_only=True),
    )
