"""Parameters of the flow-reactor kinetics: rate constants, activation energies, solubility.

:class:`KineticParameters` holds every constant of the model in :mod:`autolab.sim.kinetics`;
:data:`DEFAULT_PARAMETERS` is the set calibrated on the Palencia et al. 2020 facts named in
docs/sim.md ("Fitted and predicted") and :data:`FAST_GROWTH_PARAMETERS` a second, differently shaped
chemistry the analysis tests read as well.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, replace

from autolab.materials import MSC_FAMILIES

__all__ = ["DEFAULT_PARAMETERS", "FAST_GROWTH_PARAMETERS", "REFERENCE_TEMPERATURE_C", "KineticParameters"]

#: Temperature at which the rate constants of :class:`KineticParameters` are given, °C.
REFERENCE_TEMPERATURE_C = 280.0


@dataclass(frozen=True)
class KineticParameters:
    """Rate constants and material parameters of the twin.

    Rate constants are given at the reference temperature :data:`REFERENCE_TEMPERATURE_C`
    (280 °C) and scaled with their activation energies (Arrhenius). Units are in each name.

    Fifteen numbers are calibrated (``docs/calibrate_twin.py``): the precursor conversion, the
    nucleation with its barrier, the surface reaction, the solubility with its surface energy, the
    closed shell of CdSe-437 and the regular branch from CdSe-403 past it
    (:attr:`regular_branch_fraction`, its activation energy and order). Everything else — the MSC
    ladder's sizes, the growth law's shape (Prins eq. 6), the chamber volume, the precursor
    concentration — is taken from the papers or stated as an assumption in its docstring.
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
    k_precursor_per_s: float = 3.072
    """Precursor → monomer first-order rate constant at 280 °C, s⁻¹ (calibrated)."""
    ea_precursor_j_per_mol: float = 145000.0
    """Activation energy of the precursor conversion, J mol⁻¹ (calibrated)."""
    k_nucleation_per_mm_s: float = 0.3093
    """Nucleation J = k_n·(g(S)·[M]² − [350]·[M]sat,350) at 280 °C, mM⁻¹ s⁻¹: monomers meet as a
    CdSe-350 nucleus wherever the monomer is supersaturated — chamber and oven alike — at the
    mass-action rate times classical nucleation theory's barrier factor g(S)
    (:attr:`nucleation_surface_energy_j_per_m2`) (calibrated)."""
    ea_nucleation_j_per_mol: float = 397900.0
    """Activation energy of nucleation, J mol⁻¹ (calibrated)."""
    nucleation_surface_energy_j_per_m2: float = 0.003225
    """Surface energy γ_n of classical nucleation theory's barrier, J m⁻² (calibrated): the forward
    nucleation rate carries g(S) = exp(−16πγ_n³v²/(3(k_BT)³·ln²S)), v = V_m/N_A one CdSe unit's
    volume and S = [M]/[M]0 the supersaturation over the bulk solubility (g = 0 for S ≤ 1; γ_n = 0
    is mass action alone). Prins et al. 2021 simulate nucleation with this CNT rate. The calibrated
    barrier is slight: g > 0.98 wherever S > 1.7 at 280 °C, so nucleation is mass action in
    practice (an apparent value far below the γ of the Gibbs–Thomson solubility, as CNT's γ of a
    nucleus a dozen units across is not the bulk interface's)."""
    growth_rate_constant_m_per_s: float = 1.099e-06
    """Prins eq. 6 prefactor A at 280 °C, m s⁻¹: the surface reaction constant k_a at the reference
    radius. One law for every particle: a cluster of radius r takes up monomer at 4πr²·k_a(r)·N_A
    per mM of supersaturation, exactly as an NC grows (calibrated)."""
    ea_growth_j_per_mol: float = 110600.0
    """Activation energy of the surface reaction, J mol⁻¹ (calibrated)."""
    growth_exponent: float = 4.0
    """Superfocusing exponent n of Prins eq. 6. Prins et al. 2021 simulate n = 0, 2 and 4, and their
    Fig. 4 shows growth slowing at least as fast as 1/r⁴: 4, as in the batch twin (the calibration
    holds it)."""
    growth_offset_nm: float = 0.2
    """Radial offset B of Prins eq. 6, nm (Prins et al. 2021)."""
    reference_radius_nm: float = 1.0
    """Reference radius r_c,0 of Prins eq. 6, nm."""
    solubility_mm: float = 0.000298
    """Bulk monomer solubility [M]0 at 280 °C, mM (calibrated)."""
    dh_solubility_j_per_mol: float = 153000.0
    """Dissolution enthalpy of the van 't Hoff law for [M]0, J mol⁻¹ (calibrated)."""
    surface_energy_j_per_m2: float = 0.4487
    """Surface energy γ of the Gibbs–Thomson solubility [M]sat(r) = [M]0·exp(2γV_m/(rRT)) of
    clusters and NCs, J m⁻² (calibrated; above the 0.1–0.4 J m⁻² usually quoted for CdSe–ligand
    interfaces — an apparent value that also carries the clusters' own stability)."""
    closed_shell_family: str = "CdSe-437"
    """The MSC whose closed shell slows every exit — the step up to the next family and the step
    down to the previous one. Palencia et al. 2020: "CdSe-437 is the most persistent MSC …
    indicating either its higher stability … or its fastest formation (k(437) > k(465))"."""
    closed_shell_factor: float = 4.826e-06
    """Factor on both exit rates of :attr:`closed_shell_family` at 280 °C (calibrated)."""
    ea_closed_shell_j_per_mol: float = 962100.0
    """Activation energy of opening the closed shell (the factor grows with temperature as
    exp(−Ea/R·(1/T − 1/T_ref)), capped at 1), J mol⁻¹ (calibrated). The calibrated value is an
    apparent one, near the search's 1000 kJ mol⁻¹ bound: Fig. 1 ends the window between 300 and
    310 °C, which takes the shell from shut (φ ≈ 0.007 at 300 °C) to open (1 from 315 °C) within
    15 °C — a switch, such as the shell's structure giving way, that one Arrhenius factor can only
    mimic with an energy far above any single step's."""
    regular_branch_fraction: float = 0.1858
    """Share β of the growth of the family below the closed shell (CdSe-403 below CdSe-437) that
    carries on as a regular NC instead of closing the shell, at 280 °C; the rest climbs to the
    shell, and the step back down from it loses the same share (its Gibbs–Thomson balance stays).
    Calibrated (``docs/calibrate_twin.py``; docs/sim.md, "Kinetics"); 0 ≤ β < 1, 0 turns it off.
    β is the share at every monomer concentration where the branch is first order in the monomer,
    and at 1 mM otherwise (:attr:`regular_branch_monomer_order`).
    Palencia et al. 2020, Scheme 1: in the window "nuclei → 403 → 437 and 403 → NC". A regular NC
    is born in the smallest NC class, from the family's cluster and the monomer it lacks, by the
    same surface law as every rung, times ([M]/1 mM)^(order − 1) above first order (``0`` leaves
    CdSe-465 as the only way into NCs)."""
    ea_regular_branch_j_per_mol: float = -470000.0
    """Activation energy of the regular branch's odds β/(1 − β), J mol⁻¹ (calibrated; the odds scale as
    exp(−Ea/R·(1/T − 1/T_ref))). A negative value makes the branch win the cooler the stream:
    closing the magic shell is then the activated step — a hypothesis in the spirit of Yu's precursor
    compounds, which rearrange into their MSC with activated first-order kinetics (seed SI) and
    are not otherwise in the twin."""
    regular_branch_monomer_order: float = 1.777
    """Order in the monomer of the regular branch, 1 ≤ order ≤ 4. 1: the branch takes the share β of
    the family's growth at every monomer concentration. Above 1 its odds against the climb to the
    closed shell scale as ([M]/1 mM)^(order − 1), β being its share at 1 mM: a cluster fed
    monomer faster than its magic structure closes grows on as a regular crystal (Palencia et al.
    2020: below the window the monomer left after a slow nucleation grows the clusters into NCs,
    in the window the depleted monomer leaves them in CdSe-437)."""
    closed_shell_monomer_order: float = 2.0
    """Order in the monomer of the step out of the closed shell up to the next family (1: like every
    other rung)."""
    chamber_to_oven_volume_ratio: float = 0.1
    """Nucleation chamber volume / growth oven volume: the chamber time is this fraction of the
    residence time when both are set by one flow (1.4 s at 14 s). Palencia et al. 2020 call the
    chamber "very low volume" against "a larger volume growth oven" and give no volumes; one
    tenth is an assumption in that sense, the chamber long enough (≥ 0.15 s at 1.5 s) to heat the
    mixed stream through a capillary."""
    radius_grid_nm: tuple[float, float, int] = (None, 5.0, 100)  # type: ignore[assignment]
    """NC radius grid: (lowest edge or None for the largest MSC's radius, top edge, bins)."""

    def __post_init__(self):
        beta, energy = self.regular_branch_fraction, self.ea_regular_branch_j_per_mol
        if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not 0.0 <= beta < 1.0:
            msg = f"regular_branch_fraction={beta!r} must be a share in 0 ≤ β < 1 (0: no regular branch)"
            raise ValueError(msg)
        if isinstance(energy, bool) or not isinstance(energy, numbers.Real) or not math.isfinite(energy):
            msg = f"ea_regular_branch_j_per_mol={energy!r} must be a finite activation energy in J mol⁻¹"
            raise ValueError(msg)
        order = self.regular_branch_monomer_order
        if isinstance(order, bool) or not isinstance(order, numbers.Real) or not 1.0 <= order <= 4.0:
            msg = f"regular_branch_monomer_order={order!r} must be an order in the monomer in 1–4"
            raise ValueError(msg)
        if beta > 0.0 and self.closed_shell_family == MSC_FAMILIES[0][0]:
            msg = f"regular_branch_fraction={beta!r} needs a family below the closed shell, and {self.closed_shell_family} is the smallest"
            raise ValueError(msg)


#: The twin's chemistry: the parameters calibrated on the Palencia et al. 2020 facts.
DEFAULT_PARAMETERS = KineticParameters()


#: A second, differently shaped chemistry for the analysis tests: the nucleation rate constant
#: halved, the surface reaction 1.5× as fast and the closed shell's factor halved, so fewer, larger
#: NCs beside the clusters. Not calibrated: its spectra differ from the twin's in band heights, NC
#: sizes and the window's edges.
FAST_GROWTH_PARAMETERS = replace(
    DEFAULT_PARAMETERS,
    closed_shell_factor=DEFAULT_PARAMETERS.closed_shell_factor / 2.0,
    growth_rate_constant_m_per_s=DEFAULT_PARAMETERS.growth_rate_constant_m_per_s * 1.5,
    k_nucleation_per_mm_s=DEFAULT_PARAMETERS.k_nucleation_per_mm_s / 2.0,
)
