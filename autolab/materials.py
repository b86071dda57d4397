"""CdSe as a material: constants, Yu 2003 sizing, band shapes, the NC absorbance model, the MSC
families and the SAXS contrast, each number with its source.

The physics twin (:mod:`autolab.sim`) and the analysis plugins (:mod:`autolab.plugins`) both read
CdSe from here, so each number that describes the material has one definition. Units are in each
name, SI unless the name says otherwise. This module needs numpy only and imports nothing of
autolab.

Sources
-------
- CODATA 2018 for the physical constants.
- Yu, Qu, Guo & Peng, *Chem. Mater.* 2003, 15, 2854 (ref. 29 of Palencia 2020): diameter from the
  first excitonic absorption peak, D(nm) = 1.6122e-9 λ⁴ − 2.6575e-6 λ³ + 1.6242e-3 λ² − 0.4277 λ
  + 41.57, calibrated for ≈ 2–8 nm; extinction coefficient of the first exciton,
  ε = 5857 · D^2.65 M⁻¹ cm⁻¹. Below ≈ 2 nm (the magic-size clusters) the polynomial is an
  extrapolation; Palencia et al. 2020 (Fig. 4) use it there all the same, and so does autolab,
  flagged by :func:`in_calibrated_range`.
- Palencia et al. 2020 (Fig. 4, the SAXS fits of Fig. 2) for the magic-size-cluster (MSC) families.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

__all__ = [
    "AVOGADRO_PER_MOL",
    "CDSE_CONTINUUM_PER_UNIT_350NM",
    "CDSE_MOLAR_VOLUME_M3_PER_MOL",
    "CDSE_SLD_1E6_PER_A2",
    "CDSE_UNITS_PER_NM3",
    "GAS_CONSTANT_J_PER_MOL_K",
    "HC_EV_NM",
    "MSC_FAMILIES",
    "MSC_FWHM_NM",
    "MSC_PEAK_NM",
    "MSC_SAXS_DIAMETER_NM",
    "NC_HOMOGENEOUS_FWHM_EV",
    "NC_LINE_SHAPE",
    "SOLVENT_SLD_1E6_PER_A2",
    "YU_CALIBRATED_DIAMETER_NM",
    "YU_WAVELENGTH_RANGE_NM",
    "ZERO_CELSIUS_K",
    "NCLineShape",
    "aggregation_number",
    "celsius_to_kelvin",
    "diameter_for_units",
    "gaussian_band",
    "in_calibrated_range",
    "nc_class_absorbance",
    "yu_diameter_nm",
    "yu_extinction_m_inv_cm_inv",
    "yu_wavelength_nm",
]

# --- physical constants ----------------------------------------------------------------------------

#: Gas constant, J mol⁻¹ K⁻¹ (CODATA 2018).
GAS_CONSTANT_J_PER_MOL_K = 8.314462618
#: Avogadro constant, mol⁻¹ (CODATA 2018).
AVOGADRO_PER_MOL = 6.02214076e23
#: 0 °C in kelvin.
ZERO_CELSIUS_K = 273.15
#: Photon energy (eV) times wavelength (nm): h·c (CODATA 2018).
HC_EV_NM = 1239.84198


def celsius_to_kelvin(temperature_c):
    """Return the temperature in kelvin for a temperature in °C (scalar or array)."""
    return temperature_c + ZERO_CELSIUS_K


# --- bulk CdSe -------------------------------------------------------------------------------------

#: Molar volume of wurtzite CdSe, m³ mol⁻¹: 191.37 g mol⁻¹ / 5.81 g cm⁻³ = 32.94 cm³ mol⁻¹
#: (bulk density as used by Palencia et al. 2020, Fig. 4 aggregation numbers).
CDSE_MOLAR_VOLUME_M3_PER_MOL = 32.94e-6
#: CdSe formula units per nm³ of crystal: N_A / V_m = 18.28 nm⁻³.
CDSE_UNITS_PER_NM3 = AVOGADRO_PER_MOL / (CDSE_MOLAR_VOLUME_M3_PER_MOL * 1e27)
#: Continuum absorption per CdSe unit at 350 nm, M⁻¹ cm⁻¹: the middle of the 2.0–2.9e3 range that
#: bulk optical constants give at 320–350 nm (valid for NCs, not MSCs). A nanocrystal's continuum
#: scales with its CdSe units.
CDSE_CONTINUUM_PER_UNIT_350NM = 2.5e3

#: X-ray scattering length density of CdSe, 1e-6 Å⁻² (≈ 42e-6 Å⁻² at 8–12 keV from the bulk
#: density; sasmodels' SLD convention).
CDSE_SLD_1E6_PER_A2 = 42.0
#: Scattering length density of an alkane (octadecene) solvent, 1e-6 Å⁻².
SOLVENT_SLD_1E6_PER_A2 = 8.0

# --- Yu et al. 2003 sizing -------------------------------------------------------------------------

#: Wavelength range (nm) on which the Yu polynomial is monotonic and invertible.
YU_WAVELENGTH_RANGE_NM = (300.0, 750.0)
#: Diameter range (nm) for which Yu et al. 2003 calibrated the curve.
YU_CALIBRATED_DIAMETER_NM = (1.9, 8.0)

_YU_COEFFS = (1.6122e-9, -2.6575e-6, 1.6242e-3, -0.4277, 41.57)
_GRID_NM = np.linspace(*YU_WAVELENGTH_RANGE_NM, 4501)
_GRID_D = np.polyval(_YU_COEFFS, _GRID_NM)


def yu_diameter_nm(wavelength_nm):
    """Diameter (nm) of CdSe nanocrystals whose first exciton peaks at ``wavelength_nm``."""
    return np.polyval(_YU_COEFFS, np.asarray(wavelength_nm, dtype=float))


def yu_wavelength_nm(diameter_nm):
    """First-exciton wavelength (nm) for CdSe of ``diameter_nm``: the Yu curve inverted.

    Diameters beyond the curve's monotonic range are clipped to its ends (300 or 750 nm).
    """
    return np.interp(np.asarray(diameter_nm, dtype=float), _GRID_D, _GRID_NM)


def yu_extinction_m_inv_cm_inv(diameter_nm):
    """Molar extinction coefficient of the first exciton, M⁻¹ cm⁻¹ (Yu et al. 2003)."""
    return 5857.0 * np.asarray(diameter_nm, dtype=float) ** 2.65


def aggregation_number(diameter_nm):
    """CdSe formula units in a sphere of ``diameter_nm``: 18.28 nm⁻³ · πd³/6."""
    return CDSE_UNITS_PER_NM3 * np.pi * np.asarray(diameter_nm, dtype=float) ** 3 / 6.0


def diameter_for_units(units):
    """Diameter (nm) of a sphere holding ``units`` CdSe formula units."""
    return (6.0 * np.asarray(units, dtype=float) / (np.pi * CDSE_UNITS_PER_NM3)) ** (1.0 / 3.0)


def in_calibrated_range(diameter_nm) -> bool:
    """True where ``diameter_nm`` lies inside Yu et al.'s calibrated 1.9–8 nm range."""
    low, high = YU_CALIBRATED_DIAMETER_NM
    d = np.asarray(diameter_nm, dtype=float)
    return bool(np.all((d >= low) & (d <= high)))


