"""Parameters of the flow-reactor kinetics: rate constants, activation energies and the fitted sets.

:class:`KineticParameters` holds every constant of the model in :mod:`autolab.sim.kinetics`;
:data:`DEFAULT_PARAMETERS` is the set fitted to the Palencia et al. 2020 facts and
:data:`SINGLE_EA_PARAMETERS` a second, differently shaped chemistry.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_PARAMETERS", "REFERENCE_TEMPERATURE_C", "SINGLE_EA_PARAMETERS", "KineticParameters"]

#: Temperature at which the rate constants of :class:`KineticParameters` are given, °C.
REFERENCE_TEMPERATURE_C = 280.0


@dataclass(frozen=True)
class KineticParameters:
    """Rate constants and material parameters of the twin.

    Rate constants are given at the reference temperature :data:`REFERENCE_TEMPERATURE_C`
    (280 °C) and scaled with their activation energies (Arrhenius). Units are in each name.

    The defaults are a fit of this reduced model to the Palencia et al. 2020 facts
    (:mod:`autolab.sim.facts`): one activation energy per ladder step, Yu's Pathway 1 (the
    ``precursor_compound_*`` fields) and the growth law from cluster to NC. They are fitted values,
    not measured constants; ``docs/calibrate_twin.py`` fits them, and docs/sim.md ("Parameters")
    gives its command line, the facts they reproduce (1–8) and how fact 5's onset of NC growth is
    reconciled with "no NCs at 260 °C / 4.5 s".
    """

    precursor_mm: float = 10.0
    """Default Cd and Se precursor concentration, mM each (equimolar). Palencia et al. 2020 kept
    "the precursors' composition and ratio" constant and give the values only in their ESI; 10 mM
    is an assumption of the twin's scale. A point may set each (:class:`autolab.sim.Conditions`)."""
    conversion_order_in_excess: float = 1.0
    """Order of the precursor → monomer conversion in the reagent in excess. The conversion is
    pseudo-first-order in the limiting precursor (Prins et al. 2021, after Liu, Owen & Alivisatos
    2007 and Owen et al. 2010), its rate constant scaled by (excess/limiting)^order at t = 0; 1 is
    first order in each precursor — the second-order monomer generation Prins et al. fit to their
    yields after Abe et al., ACS Nano 2012, 6, 42."""
    k_precursor_per_s: float = 0.7029
    """Precursor → monomer first-order rate constant at 280 °C, s⁻¹."""
    ea_precursor_j_per_mol: float = 78620.0
    k_nucleation_per_mm_s: float = 1.962
    """Nucleation J = k_n·[M]² (nuclei are CdSe-350 clusters) at 280 °C, mM⁻¹ s⁻¹."""
    ea_nucleation_j_per_mol: float = 45480.0
    k_steps_per_mm_s: tuple[float, ...] = (1.859, 0.05185, 138.8, 0.03439)
    """Ladder steps 12→25→38→61→84 units, mM⁻¹ s⁻¹ at 280 °C."""
    k_to_nc_per_mm_s: tuple[float, ...] = (0.0, 0.0, 1.154e-05, 0.0, 0.1398)
    """Cluster + monomer → regular NC for each family (Palencia Scheme 1: from CdSe-465 at mild
    temperature, from CdSe-403 in the 260–300 °C window), mM⁻¹ s⁻¹ at 280 °C."""
    ea_steps_j_per_mol: float | tuple[float, ...] = (8695.0, 207300.0, 7004.0, 2662.0)
    """Activation energy of the ladder steps 12→25→38→61→84: one value for all, or one per step,
    J mol⁻¹. The fit makes CdSe-380 → CdSe-403 steeply activated (207 kJ/mol), which closes the
    window's low-temperature edge and lets the oven's temperature feed CdSe-437 (fact 1)."""
    ea_to_nc_j_per_mol: float = 21440.0
    """Activation energy of cluster + monomer → NC, J mol⁻¹."""
    solubility_mm: float = 0.006361
    """Bulk monomer solubility [M]0 at 280 °C, mM."""
    dh_solubility_j_per_mol: float = 55470.0
    surface_energy_j_per_m2: float = 0.2164
    """Surface energy γ for the Gibbs–Thomson solubility of clusters and NCs, J m⁻²."""
    growth_rate_constant_m_per_s: float = 4.177e-07
    """Prins eq. 6 prefactor A at 280 °C, m s⁻¹."""
    ea_growth_j_per_mol: float = 108000.0
    growth_exponent: float = 2.0
    """Superfocusing exponent n of Prins eq. 6."""
    growth_offset_nm: float = 0.2
    """Radial offset B of Prins eq. 6, nm."""
    reference_radius_nm: float = 1.0
    """Reference radius r_c,0 of Prins eq. 6, nm."""
    chamber_to_oven_volume_ratio: float = 0.1983
    """Nucleation chamber volume / growth oven volume: the chamber time is this fraction of the
    residence time when both are set by one flow (2.8 s at 14 s for the default 0.1983, a fitted
    value: Palencia give no chamber volume)."""
    precursor_compound_fraction: float = 0.02812
    """Fraction of the limiting precursor that self-assembles into precursor compounds (PCs) as
    the fresh mixture heats up in the nucleation chamber — Pathway 1 of Yu's two-pathway model
    (seed SI: the PC forms in the induction period, before nucleation). 0 switches it off. Fitted: the
    calibration aims at SAXS resolving ≥ 3 % of the CdSe at 1.5 s (Palencia Fig. 2 has a radius at
    every nucleation temperature; the fit reaches 2.8 %, the test needs 2 %); more PCs would feed
    NCs that facts 2 and 4 do not allow."""
    precursor_compound_switch_c: tuple[float, float] = (194.8, 232.4)
    """Chamber temperatures (°C) at which PCs of CdSe-403 and -437, then of -437 and -465, form in
    equal shares: the PC family is a quasi-isomer chosen by the temperature of the induction period
    (Yu SI: "thermally-induced reversible transformation among MSC-311 and MSC-322 … via incubation
    of CdS IP samples at different temperatures")."""
    precursor_compound_switch_j_per_mol: float = 4.802e5
    """Van 't Hoff enthalpy of each switch between PC families, J mol⁻¹: the share ratio of
    neighbouring families is exp(−ΔH/R·(1/T − 1/T_switch)), a 10–90 % width of ≈ 4.4·RT²/ΔH."""
    k_precursor_compound_per_s: float = 0.003443
    """PC → MSC of the same family, first order (Yu SI: CdS PC-311 → MSC-311 "follows the
    first-order reaction kinetics", k = 0.015 min⁻¹ at room temperature, an intra-molecular
    rearrangement of quasi-isomers), s⁻¹ at 280 °C. Fitted: small, so PCs barely transform within
    the reactor's 14 s — faster, their CdSe-465 would become NCs that facts 2 and 4 do not allow."""
    ea_precursor_compound_j_per_mol: float = 26150.0
    """Activation energy of PC → MSC, J mol⁻¹."""
    precursor_compound_direct_c: float = 270.9
    """Chamber temperature (°C) at which half of the assembling PCs pass straight on to their MSC.

    A nascent assembly either settles as a PC or rearranges at once into its MSC (Yu's PC → MSC
    rearrangement, thermally activated: hours for CdS PC-311 at room temperature). The two
    channels compete, so the share taking the second is set by the chamber temperature — like the
    family — and not by the time spent there; the PCs that settled transform at
    :attr:`k_precursor_compound_per_s` afterwards. The MSCs so made take up monomer and become the
    first NCs: Palencia's "onset of continuous growth of the NCs" from 250 °C nucleation at 1.5 s
    (Fig. 2). Fitted to that onset together with "no NCs at ≤ 260 °C / 4.5 s" (docs/sim.md,
    "Fact 5"): a rate instead of a share would seed three times as many NCs in the 0.9 s chamber
    of a 4.5 s point as in the 0.3 s chamber of a 1.5 s point, which the two facts do not allow."""
    precursor_compound_direct_j_per_mol: float = 547800.0
    """Difference of the two channels' activation energies, J mol⁻¹: the ratio of assemblies that
    become MSCs to those that settle as PCs is exp(−ΔE/R·(1/T − 1/T_half)), a 10–90 % width of
    ≈ 4.4·RT²/ΔE (the form of :attr:`precursor_compound_switch_j_per_mol`)."""
    radius_grid_nm: tuple[float, float, int] = (None, 5.0, 100)  # type: ignore[assignment]
    """NC radius grid: (lowest edge or None for the largest MSC's radius, top edge, bins)."""


