"""UV-Vis absorbance of a reaction mixture from its species concentrations.

- MSC families: narrow bands at fixed positions (Palencia 2020, Fig. 4) with their own higher
  resonances (two broader bands 0.35 and 0.7 eV up) instead of the bulk continuum, which does not
  apply to clusters; amplitude from the Yu 2003 extinction coefficient at the family's optical
  diameter (an extrapolation below 2 nm, as Palencia's own sizing is).
- NCs: each radius class contributes its first exciton at the Yu 2003 wavelength, with the Yu
  extinction coefficient, a homogeneous line width, a second transition and the continuum.
  Inhomogeneous broadening follows from summing the classes.
- Continuum: ≈ 2.5e3 M⁻¹ cm⁻¹ per CdSe unit at 350 nm, the bulk-optical-constant value quoted in
  docs/sim.md (range 2.0–2.9e3), rising towards the UV as (E − E_onset)^½.
- A λ⁻⁴ scattering baseline and a small offset stand for the flow cell and turbidity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .constants import FLOW_CELL_PATH_CM
from .kinetics import MSC_FAMILIES, KineticState
from .sizing import aggregation_number, diameter_for_units, yu_extinction_m_inv_cm_inv, yu_wavelength_nm

#: Photon energy (eV) times wavelength (nm).
HC_EV_NM = 1239.84198
#: Default spectrometer grid: 300–700 nm in 1 nm steps.
DEFAULT_WAVELENGTH_NM = np.arange(300.0, 701.0, 1.0)


@dataclass(frozen=True)
class OpticalParameters:
    """Line shapes of the absorbance model (assumptions, documented in docs/sim.md)."""

    msc_fwhm_nm: float = 10.0
    """FWHM of an MSC band. The seeds give no value ("relatively small FWHM", Palencia 2020)."""
    nc_homogeneous_fwhm_ev: float = 0.06
    """Homogeneous FWHM of a single NC size class's exciton, eV (≈ 13 nm at 527 nm)."""
    second_transition_ev: float = 0.20
    """Energy of the second excitonic transition above the first, eV."""
    second_transition_ratio: float = 0.6
    continuum_per_unit_350nm: float = 2.5e3
    """Continuum absorption per CdSe unit at 350 nm, M⁻¹ cm⁻¹."""
    continuum_onset_ev: float = 0.35
    """Continuum onset above the first exciton, eV."""
    scatter_at_400nm: float = 0.004
    baseline: float = 0.002
    path_length_cm: float = FLOW_CELL_PATH_CM


DEFAULT_OPTICS = OpticalParameters()


def _gauss(x, centre, fwhm):
    return np.exp(-4.0 * np.log(2.0) * ((x - centre) / fwhm) ** 2)


def nc_class_absorbance(
    diameter_nm,
    wavelength_nm: np.ndarray = DEFAULT_WAVELENGTH_NM,
    optics: OpticalParameters = DEFAULT_OPTICS,
    *,
    first_exciton_only: bool = False,
) -> np.ndarray:
    """Absorbance (AU, path ``optics.path_length_cm``) of 1 mM of CdSe NCs of each ``diameter_nm``.

    Returns an array (diameters × wavelengths): each row is one monodisperse size class — its first
    exciton at the Yu 2003 wavelength with the Yu extinction coefficient and the homogeneous line
    width, the second transition and the bulk-like continuum. A polydisperse ensemble is a sum of
    rows weighted by concentration (mM); the UV-Vis analysis fits that sum to a measured spectrum.
    With ``first_exciton_only`` the rows hold the first-exciton band alone.
    """
    d = np.atleast_1d(np.asarray(diameter_nm, dtype=float))[:, None]
    x = HC_EV_NM / np.asarray(wavelength_nm, dtype=float)[None, :]
    e1 = HC_EV_NM / yu_wavelength_nm(d)
    w = optics.nc_homogeneous_fwhm_ev
    per_mm = 1e-3 * optics.path_length_cm
    if first_exciton_only:
        return per_mm * yu_extinction_m_inv_cm_inv(d) * _gauss(x, e1, w)
    bands = _gauss(x, e1, w) + optics.second_transition_ratio * _gauss(x, e1 + optics.second_transition_ev, 1.5 * w)
    onset = e1 + optics.continuum_onset_ev
    scale = optics.continuum_per_unit_350nm / np.sqrt(np.maximum(HC_EV_NM / 350.0 - onset, 0.05))
    continuum = aggregation_number(d) * scale * np.sqrt(np.clip(x - onset, 0.0, None))
    return per_mm * (yu_extinction_m_inv_cm_inv(d) * bands + continuum)


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
        bands = _gauss(energy, e1, w) + 0.8 * _gauss(energy, e1 + 0.35, 3.0 * w) + 1.0 * _gauss(energy, e1 + 0.7, 5.0 * w)
        total = total + optics.path_length_cm * c_m * yu_extinction_m_inv_cm_inv(d) * bands
    # NCs: one row per radius class (first exciton, second transition, continuum).
    keep = state.nc_mm > 0
    if np.any(keep):
        total = total + state.nc_mm[keep] @ nc_class_absorbance(2.0 * state.nc_radius_nm[keep], lam, optics)
    return total


def add_detector_noise(
    absorbance_values: np.ndarray, rng: np.random.Generator, integration_time_s: float = 0.1
) -> np.ndarray:
    """Add spectrometer noise: Gaussian, σ = 1e-3 AU at 100 ms integration, ∝ t^-½."""
    sigma = 1e-3 * np.sqrt(0.1 / max(integration_time_s, 1e-4))
    return absorbance_values + rng.normal(0.0, sigma, size=np.shape(absorbance_values))
