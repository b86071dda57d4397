"""A campaign's settings and search space, checked against the reactor's limits before anything runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..conditions import NAMES, condition
from ..errors import LimitError, check_range
from ..optimize import default_initial_points


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
        msg = f"{', '.join(missing)}: neither in bounds nor fixed; give each condition a range or a value"
        raise LimitError(msg)
    if not out:
        msg = "every condition is fixed; give at least one condition a range in bounds"
        raise LimitError(msg)
    return out, checked_fixed


def check_count(field: str, value: Any, low: int, high: int) -> int:
    """A whole number of points in ``low``–``high``, or :class:`LimitError` naming the field."""
    number = check_range(field, value, low, high, "points")
    if number != int(number) or isinstance(value, bool):
        msg = f"{field}={value!r} must be a whole number of points in {low}–{high}"
        raise LimitError(msg)
    return int(number)


def check_design(
    initial_design: int | Sequence[Mapping[str, float]] | None, space: Mapping[str, list], budget: int
) -> tuple[int, list[dict[str, float]]]:
    """The number of design points and the given ones (``[]`` when the optimiser draws them).

    ``None`` gives ``max(5, 2·d + 1)`` points; a number, that many; a list of condition dicts,
    those points, each inside the campaign's bounds.
    """
    if initial_design is None:
        return default_initial_points(len(space)), []
    if isinstance(initial_design, (int, np.integer)):
        return check_count("initial_design", initial_design, 1, budget), []
    design = [_check_design_point(space, i, point) for i, point in enumerate(initial_design)]
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
