"""Quantities read off a simulated state the way an experimenter reads them off a measurement.

Used by the twin's ground truth, by the physics tests against the seed papers and by the
calibration script (``docs/calibrate_twin.py``).
"""

from __future__ import annotations

import numpy as np

from autolab.materials import MSC_FAMILIES, MSC_SAXS_DIAMETER_NM, diameter_for_units, yu_extinction_m_inv_cm_inv

from .optics import DEFAULT_OPTICS, absorbance, nc_absorbance
from .state import KineticState

#: Smallest diameter SAXS resolves, nm (Palencia 2020).
SAXS_RESOLUTION_DIAMETER_NM = 1.6
#: A band counts as "present" above this absorbance (20× the spectrometer noise), AU …
PRESENT_MIN_AU = 0.02
#: … and above this share of the total absorbance at its own wavelength.
PRESENT_MIN_SHARE = 0.08

_FINE_NM = np.arange(380.0, 720.0, 0.5)


def band_absorbance(state: KineticState, family: str, path_length_cm: float = DEFAULT_OPTICS.path_length_cm) -> float:
    """Peak absorbance (AU) of one MSC family's first band."""
    units = dict((name, n) for name, _, n in MSC_FAMILIES)[family]
    epsilon = float(yu_extinction_m_inv_cm_inv(diameter_for_units(units)))
    return state.msc_mm[family] * 1e-3 * epsilon * path_length_cm


def msc_present(state: KineticState, family: str) -> bool:
    """True if the family's band stands out: ≥ 0.02 AU and ≥ 8 % of the absorbance there."""
    peak_nm = dict((name, nm) for name, nm, _ in MSC_FAMILIES)[family]
    band = band_absorbance(state, family)
    total = float(absorbance(state, np.array([peak_nm]))[0])
    return band >= PRESENT_MIN_AU and band >= PRESENT_MIN_SHARE * total


def msc_families_present(state: KineticState) -> list[str]:
    """Names of the MSC families whose bands stand out (see :func:`msc_present`)."""
    return [name for name, _, _ in MSC_FAMILIES if msc_present(state, name)]


def nc_exciton_nm(state: KineticState, min_fraction: float = 0.02) -> float | None:
    """Wavelength (nm) of the NC ensemble's first-exciton maximum, or None without NCs.

    NCs count when they hold at least ``min_fraction`` of the CdSe; the maximum is that of the
    sum of the classes' first-exciton bands, so it sits slightly red of λ(mean D).
    """
    if state.units_in_nc_mm <= 0.0 or state.units_in_nc_mm < min_fraction * state.precursor0_mm:
        return None  # pure solvent has no precursor, and no NCs either
    envelope = nc_absorbance(state, _FINE_NM, first_exciton_only=True)
    return float(_FINE_NM[np.argmax(envelope)])


def saxs_mean_radius_nm(state: KineticState, min_fraction: float = 0.02) -> float | None:
    """Volume-weighted mean radius (nm) of the particles SAXS resolves (d ≥ 1.6 nm), or None.

    None unless the resolved particles hold at least ``min_fraction`` of the CdSe — the same 2 %
    as an optical NC band (:func:`nc_exciton_nm`): the mean radius of traces (1e-7 to 5e-4 of the
    CdSe at 1.5 s) is not a measurement.
    """
    radii, units, conc = _resolved_particles(state)
    resolved_units = (conc * units).sum()
    if resolved_units == 0.0 or resolved_units < min_fraction * state.precursor0_mm:
        return None
    volume = conc * radii**3
    return float((volume * radii).sum() / volume.sum())


def saxs_volume_fractions(state: KineticState) -> dict[str, float]:
    """Share of the resolved particle volume (d ≥ 1.6 nm) in each MSC family and in NCs.

    What Palencia et al. 2020 read off their Monte-Carlo SAXS fits (Fig. 2, "relative volume
    fractions of different CdSe species"): keys are the resolved families and ``"NC"``; empty when
    nothing is resolved.
    """
    radii, _, conc = _resolved_particles(state)
    volume = conc * radii**3
    if volume.sum() <= 0.0:
        return {}
    names = [name for name, _, _ in MSC_FAMILIES if MSC_SAXS_DIAMETER_NM[name] >= SAXS_RESOLUTION_DIAMETER_NM]
    shares = volume / volume.sum()
    return dict(zip(names, map(float, shares[: len(names)]), strict=True)) | {"NC": float(shares[len(names) :].sum())}


def saxs_resolved_fraction(state: KineticState) -> float:
    """Fraction of the CdSe in particles SAXS resolves (d ≥ 1.6 nm: CdSe-403 and up, and NCs); 0 for pure solvent."""
    if state.precursor0_mm <= 0.0:
        return 0.0
    _, units, conc = _resolved_particles(state)
    return float((conc * units).sum() / state.precursor0_mm)


def _resolved_particles(state: KineticState):
    """SAXS radii (nm), CdSe units and concentrations (mM) of the particles SAXS resolves."""
    radii, units, conc = state.scatterers()
    keep = 2 * radii >= SAXS_RESOLUTION_DIAMETER_NM
    return radii[keep], units[keep], conc[keep]
