"""UV-Vis absorbance of a reaction mixture from its species concentrations.

- MSC families: narrow bands at fixed positions (Palencia 2020, Fig. 4) with their own higher
  resonances (two broader bands 0.35 and 0.7 eV up) instead of the bulk continuum, which does not
  apply to clusters; amplitude from the Yu 2003 extinction coefficient at the family's optical
  diameter (an extrapolation below 2 nm, as Palencia's own sizing is).
- NCs: each radius class contributes its first exciton at the Yu 2003 wavelength, with the Yu
  extinction coefficient, a homogeneous line width, a second transition and the continuum
  (:func:`autolab.materials.nc_class_absorbance`), averaged over the sizes the class spans
  (:func:`nc_absorbance`). Inhomogeneous broadening follows from summing the classes.
- Continuum: :data:`autolab.materials.CDSE_CONTINUUM_PER_UNIT_350NM` per CdSe unit at 350 nm,
  rising towards the UV as (E − E_onset)^½.
- A λ⁻⁴ scattering baseline and a small offset stand for the flow cell and turbidity.

The NC size classes, the sizing and the band shapes are CdSe's (:mod:`autolab.materials`); this
module adds the clusters' bands, the flow cell and the spectrometer's noise.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from autolab import materials
from autolab.materials import (
    HC_EV_NM,
    MSC_FAMILIES,
    MSC_FWHM_NM,
    NC_LINE_SHAPE,
    NCLineShape,
    diameter_for_units,
    gaussian_band,
    yu_extinction_m_inv_cm_inv,
)

from .state import KineticState

#: Default spectrometer grid: 300–700 nm in 1 nm steps.
DEFAULT_WAVELENGTH_NM = np.arange(300.0, 701.0, 1.0)
#: Optical path length of the UV-Vis flow cell, cm. Palencia's ESI does not give it; 0.5 mm is
#: short enough to keep the undiluted 10 mM reaction medium below 2 AU at 350 nm (assumption, docs/sim.md).
FLOW_CELL_PATH_CM = 0.05


@dataclass(frozen=True)
class OpticalParameters:
    """Line shapes and flow cell of the twin's absorbance model (assumptions, documented in docs/sim.md)."""

    msc_fwhm_nm: float = MSC_FWHM_NM
    """FWHM of an MSC band, nm (:data:`autolab.materials.MSC_FWHM_NM`)."""
    nc: NCLineShape = NC_LINE_SHAPE
    """Line shape of one NC size class (:class:`autolab.materials.NCLineShape`)."""
    scatter_at_400nm: float = 0.004
    """Amplitude of the λ⁻⁴ scattering baseline at 400 nm, AU."""
    baseline: float = 0.002
    """Flat offset of the flow cell, AU."""
    path_length_cm: float = FLOW_CELL_PATH_CM
    """Optical path length of the flow cell, cm."""


DEFAULT_OPTICS = OpticalParameters()


def nc_class_absorbance(
    diameter_nm,
    wavelength_nm: np.ndarray = DEFAULT_WAVELENGTH_NM,
    optics: OpticalParameters = DEFAULT_OPTICS,
    *,
    first_exciton_only: bool = False,
) -> np.ndarray:
    """Absorbance in the twin's flow cell of 1 mM of CdSe NCs of each ``diameter_nm`` (diameters × wavelengths).

    :func:`autolab.materials.nc_class_absorbance` with the path length and NC line shape of
    ``optics``; with ``first_exciton_only`` the rows hold the first-exciton band alone.
    """
    return materials.nc_class_absorbance(
        diameter_nm, wavelength_nm, path_length_cm=optics.path_length_cm, line_shape=optics.nc, first_exciton_only=first_exciton_only
    )


#: Sizes per NC radius class at which its bands are evaluated and averaged (:func:`nc_absorbance`).
SIZES_PER_CLASS = 5


