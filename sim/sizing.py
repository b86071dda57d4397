"""CdSe sizing curves and extinction coefficients.

- Yu, Qu, Guo & Peng, *Chem. Mater.* 2003, 15, 2854 (ref. 29 of Palencia 2020): diameter from
  the first excitonic absorption peak, D(nm) = 1.6122e-9 λ⁴ − 2.6575e-6 λ³ + 1.6242e-3 λ²
  − 0.4277 λ + 41.57, calibrated for ≈ 2–8 nm; extinction coefficient of the first exciton,
  ε = 5857 · D^2.65 M⁻¹ cm⁻¹.
- Below ≈ 2 nm (the magic-size clusters) the polynomial is an extrapolation; Palencia et al.
  2020 (Fig. 4) use it there all the same, and so do we, flagged by :func:`in_calibrated_range`.
"""

from __future__ import annotations

import numpy as np

from .constants import CDSE_UNITS_PER_NM3

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
