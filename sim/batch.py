"""Batch hot-injection synthesis: the twin of Prins et al., Nano Lett. 2021 (in situ SAXS, Fig. 1;
kinetic simulations, Fig. 5 and SI S6).

The model is the one Prins et al. simulate:

- precursor → monomer, pseudo-first-order in the limiting precursor, dP/dt = −k·P (Prins SI S6:
  "under pseudo-first-order conditions, a process that applies to the CdSe reaction used here");
- classical nucleation theory, J = A_n·exp(−B/ln²S) with B = 16πγ³v²/(3(k_BT)³) and critical
  radius r* = 2γv/(k_BT·lnS), S = [M]/[M]0;
- growth by Prins eq. 1 in its reaction-limited limit (D/k_a ≫ r, the regime Prins conclude holds),
  dr/dt = V_m·k_a(r)·([M] − [M]0·exp(2γv/(k_BT·r))), with the superfocusing rate constant of
  eq. 6, k_a(r) = A·((r_c0 + B)/(r + B))ⁿ;
- Lagrangian cohorts: the nuclei of each time step form one cohort whose radius then follows
  dr/dt, so the size distribution carries no numerical diffusion and focusing shows as it is.

A nucleus joins the population at r* + √(k_BT/(4πγ)): near its top the formation free energy is
ΔG(r) ≈ ΔG* − 4πγ(r − r*)², so this is the radius at which it has fallen k_BT below the barrier
and a cluster grows on rather than redissolving. It adds no parameter.

Each time step is implicit in the monomer: [M] is the root of
"monomer before + monomer generated = [M] + monomer taken up by nucleation and growth", where every
cohort's growth over the step is evaluated at that [M]. The monomer that remains is computed from
what the cohorts actually took up, so CdSe units in NCs + monomer + precursor stay equal to the
initial precursor to rounding error. Steps are log-spaced from 1 ms so the first seconds, when
nucleation starts, are resolved as finely as the late growth is cheap.

The conversion is first order because nucleation then lasts: the monomer generation falls only
slowly, so with n > 2 growing NCs leave the supersaturation high (Prins eq. 5). A second-order law
(Prins's fit to the aliquot yields of Fig. 2c, after Abe et al. 2012) makes a third of the CdSe in
the first 10 s and then lets the generation collapse; nucleation ends within ≈ 20 s at every n.

With the default n = 4 the twin has NCs of r ≈ 1.17 nm (σ_r ≈ 0.17 nm) at 10 s, nucleates for
≈ 20 % of the time to 98 % yield (Prins: 15 % by SAXS, 20 % from aliquots), focuses absolutely to
σ_r/r ≈ 3.5 % and ends at ≈ 24 µM NCs of r ≈ 2.2 nm. With n = 0 and 2 it nucleates for ≈ 4.6 % and
≈ 5.4 % of that time (Prins Fig. 5d inset: 5 % → 16 % as n goes 0 → 4) and ends with more,
smaller NCs. Its radius at 10 s sits below Prins's ≈ 1.5 nm by mass balance: first-order conversion
with 98 % at 400 s has made 9 % of the CdSe by 10 s, and nucleation that lasts ≈ 80 s has by then
made 60 % of the final NCs, so they hold ≈ 130 CdSe units each on average (r ≈ 1.2 nm); r = 1.5 nm
at 10 s with this yield would need a nucleation that makes under 30 % of the NCs in the first
10 s and the rest by 60 s, which a supersaturation-driven nucleation rate under a slowly falling
generation does not do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from autolab.materials import CDSE_MOLAR_VOLUME_M3_PER_MOL, celsius_to_kelvin

from .nucleation import BOLTZMANN_J_PER_K as _BOLTZMANN_J_PER_K
from .nucleation import UNIT_VOLUME_M3 as _UNIT_VOLUME_M3
from .nucleation import cnt_barrier

__all__ = ["HotInjectionParameters", "HotInjectionResult", "hot_injection"]

#: Sphere volume (m³ per r³) in CdSe units per m³, so that c[mM]·r³·_UNITS_PER_R3 is units in mM.
_UNITS_PER_R3 = 4.0 / 3.0 * np.pi / _UNIT_VOLUME_M3
#: Cohorts born with fewer NCs than this (mM) are not kept; they hold < 1e-12 of the CdSe.
_MIN_COHORT_MM = 1e-15


@dataclass(frozen=True)
class HotInjectionParameters:
    """Constants of the batch synthesis (units in the names).

    ``solubility_mm``, ``surface_energy_j_per_m2``, ``nucleation_prefactor_mm_per_s``,
    ``growth_rate_constant_m_per_s`` and ``reference_radius_nm`` are fitted: Prins et al. give
    none of their values. They minimise a loss built from Prins's numbers —
    at n = 4, r and σ_r at 10 s (Fig. 1b), ≈ 25 µM of r ≈ 2.2 nm NCs (Fig. 1b, c), σ_r/r ≤ 6 %;
    at n = 0 and 4, t98(NC concentration)/t98(yield) of 5 % and 16 % (Fig. 5d inset), rising
    with n; and σ_r/r ≤ 7 % at n = 2. The module docstring lists what it reaches.
    """

    temperature_c: float = 245.0
    """Reaction temperature. It enters only through k_BT (CNT barrier, critical radius,
    Gibbs–Thomson); 245 °C is the twin's assumption for Prins's Cd oleate / TOP-Se synthesis (the
    seed text gives no temperature), and the fitted constants below hold at it."""
    precursor_mm: float = 20.0
    """Limiting precursor after injection, as CdSe units: 25 µM NCs of r = 2.22 nm (Prins Fig. 1b,
    c) hold 20 mM of CdSe (V_m = 32.94 cm³ mol⁻¹)."""
    k_precursor_per_s: float = float(np.log(50.0) / 400.0)
    """Pseudo-first-order conversion constant, ln 50 / 400 s: 98 % of the precursor converted at
    400 s, where Prins's in situ yield reaches 98 % (Fig. 1c, "within 400 s")."""
    solubility_mm: float = 2.09e-5
    """Bulk monomer solubility [M]0 (fitted)."""
    surface_energy_j_per_m2: float = 0.1736
    """γ for the CNT barrier, r* and Gibbs–Thomson (fitted; CdSe–ligand values are 0.1–0.3 J m⁻²)."""
    nucleation_prefactor_mm_per_s: float = 2.16e4
    """CNT prefactor A_n (fitted)."""
    growth_rate_constant_m_per_s: float = 2.67e-5
    """A of Prins eq. 6: k_a at r = r_c0 (fitted)."""
    growth_offset_nm: float = 0.2
    """B of Prins eq. 6, "a small radial offset" that keeps k_a finite at r = 0 (the value is the
    twin's choice; Prins give none)."""
    reference_radius_nm: float = 1.67
    """r_c0 of Prins eq. 6: the radius at which k_a = A for every n (fitted; it sets how the runs
    with different n compare, and so the rise of the nucleation fraction with n)."""
    growth_exponent: float = 4.0
    """n of Prins eq. 6. 4 by default: in Prins's bimodal growth experiments the larger NCs grow
    more slowly than even the 1/r⁴ reference predicts (Fig. 4), and their simulations span 0 (no
    superfocusing) to 4."""


