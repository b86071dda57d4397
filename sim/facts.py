"""The seed papers' observations as checks on the twin (Palencia et al. 2020, Prins et al. 2021).

Each ``fact_*`` function simulates what the paper measured and returns the numbers the paper
reports, so tests (with the stated tolerances) and the calibration script use one definition.
Growth temperature equals nucleation temperature unless stated.
"""

from __future__ import annotations

from . import Conditions, steady_state
from .observables import (
    band_absorbance,
    msc_families_present,
    msc_present,
    nc_exciton_nm,
    saxs_mean_radius_nm,
    saxs_volume_fractions,
)
from .parameters import DEFAULT_PARAMETERS, KineticParameters


def _state(t_nuc, t_growth, residence, params):
    return steady_state(Conditions(t_nuc, t_growth, residence), params)


def fact1_msc437_window(params: KineticParameters = DEFAULT_PARAMETERS) -> dict:
    """Palencia Fig. 1 (14 s): CdSe-437 present at 270–300 °C, absent ≤ 250 and ≥ 320 °C.

    Returns ``{"present": {T: bool}, "rises_with_growth_T": {T_nuc: [A437 at T_nuc−20, −10, 0]}}``.
    """
    temps = (230, 240, 250, 270, 280, 290, 300, 320, 330, 350)
    present = {t: msc_present(_state(t, t, 14.0, params), "CdSe-437") for t in temps}
    rises = {
        t: [band_absorbance(_state(t, t - dt, 14.0, params), "CdSe-437") for dt in (20, 10, 0)]
        for t in (280, 290, 300)
    }
    return {"present": present, "rises_with_growth_T": rises}


def fact2_mscs_at_short_time(params: KineticParameters = DEFAULT_PARAMETERS) -> dict:
    """Palencia Fig. S2 (4.5 s): MSC families present at 260, 280 and 350 °C."""
    return {t: msc_families_present(_state(t, t, 4.5, params)) for t in (260, 280, 350)}


def fact3_exciton_350c(params: KineticParameters = DEFAULT_PARAMETERS) -> float | None:
    """Palencia (350 °C, 7.6 s): NC first exciton at 572 nm (3.6 nm by TEM)."""
    return nc_exciton_nm(_state(350, 350, 7.6, params))


def fact4_exciton_280c(params: KineticParameters = DEFAULT_PARAMETERS) -> dict:
    """Palencia (280 °C): NC exciton 490 nm at 4.5 s and 527 nm at 14 s, CdSe-437 at both."""
    out = {}
    for residence in (4.5, 14.0):
        state = _state(280, 280, residence, params)
        out[residence] = {"exciton_nm": nc_exciton_nm(state), "msc437": msc_present(state, "CdSe-437")}
    return out


#: Nucleation temperatures of Palencia's Fig. 2 (1.5 s, growth at 230 °C), °C.
FACT5_NUCLEATION_C = (190, 200, 210, 220, 230, 240, 250, 260, 270, 280)


def fact5_saxs_radius_steps(params: KineticParameters = DEFAULT_PARAMETERS) -> dict:
    """Palencia Fig. 2 (1.5 s, growth 230 °C): mean SAXS radius vs nucleation temperature, nm."""
    return {t: saxs_mean_radius_nm(_state(t, 230, 1.5, params)) for t in FACT5_NUCLEATION_C}


def fact5_saxs_volume_fractions(params: KineticParameters = DEFAULT_PARAMETERS) -> dict:
    """Palencia Fig. 2 (left): share of the resolved volume in each CdSe species vs nucleation T."""
    return {t: saxs_volume_fractions(_state(t, 230, 1.5, params)) for t in FACT5_NUCLEATION_C}


def no_nc_at_short_time_low_t(params: KineticParameters = DEFAULT_PARAMETERS) -> float | None:
    """Palencia: ≤ 260 °C there are no NCs at 4.5 s (returns the NC exciton or None)."""
    return nc_exciton_nm(_state(260, 260, 4.5, params))
