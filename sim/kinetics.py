"""Reaction kinetics of the flow reactor: precursor → monomer → MSC ladder → nanocrystals.

The model follows the mechanism of Palencia et al. 2020 (Scheme 1) with the rate laws
r(i) = k(i)·[i−1]·[M] for each step of the magic-size-cluster (MSC) ladder, classical
first-order precursor conversion and a size-dependent growth law for regular nanocrystals
(NCs) from Prins et al. 2021 (eq. 1 in its reaction-limited limit, with the superfocusing rate
constant of eq. 6). Every species is a concentration in mM; NCs are a population balance on a
radius grid (method of classes, first-order upwind fluxes).

Beside this monomer route (Pathway 2 of Yu's two-pathway model) runs Pathway 1: part of the
fresh mixture self-assembles into precursor compounds (PCs) in the chamber, each the quasi-isomer
of one MSC family chosen by the chamber temperature, which turn into that MSC with first-order
kinetics (Yu, two-pathway perspective SI).

Flow geometry (Palencia 2020): the mixed precursors spend ``nucleation_time_s`` in the small
nucleation chamber at the nucleation temperature — the only place where new nuclei and PCs form —
and then ``residence_time_s`` in the growth oven at the growth temperature.

The default parameters are a calibration against the Palencia facts (``docs/calibrate_twin.py``);
docs/sim.md lists what they reproduce and what they miss.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.integrate import odeint

from .constants import (
    CDSE_MOLAR_VOLUME_M3_PER_MOL,
    GAS_CONSTANT_J_PER_MOL_K,
    arrhenius,
    celsius_to_kelvin,
)
from .sizing import aggregation_number, diameter_for_units

#: MSC families of the CdSe ladder: (name, absorption maximum nm, CdSe units per cluster).
#: Positions and aggregation numbers from Palencia et al. 2020, Fig. 4.
MSC_FAMILIES: tuple[tuple[str, float, int], ...] = (
    ("CdSe-350", 350.0, 12),
    ("CdSe-380", 380.0, 25),
    ("CdSe-403", 403.0, 38),
    ("CdSe-437", 437.0, 61),
    ("CdSe-465", 465.0, 84),
)

#: SAXS diameters of the MSC families, nm. 403/437/465: Palencia 2020 (1.74, 1.88, 2.04 nm from
#: the Monte-Carlo SAXS fits). SAXS cannot resolve below ≈ 1.6 nm; for 350/380 the optical
#: diameters are shifted by the 403 family's SAXS–optical offset (+0.16 nm).
MSC_SAXS_DIAMETER_NM = {"CdSe-350": 1.25, "CdSe-380": 1.53, "CdSe-403": 1.74, "CdSe-437": 1.88, "CdSe-465": 2.04}

#: Tolerances of the LSODA integration (scipy's odeint). Against rtol 1e-5 / atol 1e-10 over an
#: 80-point grid (240–340 °C, 1.5–20 s) they change MSC concentrations by < 0.2 % (of values
#: ≥ 1e-4 mM), the NC mean diameter by < 1e-4 nm and the dispersion by < 2e-4, and make the
#: kinetics 2.5× faster (benchmarks/sim.py).
RTOL = 1e-3
ATOL_MM = 1e-9
_REFERENCE_K = celsius_to_kelvin(280.0)


@dataclass(frozen=True)
class KineticParameters:
    """Rate constants and material parameters of the twin.

    Rate constants are given at the reference temperature of 280 °C and scaled with their
    activation energies (Arrhenius). Units are in each name.

    The defaults were fitted to the Palencia et al. 2020 facts in four steps: first with one
    activation energy for all ladder steps (:data:`SINGLE_EA_PARAMETERS`, ``python
    docs/calibrate_twin.py --samples 300 --refine 3 --iterations 400 --seed 0``, loss 131.6 →
    13.8), then from there with one per step, the CdSe-380 → CdSe-403 step started steeply
    activated (``python docs/calibrate_twin.py --start single-ea --samples 0 --local-samples 20
    --refine 2 --iterations 1200 --processes 2 --without f5 --set ea_step1=2e5 --seed 1``, ≈ 14 min
    on 2 cores; loss without the fact-5 terms 2.36 → 0; values rounded to 4 digits). Yu's Pathway 1
    (the ``precursor_compound_*`` fields) was fitted next, on top, with those held (``python
    docs/calibrate_twin.py --start pathway1-hand --samples 0 --local-samples 30 --refine 2
    --iterations 600 --processes 2 --seed 5 --without f5_growth --free precursor_compound_fraction
    --free pc_switch_low_c --free pc_switch_high_c --free precursor_compound_switch_j_per_mol --free
    k_precursor_compound_per_s --free ea_precursor_compound_j_per_mol`` with the script of commit
    c63772c, 4 min 40 s on 2 cores; loss 0.33 → 2e-10). Last, the share of PCs passing straight on to
    their MSC (fact 5's onset of NC growth) with the growth law, cluster → NC, the PC fraction and
    the 61 → 84 step refitted around it (the command in docs/sim.md, "Parameters"). They are a fit
    of a reduced model, not measured constants: docs/sim.md lists the facts they reproduce (1–8)
    and how fact 5's onset of NC growth is reconciled with "no NCs at 260 °C / 4.5 s".
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


DEFAULT_PARAMETERS = KineticParameters()


#: The first calibration: one activation energy for all ladder steps (``python docs/calibrate_twin.py
#: --samples 300 --refine 3 --iterations 400 --seed 0``, loss 131.6 → 13.8). Kept as the start of
#: the second fit and as a second, differently shaped chemistry for the analysis tests. It misses
#: fact 1 (CdSe-437 present at 240–250 °C and falling with growth temperature) and fact 2 (no
#: MSC band at 260 °C / 4.5 s), which :data:`DEFAULT_PARAMETERS` reproduce.
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
    precursor_compound_fraction=0.0,  # fitted before the twin had Yu's Pathway 1
)


