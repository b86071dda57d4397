"""The seed papers' observations as the twin computes them (Palencia et al. 2020).

Each function simulates what the paper measured and returns the twin's own numbers (its
``truth``: band absorbances, NC exciton and size), for the calibration script
(``docs/calibrate_twin.py``) and the figures. The physics tests do not stop here: they read the
noisy spectra with an independent reader (``tests/spectrum_reader.py``) and hold those readings
against the paper.
"""

from __future__ import annotations

from . import Conditions, steady_state
from .observables import band_absorbance, msc_families_present, nc_exciton_nm, saxs_mean_radius_nm, saxs_volume_fractions
from .parameters import DEFAULT_PARAMETERS, KineticParameters

#: Nucleation temperatures of Palencia's Fig. 1 panels, °C (their 240–350 °C range in 10 °C steps).
FIG1_NUCLEATION_C = tuple(range(240, 360, 10))
#: Growth temperature below the nucleation temperature in each panel's ten spectra, °C.
FIG1_GROWTH_BELOW_C = tuple(range(0, 100, 10))
#: The panels in which Palencia et al. see CdSe-437 at 14 s ("270 °C ≤ T ≤ 300 °C").
FIG1_WINDOW_C = (270, 280, 290, 300)
#: Lines of neighbouring (nucleation °C, growth °C) conditions, 10 °C apart, along which the yield must change smoothly
#: at 14 s (and CdSe-437 on the steps of :func:`msc437_smooth_steps`): the chamber 20–350 °C before a 280 and a 350 °C
#: oven, and the oven 150–350 °C after a 280 °C chamber.
NEIGHBOUR_LINES = (
    tuple((t, 280) for t in range(20, 360, 10)),
    tuple((t, 350) for t in range(20, 360, 10)),
    tuple((280, t) for t in range(150, 360, 10)),
)
#: Steps of the nucleation temperature (°C) across which Palencia's Fig. 1 switches CdSe-437 on or off at 14 s: each of
#: the paper's three statements of the window ("270 °C ≤ T ≤ 300 °C", "260 °C < T ≤ 300 °C", "between 260 and 300 °C")
#: has the band at 270 and 300 °C, none has it at 310 °C, and the first two exclude 260 °C.
FIG1_EDGE_STEPS_C = ((260, 270), (300, 310))
#: Nucleation temperatures of Palencia's Fig. 2 (1.5 s, growth at 230 °C), °C.
FIG2_NUCLEATION_C = (190, 200, 210, 220, 230, 240, 250, 260, 270, 280)


def msc437_smooth_steps(line) -> list[tuple[int, int]]:
    """Indices ``(i, i + 1)`` of the neighbours on ``line`` between which CdSe-437 must change smoothly.

    Yield must change smoothly along the whole of each of :data:`NEIGHBOUR_LINES`; CdSe-437 only
    where Palencia's Fig. 1 says nothing against it — both points inside the region the paper
    explored (growth ≤ nucleation temperature) and the step not one of the two across which the
    paper's band appears or vanishes within 10 °C of nucleation temperature
    (:data:`FIG1_EDGE_STEPS_C`). The step from 310 to 320 °C is kept: the band must already be
    gone at 310 °C, not fall from the window's height between two panels that both lack it.
    """
    def explored(point):
        return point[1] <= point[0]

    def across_an_edge(a, b):
        return tuple(sorted((a[0], b[0]))) in FIG1_EDGE_STEPS_C

    return [(i, i + 1) for i in range(len(line) - 1) if explored(line[i]) and explored(line[i + 1]) and not across_an_edge(line[i], line[i + 1])]


def _state(t_nuc, t_growth, residence, params):
    return steady_state(Conditions(t_nuc, t_growth, residence), params)


def fig1_msc437_grid(params: KineticParameters = DEFAULT_PARAMETERS) -> dict[tuple[int, int], float]:
    """Palencia Fig. 1 (14 s): the CdSe-437 band absorbance (AU) at every (nucleation, growth) °C."""
    return {
        (t, t - below): band_absorbance(_state(t, t - below, 14.0, params), "CdSe-437")
        for t in FIG1_NUCLEATION_C
        for below in FIG1_GROWTH_BELOW_C
    }


def figs2_families_at_4_5s(params: KineticParameters = DEFAULT_PARAMETERS) -> dict[int, list[str]]:
    """Palencia Fig. S2 (4.5 s): MSC families whose band stands out at 260, 280 and 350 °C."""
    return {t: msc_families_present(_state(t, t, 4.5, params)) for t in (260, 280, 350)}


def exciton_280c(params: KineticParameters = DEFAULT_PARAMETERS) -> dict[float, float | None]:
    """Palencia (280 °C): the NC first exciton, nm, at 4.5 s (490 nm) and 14 s (527 nm)."""
    return {t: nc_exciton_nm(_state(280, 280, t, params)) for t in (4.5, 14.0)}


def exciton_350c(params: KineticParameters = DEFAULT_PARAMETERS) -> tuple[float | None, float]:
    """Palencia (350 °C, 7.6 s): the NC first exciton (572 nm) and mean diameter (3.6 nm by TEM)."""
    state = _state(350, 350, 7.6, params)
    return nc_exciton_nm(state), state.nc_mean_diameter_nm


def fig2_saxs_radius_nm(params: KineticParameters = DEFAULT_PARAMETERS) -> dict:
    """Palencia Fig. 2 (1.5 s, growth 230 °C): mean SAXS radius vs nucleation temperature, nm (None
    where less than 2 % of the CdSe is in particles SAXS resolves)."""
    return {t: saxs_mean_radius_nm(_state(t, 230, 1.5, params)) for t in FIG2_NUCLEATION_C}


def fig2_saxs_volume_fractions(params: KineticParameters = DEFAULT_PARAMETERS) -> dict:
    """Palencia Fig. 2 (left): share of the resolved volume in each CdSe species vs nucleation T."""
    return {t: saxs_volume_fractions(_state(t, 230, 1.5, params)) for t in FIG2_NUCLEATION_C}
