"""Built-in UV-Vis analysis: MSC families, the NC first exciton, NC size, dispersion, yield.

The inline analysis (:func:`analyze_spectrum`, hook ``autolab_analyze_uvvis``) is model-free: it
assumes line shapes of neither the twin nor any other forward model, only that cluster (MSC)
bands are narrow and at fixed positions, that NC bands are broad, and the Yu et al. 2003 sizing
and extinction curves (Chem. Mater. 2003, 15, 2854).

1. Input: the pairs are checked and, where that is safe, repaired — sorted, NaN pairs dropped,
   duplicated wavelengths averaged, a saturated end (absorbance above the detector's range)
   trimmed — each repair named in ``warnings``; anything else is one ``ValueError`` naming the
   field, the value and what is allowed (:func:`checked_spectrum`).
2. Keep the spectrum up to 750 nm (``ANALYSED_UP_TO_NM``: CdSe absorbs nothing further red),
   resample onto a uniform grid of independent points (the noise estimate finds their spacing)
   and subtract a flat + λ⁻⁴ scattering baseline fitted to the red tail.
3. Savitzky–Golay (cubic) second derivatives in windows of 9, 15, 25 and 49 nm. A feature is a
   minimum deeper than 5× the derivative's own noise, propagated from the spectrum's noise (the
   residual of a smooth) through the filter coefficients. Its width is told by its depth in the
   15 nm window over that in the 25 nm one: ≥ 1.5 for bands narrower than ≈ 16 nm FWHM (MSCs),
   below for broad ones (an NC ensemble's band is ≥ 20 nm wide).
4. MSC families: a narrow feature of the 9 nm window within ±4 nm of a family's position
   (configurable table) whose fitted band is ≥ 3σ high. Each family's absorbance from a least-
   squares fit, non-negative in the band heights, in a ±15 nm window of the bands reaching into
   it (Gaussians of ``msc_fwhm_nm``; the band's own centre is tried at five places, its family's
   position −3, −1.5, 0, +1.5 and +3 nm (``CENTRE_OFFSETS_NM``), and the one with the least
   misfit kept; the other bands sit at their families' positions) and a local quadratic background.
5. NCs: the fitted MSC bands are subtracted, and the NC band is the longest-wavelength broad
   feature of the remainder (25 or 49 nm window) red of 411 nm and at least 2 band FWHMs red of
   every detected family (closer, the remainder is the misfit of the cluster band's shape) that
   has a red flank: a steepest descent within 40 nm red of it steeper than 6× the derivative's
   noise (a knee of a misfitted baseline has none). The exciton (``nc_exciton_nm``) is the
   field's first excitonic absorption maximum, read off that remainder with a quartic
   Savitzky–Golay first derivative over 37 nm: walking blue from the flank's steepest point, the
   first local maximum of the derivative standing 3σ above its surroundings; at or above zero the
   band has a true maximum, the zero crossing between it and the flank; below zero (or barely
   above, falling through zero within 4 nm) the band is a shoulder on the rising higher
   transitions, and the exciton its flattest point: the vertex of a parabola through the top of
   the derivative, on a 37, 49 or 61 nm window, the narrowest the noise allows (the vertex's
   standard error ≤ 0.7 nm). An exciton among the cluster bands, or on a narrow band at a
   family's position, is not taken (a warning names the band). The diameter is the Yu 2003 value there (a warning outside its 1.9–8 nm
   calibration), the dispersion σ_d/⟨d⟩ the band's red half-width (exciton to red inflection,
   less a nominal homogeneous width in quadrature) through the slope of the Yu curve, the
   concentration Yu's Beer–Lambert estimate from the NC absorbance at the exciton.
6. Yield proxy: absorbance at 350 nm over that of the whole precursor as bulk-like CdSe
   (2.5e3 M⁻¹ cm⁻¹ per unit; MSC resonances make it a proxy, not a yield).

The deferred analysis (:func:`analyze_population`, hook ``autolab_analyze_uvvis_deferred``, run
after a point and never feeding an objective) fits the spectrum red of 420 nm as a population of
NC size classes, as Segets et al. (ACS Nano 2012, 6, 9021) read size distributions off spectra.
It is model-based — the classes are the twin's optics (:mod:`autolab.sim.optics`) — and its
metrics say so in their names (``nc_population_*``).
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import numpy as np
from scipy.optimize import nnls
from scipy.signal import find_peaks, savgol_coeffs

from autolab.analysis import as_numbers, hookimpl, metric_table
from autolab.materials import (
    YU_CALIBRATED_DIAMETER_NM,
    aggregation_number,
    in_calibrated_range,
    yu_diameter_nm,
    yu_extinction_m_inv_cm_inv,
    yu_wavelength_nm,
)

#: MSC families: name → absorption maximum, nm (Palencia et al. 2020, Fig. 4).
DEFAULT_FAMILIES = {"CdSe-350": 350.0, "CdSe-380": 380.0, "CdSe-403": 403.0, "CdSe-437": 437.0, "CdSe-465": 465.0}
#: Continuum absorption per CdSe unit at 350 nm, M⁻¹ cm⁻¹ (bulk optical constants).
CONTINUUM_PER_UNIT_350NM = 2.5e3
HC_EV_NM = 1239.84198
#: Bluest broad feature taken for a regular NC exciton, nm: the CdSe-403 band + 8 nm (Yu 2003: d ≈ 1.65 nm).
MIN_EXCITON_NM = 411.0
#: An NC band is looked for red of every detected cluster band by this margin, in band FWHMs
#: (20 nm for 10 nm bands): blue of a band lie its own higher resonances and, after the fitted band
#: is subtracted, the misfit of its shape on both sides (asymmetric, Lorentzian-tailed bands of
#: the independent set left broad "features" 6–13 nm blue and up to 17 nm red of them).
CLUSTER_MARGIN_FWHM = 2.0
#: Fewest (wavelength, absorbance) pairs analysed, after repairs, and the narrowest range, nm.
MIN_POINTS = 20
MIN_SPAN_NM = 30.0
#: Absorbance above which a spectrometer reads no light, AU: the default detector range.
MAX_ABSORBANCE_AU = 4.0
#: The spectrum is analysed up to this wavelength, nm; points red of it are not used. CdSe absorbs
#: nothing red of its bulk gap (713 nm), and the red flank of the largest calibrated NC's exciton
#: (653 nm, 8 nm) ends by ≈ 710 nm. The flat + λ⁻⁴ baseline is fitted to the reddest 10 % of what
#: is analysed, and the further red that lies, the noisier its extrapolation to the visible: the
#: independent spectra (tests/independent_spectra.py, 23 cases × 4 seeds) regenerated up to 800 nm
#: misread 3 excitons when read to 800 nm, none when read to 750; extended with their own baseline
#: and noise to 2500 nm and read whole, 29 of 69 lost or misread theirs.
ANALYSED_UP_TO_NM = 750.0
#: Longest wavelength accepted, nm: UV-Vis-NIR spectrometers end near 3300 nm. Beyond it a value is
#: a corrupted row or another unit (Å, cm⁻¹), and the uniform grid the analysis resamples onto
#: would grow without bound (one row at 7e6 nm made 3.5 million points).
MAX_WAVELENGTH_NM = 5000.0
#: Savitzky–Golay windows, nm: MSC detection (9; a 15 nm one also answered to the twin's broad
#: cluster resonances, a false CdSe-380 at 384 nm), width test (15 over 25), NC detection (25, 49).
MSC_WINDOW_NM = 9.0
NC_WINDOWS_NM = (25.0, 49.0)
#: Depth in the 15 nm window over that in the 25 nm one at or above which a feature is narrow: a
#: Gaussian of 8, 10, 13, 16, 20, 30 nm FWHM gives 2.8, 2.25, 1.75, 1.49, 1.31, 1.14.
NARROW_RATIO = 1.5
#: Quartic Savitzky–Golay first derivative that reads the exciton, nm. On the independent set
#: (tests/independent_spectra.py, 16 NC cases × 6 seeds) 31–49 nm windows read every exciton within
#: 3 nm, 25 nm missed 3; on the twin's noisy spectra 37 nm was the best (worst 4.0 nm, against
#: 5.8 for 31 and 5.2 for 43). A quadratic one biased broad bands by up to 5 nm.
EXCITON_WINDOW_NM = 37.0
#: The exciton is looked for within this distance blue of the red flank's steepest point, nm.
EXCITON_REACH_NM = 70.0
#: The red flank of an NC band: its steepest descent, looked for from 10 nm blue to 40 nm red of the
#: broad feature, must exceed ``RED_FLANK_SIGMAS`` times the derivative's noise (:func:`_nc_band`).
RED_FLANK_NM = (10.0, 40.0)
RED_FLANK_SIGMAS = 6.0
#: A shoulder's flattest point stands this many times the derivative's noise above its surroundings.
SHOULDER_SIGMAS = 3.0
#: A derivative top less than this many times its noise above zero that falls through zero within
#: ``FLAT_TOP_REACH_NM`` red of it may be a shoulder's flat top lifted by the noise, and is read as
#: a shoulder (on the independent shoulder cases, 1 of 192 readings had read such a top's zero
#: crossing, 7.4 nm off). A band's true maximum falls through zero further red (the crowded
#: independent cases at 0.003 AU: 25 nm) or stands higher.
FLAT_TOP_SIGMAS = 3.0
FLAT_TOP_REACH_NM = 4.0
#: Homogeneous FWHM of one NC size class, eV, removed from the band's width for the dispersion
#: (room-temperature single CdSe NCs: ≈ 50–70 meV).
HOMOGENEOUS_FWHM_EV = 0.06


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
    homogeneous_fwhm_ev: float = HOMOGENEOUS_FWHM_EV,
    max_absorbance_au: float = MAX_ABSORBANCE_AU,
) -> dict:
    """Analyse one absorbance spectrum, model-free; see the module docstring for the method.

    Returns a flat dict: ``msc_families`` (list), ``msc_absorbance_<family>`` (AU), ``nc_exciton_nm``
    (the first excitonic maximum), ``nc_diameter_nm`` (Yu 2003 at the exciton),
    ``nc_size_dispersion`` (σ_d/⟨d⟩ from the band's red half-width), ``nc_band_absorbance`` (AU, NC
    absorbance at the exciton), ``nc_concentration_um`` (Yu 2003 extinction), ``yield_proxy``,
    ``noise_au``, ``warnings`` (list: repairs of the input and what could not be done as usual).
    NC values are None without an NC band. Raises ``ValueError`` for input it cannot repair.
    """
    families = dict(DEFAULT_FAMILIES if families is None else families)
    prepared = _prepare(wavelength_nm, absorbance, families, msc_fwhm_nm, max_absorbance_au)
    lam, a, warnings = prepared["lam"], prepared["a"], prepared["warnings"]
    result = {
        "msc_families": prepared["detected"],
        **{f"msc_absorbance_{name}": prepared["msc_heights"].get(name, 0.0) for name in families},
        "nc_exciton_nm": None,
        "nc_diameter_nm": None,
        "nc_size_dispersion": None,
        "nc_band_absorbance": None,
        "nc_concentration_um": None,
        "noise_au": prepared["noise"],
    }
    if prepared["nc"] is not None:
        result.update(_nc_metrics(prepared["nc"], path_length_cm, homogeneous_fwhm_ev, warnings))
    if lam[0] <= 350.0 <= lam[-1]:
        a350 = float(np.interp(350.0, lam, a))
        result["yield_proxy"] = a350 / (CONTINUUM_PER_UNIT_350NM * path_length_cm * precursor_mm * 1e-3)
    else:
        result["yield_proxy"] = None
    result["warnings"] = warnings
    return result


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


def _prepare(wavelength_nm, absorbance, families, msc_fwhm_nm, max_absorbance_au) -> dict:
    """Steps 1–5 of the module docstring, shared by the inline and the deferred analysis."""
    raw_lam, raw_a, warnings = checked_spectrum(wavelength_nm, absorbance, max_absorbance_au=max_absorbance_au)
    raw_lam, raw_a = _analysed_range(raw_lam, raw_a)
    noise, independent_step_nm = _noise(raw_lam, raw_a)
    lam, a = _uniform(raw_lam, raw_a, independent_step_nm)
    step = float(lam[1] - lam[0])
    a = a - _baseline(lam, a)

    d2 = {w: _second_derivative(a, step, w, noise) for w in (MSC_WINDOW_NM, 15.0, 25.0)}
    narrow = _minima(lam, *d2[MSC_WINDOW_NM])
    found = {
        name: position
        for name, position in families.items()
        if lam[0] + 3 <= position <= lam[-1] - 3 and any(abs(f - position) <= 4.0 and _is_narrow(lam, d2, f) for f in narrow)
    }
    heights, centres = _band_fit(lam, a, found, msc_fwhm_nm)
    # A curvature without absorbance is no band (a kink such as a continuum's onset): ≥ 3σ high.
    detected = [name for name in found if heights.get(name, 0.0) >= 3.0 * noise]
    heights = {name: heights[name] for name in detected}
    remainder = a - sum((heights[n] * _gaussian(lam, centres[n], msc_fwhm_nm) for n in detected), np.zeros_like(a))
    bluest = max([MIN_EXCITON_NM, *(centres[n] + CLUSTER_MARGIN_FWHM * msc_fwhm_nm for n in detected)])
    features = set()
    for w in NC_WINDOWS_NM:
        features.update(
            f
            for f in _minima(lam, *_second_derivative(remainder, step, w, noise))
            if f > bluest and (all(abs(f - p) > 4.0 for p in families.values()) or not _is_narrow(lam, d2, f))
        )

    def on_a_cluster(x):
        """An exciton within 4 nm of a family's position where a narrow band stands is that family's
        band, too weak for the 9 nm filter (the twin at 280 °C / 4.5 s: CdSe-465 read as a 467 nm
        "exciton", its band ≥ 10σ deep in the 15 nm window). The band: the deepest minimum of the
        15 nm second derivative within 4 nm of the position, ≥ 5σ deep (as every feature) and narrow
        (:func:`_is_narrow`) — judged there, not at the exciton: a shoulder's flattest point is an
        inflection, where both second derivatives are ≈ 0 and their ratio is noise (it turned 8 of
        12 readings of a 2.0 nm NC shoulder at 464 nm into none; a 3σ depth still turned 1 of 24)."""
        d15, sigma15, _ = d2[15.0]
        for position in families.values():
            near = np.flatnonzero(np.abs(lam - position) <= 4.0)
            if abs(x - position) > 4.0 or near.size == 0:
                continue
            deepest = near[np.argmin(d15[near])]
            if d15[deepest] < -5.0 * sigma15 and _is_narrow(lam, d2, float(lam[deepest])):
                return True
        return False

    nc = _nc_band(lam, remainder, step, noise, sorted(features, reverse=True), bluest, on_a_cluster, warnings) if features else None
    return {"lam": lam, "a": a, "noise": noise, "detected": detected, "msc_heights": heights, "nc": nc, "warnings": warnings}


def _analysed_range(lam: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def _uniform(lam: np.ndarray, a: np.ndarray, step_nm: float) -> tuple[np.ndarray, np.ndarray]:
    """Resample onto a uniform grid of ``step_nm`` (clipped to 0.25–2 nm)."""
    step = float(np.clip(step_nm, 0.25, 2.0))
    grid = np.arange(lam[0], lam[-1] + 1e-9, step)
    return grid, np.interp(grid, lam, a)


def _baseline(lam: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Flat + λ⁻⁴ scattering fitted (non-negative scatter) to the reddest 10 % of the spectrum."""
    tail = lam >= lam[-1] - 0.1 * (lam[-1] - lam[0])
    basis = np.column_stack([np.ones(tail.sum()), (400.0 / lam[tail]) ** 4])
    coefficients, *_ = np.linalg.lstsq(basis, a[tail], rcond=None)
    if coefficients[1] < 0:  # scatter cannot be negative: flat only
        coefficients = np.array([a[tail].mean(), 0.0])
    return coefficients[0] + coefficients[1] * (400.0 / lam) ** 4


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
    rho = h[s:] / h[:-s]
    second = a[2 * s :] - (1 + rho) * a[s:-s] + rho * a[: -2 * s]
    scale = np.sqrt(1 + (1 + rho) ** 2 + rho**2)
    return float(1.4826 * np.median(np.abs(second / scale)))


