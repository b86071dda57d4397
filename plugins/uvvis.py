"""Built-in UV-Vis analysis: MSC families, the NC first exciton, NC size, dispersion, yield.

The inline analysis (:func:`analyze_spectrum`, hook ``autolab_analyze_uvvis``) is model-free: it
assumes line shapes of neither the twin nor any other forward model, only that cluster (MSC)
bands are narrow and at fixed positions, that NC bands are broad, and the Yu et al. 2003 sizing
and extinction curves (Chem. Mater. 2003, 15, 2854; :mod:`autolab.materials`). The steps live in
three modules: spectrum conditioning (:mod:`autolab.plugins.uvvis_spectrum`, steps 1–3), MSC bands
(:mod:`autolab.plugins.uvvis_clusters`, step 4) and the NC band (:mod:`autolab.plugins.uvvis_nanocrystals`,
step 5 and the population fit); this module runs them and is the plugin.

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
   (configurable table, :data:`DEFAULT_FAMILIES`) whose fitted band is ≥ 3σ high. Each family's
   absorbance from a least-squares fit, non-negative in the band heights, in a ±15 nm window of
   the bands reaching into it (Gaussians of ``msc_fwhm_nm``; the band's own centre is tried at
   five places, its family's position −3, −1.5, 0, +1.5 and +3 nm (``CENTRE_OFFSETS_NM``), and
   the one with the least misfit kept; the other bands sit at their families' positions) and a
   local quadratic background.
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
   family's position, is not taken (a warning names the band). The diameter is the Yu 2003 value
   there (a warning outside its 1.9–8 nm calibration), the dispersion σ_d/⟨d⟩ the band's red
   half-width (exciton to red inflection, less a nominal homogeneous width in quadrature) through
   the slope of the Yu curve, the concentration Yu's Beer–Lambert estimate from the NC absorbance
   at the exciton.
6. Yield proxy: absorbance at 350 nm over that of the whole precursor as bulk-like CdSe
   (:data:`autolab.materials.CDSE_CONTINUUM_PER_UNIT_350NM` per unit; MSC resonances make it a
   proxy, not a yield).

The deferred analysis (:func:`analyze_population`, hook ``autolab_analyze_uvvis_deferred``, run
after a point and never feeding an objective) fits the spectrum red of 420 nm as a population of
NC size classes, as Segets et al. (ACS Nano 2012, 6, 9021) read size distributions off spectra.
It is model-based — the classes are CdSe's NC absorbance model
(:func:`autolab.materials.nc_class_absorbance`) — and its metrics say so in their names
(``nc_population_*``).
"""

from __future__ import annotations

import numpy as np

from autolab.analysis import hookimpl, metric_table
from autolab.materials import CDSE_CONTINUUM_PER_UNIT_350NM, MSC_FWHM_NM, NC_HOMOGENEOUS_FWHM_EV

from .uvvis_clusters import DEFAULT_FAMILIES, cluster_bands, cluster_derivatives, fit_clusters, msc_sizes
from .uvvis_nanocrystals import HOMOGENEOUS_FWHM_EV, find_nc_band, nc_metrics, nc_population
from .uvvis_spectrum import MAX_ABSORBANCE_AU, checked_spectrum, condition_spectrum

__all__ = [
    "DEFAULT_FAMILIES",
    "DEFAULT_PATH_LENGTH_CM",
    "DEFAULT_PRECURSOR_MM",
    "DEFERRED_METRICS",
    "METRICS",
    "analyze_population",
    "analyze_spectrum",
    "autolab_analyze_uvvis",
    "autolab_analyze_uvvis_deferred",
    "autolab_metrics",
    "checked_spectrum",
    "msc_sizes",
]

#: Optical path length assumed when the run's metadata gives none (``path_length_cm``), cm.
DEFAULT_PATH_LENGTH_CM = 0.05
#: Precursor concentration (CdSe units, mM) the yield proxy divides by when the metadata gives none.
DEFAULT_PRECURSOR_MM = 10.0