def nc_absorbance(
    state: KineticState,
    wavelength_nm: np.ndarray = DEFAULT_WAVELENGTH_NM,
    optics: OpticalParameters = DEFAULT_OPTICS,
    *,
    first_exciton_only: bool = False,
) -> np.ndarray:
    """Absorbance of the NCs of ``state`` alone (all its radius classes), AU in the flow cell.

    A radius class of the kinetics stands for every size between its edges, not for its centre
    alone: its bands are the mean of :data:`SIZES_PER_CLASS` sizes spread evenly across the class
    (the midpoints of equal sub-intervals). At the small end one class spans 0.08 nm of diameter,
    about 11 nm of exciton wavelength near 470 nm, as wide as the homogeneous line; rendered at its
    centre, a class that holds many NCs — the lowest, where NCs arrive from CdSe-465 and return to
    it — shows as one size, whose second transition (0.2 eV up, at 437 nm) the noise can make look
    like a narrow band that no cluster makes. The grid's spacing is taken as the class width (the
    kinetics' classes are uniform); a single class is rendered at its centre. The rows of one
    radius grid and wavelength grid are computed once and kept (:func:`_class_rows`).
    """
    keep = state.nc_mm > 0
    if not np.any(keep):
        return np.zeros(np.shape(wavelength_nm), dtype=float)
    radius = np.ascontiguousarray(state.nc_radius_nm, dtype=float)
    lam = np.ascontiguousarray(wavelength_nm, dtype=float)
    rows = _class_rows(radius.tobytes(), lam.tobytes(), optics, first_exciton_only)
    return state.nc_mm[keep] @ rows[keep]


@functools.lru_cache(maxsize=16)
def _class_rows(radius_bytes: bytes, wavelength_bytes: bytes, optics: OpticalParameters, first_exciton_only: bool) -> np.ndarray:
    """Absorbance of 1 mM of NCs in each radius class (classes × wavelengths), averaged across each class."""
    radius = np.frombuffer(radius_bytes, dtype=float)
    lam = np.frombuffer(wavelength_bytes, dtype=float)
    width = float(radius[1] - radius[0]) if radius.size > 1 else 0.0
    offsets = ((np.arange(SIZES_PER_CLASS) + 0.5) / SIZES_PER_CLASS - 0.5) * width
    diameters = 2.0 * (radius[:, None] + offsets[None, :]).ravel()
    rows = nc_class_absorbance(diameters, lam, optics, first_exciton_only=first_exciton_only)
    rows = rows.reshape(radius.size, SIZES_PER_CLASS, lam.size).mean(axis=1)
    rows.flags.writeable = False
    return rows


def absorbance(
    state: KineticState,
    wavelength_nm: np.ndarray = DEFAULT_WAVELENGTH_NM,
    optics: OpticalParameters = DEFAULT_OPTICS,
) -> np.ndarray:
    """Noise-free absorbance (path ``optics.path_length_cm``) of ``state`` on ``wavelength_nm``."""
    lam = np.asarray(wavelength_nm, dtype=float)
    energy = HC_EV_NM / lam
    total = optics.scatter_at_400nm * (400.0 / lam) ** 4 + optics.baseline

    # Clusters: a narrow band with their own higher resonances (no bulk continuum).
    for name, peak_nm, n_units in MSC_FAMILIES:
        c_m = state.msc_mm[name] * 1e-3
        if c_m <= 0:
            continue
        d = diameter_for_units(n_units)
        w = HC_EV_NM * optics.msc_fwhm_nm / peak_nm**2
        e1 = HC_EV_NM / peak_nm
        bands = gaussian_band(energy, e1, w) + 0.8 * gaussian_band(energy, e1 + 0.35, 3.0 * w) + 1.0 * gaussian_band(energy, e1 + 0.7, 5.0 * w)
        total = total + optics.path_length_cm * c_m * yu_extinction_m_inv_cm_inv(d) * bands
    # NCs: every radius class across its width (first exciton, second transition, continuum).
    return total + nc_absorbance(state, lam, optics)


def add_detector_noise(
    absorbance_values: np.ndarray, rng: np.random.Generator, integration_time_s: float = 0.1
) -> np.ndarray:
    """Add spectrometer noise: Gaussian, σ = 1e-3 AU at 100 ms integration, ∝ t^-½."""
    sigma = 1e-3 * np.sqrt(0.1 / max(integration_time_s, 1e-4))
    return absorbance_values + rng.normal(0.0, sigma, size=np.shape(absorbance_values))