#: MSC families a precursor compound can be the quasi-isomer of (Palencia's SAXS-resolved 403, 437
#: and 465 families; the order the switch temperatures of :class:`KineticParameters` step through).
PRECURSOR_COMPOUND_FAMILIES = ("CdSe-403", "CdSe-437", "CdSe-465")


def precursor_compound_shares(temperature_c: float, params: KineticParameters = DEFAULT_PARAMETERS) -> np.ndarray:
    """Share of the PCs formed at ``temperature_c`` (°C) in each MSC family (sums to 1).

    Neighbouring families of :data:`PRECURSOR_COMPOUND_FAMILIES` are in van 't Hoff equilibrium,
    ln(w_{j+1}/w_j) = −ΔH/R·(1/T − 1/T_switch,j); families outside it get 0. Returned in the
    order of :data:`MSC_FAMILIES`.
    """
    inv_t = 1.0 / celsius_to_kelvin(temperature_c)
    steps = [
        -params.precursor_compound_switch_j_per_mol / GAS_CONSTANT_J_PER_MOL_K * (inv_t - 1.0 / celsius_to_kelvin(t))
        for t in params.precursor_compound_switch_c
    ]
    log_w = np.concatenate([[0.0], np.cumsum(steps)])
    w = np.exp(log_w - log_w.max())
    shares = dict(zip(PRECURSOR_COMPOUND_FAMILIES, w / w.sum(), strict=True))
    return np.array([shares.get(name, 0.0) for name, _, _ in MSC_FAMILIES])


def precursor_compound_direct_share(temperature_c: float, params: KineticParameters = DEFAULT_PARAMETERS) -> float:
    """Share of the PCs assembling at ``temperature_c`` (°C) that pass straight on to their MSC
    (:attr:`KineticParameters.precursor_compound_direct_c`)."""
    x = -params.precursor_compound_direct_j_per_mol / GAS_CONSTANT_J_PER_MOL_K * (
        1.0 / celsius_to_kelvin(temperature_c) - 1.0 / celsius_to_kelvin(params.precursor_compound_direct_c))
    return float(1.0 / (1.0 + np.exp(-np.clip(x, -700.0, 700.0))))


