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

and nothing reaches the queue. The ranges are part of RE Manager's list of allowed plans
(``plans_allowed()``: each parameter's ``min`` and ``max``, and its docstring description with
the range appended), which ``autolab queue plans`` prints; ``qserver allowed plans`` shows only
the plan names. The plans still validate every value when they run (the residence-time range
depends on the Cd:Se volume fraction, which can change during a session).

``autonomous_campaign``'s ``bounds`` and ``fixed`` mix temperatures (°C) and times (s) in one
dictionary, which a single ``min``/``max`` cannot describe; their keys are checked at the door
(a queueserver enum of the three condition names) and their values when the plan starts, before
any run opens or any setpoint moves. Its ``constraints`` (a list of texts) are read and checked
against the bounds when the plan starts, too. Its ``budget`` (1–1000) and ``batch_size`` (1–20)
ranges and its ``acquisition`` and ``on_point_failure`` choices are checked at the door.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping

from bluesky_queueserver import parameter_annotation_decorator

from .conditions import CONDITIONS, NAMES, condition

#: Plan parameter → the reactor limit that bounds it (``reactor.limits()`` key, a condition's name).
LIMITED_PARAMETERS: dict[str, dict[str, str]] = {
    "measure_point": {name: name for name in NAMES},
    "set_conditions": {name: name for name in NAMES},
    "phase_map": {c.plural: c.name for c in CONDITIONS},  # lists of values: nucleation_temperatures_c, …
}

#: The heated conditions: a safe temperature must be within every one of their ranges.
_TEMPERATURES = tuple(c.name for c in CONDITIONS if c.unit == "°C")


def _range(description: str, low: float, high: float, unit: str) -> dict:
    text = f"{description.rstrip('.')}; this reactor allows {low:g}–{high:g} {unit}"
    return {"description": text, "min": float(low), "max": float(high)}


def plan_annotations(
    limits: Mapping[str, tuple[float, float]], descriptions: Mapping[str, Mapping[str, str]] | None = None
) -> dict[str, dict]:
    """Custom parameter annotations (queueserver's schema) for each queue-facing plan.

    Parameters
    ----------
    limits : mapping
        ``reactor.limits()``: ``{"nucleation_temperature_c": (low, high), …}``.
    descriptions : mapping, optional
        ``{plan name: {parameter: description}}`` from the plans' docstrings; each range is
        appended to its parameter's description (default: the parameter's name and unit).

    Returns
    -------
    dict
        ``{plan name: {"parameters": {parameter: {"description", "min", "max"} or {"annotation"}}}}``.

    Examples
    --------
    >>> limits = {"nucleation_temperature_c": (20, 350), "growth_temperature_c": (20, 300), "residence_time_s": (0.625, 600)}
    >>> plan_annotations(limits)["measure_point"]["parameters"]["residence_time_s"]
    {'description': 'residence_time_s, s; this reactor allows 0.625–600 s', 'min': 0.625, 'max': 600.0}
    >>> plan_annotations(limits)["safe_state"]["parameters"]["safe_temperature_c"]["max"]
    300.0
    """
    from .campaign.plan import ON_POINT_FAILURE
    from .campaign.state import BATCH_POINTS, BUDGET_POINTS
    from .optimize.acquisition import ACQUISITIONS

    descriptions = descriptions or {}

    def described(plan: str, parameter: str, unit: str) -> str:
        return descriptions.get(plan, {}).get(parameter) or f"{parameter}, {unit}"

    annotations: dict[str, dict] = {}
    for plan, parameters in LIMITED_PARAMETERS.items():
        annotations[plan] = {
            "parameters": {
                p: _range(described(plan, p, condition(limit).unit), *limits[limit], condition(limit).unit) for p, limit in parameters.items()
            }
        }
    safe_low = max(limits[name][0] for name in _TEMPERATURES)
    safe_high = min(limits[name][1] for name in _TEMPERATURES)
    annotations["safe_state"] = {
        "parameters": {"safe_temperature_c": _range(described("safe_state", "safe_temperature_c", "°C"), safe_low, safe_high, "°C")}
    }
    annotations["autonomous_campaign"] = {
        "parameters": {
            "bounds": {
                "description": "Search range per condition, {name: [low, high] or [low, high, 'log']}; names: "
                + ", ".join(f"{c.name} ({limits[c.name][0]:g}–{limits[c.name][1]:g} {c.unit})" for c in CONDITIONS),
                "annotation": "typing.Optional[typing.Dict[Condition, typing.List[typing.Union[float, str]]]]",
                "enums": {"Condition": list(NAMES)},
            },
            "fixed": {
                "description": "Conditions held constant, {name: value}; names as in bounds",
                "annotation": "typing.Optional[typing.Dict[Condition, float]]",
                "enums": {"Condition": list(NAMES)},
            },
            "constraints": {
                "description": "Linear inequalities between conditions in their units, e.g. "
                "['growth_temperature_c <= nucleation_temperature_c']; names as in bounds",
                "annotation": "typing.Optional[typing.List[str]]",
            },
            # Fixed ranges and choices of the campaign itself, so that a typo is refused when the item is added.
            "budget": {"description": described("autonomous_campaign", "budget", "points"), "min": BUDGET_POINTS[0], "max": BUDGET_POINTS[1]},
            "batch_size": {"description": described("autonomous_campaign", "batch_size", "points"), "min": BATCH_POINTS[0],
                           "max": BATCH_POINTS[1]},
            "acquisition": {"description": described("autonomous_campaign", "acquisition", ""), "annotation": "Acquisition",
                            "enums": {"Acquisition": list(ACQUISITIONS)}},
            "on_point_failure": {"description": described("autonomous_campaign", "on_point_failure", ""), "annotation": "OnPointFailure",
                                 "enums": {"OnPointFailure": list(ON_POINT_FAILURE)}},
        }
    }
    return annotations


def limited_plans(plans: Mapping[str, Callable], limits: Mapping[str, tuple[float, float]]) -> dict[str, Callable]:
    """Wrap each plan in ``plans`` that has an annotation with ``parameter_annotation_decorator``.

    Each limited parameter keeps its docstring description with the range appended, so
    ``autolab queue plans`` (and any queueserver client) shows both. The originals are left
    untouched (the decorator returns a wrapper); plans without an annotation come back as they are.
    """
    annotations = plan_annotations(limits, {name: parameter_descriptions(plan) for name, plan in plans.items()})
    return {
        name: parameter_annotation_decorator(annotations[name])(plan) if name in annotations else plan
        for name, plan in plans.items()
    }


def parameter_descriptions(plan: Callable) -> dict[str, str]:
    """``{parameter: description}`` from the numpydoc ``Parameters`` section of ``plan``'s docstring.

    A line naming several parameters (``a, b : float``) gives each of them its description.

    Examples
    --------
    >>> def plan(residence_time_s):
    ...     '''Do it.
    ...
    ...     Parameters
    ...     ----------
    ...     residence_time_s : float
    ...         Time in the reactor, s.
    ...     '''
    >>> parameter_descriptions(plan)
    {'residence_time_s': 'Time in the reactor, s.'}
    """
    from numpydoc.docscrape import NumpyDocString

    doc = inspect.getdoc(plan)
    if not doc:
        return {}
    out = {}
    for parameter in NumpyDocString(doc)["Parameters"]:
        for name in parameter.name.split(","):  # "a, b : float" describes both
            if parameter.desc:
                out[name.strip()] = " ".join(parameter.desc).strip()
    return out