@lru_cache(maxsize=64)
def _savgol(window: int, polyorder: int, deriv: int, step: float) -> tuple[np.ndarray, float]:
    """Savitzky–Golay coefficients (for ``np.convolve``) and their noise gain √Σc² (read-only)."""
    coeffs = savgol_coeffs(window, polyorder, deriv=deriv, delta=step, use="conv")
    coeffs.flags.writeable = False
    return coeffs, float(np.sqrt((coeffs**2).sum()))


def _second_derivative(a, step, window_nm, noise) -> tuple[np.ndarray, float, int]:
    """Cubic Savitzky–Golay second derivative, its noise σ, and the half-window (edges are wrong)."""
    window = _odd_window(window_nm, step)
    if window >= a.size:  # a spectrum shorter than the window has no inner point to judge
        return np.zeros_like(a), np.inf, a.size
    coeffs, gain = _savgol(window, 3, 2, round(float(step), 9))
    return np.convolve(a, coeffs, mode="same"), noise * gain, window // 2


def _minima(lam, d2, sigma, edge) -> list[float]:
    """Wavelengths of second-derivative minima deeper than 5× the derivative's noise."""
    threshold = max(5.0 * sigma, 1e-7)
    peaks, _ = find_peaks(-d2, height=threshold, distance=max(1, int(3.0 / (lam[1] - lam[0]))))
    return [float(lam[p]) for p in peaks if edge <= p < len(lam) - edge]


