"""Small-angle X-ray scattering of the reaction mixture, in absolute units (cm⁻¹).

- Particles (MSCs and NC classes) as homogeneous spheres: I(q) = n Δρ² V² P(qR), with
  P(x) = [3(sin x − x cos x)/x³]² (the sasmodels ``sphere`` model), CdSe in an alkane.
- The precursor mesophase (Palencia 2020, Fig. 3; Abécassis et al. 2015): a lamellar Cd-carboxylate
  phase with Bragg peaks at q₁ = 1.84 nm⁻¹ and 2q₁ (d = 3.41 nm) at room temperature, weaker at
  50 °C and melted by 100 °C; the Cd precursor's broad maximum near 0.25 nm⁻¹.
- A flat solvent + Kapton background and Poisson counting noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autolab.materials import AVOGADRO_PER_MOL, CDSE_SLD_1E6_PER_A2, SOLVENT_SLD_1E6_PER_A2

from .state import KineticState

#: Default q grid: 0.1–5 nm⁻¹, 250 points, log-spaced as a pyFAI integration would be binned.
DEFAULT_Q_NM_INV = np.geomspace(0.1, 5.0, 250)


@dataclass(frozen=True)
class ScatteringParameters:
    """Mesophase and instrument parameters of the SAXS model."""

    bragg_q1_nm_inv: float = 1.84
    """First-order lamellar reflection (Palencia 2020, Fig. 3)."""
    bragg_sigma_nm_inv: float = 0.04
    bragg_amplitude_cm_inv: float = 0.5
    second_order_ratio: float = 0.3
    melting_temperature_c: float = 60.0
    """Midpoint of the mesophase's order–disorder transition (weaker at 50 °C, gone by 100 °C)."""
    melting_width_c: float = 8.0
    cd_precursor_peak_nm_inv: float = 0.25
    cd_precursor_amplitude_cm_inv: float = 0.08
    cd_reference_mm: float = 10.0
    """Cd precursor concentration the precursor and mesophase amplitudes are set for, mM (the
    twin's default mixture); they scale with the unreacted Cd precursor."""
    background_cm_inv: float = 0.02
    """Solvent + Kapton window background, flat over this q range."""
    counts_per_cm_inv_per_s: float = 5e4
    """Detector counts per unit intensity per second of exposure (sets the Poisson noise)."""


DEFAULT_SCATTERING = ScatteringParameters()


def sphere_form_factor(q_nm_inv: np.ndarray, radius_nm: np.ndarray) -> np.ndarray:
    """Normalised sphere form factor P(qR) for each radius (rows) and q (columns)."""
    x = np.outer(np.atleast_1d(radius_nm), q_nm_inv)
    x = np.where(x < 1e-6, 1e-6, x)
    amp = 3.0 * (np.sin(x) - x * np.cos(x)) / x**3
    return amp * amp


def mesophase_order(temperature_c: float, params: ScatteringParameters = DEFAULT_SCATTERING) -> float:
    """Fraction of the precursor in the lamellar mesophase at ``temperature_c`` (0–1)."""
    return float(1.0 / (1.0 + np.exp((temperature_c - params.melting_temperature_c) / params.melting_width_c)))


def intensity(
    state: KineticState,
    q_nm_inv: np.ndarray = DEFAULT_Q_NM_INV,
    *,
    params: ScatteringParameters = DEFAULT_SCATTERING,
) -> np.ndarray:
    """Noise-free I(q) in cm⁻¹ of ``state`` on ``q_nm_inv``."""
    q = np.asarray(q_nm_inv, dtype=float)
    # MSCs scatter with their SAXS size, Palencia 2020.
    radii_nm, _, conc_mm = state.scatterers()
    keep = conc_mm > 0
    total = np.full(q.shape, params.background_cm_inv)
    if np.any(keep):
        r_cm = radii_nm[keep] * 1e-7
        volume_cm3 = 4.0 / 3.0 * np.pi * r_cm**3
        number_per_cm3 = conc_mm[keep] * 1e-6 * AVOGADRO_PER_MOL
        contrast_cm2 = ((CDSE_SLD_1E6_PER_A2 - SOLVENT_SLD_1E6_PER_A2) * 1e-6 * 1e16) ** 2
        weights = number_per_cm3 * contrast_cm2 * volume_cm3**2
        total = total + weights @ sphere_form_factor(q, radii_nm[keep])
    precursor_fraction = state.cd_precursor_mm / params.cd_reference_mm
    order = precursor_fraction * state.mesophase_order
    q1 = params.bragg_q1_nm_inv
    bragg = np.exp(-0.5 * ((q - q1) / params.bragg_sigma_nm_inv) ** 2) + params.second_order_ratio * np.exp(
        -0.5 * ((q - 2 * q1) / params.bragg_sigma_nm_inv) ** 2
    )
    total = total + params.bragg_amplitude_cm_inv * order * bragg
    qp = params.cd_precursor_peak_nm_inv
    total = total + params.cd_precursor_amplitude_cm_inv * precursor_fraction * np.exp(
        -0.5 * (np.log(q / qp) / 0.6) ** 2
    )
    return total


def add_counting_noise(
    intensity_cm_inv: np.ndarray,
    rng: np.random.Generator,
    exposure_time_s: float = 1.0,
    params: ScatteringParameters = DEFAULT_SCATTERING,
) -> tuple[np.ndarray, np.ndarray]:
    """Poisson counting noise: return (measured I(q), σ(q)) in cm⁻¹."""
    scale = params.counts_per_cm_inv_per_s * max(exposure_time_s, 1e-6)
    counts = rng.poisson(np.clip(intensity_cm_inv, 0.0, None) * scale)
    measured = counts / scale
    sigma = np.sqrt(np.maximum(counts, 1.0)) / scale
    return measured, sigma
