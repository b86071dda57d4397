"""The twin's validity domain: the region of conditions the seed papers cover.

The twin is calibrated against Palencia et al. 2020 (Chem. Sci.), so its numbers mean most where
the paper measured. Outside that region :func:`autolab.sim.simulate` still answers (the model runs
anywhere in :class:`~autolab.sim.Conditions`' physical ranges), but its answer is an
extrapolation: ``truth["extrapolated"]`` is ``True`` and ``truth["extrapolated_because"]`` lists
the reasons :func:`outside_domain` gives.

Examples
--------
>>> from autolab.sim import Conditions
>>> from autolab.sim.domain import DOMAIN, outside_domain
>>> DOMAIN.residence_time_s
(1.5, 14.0)
>>> outside_domain(Conditions(280, 280, 14.0))
[]
>>> outside_domain(Conditions(280, 300, 20.0))
['residence_time_s=20 s is outside 1.5–14 s', 'growth_temperature_c=300 °C is above nucleation_temperature_c=280 °C and above 230 °C']
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .parameters import DEFAULT_PARAMETERS

__all__ = ["DOMAIN", "ValidityDomain", "outside_domain"]


@dataclass(frozen=True)
class ValidityDomain:
    """Ranges of the conditions the seed papers cover (inclusive bounds).

    Attributes
    ----------
    residence_time_s : tuple of float
        1.5–14 s: Palencia's Fig. 2 (SAXS, 1.5 s) to Fig. 1 (UV-Vis, 14 s); Fig. S2 (4.5 s) and
        the 350 °C / 7.6 s point lie between.
    nucleation_temperature_c : tuple of float
        190–350 °C: Fig. 2's nucleation temperatures start at 190 °C, Fig. 1's end at 350 °C.
    growth_temperature_c : tuple of float
        150–350 °C: Fig. 1 steps the growth temperature down by 10 °C to 90 °C below each
        nucleation temperature of 240–350 °C, so its lowest growth temperature is 150 °C (at
        240 °C nucleation) and its highest 350 °C; Fig. 2's single growth temperature (230 °C)
        lies inside.
    growth_not_above_nucleation : bool
        Growth ≤ nucleation temperature: Fig. 1 steps the growth temperature down only.
    growth_above_nucleation_up_to_c : float or None
        The one exception the papers make, 230 °C: Fig. 2 runs its oven at 230 °C after a
        chamber at 190–220 °C, so growth above nucleation is inside up to this temperature
        (``None``: no exception).
    precursor_mm : float or None
        10 mM of each precursor in the mixed stream, the scale the twin is calibrated at
        (``KineticParameters.precursor_mm``): Palencia et al. kept "the precursors' composition and
        ratio" constant, so a point with another Cd or Se concentration is outside (``None``: any).
    chamber_to_residence_time : float or None
        0.1: one flow runs through the chamber and the oven, so the chamber time is this share of
        the residence time (``KineticParameters.chamber_to_oven_volume_ratio``); a chamber time
        set apart from the flow is outside (``None``: any).
    """

    residence_time_s: tuple[float, float] = (1.5, 14.0)
    nucleation_temperature_c: tuple[float, float] = (190.0, 350.0)
    growth_temperature_c: tuple[float, float] = (150.0, 350.0)
    growth_not_above_nucleation: bool = True
    growth_above_nucleation_up_to_c: float | None = 230.0
    precursor_mm: float | None = DEFAULT_PARAMETERS.precursor_mm
    chamber_to_residence_time: float | None = DEFAULT_PARAMETERS.chamber_to_oven_volume_ratio


#: The twin's declared validity domain.
DOMAIN = ValidityDomain()

_UNITS = {"residence_time_s": "s", "nucleation_temperature_c": "°C", "growth_temperature_c": "°C"}


def outside_domain(conditions, domain: ValidityDomain = DOMAIN) -> list[str]:
    """One short reason per bound of ``domain`` that ``conditions`` violate; empty inside.

    Parameters
    ----------
    conditions : Conditions
        The point (anything with ``residence_time_s``, ``nucleation_temperature_c`` and
        ``growth_temperature_c``; a ``nucleation_time_s``, ``cd_precursor_mm`` or
        ``se_precursor_mm`` that is None or absent is the flow's and the calibration's own).
    domain : ValidityDomain
        The region (default :data:`DOMAIN`).
    """
    reasons = []
    for name, unit in _UNITS.items():
        value = float(getattr(conditions, name))
        low, high = getattr(domain, name)
        if not low <= value <= high:
            reasons.append(f"{name}={value:g} {unit} is outside {low:g}–{high:g} {unit}")
    growth, nucleation = float(conditions.growth_temperature_c), float(conditions.nucleation_temperature_c)
    exception = domain.growth_above_nucleation_up_to_c
    if domain.growth_not_above_nucleation and growth > nucleation and (exception is None or growth > exception):
        beyond = "" if exception is None else f" and above {exception:g} °C"
        reasons.append(f"growth_temperature_c={growth:g} °C is above nucleation_temperature_c={nucleation:g} °C{beyond}")
    if domain.precursor_mm is not None:
        for name in ("cd_precursor_mm", "se_precursor_mm"):
            value = getattr(conditions, name, None)
            if value is not None and not math.isclose(float(value), domain.precursor_mm, rel_tol=1e-9):
                reasons.append(f"{name}={float(value):g} mM is not the {domain.precursor_mm:g} mM the twin is calibrated at")
    chamber, share = getattr(conditions, "nucleation_time_s", None), domain.chamber_to_residence_time
    if share is not None and chamber is not None:
        flow = share * float(conditions.residence_time_s)
        if not math.isclose(float(chamber), flow, rel_tol=1e-6, abs_tol=1e-9):
            reasons.append(f"nucleation_time_s={float(chamber):g} s is not the {flow:g} s one flow through chamber and oven gives "
                           f"({share:g} × residence_time_s)")
    return reasons
