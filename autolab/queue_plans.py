"""The plans as the queue sees them: the worker reactor's limits checked when an item is added.

bluesky-queueserver validates a queue item against the plan's description before accepting it:
types from the annotations, and numeric ranges from ``min``/``max`` given with
:func:`bluesky_queueserver.parameter_annotation_decorator`. A fixed decorator on the plan
functions would hard-code one reactor, so :func:`limited_plans` builds the ranges from the
reactor the session actually has (``reactor.limits()``: the heaters' ranges and the pumps'
residence-time range) when :mod:`autolab.startup` runs. ``qserver queue add plan`` with
``measure_point`` at 400 °C is then refused at the door::

    Argument values are out of range: Parameter value is out of range:
    key='nucleation_temperature_c', value='400': Value 400 is out of range [20, 350]

and nothing reaches the queue. The plans still validate every value when they run (the
residence-time range depends on the Cd:Se volume fraction, which can change during a session).

``autonomous_campaign``'s ``bounds`` and ``fixed`` mix temperatures (°C) and times (s) in one
dictionary, which a single ``min``/``max`` cannot describe; their keys are checked at the door
(a queueserver enum of the three condition names) and their values when the plan starts, before
any run opens or any setpoint moves.
"""

from __future__ import annotations

from collections.abc import Callable

from bluesky_queueserver import parameter_annotation_decorator

from .campaign import CONDITIONS

#: Plan parameter → the reactor limit that bounds it (``reactor.limits()`` key).
LIMITED_PARAMETERS: dict[str, dict[str, str]] = {
    "measure_point": {c: c for c in CONDITIONS},
    "set_conditions": {c: c for c in CONDITIONS},
    "phase_map": {
        "nucleation_temperatures_c": "nucleation_temperature_c",
        "growth_temperatures_c": "growth_temperature_c",
        "residence_times_s": "residence_time_s",
    },
}

_UNITS = {"nucleation_temperature_c": "°C", "growth_temperature_c": "°C", "residence_time_s": "s"}


def _range(name: str, low: float, high: float, unit: str) -> dict:
    return {"description": f"{name}, {unit}; this reactor allows {low:g}–{high:g} {unit}", "min": float(low), "max": float(high)}


def plan_annotations(limits: dict[str, tuple[float, float]]) -> dict[str, dict]:
    """Custom parameter annotations (queueserver's schema) for each queue-facing plan.

    Parameters
    ----------
    limits : dict
        ``reactor.limits()``: ``{"nucleation_temperature_c": (low, high), …}``.

    Returns
    -------
    dict
        ``{plan name: {"parameters": {parameter: {"description", "min", "max"} or {"annotation"}}}}``.
    """
    annotations: dict[str, dict] = {}
    for plan, parameters in LIMITED_PARAMETERS.items():
        annotations[plan] = {
            "parameters": {p: _range(p, *limits[limit], _UNITS[limit]) for p, limit in parameters.items()}
        }
    safe_low = max(limits["nucleation_temperature_c"][0], limits["growth_temperature_c"][0])
    safe_high = min(limits["nucleation_temperature_c"][1], limits["growth_temperature_c"][1])
    annotations["safe_state"] = {"parameters": {"safe_temperature_c": _range("safe_temperature_c", safe_low, safe_high, "°C")}}
    annotations["autonomous_campaign"] = {
        "parameters": {
            "bounds": {
                "description": "Search range per condition, {name: [low, high] or [low, high, 'log']}; names: "
                + ", ".join(f"{c} ({limits[c][0]:g}–{limits[c][1]:g} {_UNITS[c]})" for c in CONDITIONS),
                "annotation": "typing.Optional[typing.Dict[Condition, typing.List[typing.Union[float, str]]]]",
                "enums": {"Condition": list(CONDITIONS)},
            },
            "fixed": {
                "description": "Conditions held constant, {name: value}; names as in bounds",
                "annotation": "typing.Optional[typing.Dict[Condition, float]]",
                "enums": {"Condition": list(CONDITIONS)},
            },
        }
    }
    return annotations


def limited_plans(plans: dict[str, Callable], limits: dict[str, tuple[float, float]]) -> dict[str, Callable]:
    """Wrap each plan in ``plans`` that has an annotation with ``parameter_annotation_decorator``.

    The originals are left untouched (the decorator returns a wrapper); plans without an
    annotation come back as they are.
    """
    annotations = plan_annotations(limits)
    return {
        name: parameter_annotation_decorator(annotations[name])(plan) if name in annotations else plan
        for name, plan in plans.items()
    }