def _is_narrow(lam, d2, wavelength_nm) -> bool:
    """Whether the feature at ``wavelength_nm`` is narrow (an MSC band): its 15 over 25 nm depth ≥ ``NARROW_RATIO``."""
    i = int(np.clip(np.searchsorted(lam, wavelength_nm), 0, lam.size - 1))
    narrow, wide = d2[15.0][0][i], d2[25.0][0][i]
    return bool(wide >= 0 or narrow <= NARROW_RATIO * wide)


def _gaussian(x, centre, fwhm):
    """A unit-height Gaussian band (an MSC band, 10 nm FWHM by default)."""
    return np.exp(-4 * np.log(2) * ((x - centre) / fwhm) ** 2)


#: Half-width of each MSC band's fitting window, in band FWHMs (± 15 nm for 10 nm bands): wide
#: enough for a quadratic background, narrow enough that an NC continuum onset or a shoulder
#: inside the window does not bend it (tested against the twin's band absorbance).
WINDOW_FWHM = 1.5
#: Offsets of an MSC band's centre from its family's position tried in the fit, nm.
CENTRE_OFFSETS_NM = (-3.0, -1.5, 0.0, 1.5, 3.0)


def _band_fit(lam, a, positions, msc_fwhm_nm) -> tuple[dict[str, float], dict[str, float]]:
    """MSC band heights (AU) and centres (nm), one window per detected band.

    Each band (a Gaussian of ``msc_fwhm_nm``) is fitted in its own window (± ``WINDOW_FWHM``
    FWHM about the family's position) with the other bands that reach into it and a local
    quadratic background, by least squares non-negative in the band heights: a narrow band on the
    NC's sloping shoulder and continuum is then separated from them, which one global fit with a
    cubic background over 300–700 nm cannot do. The band's centre is the best of its position +
    ``CENTRE_OFFSETS_NM``: a band 2 nm off (Palencia's 465/467 nm) fitted at the nominal position
    lost a quarter of its height.
    """
    heights, centres = {}, {}
    half = WINDOW_FWHM * msc_fwhm_nm
    for name, position in positions.items():
        window = np.abs(lam - position) <= half
        if window.sum() < 8:
            continue
        x = lam[window]
        others = [_gaussian(x, p, msc_fwhm_nm) for n, p in positions.items() if n != name and abs(p - position) <= 4 * msc_fwhm_nm]
        u = (x - position) / half
        # The quadratic background is projected out, so that non-negative least squares solves for
        # the band heights alone: the optimum of the fit bounded in the heights only.
        background, _ = np.linalg.qr(np.column_stack([np.ones_like(u), u, u**2]))
        y = a[window] - background @ (background.T @ a[window])
        best = None
        for offset in CENTRE_OFFSETS_NM:
            columns = np.column_stack([_gaussian(x, position + offset, msc_fwhm_nm), *others])
            columns -= background @ (background.T @ columns)
            solution, misfit = nnls(columns, y)
            if best is None or misfit < best[0]:
                best = (misfit, position + offset, float(solution[0]))
        _, centres[name], heights[name] = best
    return heights, centres


