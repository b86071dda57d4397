"""Reaction kinetics of the flow reactor: precursor → monomer → MSC ladder → nanocrystals.

The model follows the mechanism of Palencia et al. 2020 (Scheme 1): first-order precursor
conversion, nucleation of CdSe-350 wherever the monomer is supersaturated (mass action damped by
classical nucleation theory's barrier, as Prins et al. 2021 simulate it), the magic-size-cluster
(MSC) ladder by r(i) = k(i)·[i−1]·[M] made reversible through the Gibbs–Thomson solubility, and
regular nanocrystals (NCs) growing by Prins et al. 2021 eq. 1 in its reaction-limited limit with
the superfocusing rate constant of eq. 6. The ladder's rung constants are that same surface law
applied to each cluster; CdSe-437 carries a closed shell that slows both of its exits, the one up
needing two monomers at once; part of CdSe-403's growth bypasses the shell as regular NCs
(Palencia's "403 → NC"), a share that grows the cooler the stream. Every species is a concentration
in mM; NCs are a population balance on a radius grid (method of classes, first-order upwind fluxes).

Flow geometry (Palencia 2020): the mixed precursors spend ``nucleation_time_s`` in the small
nucleation chamber at the nucleation temperature and then ``residence_time_s`` in the growth oven
at the growth temperature; both run the same equations.

The parameters live in :mod:`autolab.sim.parameters` and the resulting state in
:mod:`autolab.sim.state`; this module holds the equations and their integration. The parameter
sets and the state are importable from here too, as :func:`react` takes and returns them.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.integrate import odeint

from autolab.materials import (
    AVOGADRO_PER_MOL,
    CDSE_MOLAR_VOLUME_M3_PER_MOL,
    GAS_CONSTANT_J_PER_MOL_K,
    MSC_FAMILIES,
    aggregation_number,
    celsius_to_kelvin,
    diameter_for_units,
)

from .nucleation import cnt_barrier, cnt_factor, cnt_log_slope
from .parameters import DEFAULT_PARAMETERS, FAST_GROWTH_PARAMETERS, REFERENCE_TEMPERATURE_C, KineticParameters
from .state import KineticState

__all__ = [
    "DEFAULT_PARAMETERS",
    "FAST_GROWTH_PARAMETERS",
    "MSC_FAMILIES",
    "KineticParameters",
    "KineticState",
    "arrhenius",
    "react",
]

#: Tolerances of the LSODA integration (scipy's odeint). Against rtol 1e-5 / atol 1e-10 over an
#: 80-point grid (nucleation 240–340 °C, growth 220–320 °C, 1.5–20 s) they change MSC
#: concentrations by < 0.3 % (of values ≥ 1e-4 mM), the NC mean diameter by < 3e-4 nm and the
#: dispersion by < 2e-4, and make the kinetics 1.6× faster.
RTOL = 1e-3
ATOL_MM = 1e-9
_REFERENCE_K = celsius_to_kelvin(REFERENCE_TEMPERATURE_C)


def arrhenius(k_ref, activation_energy_j_per_mol, temperature_k, reference_k):
    """Scale a rate constant ``k_ref`` known at ``reference_k`` to ``temperature_k``.

    k(T) = k_ref · exp(−Ea/R · (1/T − 1/T_ref)).
    """
    return k_ref * np.exp(-activation_energy_j_per_mol / GAS_CONSTANT_J_PER_MOL_K * (1.0 / temperature_k - 1.0 / reference_k))


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
        # Units a cluster takes up to climb one rung: the next family, or the smallest NC class for the top one.
        self.rung_units = np.append(self.step_units, self.nc_units[0] - self.msc_units[-1])
        names = [name for name, _, _ in MSC_FAMILIES]
        self.closed_shell = names.index(params.closed_shell_family)
        # State vector: precursor, monomer, MSC families, NC classes.
        self.i_nc = 2 + self.n_msc
        self.size = self.i_nc + len(self.centres_nm)

    def attachment_per_mm_s(self, radius_nm, temperature_k: float):
        """Monomer units a particle of ``radius_nm`` takes up per second per mM of supersaturation.

        4πr²·k_a(r)·N_A: the growth law of the NCs (Prins eq. 1, reaction-limited, with the
        superfocusing k_a of eq. 6) applied to a cluster's surface.
        """
        return 4.0 * np.pi * (np.asarray(radius_nm) * 1e-9) ** 2 * self.surface_rate_m_per_s(radius_nm, temperature_k) * AVOGADRO_PER_MOL

    def surface_rate_m_per_s(self, radius_nm, temperature_k: float):
        """k_a(r) = A·((r_c0 + B)/(r + B))ⁿ at ``temperature_k`` (Prins eq. 6), m s⁻¹."""
        p = self.p
        a = arrhenius(p.growth_rate_constant_m_per_s, p.ea_growth_j_per_mol, temperature_k, _REFERENCE_K)
        b = p.growth_offset_nm
        return a * ((p.reference_radius_nm + b) / (np.asarray(radius_nm) + b)) ** p.growth_exponent

    def rates(self, temperature_k: float):
        """Temperature-dependent constants, evaluated once per integration segment."""
        p = self.p
        rt = GAS_CONSTANT_J_PER_MOL_K * temperature_k
        solubility = p.solubility_mm * np.exp(
            -p.dh_solubility_j_per_mol / GAS_CONSTANT_J_PER_MOL_K * (1.0 / temperature_k - 1.0 / _REFERENCE_K)
        )
        gibbs = 2.0 * p.surface_energy_j_per_m2 * CDSE_MOLAR_VOLUME_M3_PER_MOL / rt
        # One rung up per rung_units monomers taken up: mM⁻¹ s⁻¹ per cluster.
        climb = self.attachment_per_mm_s(self.msc_radius_m * 1e9, temperature_k) / self.rung_units
        shell = min(arrhenius(p.closed_shell_factor, p.ea_closed_shell_j_per_mol, temperature_k, _REFERENCE_K), 1.0)
        up, down = climb[:-1].copy(), climb[:-1].copy()
        birth = np.zeros(self.n_msc)
        birth[-1] = climb[-1]
        c = self.closed_shell
        if c < self.n_msc - 1:
            up[c] *= shell
        else:
            birth[-1] *= shell
        if c > 0:
            down[c - 1] *= shell
            beta = p.regular_branch_fraction
            if beta > 0.0:  # Palencia's "403 → NC": a share β of the family's growth bypasses the closed shell
                odds = arrhenius(beta / (1.0 - beta), p.ea_regular_branch_j_per_mol, temperature_k, _REFERENCE_K)
                beta = odds / (1.0 + odds)
                # The family's uptake (its climb × the units of its rung), now into the units an NC lacks.
                birth[c - 1] = beta * climb[c - 1] * self.rung_units[c - 1] / (self.nc_units[0] - self.msc_units[c - 1])
                # Both ways of the step to the shell lose the share, so its Gibbs–Thomson balance stays.
                up[c - 1] *= 1.0 - beta
                down[c - 1] *= 1.0 - beta
        order = np.ones(self.n_msc - 1)
        if c < self.n_msc - 1:
            order[c] = self.p.closed_shell_monomer_order
        birth_order = np.ones(self.n_msc)
        if c > 0:
            birth_order[c - 1] = p.regular_branch_monomer_order
        return {
            "step_order": order,
            "birth_order": birth_order,
            "k_precursor": arrhenius(p.k_precursor_per_s, p.ea_precursor_j_per_mol, temperature_k, _REFERENCE_K),
            "k_nucleation": arrhenius(p.k_nucleation_per_mm_s, p.ea_nucleation_j_per_mol, temperature_k, _REFERENCE_K),
            "bulk_solubility": solubility,
            # CNT's barrier B = 16πγ_n³v²/(3(k_BT)³): the forward nucleation rate carries exp(−B/ln²S).
            "nucleation_barrier": cnt_barrier(p.nucleation_surface_energy_j_per_m2, temperature_k),
            "k_up": up,
            "k_down": down,
            "k_to_nc": birth,
            # Gibbs–Thomson solubility of each cluster and of NCs at each class edge, mM.
            "msc_solubility": solubility * np.exp(gibbs / self.msc_radius_m),
            "edge_solubility": solubility * np.exp(gibbs / (self.edges_nm * 1e-9)),
            # dr/dt = V_m · k_a(r) · ([M] − [M]_sat(r)), with [M] in mol m⁻³ (= mM); nm s⁻¹ per mM.
            "growth_nm_per_s_per_mm": CDSE_MOLAR_VOLUME_M3_PER_MOL * self.surface_rate_m_per_s(self.edges_nm, temperature_k) * 1e9,
        }

    def rhs_function(self, rates):
        """The right-hand side ``f(y, t)`` for one segment, with its constants bound once.

        The one statement of the model's equations (:meth:`jac` differentiates them), written as a
        closure over preallocated arrays: the integrator calls it several hundred times per point,
        and a per-call dictionary of terms cost more than the arithmetic.
        """
        k_precursor, k_nucleation = rates["k_precursor"], rates["k_nucleation"]
        barrier, bulk_sat = rates["nucleation_barrier"], rates["bulk_solubility"]
        k_up, k_down, k_to_nc = rates["k_up"], rates["k_down"], rates["k_to_nc"]
        sat0, sat_up = rates["msc_solubility"][0], rates["msc_solubility"][1:]
        order, birth_order = rates["step_order"], rates["birth_order"]
        sat_up_order = sat_up**order
        g_per_m, edge_sat = rates["growth_nm_per_s_per_mm"], rates["edge_solubility"]
        g_inner, sat_inner, g_bottom, sat_bottom = g_per_m[1:-1], edge_sat[1:-1], g_per_m[0], edge_sat[0]
        inv_dr = 1.0 / self.dr_nm
        i_n = self.i_nc
        nc_units, msc_units, step_units = self.nc_units, self.msc_units, self.step_units
        top_units, nucleus_units = msc_units[-1], msc_units[0]
        dn = np.empty(len(inv_dr))

        def f(y, _t=0.0):
            m = y[1] if y[1] > 0.0 else 0.0
            c = np.maximum(y[2:i_n], 0.0)
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
            # Nucleation of CdSe-350 wherever the monomer is supersaturated, and its reverse (dissolution).
            nucleation = k_nucleation * (cnt_factor(m, bulk_sat, barrier) * m * m - c[0] * sat0)
            # Ladder steps i → i+1, reversible through the Gibbs–Thomson solubility of cluster i+1.
            steps = k_up * c[:-1] * m**order - k_down * c[1:] * sat_up_order
            # The largest cluster (and, with the regular branch, the family below the shell) + monomer → the smallest NC class;
            # the branch in its own order in the monomer (its rate constant per mM^order, at 1 mM the share β).
            births = k_to_nc * c * m**birth_order
            dn[0] += births.sum() - death
            dy = np.empty_like(y)
            dy[0] = -conversion
            dy[2] = nucleation - steps[0]
            dy[3 : i_n - 1] = steps[:-1] - steps[1:]
            dy[i_n - 1] = steps[-1] + death
            dy[2:i_n] -= births
            units_to_nc = nc_units @ dn - msc_units @ births + top_units * death
            units_to_msc = nucleus_units * nucleation + step_units @ steps
            dy[1] = conversion - units_to_msc - units_to_nc
            dy[i_n:] = dn
            return dy

        return f

    def rhs(self, y, rates):
        """dy/dt at ``y`` (see :meth:`rhs_function`)."""
        return self.rhs_function(rates)(y)

    def jac(self, y, rates):
        """Analytic Jacobian of :meth:`rhs` (dense; the system has ~100 equations)."""
        size, i_m, i_c, i_n = len(y), 1, 2, self.i_nc
        m = max(y[1], 0.0)
        c = np.maximum(y[2 : 2 + self.n_msc], 0.0)
        n = np.maximum(y[i_n:], 0.0)
        sat = rates["msc_solubility"]
        k_up, k_down = rates["k_up"], rates["k_down"]
        g_per_m = rates["growth_nm_per_s_per_mm"]
        growth = g_per_m * (m - rates["edge_solubility"])
        # The rhs's upwind choice: class i below an inner edge that grows, class i+1 above one that shrinks.
        upwind = np.where(growth[1:-1] > 0, np.arange(len(growth) - 2), np.arange(1, len(growth) - 1))

        d_nuc = np.zeros(size)
        g = cnt_factor(m, rates["bulk_solubility"], rates["nucleation_barrier"])
        d_nuc[i_m] = rates["k_nucleation"] * g * m * (2.0 + cnt_log_slope(m, rates["bulk_solubility"], rates["nucleation_barrier"]))
        d_nuc[i_c] = -rates["k_nucleation"] * sat[0]
        d_steps = np.zeros((self.n_msc - 1, size))
        rows = np.arange(self.n_msc - 1)
        order = rates["step_order"]
        d_steps[rows, i_c + rows] = k_up * m**order
        d_steps[rows, i_c + rows + 1] = -k_down * sat[1:] ** order
        d_steps[:, i_m] = k_up * c[:-1] * order * m ** (order - 1)
        kb = rates["k_to_nc"]
        d_births = np.zeros((self.n_msc, size))
        q = rates["birth_order"]
        d_births[np.arange(self.n_msc), i_c + np.arange(self.n_msc)] = kb * m**q
        d_births[:, i_m] = kb * c * q * m ** (q - 1.0)
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
        jac[i_n:] = d_dn
        d_units_nc = self.nc_units @ d_dn - self.msc_units @ d_births + self.msc_units[-1] * d_death
        d_units_msc = self.msc_units[0] * d_nuc + self.step_units @ d_steps
        jac[i_m] = -d_units_msc - d_units_nc
        jac[i_m, 0] += rates["k_precursor"]
        return jac

    def integrate(self, y0, duration_s, temperature_c, conversion_scale=1.0):
        if duration_s <= 0:
            return y0
        rates = self.rates(celsius_to_kelvin(temperature_c))
        rates["k_precursor"] *= conversion_scale
        y, info = odeint(
            self.rhs_function(rates),
            y0,
            [0.0, duration_s],
            Dfun=lambda y, _t: self.jac(y, rates),
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
    nucleation_time_s: float | None = None,
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
    nucleation_time_s : float, optional
        Time in the nucleation chamber, s; by default ``residence_time_s ×
        params.chamber_to_oven_volume_ratio`` (one flow through both).
    params : KineticParameters
        Rate constants; defaults to :data:`DEFAULT_PARAMETERS`.
    cd_precursor_mm, se_precursor_mm : float, optional
        Cd and Se precursor concentrations in the mixture, mM (default ``params.precursor_mm``
        each). The limiting one sets the CdSe units available; the excess speeds the conversion
        (:attr:`KineticParameters.conversion_order_in_excess`).
    """
    model = _model(params)
    if nucleation_time_s is None:
        nucleation_time_s = residence_time_s * params.chamber_to_oven_volume_ratio
    cd = params.precursor_mm if cd_precursor_mm is None else cd_precursor_mm
    se = params.precursor_mm if se_precursor_mm is None else se_precursor_mm
    limiting, excess = min(cd, se), max(cd, se)
    scale = (excess / limiting) ** params.conversion_order_in_excess
    y = np.zeros(model.size)
    y[0] = limiting
    y = model.integrate(y, nucleation_time_s, nucleation_temperature_c, conversion_scale=scale)
    y = model.integrate(y, residence_time_s, growth_temperature_c, conversion_scale=scale)
    return KineticState(
        precursor_mm=float(y[0]),
        monomer_mm=float(y[1]),
        msc_mm={name: float(v) for (name, _, _), v in zip(MSC_FAMILIES, y[2 : 2 + model.n_msc], strict=True)},
        nc_radius_nm=model.centres_nm.copy(),
        nc_mm=y[model.i_nc :].copy(),
        precursor0_mm=limiting,
        cd_excess_mm=max(cd - se, 0.0),
    )