@dataclass(frozen=True)
class KineticState:
    """Concentrations at the end of a simulated reaction.

    Attributes
    ----------
    precursor_mm, monomer_mm : float
        Unreacted precursor and free monomer, mM of CdSe units.
    msc_mm : dict[str, float]
        Concentration of each MSC family, mM of clusters.
    nc_radius_nm : ndarray
        Centres of the NC radius classes, nm.
    nc_mm : ndarray
        Number concentration of NCs in each radius class, mM of particles.
    precursor0_mm : float
        CdSe units available at the start (the limiting precursor), mM.
    """

    precursor_mm: float
    monomer_mm: float
    msc_mm: dict[str, float]
    nc_radius_nm: np.ndarray
    nc_mm: np.ndarray
    precursor0_mm: float
    mesophase_order: float = 0.0
    """Fraction of the unreacted Cd precursor held in the lamellar mesophase (0–1)."""
    cd_excess_mm: float = 0.0
    """Cd precursor beyond the limiting amount (a Cd excess over Se), mM; it never reacts."""
    pc_mm: dict[str, float] = field(default_factory=dict)
    """Precursor compounds not yet transformed, mM of compounds, by the MSC family each becomes
    (Yu's Pathway 1; empty when the pathway is off)."""

    @property
    def cd_precursor_mm(self) -> float:
        """Unreacted Cd precursor, mM: the limiting share left plus any excess (what scatters as
        the Cd precursor and forms the mesophase, Palencia 2020 Fig. 3)."""
        return self.precursor_mm + self.cd_excess_mm

    def mixed_with(self, other: KineticState, fraction_other: float) -> KineticState:
        """The mixture of ``(1 − f)`` parts of this state and ``f`` parts of ``other``.

        Concentrations mix linearly, as they do in a flow cell fed first by one product and then
        by the next; both states must share the NC radius grid.
        """
        f = float(fraction_other)
        ordered = (1 - f) * self.cd_precursor_mm * self.mesophase_order + f * other.cd_precursor_mm * other.mesophase_order
        cd_precursor = (1 - f) * self.cd_precursor_mm + f * other.cd_precursor_mm
        precursor = (1 - f) * self.precursor_mm + f * other.precursor_mm
        return KineticState(
            precursor_mm=precursor,
            monomer_mm=(1 - f) * self.monomer_mm + f * other.monomer_mm,
            msc_mm={k: (1 - f) * v + f * other.msc_mm[k] for k, v in self.msc_mm.items()},
            nc_radius_nm=self.nc_radius_nm,
            nc_mm=(1 - f) * self.nc_mm + f * other.nc_mm,
            precursor0_mm=(1 - f) * self.precursor0_mm + f * other.precursor0_mm,
            mesophase_order=ordered / cd_precursor if cd_precursor > 0 else 0.0,
            cd_excess_mm=(1 - f) * self.cd_excess_mm + f * other.cd_excess_mm,
            pc_mm={k: (1 - f) * self.pc_mm.get(k, 0.0) + f * other.pc_mm.get(k, 0.0) for k in self.pc_mm.keys() | other.pc_mm.keys()},
        )

    @property
    def nc_total_mm(self) -> float:
        """Total NC number concentration, mM of particles."""
        return float(self.nc_mm.sum())

    @property
    def nc_mean_diameter_nm(self) -> float:
        """Number-weighted mean NC diameter, nm (NaN without NCs)."""
        total = self.nc_mm.sum()
        if total <= 1e-12:
            return float("nan")
        return float(2.0 * (self.nc_mm * self.nc_radius_nm).sum() / total)

    @property
    def nc_size_dispersion(self) -> float:
        """Relative standard deviation σ_d / ⟨d⟩ of the NC diameters (NaN without NCs)."""
        total = self.nc_mm.sum()
        if total <= 1e-12:
            return float("nan")
        mean = (self.nc_mm * self.nc_radius_nm).sum() / total
        var = (self.nc_mm * (self.nc_radius_nm - mean) ** 2).sum() / total
        return float(np.sqrt(max(var, 0.0)) / mean)

    @property
    def units_in_msc_mm(self) -> float:
        """CdSe units bound in MSCs, mM."""
        return float(sum(self.msc_mm[name] * units for name, _, units in MSC_FAMILIES))

    @property
    def units_in_nc_mm(self) -> float:
        """CdSe units bound in NCs, mM."""
        return float((self.nc_mm * aggregation_number(2.0 * self.nc_radius_nm)).sum())

    @property
    def units_in_pc_mm(self) -> float:
        """CdSe units bound in precursor compounds, mM (not yet CdSe: not in the yield)."""
        return float(sum(self.pc_mm.get(name, 0.0) * units for name, _, units in MSC_FAMILIES))

    def scatterers(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """SAXS radii (nm), CdSe units per particle and number concentrations (mM) of every particle.

        MSCs and their precursor compounds at the family's SAXS size (Palencia 2020; Yu SI Table
        S2: PC and MSC show "similar sizes" by SAXS), then the NC radius classes.
        """
        names = [name for name, _, _ in MSC_FAMILIES]
        radii = np.array([MSC_SAXS_DIAMETER_NM[name] / 2.0 for name in names])
        units = np.array([n for _, _, n in MSC_FAMILIES], dtype=float)
        clusters = np.array([self.msc_mm[name] + self.pc_mm.get(name, 0.0) for name in names])
        return (
            np.concatenate([radii, self.nc_radius_nm]),
            np.concatenate([units, aggregation_number(2.0 * self.nc_radius_nm)]),
            np.concatenate([clusters, self.nc_mm]),
        )

    @property
    def yield_fraction(self) -> float:
        """Fraction of the precursor converted into solid CdSe (MSCs and NCs)."""
        return (self.units_in_msc_mm + self.units_in_nc_mm) / self.precursor0_mm


class _Model:
    """Right-hand side of the ODE system for one parameter set (grid precomputed)."""

    def __init__(self, params: KineticParameters):
        self.p = params
        self.msc_units = np.array([units for _, _, units in MSC_FAMILIES], dtype=float)
        self.msc_radius_m = diameter_for_units(self.msc_units) * 0.5e-9
        low, high, bins = params.radius_grid_nm
        low = self.msc_radius_m[-1] * 1e9 if low is None else low
        self.edges_nm = np.linspace(low, high, bins + 1)
        self.centres_nm = 0.5 * (self.edges_nm[1:] + self.edges_nm[:-1])
        self.dr_nm = np.diff(self.edges_nm)
        self.nc_units = aggregation_number(2.0 * self.centres_nm)
        self.n_msc = len(self.msc_units)
        self.step_units = self.msc_units[1:] - self.msc_units[:-1]
        # State vector: precursor, monomer, MSC families, their precursor compounds, NC classes.
        self.i_pc = 2 + self.n_msc
        self.i_nc = 2 + 2 * self.n_msc
        self.size = self.i_nc + len(self.centres_nm)

    def rates(self, temperature_k: float):
        """Temperature-dependent constants, evaluated once per integration segment."""
        p = self.p
        ea_steps = np.broadcast_to(np.asarray(p.ea_steps_j_per_mol, dtype=float), (len(p.k_steps_per_mm_s),))
        k_steps = arrhenius(np.asarray(p.k_steps_per_mm_s, dtype=float), ea_steps, temperature_k, _REFERENCE_K)
        k_to_nc = arrhenius(np.asarray(p.k_to_nc_per_mm_s, dtype=float), p.ea_to_nc_j_per_mol, temperature_k, _REFERENCE_K)
        rt = GAS_CONSTANT_J_PER_MOL_K * temperature_k
        solubility = p.solubility_mm * np.exp(
            -p.dh_solubility_j_per_mol / GAS_CONSTANT_J_PER_MOL_K * (1.0 / temperature_k - 1.0 / _REFERENCE_K)
        )
        gibbs = 2.0 * p.surface_energy_j_per_m2 * CDSE_MOLAR_VOLUME_M3_PER_MOL / rt
        a = arrhenius(p.growth_rate_constant_m_per_s, p.ea_growth_j_per_mol, temperature_k, _REFERENCE_K)
        b = p.growth_offset_nm
        ka_edges = a * ((p.reference_radius_nm + b) / (self.edges_nm + b)) ** p.growth_exponent
        return {
            "k_precursor": arrhenius(p.k_precursor_per_s, p.ea_precursor_j_per_mol, temperature_k, _REFERENCE_K),
            "k_nucleation": arrhenius(p.k_nucleation_per_mm_s, p.ea_nucleation_j_per_mol, temperature_k, _REFERENCE_K),
            "k_pc": arrhenius(p.k_precursor_compound_per_s, p.ea_precursor_compound_j_per_mol, temperature_k, _REFERENCE_K),
            "k_steps": k_steps,
            "k_to_nc": k_to_nc,
            # Gibbs–Thomson solubility of each cluster and of NCs at each class edge, mM.
            "msc_solubility": solubility * np.exp(gibbs / self.msc_radius_m),
            "edge_solubility": solubility * np.exp(gibbs / (self.edges_nm * 1e-9)),
            # dr/dt = V_m · k_a(r) · ([M] − [M]_sat(r)), with [M] in mol m⁻³ (= mM); nm s⁻¹ per mM.
            "growth_nm_per_s_per_mm": CDSE_MOLAR_VOLUME_M3_PER_MOL * ka_edges * 1e9,
        }

    def rhs_function(self, rates, nucleating: bool):
        """The right-hand side ``f(y, t)`` for one segment, with its constants bound once.

        The one statement of the model's equations (:meth:`jac` differentiates them), written as a
        closure over preallocated arrays: the integrator calls it several hundred times per point,
        and a per-call dictionary of terms cost more than the arithmetic.
        """
        k_precursor, k_nucleation = rates["k_precursor"], rates["k_nucleation"]
        k_steps, k_to_nc = rates["k_steps"], rates["k_to_nc"]
        sat0, sat_up = rates["msc_solubility"][0], rates["msc_solubility"][1:]
        g_per_m, edge_sat = rates["growth_nm_per_s_per_mm"], rates["edge_solubility"]
        g_inner, sat_inner, g_bottom, sat_bottom = g_per_m[1:-1], edge_sat[1:-1], g_per_m[0], edge_sat[0]
        chi = 1.0 if nucleating else 0.0
        inv_dr = 1.0 / self.dr_nm
        k_pc = rates["k_pc"]
        i_c_end, i_pc, i_n = 2 + self.n_msc, self.i_pc, self.i_nc
        nc_units, msc_units, step_units = self.nc_units, self.msc_units, self.step_units
        top_units, nucleus_units = msc_units[-1], msc_units[0]
        dn = np.empty(len(inv_dr))

        def f(y, _t=0.0):
            m = y[1] if y[1] > 0.0 else 0.0
            c = np.maximum(y[2:i_c_end], 0.0)
            # Precursor compound → MSC of its family, first order (Yu's Pathway 1).
            transformed = k_pc * y[i_pc:i_n]
            n_per_dr = np.maximum(y[i_n:], 0.0) * inv_dr
            # Upwind fluxes through the inner class edges (growth > 0 carries the lower class up).
            inner = g_inner * (m - sat_inner)
            flux = np.where(inner > 0.0, inner * n_per_dr[:-1], inner * n_per_dr[1:])
            bottom = g_bottom * (m - sat_bottom)
            death = -bottom * n_per_dr[0] if bottom < 0.0 else 0.0  # NCs shrinking back into the largest MSC
            dn[:-1] = -flux
            dn[-1] = 0.0
            dn[1:] += flux
            conversion = k_precursor * y[0]
            # Nucleation of CdSe-350 (only in the chamber) and its reverse (dissolution).
            nucleation = k_nucleation * (chi * m * m - c[0] * sat0)
            # Ladder steps i-1 → i, reversible through the Gibbs–Thomson solubility of cluster i.
            steps = k_steps * (c[:-1] * m - c[1:] * sat_up)
            # Cluster + monomer → NC (Palencia: r(NCs) = k(NCs)·[465]·[M], or ·[403] in the window).
            births = k_to_nc * c * m
            dn[0] += births.sum() - death
            dy = np.empty_like(y)
            dy[0] = -conversion
            dy[2] = nucleation - steps[0]
            dy[3 : i_c_end - 1] = steps[:-1] - steps[1:]
            dy[i_c_end - 1] = steps[-1] + death
            dy[2:i_c_end] += transformed - births
            dy[i_pc:i_n] = -transformed
            units_to_nc = nc_units @ dn - msc_units @ births + top_units * death
            units_to_msc = nucleus_units * nucleation + step_units @ steps
            dy[1] = conversion - units_to_msc - units_to_nc
            dy[i_n:] = dn
            return dy

        return f

    def rhs(self, y, rates, nucleating: bool):
        """dy/dt at ``y`` (see :meth:`rhs_function`)."""
        return self.rhs_function(rates, nucleating)(y)

    def jac(self, y, rates, nucleating: bool):
        """Analytic Jacobian of :meth:`rhs` (dense; the system has ~100 equations)."""
        size, i_m, i_c, i_pc, i_n = len(y), 1, 2, self.i_pc, self.i_nc
        m = max(y[1], 0.0)
        c = np.maximum(y[2 : 2 + self.n_msc], 0.0)
        n = np.maximum(y[i_n:], 0.0)
        sat, k = rates["msc_solubility"], rates["k_steps"]
        chi = 1.0 if nucleating else 0.0
        g_per_m = rates["growth_nm_per_s_per_mm"]
        growth = g_per_m * (m - rates["edge_solubility"])
        # The rhs's upwind choice: class i below an inner edge that grows, class i+1 above one that shrinks.
        upwind = np.where(growth[1:-1] > 0, np.arange(len(growth) - 2), np.arange(1, len(growth) - 1))

        d_nuc = np.zeros(size)
        d_nuc[i_m] = 2.0 * rates["k_nucleation"] * chi * m
        d_nuc[i_c] = -rates["k_nucleation"] * sat[0]
        d_steps = np.zeros((self.n_msc - 1, size))
        rows = np.arange(self.n_msc - 1)
        d_steps[rows, i_c + rows] = k * m
        d_steps[rows, i_c + rows + 1] = -k * sat[1:]
        d_steps[:, i_m] = k * c[:-1]
        kb = rates["k_to_nc"]
        d_births = np.zeros((self.n_msc, size))
        d_births[np.arange(self.n_msc), i_c + np.arange(self.n_msc)] = kb * m
        d_births[:, i_m] = kb * c
        d_birth = d_births.sum(axis=0)
        d_death = np.zeros(size)
        if growth[0] < 0:
            d_death[i_n] = -growth[0] / self.dr_nm[0]
            d_death[i_m] = -g_per_m[0] * n[0] / self.dr_nm[0]

        d_flux = np.zeros((len(growth), size))
        edges = np.arange(1, len(growth) - 1)
        d_flux[edges, i_n + upwind] = growth[1:-1] / self.dr_nm[upwind]
        d_flux[edges, i_m] = g_per_m[1:-1] * n[upwind] / self.dr_nm[upwind]
        d_dn = d_flux[:-1] - d_flux[1:]
        d_dn[0] += d_birth - d_death

        jac = np.zeros((size, size))
        jac[0, 0] = -rates["k_precursor"]
        jac[i_c] = d_nuc - d_steps[0]
        jac[i_c + 1 : i_c + self.n_msc - 1] = d_steps[:-1] - d_steps[1:]
        jac[i_c + self.n_msc - 1] = d_steps[-1] + d_death
        jac[i_c : i_c + self.n_msc] -= d_births
        families = np.arange(self.n_msc)
        jac[i_c + families, i_pc + families] = rates["k_pc"]
        jac[i_pc + families, i_pc + families] = -rates["k_pc"]
        jac[i_n:] = d_dn
        d_units_nc = self.nc_units @ d_dn - self.msc_units @ d_births + self.msc_units[-1] * d_death
        d_units_msc = self.msc_units[0] * d_nuc + self.step_units @ d_steps
        jac[i_m] = -d_units_msc - d_units_nc
        jac[i_m, 0] += rates["k_precursor"]
        return jac

    def integrate(self, y0, duration_s, temperature_c, nucleating, conversion_scale=1.0):
        if duration_s <= 0:
            return y0
        rates = self.rates(celsius_to_kelvin(temperature_c))
        rates["k_precursor"] *= conversion_scale
        y, info = odeint(
            self.rhs_function(rates, nucleating),
            y0,
            [0.0, duration_s],
            Dfun=lambda y, _t: self.jac(y, rates, nucleating),
            rtol=RTOL,
            atol=ATOL_MM,
            mxstep=20000,
            full_output=True,
        )
        if info["message"] != "Integration successful.":  # pragma: no cover - surfaced with context
            msg = f"kinetics integration failed at {temperature_c} °C over {duration_s} s: {info['message']}"
            raise RuntimeError(msg)
        return np.maximum(y[-1], 0.0)


@lru_cache(maxsize=32)
def _model(params: KineticParameters) -> _Model:
    return _Model(params)


def react(
    nucleation_temperature_c: float,
    growth_temperature_c: float,
    residence_time_s: float,
    nucleation_time_s: float = 0.5,
    params: KineticParameters = DEFAULT_PARAMETERS,
    cd_precursor_mm: float | None = None,
    se_precursor_mm: float | None = None,
) -> KineticState:
    """Integrate the flow-reactor kinetics: chamber at the nucleation T, then the growth oven.

    Parameters
    ----------
    nucleation_temperature_c : float
        Nucleation chamber temperature, °C.
    growth_temperature_c : float
        Growth oven temperature, °C.
    residence_time_s : float
        Time in the growth oven ("reaction time" in Palencia 2020), s.
    nucleation_time_s : float
        Time in the nucleation chamber, s.
    params : KineticParameters
        Rate constants; defaults to :data:`DEFAULT_PARAMETERS`.
    cd_precursor_mm, se_precursor_mm : float, optional
        Cd and Se precursor concentrations in the mixture, mM (default ``params.precursor_mm``
        each). The limiting one sets the CdSe units available; the excess speeds the conversion
        (:attr:`KineticParameters.conversion_order_in_excess`).
    """
    model = _model(params)
    cd = params.precursor_mm if cd_precursor_mm is None else cd_precursor_mm
    se = params.precursor_mm if se_precursor_mm is None else se_precursor_mm
    limiting, excess = min(cd, se), max(cd, se)
    scale = (excess / limiting) ** params.conversion_order_in_excess
    y = np.zeros(model.size)
    y[0] = limiting
    if nucleation_time_s > 0 and params.precursor_compound_fraction > 0:
        # Yu's Pathway 1: part of the fresh mixture self-assembles into precursor compounds as it
        # heats up in the chamber (the induction period), each the quasi-isomer of one MSC family;
        # in a hot chamber part of them rearranges into that MSC as it assembles.
        assembled = params.precursor_compound_fraction * limiting
        y[0] -= assembled
        per_family = assembled * precursor_compound_shares(nucleation_temperature_c, params) / model.msc_units
        direct = precursor_compound_direct_share(nucleation_temperature_c, params)
        y[2 : 2 + model.n_msc] += direct * per_family
        y[model.i_pc : model.i_nc] = (1.0 - direct) * per_family
    y = model.integrate(y, nucleation_time_s, nucleation_temperature_c, nucleating=True, conversion_scale=scale)
    y = model.integrate(y, residence_time_s, growth_temperature_c, nucleating=False, conversion_scale=scale)
    return KineticState(
        precursor_mm=float(y[0]),
        monomer_mm=float(y[1]),
        msc_mm={name: float(v) for (name, _, _), v in zip(MSC_FAMILIES, y[2 : 2 + model.n_msc], strict=True)},
        nc_radius_nm=model.centres_nm.copy(),
        nc_mm=y[model.i_nc :].copy(),
        precursor0_mm=limiting,
        cd_excess_mm=max(cd - se, 0.0),
        pc_mm={name: float(v) for (name, _, _), v in zip(MSC_FAMILIES, y[model.i_pc : model.i_nc], strict=True) if v > 0},
    )