def _nc_band(lam, remainder, step, noise, features, bluest_nm, on_a_cluster, warnings) -> dict | None:
    """The NC band: the longest-wavelength broad feature with a red flank and an exciton, or None.

    For each feature, red to blue: its red flank is the steepest descent of the remainder within
    ``RED_FLANK_NM`` (10 nm blue to 40 nm red of the feature), and it must be steeper than
    ``RED_FLANK_SIGMAS`` times the derivative's noise, as the red side of every absorption band
    is (a knee of a misfitted baseline or a cluster band's misfit has a flat red side: on the
    independent set such features reached 4.2σ, the weakest NC band 9.8σ). The exciton is then read
    blue of the flank (:func:`_read_exciton`) and must lie red of ``bluest_nm`` (clear of the
    cluster bands) on positive absorbance, and not on a narrow band at a family's position. When
    no band is taken, ``warnings`` names a band whose maximum is unresolved from the clusters, or
    else a feature whose red flank runs past the spectrum's end.
    """
    window = _odd_window(EXCITON_WINDOW_NM, step)
    if window >= lam.size:
        return None
    coeffs, gain = _savgol(window, 4, 1, round(float(step), 9))
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
#: read 12.5 nm off where the three-point maximum read 3.3 nm off). A shoulder's derivative has a
#: flat top: its three-point maximum on the 37 nm derivative wandered with the noise and put 40 of
#: 96 independent shoulder readings (tests/independent_spectra.py, ``SHOULDER_CASES``, 12 seeds)
#: > 3 nm off, up to 8.5 nm. The parabola on the 37 nm derivative left 11 of 192 (24 seeds) off,
#: on a 61 nm one alone 1 — but that window flattens the twin's weak, narrow shoulder at 280 °C /
#: 4.5 s away (3 nm off noise-free); widening only where the noise asks for it leaves 0 of 192 off
#: and the twin's noise-free shoulders where they were (+0.8 nm at 4.5 s, −2.2 nm at 14 s; its
#: quiet 10 s spectra at 4.5 s read +0.7…+2.2 nm, against −0.3…+1.8 with the three-point maximum).
#: A fixed part of ±15 or ±25 nm did worse than the part chosen by the noise (the stronger the
#: shoulder, the narrower the part and the smaller the bias of an asymmetric top), a part cut
#: symmetric worse (4 of 192), a cubic worse than the parabola (35 of 192).
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
    window = _odd_window(window_nm, step)
    if window >= lam.size:
        return None
    coeffs, gain = _savgol(window, 4, 1, round(step, 9))
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


