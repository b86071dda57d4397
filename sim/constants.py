"""Physical constants and CdSe material data used by the twin, each with its source.

All values are SI unless the name says otherwise.
"""

from __future__ import annotations

#: Gas constant, J mol⁻¹ K⁻¹ (CODATA 2018).
GAS_CONSTANT_J_PER_MOL_K = 8.314462618
#: Avogadro constant, mol⁻¹ (CODATA 2018).
AVOGADRO_PER_MOL = 6.02214076e23
#: 0 °C in kelvin.
ZERO_CELSIUS_K = 273.15

#: Molar volume of wurtzite CdSe, m³ mol⁻¹: 191.37 g mol⁻¹ / 5.81 g cm⁻³ = 32.94 cm³ mol⁻¹
#: (bulk density as used by Palencia et al. 2020, Fig. 4 aggregation numbers).
CDSE_MOLAR_VOLUME_M3_PER_MOL = 32.94e-6
#: CdSe formula units per nm³ of crystal: N_A / V_m = 18.28 nm⁻³.
CDSE_UNITS_PER_NM3 = AVOGADRO_PER_MOL / (CDSE_MOLAR_VOLUME_M3_PER_MOL * 1e27)

#: X-ray scattering length density of CdSe, 1e-6 Å⁻² (≈ 42e-6 Å⁻² at 8–12 keV from the
#: bulk density; sasmodels' SLD convention).
CDSE_SLD_1E6_PER_A2 = 42.0
#: Scattering length density of an alkane (octadecene) solvent, 1e-6 Å⁻².
SOLVENT_SLD_1E6_PER_A2 = 8.0

#: Optical path length of the UV-Vis flow cell, cm. Palencia's ESI does not give it; 0.5 mm is
#: short enough to keep the undiluted 10 mM reaction medium below 2 AU at 350 nm (assumption, docs/sim.md).
FLOW_CELL_PATH_CM = 0.05


def celsius_to_kelvin(temperature_c):
    """Return the temperature in kelvin for a temperature in °C (scalar or array)."""
    return temperature_c + ZERO_CELSIUS_K


def arrhenius(k_ref, activation_energy_j_per_mol, temperature_k, reference_k):
    """Scale a rate constant ``k_ref`` known at ``reference_k`` to ``temperature_k``.

    k(T) = k_ref · exp(−Ea/R · (1/T − 1/T_ref)).
    """
    import numpy as np

    return k_ref * np.exp(
        -activation_energy_j_per_mol
        / GAS_CONSTANT_J_PER_MOL_K
        * (1.0 / temperature_k - 1.0 / reference_k)
    )
