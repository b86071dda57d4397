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
from .sizing import aggregation_number, yu_extinction_m_inv_cm_inv, yu_wavelength_nm

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


def absorbance(
    state: KineticState,
    wavelength_nm: np.ndarray = DEFAULT_WAVELENGTH_NM,
    optics: OpticalParameters = DEFAULT_OPTICS,
) -> np.ndarray:
    """Noise-free absorbance (path ``optics.path_length_cm``) of ``state`` on ``wavelength_nm``."""
    lam = np.asarray(wavelength_nm, dtype=float)
    energy = HC_EV_NM / lam
    total = optics.scatter_at_400nm * (400.0 / lam) ** 4 + optics.baseline

    # Per-particle contributions: (first-exciton nm, peak ε M⁻¹cm⁻¹, line FWHM eV, conc. M, units)
    centres, eps, widths, conc, units, is_msc = [], [], [], [], [], []
    for name, peak_nm, n_units in MSC_FAMILIES:
        c_m = state.msc_mm[name] * 1e-3
        if c_m <= 0:
            continue
        d = 2.0 * (3.0 * n_units / (4.0 * np.pi * 18.28)) ** (1 / 3)
        width_ev = HC_EV_NM * optics.msc_fwhm_nm / peak_nm**2
        centres.append(peak_nm), eps.append(yu_extinction_m_inv_cm_inv(d)), widths.append(width_ev)
        conc.append(c_m), units.append(n_units), is_msc.append(True)
    keep = state.nc_mm > 0
    if np.any(keep):
        d = 2.0 * state.nc_radius_nm[keep]
        centres.extend(yu_wavelength_nm(d))
        eps.extend(yu_extinction_m_inv_cm_inv(d))
        widths.extend(np.full(d.size, optics.nc_homogeneous_fwhm_ev))
        conc.extend(state.nc_mm[keep] * 1e-3)
        units.extend(aggregation_number(d))
        is_msc.extend([False] * d.size)
    if not centres:
        return total
    e1 = HC_EV_NM / np.asarray(centres)[:, None]
    eps_a = np.asarray(eps)[:, None]
    w = np.asarray(widths)[:, None]
    c = np.asarray(conc)[:, None]
    n = np.asarray(units)[:, None]
    msc = np.asarray(is_msc)[:, None]
    x = energy[None, :]
    bands = _gauss(x, e1, w) + optics.second_transition_ratio * _gauss(x, e1 + optics.second_transition_ev, 1.5 * w)
    # Clusters: their own higher resonances; NCs: the bulk-like continuum.
    msc_higher = 0.8 * _gauss(x, e1 + 0.35, 3.0 * w) + 1.0 * _gauss(x, e1 + 0.7, 5.0 * w)
    onset = e1 + optics.continuum_onset_ev
    scale = optics.continuum_per_unit_350nm / np.sqrt(np.maximum(HC_EV_NM / 350.0 - onset, 0.05))
    continuum = np.where(msc, 0.0, n * scale * np.sqrt(np.clip(x - onset, 0.0, None)))
    bands = np.where(msc, _gauss(x, e1, w) + msc_higher, bands)
    total = total + optics.path_length_cm * (c * (eps_a * bands + continuum)).sum(axis=0)
    return total


def add_detector_noise(
    absorbance_values: np.ndarray, rng: np.random.Generator, integration_time_s: float = 0.1
) -> np.ndarray:
    """Add spectrometer noise: Gaussian, σ = 1e-3 AU at 100 ms integration, ∝ t^-½."""
    sigma = 1e-3 * np.sqrt(0.1 / max(integration_time_s, 1e-4))
    return absorbance_values + rng.normal(0.0, sigma, size=np.shape(absorbance_values))