def _nc_metrics(nc: dict, path_length_cm: float, homogeneous_fwhm_ev: float, warnings: list[str]) -> dict:
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


def analyze_population(
    wavelength_nm,
    absorbance,
    *,
    families: dict[str, float] | None = None,
    path_length_cm: float = 0.05,
    msc_fwhm_nm: float = 10.0,
    homogeneous_hwhm_ev: float = 0.03,
    max_absorbance_au: float = MAX_ABSORBANCE_AU,
) -> dict:
    """Model-based NC size population (the deferred analysis): ``nc_population_*`` metrics.

    The spectrum red of ``POPULATION_FIT_FROM_NM`` is fitted, by non-negative least squares with a
    smoothness penalty, as a sum of monodisperse size classes — each placed and scaled by Yu et al.
    2003 with the homogeneous width, second transition and continuum of the twin's optics
    (:func:`autolab.sim.optics.nc_class_absorbance`) — plus the MSC bands in reach and a flat +
    λ⁻⁴ background. The classes under the first-exciton envelope's band nearest the model-free
    exciton (:func:`analyze_spectrum`) give ``nc_population_concentration_um``,
    ``nc_population_mean_diameter_nm`` and ``nc_population_size_dispersion`` (σ_d/⟨d⟩), number
    moments from 1.9 nm up. All None without an NC band; ``nc_population_warnings`` (its own name:
    ``autolab analyze`` merges these metrics with the inline ones) lists the input's repairs and
    what the fit could not do.
    """
    families = dict(DEFAULT_FAMILIES if families is None else families)
    prepared = _prepare(wavelength_nm, absorbance, families, msc_fwhm_nm, max_absorbance_au)
    out = {"nc_population_concentration_um": None, "nc_population_mean_diameter_nm": None, "nc_population_size_dispersion": None}
    warnings = prepared["warnings"]
    if prepared["nc"] is not None:
        exciton = prepared["nc"]["exciton_nm"]
        moments = _nc_population(prepared["lam"], prepared["a"], exciton, families, msc_fwhm_nm, path_length_cm, homogeneous_hwhm_ev, warnings)
        out.update({f"nc_population_{key[3:]}": value for key, value in moments.items()})
    out["nc_population_warnings"] = warnings
    return out


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
#: maximum (0.1 cut a 12 % dispersion to 10 %; below 0.05 nothing changed on the twin's spectra).
BAND_FRACTION = 0.05