# --- magic-size clusters ---------------------------------------------------------------------------

#: MSC families of the CdSe ladder: (name, absorption maximum nm, CdSe units per cluster).
#: Positions and aggregation numbers from Palencia et al. 2020, Fig. 4.
MSC_FAMILIES: tuple[tuple[str, float, int], ...] = (
    ("CdSe-350", 350.0, 12),
    ("CdSe-380", 380.0, 25),
    ("CdSe-403", 403.0, 38),
    ("CdSe-437", 437.0, 61),
    ("CdSe-465", 465.0, 84),
)
#: Absorption maximum of each MSC family, nm (read-only view of :data:`MSC_FAMILIES`).
MSC_PEAK_NM = MappingProxyType({name: peak_nm for name, peak_nm, _ in MSC_FAMILIES})
#: SAXS diameters of the MSC families, nm. 403/437/465: Palencia 2020 (1.74, 1.88, 2.04 nm from
#: the Monte-Carlo SAXS fits). SAXS cannot resolve below ≈ 1.6 nm; for 350/380 the optical
#: diameters are shifted by the 403 family's SAXS–optical offset (+0.16 nm).
MSC_SAXS_DIAMETER_NM = MappingProxyType(
    {"CdSe-350": 1.25, "CdSe-380": 1.53, "CdSe-403": 1.74, "CdSe-437": 1.88, "CdSe-465": 2.04}
)
#: FWHM of an MSC band, nm. An assumption: the seeds give no value ("relatively small FWHM",
#: Palencia 2020).
MSC_FWHM_NM = 10.0