@dataclass(frozen=True)
class HotInjectionResult:
    """Time series of a batch synthesis.

    Attributes
    ----------
    time_s : ndarray
        Sample times (the ends of the time steps), s.
    yield_fraction : ndarray
        Fraction of the precursor in NCs.
    nc_concentration_mm : ndarray
        NC number concentration, mM.
    mean_radius_nm, std_radius_nm : ndarray
        Number-weighted mean and standard deviation of the radius, nm (0 before the first NC).
    monomer_mm : ndarray
        Monomer concentration, mM.
    radius_nm, concentration_mm : ndarray
        The final cohorts: radius and number concentration of each.
    precursor_mm : ndarray
        Unconverted precursor, mM (CdSe units).
    """

    time_s: np.ndarray
    yield_fraction: np.ndarray
    nc_concentration_mm: np.ndarray
    mean_radius_nm: np.ndarray
    std_radius_nm: np.ndarray
    monomer_mm: np.ndarray
    radius_nm: np.ndarray
    concentration_mm: np.ndarray
    precursor_mm: np.ndarray

    def at(self, series: np.ndarray, time_s: float) -> float:
        """Value of ``series`` at the first sample at or after ``time_s``."""
        return float(series[min(int(self.time_s.searchsorted(time_s)), len(self.time_s) - 1)])

    def time_to_fraction_s(self, series: np.ndarray, fraction: float = 0.98) -> float:
        """First time at which ``series`` reaches ``fraction`` of its largest value.

        For the yield this is its final value; for the NC concentration it is the value before
        ripening lowers it (Prins Fig. 1c measures against that plateau).
        """
        index = int(np.argmax(series >= fraction * np.max(series)))
        return float(self.time_s[index])

    @property
    def nucleation_fraction(self) -> float:
        """t98(NC concentration) / t98(yield): Prins's measure of how long nucleation lasts."""
        return self.time_to_fraction_s(self.nc_concentration_mm) / self.time_to_fraction_s(self.yield_fraction)