def _nc_population(lam, a, exciton_nm, families, msc_fwhm_nm, path_length_cm, homogeneous_hwhm_ev, warnings) -> dict:
    """Number moments of a fitted size population: ``nc_concentration_um``, ``nc_mean_diameter_nm``, ``nc_size_dispersion``.

    Fitted as :func:`analyze_population` says; the classes counted are those under the envelope
    band whose maximum lies nearest ``exciton_nm`` (within ``POPULATION_REACH_NM``). With fewer
    than 30 points red of ``POPULATION_FIT_FROM_NM`` there is no fit and a warning says why.
    """
    window = lam >= POPULATION_FIT_FROM_NM
    if window.sum() < 30:
        warnings.append(f"no NC population fit: it needs ≥ 30 points red of {POPULATION_FIT_FROM_NM:g} nm, got {int(window.sum())}")
        return {}
    fit_lam = lam[window]
    step = float(fit_lam[1] - fit_lam[0])
    classes, first_exciton = _population_basis(float(fit_lam[0]), step, int(window.sum()), path_length_cm, 2.0 * homogeneous_hwhm_ev)
    bands = [_gaussian(fit_lam, centre, msc_fwhm_nm) for centre in families.values() if centre >= POPULATION_FIT_FROM_NM - WINDOW_FWHM * msc_fwhm_nm]
    flat = np.ones_like(fit_lam)
    matrix = np.column_stack([classes.T, *bands, flat, -flat, (400.0 / fit_lam) ** 4])
    n = classes.shape[0]
    penalty = _smoothness_penalty(n, matrix.shape[1])
    solution, _ = nnls(np.vstack([matrix, penalty]), np.concatenate([a[window], np.zeros(n - 2)]), maxiter=50 * matrix.shape[1])
    weights = solution[:n]
    envelope = weights @ first_exciton
    peaks, _ = find_peaks(envelope)
    if not peaks.size:
        return {}
    nearest = peaks[np.argmin(np.abs(_ENVELOPE_NM[peaks] - exciton_nm))]
    if abs(_ENVELOPE_NM[nearest] - exciton_nm) > POPULATION_REACH_NM:
        return {}
    low, high = _band_region(envelope, nearest)
    if low == 0:
        warnings.append(
            f"the NC band reaches the fit's blue edge ({POPULATION_FIT_FROM_NM:g} nm): the size moments count small NCs "
            "that the fit cannot tell from the cluster bands; read the concentration and dispersion as upper estimates"
        )
    return _population_moments(weights, low, high)


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
    from autolab.materials import NC_LINE_SHAPE, nc_class_absorbance

    shape = replace(NC_LINE_SHAPE, homogeneous_fwhm_ev=homogeneous_fwhm_ev)
    grid = first_nm + step_nm * np.arange(points)
    return (
        nc_class_absorbance(POPULATION_DIAMETERS_NM, grid, path_length_cm=path_length_cm, line_shape=shape),
        nc_class_absorbance(POPULATION_DIAMETERS_NM, _ENVELOPE_NM, path_length_cm=path_length_cm, line_shape=shape, first_exciton_only=True),
    )