# --- band shapes and the nanocrystal absorbance model ----------------------------------------------

#: Homogeneous FWHM of one NC size class's first exciton, eV (room-temperature single CdSe NCs:
#: ≈ 50–70 meV; 0.06 eV is ≈ 13 nm at 527 nm).
NC_HOMOGENEOUS_FWHM_EV = 0.06


def gaussian_band(x, centre, fwhm):
    """A unit-height Gaussian band of full width at half maximum ``fwhm`` at ``centre`` (same units as ``x``)."""
    return np.exp(-4.0 * np.log(2.0) * ((x - centre) / fwhm) ** 2)


@dataclass(frozen=True)
class NCLineShape:
    """Line shape of one monodisperse CdSe NC size class (assumptions, documented in docs/sim.md)."""

    homogeneous_fwhm_ev: float = NC_HOMOGENEOUS_FWHM_EV
    """Homogeneous FWHM of the first exciton, eV."""
    second_transition_ev: float = 0.20
    """Energy of the second excitonic transition above the first, eV."""
    second_transition_ratio: float = 0.6
    """Height of the second transition relative to the first (its width is 1.5× the first's)."""
    continuum_per_unit_350nm: float = CDSE_CONTINUUM_PER_UNIT_350NM
    """Continuum absorption per CdSe unit at 350 nm, M⁻¹ cm⁻¹."""
    continuum_onset_ev: float = 0.35
    """Continuum onset above the first exciton, eV; the continuum rises as (E − E_onset)^½."""


#: The default NC line shape.
NC_LINE_SHAPE = NCLineShape()


def nc_class_absorbance(
    diameter_nm,
    wavelength_nm,
    *,
    path_length_cm: float,
    line_shape: NCLineShape = NC_LINE_SHAPE,
    first_exciton_only: bool = False,
) -> np.ndarray:
    """Absorbance (AU over ``path_length_cm``) of 1 mM of CdSe NCs of each ``diameter_nm``.

    Parameters
    ----------
    diameter_nm : float or array_like
        Diameters of the size classes, nm.
    wavelength_nm : array_like
        Wavelengths, nm.
    path_length_cm : float
        Optical path length, cm.
    line_shape : NCLineShape
        Widths and heights of the transitions and the continuum.
    first_exciton_only : bool
        Return the first-exciton band alone.

    Returns
    -------
    ndarray
        (diameters × wavelengths): each row is one monodisperse size class — its first exciton at
        the Yu 2003 wavelength with the Yu extinction coefficient and the homogeneous width (a
        Gaussian in energy), the second transition and the bulk-like continuum. A polydisperse
        ensemble is a sum of rows weighted by concentration (mM): the twin renders its NCs so and
        the UV-Vis plugin's population fit fits that sum to a measured spectrum.
    """
    d = np.atleast_1d(np.asarray(diameter_nm, dtype=float))[:, None]
    x = HC_EV_NM / np.asarray(wavelength_nm, dtype=float)[None, :]
    e1 = HC_EV_NM / yu_wavelength_nm(d)
    w = line_shape.homogeneous_fwhm_ev
    per_mm = 1e-3 * path_length_cm
    if first_exciton_only:
        return per_mm * yu_extinction_m_inv_cm_inv(d) * gaussian_band(x, e1, w)
    bands = gaussian_band(x, e1, w) + line_shape.second_transition_ratio * gaussian_band(
        x, e1 + line_shape.second_transition_ev, 1.5 * w
    )
    onset = e1 + line_shape.continuum_onset_ev
    scale = line_shape.continuum_per_unit_350nm / np.sqrt(np.maximum(HC_EV_NM / 350.0 - onset, 0.05))
    continuum = aggregation_number(d) * scale * np.sqrt(np.clip(x - onset, 0.0, None))
    return per_mm * (yu_extinction_m_inv_cm_inv(d) * bands + continuum)
