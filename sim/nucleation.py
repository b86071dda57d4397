"""Classical nucleation theory's barrier, shared by the flow kinetics and the batch twin.

The rate of forming a nucleus at supersaturation S = [M]/[M]0 carries exp(−B/ln²S), with the
barrier B = 16πγ³v²/(3(k_BT)³) of a spherical nucleus of surface energy γ built from CdSe units of
volume v = V_m/N_A (e.g. Prins et al. 2021, Nano Lett., whose simulation nucleates this way).
"""

from __future__ import annotations

import numpy as np

from autolab.materials import AVOGADRO_PER_MOL, CDSE_MOLAR_VOLUME_M3_PER_MOL, GAS_CONSTANT_J_PER_MOL_K

__all__ = ["BOLTZMANN_J_PER_K", "UNIT_VOLUME_M3", "cnt_barrier", "cnt_factor", "cnt_log_slope"]

#: Boltzmann's constant, J K⁻¹.
BOLTZMANN_J_PER_K = GAS_CONSTANT_J_PER_MOL_K / AVOGADRO_PER_MOL
#: Volume of one CdSe unit in the bulk, m³.
UNIT_VOLUME_M3 = CDSE_MOLAR_VOLUME_M3_PER_MOL / AVOGADRO_PER_MOL


def cnt_barrier(surface_energy_j_per_m2: float, temperature_k: float) -> float:
    """B = 16πγ³v²/(3(k_BT)³), dimensionless: the nucleation barrier is B/ln²S times k_BT."""
    kt = BOLTZMANN_J_PER_K * temperature_k
    return 16.0 * np.pi * surface_energy_j_per_m2**3 * UNIT_VOLUME_M3**2 / (3.0 * kt**3)


def cnt_factor(monomer_mm, bulk_solubility_mm, barrier):
    """exp(−B/ln²S) at supersaturation S = [M]/[M]0 (0 for S ≤ 1; 1 for B = 0)."""
    if barrier == 0.0:
        return 1.0
    if monomer_mm <= bulk_solubility_mm:
        return 0.0
    ln_s = np.log(monomer_mm / bulk_solubility_mm)
    return float(np.exp(-barrier / (ln_s * ln_s)))


def cnt_log_slope(monomer_mm, bulk_solubility_mm, barrier):
    """d ln(exp(−B/ln²S)) / d ln[M] = 2B/ln³S (0 where the factor is 0 or 1)."""
    if barrier == 0.0 or monomer_mm <= bulk_solubility_mm:
        return 0.0
    ln_s = np.log(monomer_mm / bulk_solubility_mm)
    return 2.0 * barrier / ln_s**3