#: What :func:`autolab_analyze_uvvis` returns (``msc_absorbance_<family>`` for each family).
METRICS = {
    "msc_families": ("", "MSC families resolved in the spectrum (list of names)"),
    **{f"msc_absorbance_{name}": ("AU", f"absorbance of the {name} band") for name in DEFAULT_FAMILIES},
    "nc_exciton_nm": ("nm", "NC first excitonic absorption maximum (or shoulder), read model-free"),
    "nc_diameter_nm": ("nm", "NC diameter at the exciton (Yu et al. 2003 sizing curve)"),
    "nc_size_dispersion": ("", "NC size dispersion σ_d/⟨d⟩ from the exciton band's red half-width (Yu 2003 slope)"),
    "nc_band_absorbance": ("AU", "NC absorbance at the exciton (clusters and scattering removed)"),
    "nc_concentration_um": ("µM", "NC concentration from the exciton absorbance and the Yu 2003 extinction coefficient"),
    "noise_au": ("AU", "noise of the spectrum"),
    "yield_proxy": ("", "absorbance at 350 nm over that of the whole precursor as bulk-like CdSe"),
    "warnings": ("", "repairs of the input and what the analysis could not do as usual (list of sentences)"),
}
#: What :func:`autolab_analyze_uvvis_deferred` returns (model-based; stored later, never an objective).
DEFERRED_METRICS = {
    "nc_population_concentration_um": ("µM", "NC number concentration of the fitted size population (model-based, deferred)"),
    "nc_population_mean_diameter_nm": ("nm", "number-mean NC diameter of the fitted size population (model-based, deferred)"),
    "nc_population_size_dispersion": ("", "σ_d/⟨d⟩ of the fitted size population (model-based, deferred)"),
    "nc_population_warnings": ("", "repairs of the input and what the population fit could not do (list of sentences, deferred)"),
}


@hookimpl
def autolab_metrics():
    return metric_table({**METRICS, **DEFERRED_METRICS})


@hookimpl
def autolab_analyze_uvvis(wavelength_nm, absorbance, metadata):
    return analyze_spectrum(
        wavelength_nm,
        absorbance,
        path_length_cm=float(metadata.get("path_length_cm", 0.05)),
        precursor_mm=float(metadata.get("precursor_mm", 10.0)),
    )


@hookimpl
def autolab_analyze_uvvis_deferred(wavelength_nm, absorbance, metadata):
    return analyze_population(wavelength_nm, absorbance, path_length_cm=float(metadata.get("path_length_cm", 0.05)))