def analyze_spectrum(
    wavelength_nm,
    absorbance,
    *,
    families: dict[str, float] | None = None,
    path_length_cm: float = DEFAULT_PATH_LENGTH_CM,
    precursor_mm: float = DEFAULT_PRECURSOR_MM,
    msc_fwhm_nm: float = MSC_FWHM_NM,
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
        result.update(nc_metrics(prepared["nc"], path_length_cm, homogeneous_fwhm_ev, warnings))
    result["yield_proxy"] = None
    if lam[0] <= 350.0 <= lam[-1]:
        a350 = float(np.interp(350.0, lam, a))
        full = CDSE_CONTINUUM_PER_UNIT_350NM * path_length_cm * precursor_mm * 1e-3  # every precursor unit as CdSe
        # Within the noise or 2 % of a full yield of zero, a value (near 0: nothing formed); beyond, a baseline misfit.
        if a350 >= -max(3.0 * prepared["noise"], 0.02 * full):
            result["yield_proxy"] = a350 / full
        else:  # a negative yield would reach a campaign's "yield" objective as a value
            warnings.append(f"absorbance at 350 nm lies {-a350:.3g} AU below the scattering baseline fitted on the red end: the flat "
                            "+ λ⁻⁴ baseline does not describe this spectrum's (a sloping baseline?), so no yield proxy")
    result["warnings"] = warnings
    return result


def _prepare(wavelength_nm, absorbance, families, msc_fwhm_nm, max_absorbance_au) -> dict:
    """Steps 1–5 of the module docstring, shared by the inline and the deferred analysis."""
    lam, a, noise, warnings = condition_spectrum(wavelength_nm, absorbance, max_absorbance_au=max_absorbance_au)
    d2 = cluster_derivatives(a, float(lam[1] - lam[0]), noise)
    detected, heights, centres = fit_clusters(lam, a, d2, noise, families, msc_fwhm_nm)
    remainder = a - cluster_bands(lam, heights, centres, msc_fwhm_nm)
    nc = find_nc_band(lam, remainder, d2, noise, families, [centres[name] for name in detected], msc_fwhm_nm, warnings)
    return {"lam": lam, "a": a, "noise": noise, "detected": detected, "msc_heights": heights, "nc": nc, "warnings": warnings}


def analyze_population(
    wavelength_nm,
    absorbance,
    *,
    families: dict[str, float] | None = None,
    path_length_cm: float = DEFAULT_PATH_LENGTH_CM,
    msc_fwhm_nm: float = MSC_FWHM_NM,
    homogeneous_hwhm_ev: float = NC_HOMOGENEOUS_FWHM_EV / 2.0,
    max_absorbance_au: float = MAX_ABSORBANCE_AU,
) -> dict:
    """Model-based NC size population (the deferred analysis): ``nc_population_*`` metrics.

    The spectrum red of ``POPULATION_FIT_FROM_NM`` is fitted, by non-negative least squares with a
    smoothness penalty, as a sum of monodisperse size classes — each placed and scaled by Yu et al.
    2003 with the homogeneous width, second transition and continuum of CdSe's NC absorbance model
    (:func:`autolab.materials.nc_class_absorbance`) — plus the MSC bands in reach and a flat +
    λ⁻⁴ background (:func:`autolab.plugins.uvvis_nanocrystals.nc_population`). The classes under
    the first-exciton envelope's band nearest the model-free exciton (:func:`analyze_spectrum`)
    give ``nc_population_concentration_um``, ``nc_population_mean_diameter_nm`` and
    ``nc_population_size_dispersion`` (σ_d/⟨d⟩), number moments from 1.9 nm up. All None without
    an NC band; ``nc_population_warnings`` (its own name: ``autolab analyze`` merges these metrics
    with the inline ones) lists the input's repairs and what the fit could not do.
    """
    families = dict(DEFAULT_FAMILIES if families is None else families)
    prepared = _prepare(wavelength_nm, absorbance, families, msc_fwhm_nm, max_absorbance_au)
    out = {"nc_population_concentration_um": None, "nc_population_mean_diameter_nm": None, "nc_population_size_dispersion": None}
    warnings = prepared["warnings"]
    if prepared["nc"] is not None:
        exciton = prepared["nc"]["exciton_nm"]
        moments = nc_population(prepared["lam"], prepared["a"], exciton, families, msc_fwhm_nm, path_length_cm, homogeneous_hwhm_ev, warnings)
        out.update({f"nc_population_{key[3:]}": value for key, value in moments.items()})
    out["nc_population_warnings"] = warnings
    return out


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
        path_length_cm=float(metadata.get("path_length_cm", DEFAULT_PATH_LENGTH_CM)),
        precursor_mm=float(metadata.get("precursor_mm", DEFAULT_PRECURSOR_MM)),
    )


@hookimpl
def autolab_analyze_uvvis_deferred(wavelength_nm, absorbance, metadata):
    return analyze_population(wavelength_nm, absorbance, path_length_cm=float(metadata.get("path_length_cm", DEFAULT_PATH_LENGTH_CM)))
