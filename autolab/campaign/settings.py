"""A campaign's settings and search space, checked against the reactor's limits before anything runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..conditions import NAMES, condition
from ..errors import LimitError, check_count, check_range
from ..optimize import default_initial_points
from ..optimize.constraints import ConstraintSet, LinearConstraint, constraint_items
from ..optimize.space import ParameterSpace


@dataclass
class CampaignSettings:
    """Everything that defines a campaign (stored in its start record, read back by resume)."""

    objective: str
    direction: str
    bounds: dict[str, list]
    fixed: dict[str, float]
    budget: int
    batch_size: int
    n_initial: int
    initial_design: list[dict[str, float]] = field(default_factory=list)
    seed: int = 0
    acquisition: str = "log_ei"
    objective_settings: dict[str, Any] = field(default_factory=dict)
    constraints: list[str] = field(default_factory=list)
    cost_aware: bool = False
    #: The optimiser's design begins with the centre of the bounds and its hyperparameters are MAP
    #: estimates under BoTorch's priors: a given GPOptimizer's ``centre_first`` and ``map_fit``, True
    #: for the default optimiser or any other, and False in the record of a campaign stored before
    #: these were GPOptimizer's defaults. A resume without an optimiser passed in builds its
    #: GPOptimizer with them, so the campaign goes on as it began.
    design_centre: bool = False
    map_fit: bool = False


def campaign_bounds(
    limits: Mapping[str, tuple[float, float]],
    bounds: Mapping[str, Sequence] | None,
    fixed: Mapping[str, float] | None,
) -> tuple[dict[str, list], dict[str, float]]:
    """Validate a campaign's search bounds and fixed conditions against the reactor's limits.

    Parameters
    ----------
    limits : mapping
        The reactor's ``limits()``: ``{"nucleation_temperature_c": (low, high), …}``.
    bounds : mapping, optional
        ``{"name": (low, high)}`` or ``(low, high, "log" | "linear")``; default: every condition
        not in ``fixed``, over the reactor's whole range, on the condition's default scale
        (:data:`autolab.conditions.CONDITIONS`: the residence time log-scaled).
    fixed : mapping, optional
        Conditions held constant, ``{"growth_temperature_c": 280.0}``.

    Returns
    -------
    bounds, fixed : dict
        ``{"name": [low, high, scale]}`` and ``{"name": value}``, every condition in exactly one.

    Raises
    ------
    LimitError
        Naming the condition, the value and the reactor's allowed range.
    """
    fixed = {str(k): v for k, v in (fixed or {}).items()}
    if bounds is None:
        bounds = {name: limits[name] for name in NAMES if name not in fixed}
    out: dict[str, list] = {}
    for name, spec in bounds.items():
        if name not in NAMES:
            msg = f"bounds: unknown condition {name!r}; the campaign can vary {', '.join(NAMES)}"
            raise LimitError(msg)
        if name in fixed:
            msg = f"{name} is both fixed ({fixed[name]!r}) and in bounds; give it in one of them"
            raise LimitError(msg)
        if not isinstance(spec, (list, tuple)) or len(spec) not in (2, 3):
            msg = f"bounds[{name!r}]={spec!r}: give (low, high) or (low, high, 'log' | 'linear')"
            raise LimitError(msg)
        low_limit, high_limit = limits[name]
        unit = condition(name).unit
        low = check_range(f"bounds[{name!r}] low", spec[0], low_limit, high_limit, unit, what="reactor's")
        high = check_range(f"bounds[{name!r}] high", spec[1], low_limit, high_limit, unit, what="reactor's")
        if not low < high:
            msg = f"bounds[{name!r}]: low {low!r} must be below high {high!r}"
            raise LimitError(msg)
        scale = spec[2] if len(spec) == 3 else condition(name).scale
        if scale not in ("log", "linear"):
            msg = f"bounds[{name!r}]: scale {scale!r} must be 'log' or 'linear'"
            raise LimitError(msg)
        out[name] = [low, high, scale]
    checked_fixed = {}
    for name, value in fixed.items():
        if name not in NAMES:
            msg = f"fixed: unknown condition {name!r}; the conditions are {', '.join(NAMES)}"
            raise LimitError(msg)
        checked_fixed[name] = check_range(f"fixed {name}", value, *limits[name], condition(name).unit, what="reactor's")
    missing = [name for name in NAMES if name not in out and name not in checked_fixed]
    if missing:
        ranges = ", ".join(f"{name} {_range_text(limits[name], condition(name).unit)}" for name in missing)
        msg = f"{', '.join(missing)}: neither in bounds nor fixed; give each condition a range or a value (the reactor's: {ranges})"
        raise LimitError(msg)
    if not out:
        msg = "every condition is fixed; give at least one condition a range in bounds"
        raise LimitError(msg)
    return out, checked_fixed


def _range_text(limit: tuple[float, float], unit: str) -> str:
    """``(150, 350)``, ``"°C"`` → ``"150–350 °C"``."""
    return f"{limit[0]:g}–{limit[1]:g} {unit}"


def campaign_constraints(
    constraints: str | Sequence[str] | None, space: Mapping[str, list], fixed: Mapping[str, float]
) -> tuple[list[str], list[LinearConstraint]]:
    """Check a campaign's constraints against its search space and fixed conditions.

    Parameters
    ----------
    constraints : str or sequence of str, optional
        Linear inequalities between conditions in their units, e.g.
        ``"growth_temperature_c <= nucleation_temperature_c"`` (:mod:`autolab.optimize.constraints`);
        one text alone is one constraint.
    space : mapping
        The checked bounds, ``{"name": [low, high, scale]}``.
    fixed : mapping
        The checked fixed conditions; a constraint may name them (their values are put in).

    Returns
    -------
    texts, on_space : list
        The constraints' texts (what the campaign stores), and the constraints on the
        varied conditions once the fixed values are put in (those the fixed values satisfy whatever
        the varied ones are dropped).

    Raises
    ------
    LimitError
        One line naming the constraint and the problem: malformed, a name that is no condition,
        violated by the fixed values, or leaving no point within the bounds.
    """
    names = [*space, *fixed]
    parsed = []
    for text in constraint_items(constraints):
        try:
            c = text if isinstance(text, LinearConstraint) else LinearConstraint.parse(text)
        except LimitError as exc:
            msg = f"{exc}; the conditions are {', '.join(names)}"
            raise LimitError(msg) from None
        unknown = [name for name in c.names if name not in names]
        if unknown:
            msg = (f"constraint {c.text or str(c)!r} names {', '.join(repr(n) for n in unknown)}, which is no condition of this "
                   f"campaign; the conditions are {', '.join(names)}")
            raise LimitError(msg)
        parsed.append(c)
    reduced = [r for r in (c.with_values(fixed) for c in parsed) if r is not None]
    parameter_space = ParameterSpace({name: tuple(spec) for name, spec in space.items()})
    held = sorted({name for c in parsed for name in c.names if name in fixed})
    try:
        ConstraintSet(reduced, parameter_space)  # refuses a set that leaves no room within the bounds
    except LimitError as exc:
        if not held:
            raise
        msg = f"{exc} (with {', '.join(f'{name}={fixed[name]:g}' for name in held)} fixed)"
        raise LimitError(msg) from None
    return [c.text or str(c) for c in parsed], reduced


def check_design_constraints(design: Sequence[Mapping[str, float]], fixed: Mapping[str, float], constraints: Sequence[str]) -> None:
    """Refuse a given design point that violates a constraint, naming the point and the constraint."""
    parsed = [LinearConstraint.parse(text) for text in constraints]
    for index, point in enumerate(design):
        values = {**point, **fixed}
        for c in parsed:
            if float(c.slack(values)) < -1e-9 * max(1.0, abs(c.bound)):
                conditions = ", ".join(f"{name}={values[name]:g}" for name in c.names)
                msg = f"initial_design[{index}] ({conditions}) violates the constraint {c.text!r}"
                raise LimitError(msg)


def check_design(
    initial_design: int | Sequence[Mapping[str, float]] | None, space: Mapping[str, list], budget: int
) -> tuple[int, list[dict[str, float]]]:
    """The number of design points and the given ones (``[]`` when the optimiser draws them).

    ``None`` gives :func:`~autolab.optimize.default_initial_points` for the budget
    (``max(5, 3·d + 1)``, at most a quarter of the budget but never fewer than ``max(5, d + 1)``);
    a number, that many; a list of condition dicts, those points, each inside the campaign's bounds.
    """
    if initial_design is None:
        return default_initial_points(len(space), budget), []
    if isinstance(initial_design, (int, np.integer)):
        return check_count("initial_design", initial_design, 1, budget), []
    design = [_check_design_point(space, i, point) for i, point in enumerate(initial_design)]
    if not design:
        msg = "initial_design=[] holds no point; give points, a number of points, or None for the default design"
        raise LimitError(msg)
    return len(design), design


def _check_design_point(space: Mapping[str, list], index: int, point: Any) -> dict[str, float]:
    if not isinstance(point, Mapping):
        msg = f"initial_design[{index}]={point!r} must be a dict of conditions"
        raise LimitError(msg)
    out = {}
    for name, (low, high, _) in space.items():
        if name not in point:
            msg = f"initial_design[{index}] is missing {name!r}"
            raise LimitError(msg)
        out[name] = check_range(f"initial_design[{index}] {name}", point[name], low, high, condition(name).unit, what="campaign's")
    return out