#: The twin's chemistry: the parameters fitted to the Palencia et al. 2020 facts.
DEFAULT_PARAMETERS = KineticParameters()


#: A second, differently shaped chemistry: one activation energy for all ladder steps, fitted to the
#: same facts without Yu's Pathway 1. The analysis tests read its spectra too. It misses fact 1
#: (CdSe-437 present at 240–250 °C and falling with growth temperature) and fact 2 (no MSC band at
#: 260 °C / 4.5 s), which :data:`DEFAULT_PARAMETERS` reproduce.
SINGLE_EA_PARAMETERS = KineticParameters(
    k_precursor_per_s=0.573,
    ea_precursor_j_per_mol=1.351e05,
    k_nucleation_per_mm_s=1.807,
    ea_nucleation_j_per_mol=1.438e05,
    k_steps_per_mm_s=(1.625, 0.1037, 247.8, 0.01056),
    k_to_nc_per_mm_s=(0.0, 0.0, 0.001045, 0.0, 0.1447),
    ea_steps_j_per_mol=1.157e04,
    ea_to_nc_j_per_mol=1.157e04,
    solubility_mm=0.01766,
    dh_solubility_j_per_mol=6.151e04,
    surface_energy_j_per_m2=0.1995,
    growth_rate_constant_m_per_s=2.936e-07,
    ea_growth_j_per_mol=5.74e04,
    chamber_to_oven_volume_ratio=0.1426,
    precursor_compound_fraction=0.0,  # without Yu's Pathway 1
)