def hot_injection(
    params: HotInjectionParameters = HotInjectionParameters(),
    *,
    duration_s: float = 2275.0,
    steps: int = 3000,
) -> HotInjectionResult:
    """Simulate a batch hot-injection synthesis (model in the module docstring).

    ``duration_s`` defaults to the last time of Prins's Fig. 5 snapshots; ``steps`` log-spaced
    steps from 1 ms (3000 resolve the observables to better than 1 %: halving or doubling them moves
    the nucleation fraction by 0.5 % of its value and the radii by 0.1 %).
    """
    temperature_k = celsius_to_kelvin(params.temperature_c)
    kt = _BOLTZMANN_J_PER_K * temperature_k
    gamma = params.surface_energy_j_per_m2
    barrier = cnt_barrier(gamma, temperature_k)
    gibbs_m = 2.0 * gamma * _UNIT_VOLUME_M3 / kt  # r*·lnS, m
    birth_offset_m = np.sqrt(kt / (4.0 * np.pi * gamma))
    m0 = params.solubility_mm
    b_m = params.growth_offset_nm * 1e-9
    ka_reference = params.growth_rate_constant_m_per_s * (params.reference_radius_nm * 1e-9 + b_m) ** params.growth_exponent
    # Growth over a step is linear in [M]: r' = r + rate_per_mm·dt·([M] − [M]sat(r)), with [M] in mM
    # (= mol m⁻³), so dr/dt = V_m·k_a·([M] − [M]sat) is V_m·k_a per mM.

    def nucleation(monomer: float) -> tuple[float, float]:
        """Nucleation rate (mM s⁻¹) and birth radius (m) at this monomer concentration."""
        if monomer <= m0:
            return 0.0, 0.0
        ln_s = np.log(monomer / m0)
        return params.nucleation_prefactor_mm_per_s * np.exp(-barrier / ln_s**2), gibbs_m / ln_s + birth_offset_m

    edges = np.concatenate([[0.0], np.geomspace(1e-3, duration_s, steps)])
    radius_m = np.zeros(0)
    conc_mm = np.zeros(0)
    out = {key: np.zeros(steps) for key in ("yield", "conc", "mean", "std", "monomer", "precursor")}
    precursor = params.precursor_mm
    monomer = 0.0

    for i in range(steps):
        dt = edges[i + 1] - edges[i]
        generated = precursor * -np.expm1(-params.k_precursor_per_s * dt)
        precursor -= generated
        available = monomer + generated

        step_per_mm = CDSE_MOLAR_VOLUME_M3_PER_MOL * ka_reference / (radius_m + b_m) ** params.growth_exponent * dt
        with np.errstate(over="ignore"):  # a vanishing cohort's solubility overflows to inf: it dissolves
            saturation = m0 * np.exp(gibbs_m / radius_m)
        step = (radius_m, conc_mm, step_per_mm, saturation, float(conc_mm @ radius_m**3), nucleation, dt)

        high = max(available, 2.0 * m0)
        while _excess(high, available, *step) < 0.0:
            high *= 2.0
        solution = brentq(_excess, 0.0, high, args=(available, *step), xtol=1e-13, rtol=1e-12)
        used, radius_m, born, r_birth = _take_up(solution, *step)
        monomer = available - used
        if born > 0.0:
            radius_m = np.append(radius_m, r_birth)
            conc_mm = np.append(conc_mm, born)
        alive = radius_m > 0.0
        radius_m, conc_mm = radius_m[alive], conc_mm[alive]

        total = float(conc_mm.sum())
        out["monomer"][i] = monomer
        out["precursor"][i] = precursor
        out["yield"][i] = float(conc_mm @ radius_m**3) * _UNITS_PER_R3 / params.precursor_mm
        out["conc"][i] = total
        if total > 0.0:
            mean = float(conc_mm @ radius_m) / total
            out["mean"][i] = mean * 1e9
            out["std"][i] = np.sqrt(max(float(conc_mm @ (radius_m - mean) ** 2) / total, 0.0)) * 1e9

    return HotInjectionResult(
        time_s=edges[1:],
        yield_fraction=out["yield"],
        nc_concentration_mm=out["conc"],
        mean_radius_nm=out["mean"],
        std_radius_nm=out["std"],
        monomer_mm=out["monomer"],
        radius_nm=radius_m * 1e9,
        concentration_mm=conc_mm,
        precursor_mm=out["precursor"],
    )


def _take_up(monomer, radius_m, conc_mm, step_per_mm, saturation, units_before, nucleation, dt):
    """Monomer taken up over one step (mM) if it stays at ``monomer`` mM, with the cohorts' new
    radii and the nuclei born (mM) at their birth radius (m)."""
    new_radius = np.maximum(radius_m + step_per_mm * (monomer - saturation), 0.0)
    rate, r_birth = nucleation(monomer)
    born = rate * dt if rate * dt > _MIN_COHORT_MM else 0.0
    units = (float(conc_mm @ new_radius**3) - units_before + born * r_birth**3) * _UNITS_PER_R3
    return units, new_radius, born, r_birth


def _excess(monomer, available, *step):
    """Monomer left plus monomer taken up, minus monomer available: zero at the step's [M]."""
    return monomer + _take_up(monomer, *step)[0] - available
