"""Parameter sets of the twin other than its defaults, for tests that need a chemistry of a given shape.

:data:`WITHOUT_BRANCH` is a second, complete chemistry: no regular branch (CdSe-465 is the only way
into NCs), Prins's n = 2, a CNT nucleation barrier of 0.04 J m⁻² and a gently activated closed shell
(φ₂₈₀ 0.154, 49 kJ mol⁻¹). Its window comes from how far the chamber converts the precursor rather
than from a shell that opens steeply; its nucleation still runs at 4.5 s at 300–320 °C. Every number
is set here, so it does not move when the defaults do.
"""

from dataclasses import replace

from autolab.sim.parameters import DEFAULT_PARAMETERS

WITHOUT_BRANCH = replace(
    DEFAULT_PARAMETERS, k_precursor_per_s=2.522, ea_precursor_j_per_mol=133900.0, k_nucleation_per_mm_s=0.005945,
    ea_nucleation_j_per_mol=384700.0, nucleation_surface_energy_j_per_m2=0.04023, growth_rate_constant_m_per_s=1.142e-06,
    ea_growth_j_per_mol=112700.0, growth_exponent=2.0, solubility_mm=0.0003921, dh_solubility_j_per_mol=124600.0,
    surface_energy_j_per_m2=0.4274, closed_shell_factor=0.1539, ea_closed_shell_j_per_mol=48800.0,
    regular_branch_fraction=0.0, ea_regular_branch_j_per_mol=0.0, regular_branch_monomer_order=1.0,
)
