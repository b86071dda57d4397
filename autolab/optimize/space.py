"""The optimiser's parameter space: bounds, log scaling and the map to the unit cube."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from autolab.errors import LimitError


def default_scale(low, high) -> str:
    """``"log"`` for a positive range spanning at least a decade (``high ≥ 10·low > 0``), else ``"linear"``.

    Quantities given over decades — times, concentrations, flows, exposures — usually act on a
    log scale, and the two mistakes are not symmetric: a linear search of a log-natural input
    puts nine tenths of its points in the top decade and can miss an optimum in the bottom one
    entirely, while a log search of a linear-natural input still gives the top decade half of
    its points. An explicit ``"linear"`` keeps a range linear.

    >>> default_scale(1.0, 20.0), default_scale(240.0, 350.0), default_scale(0.0, 10.0)
    ('log', 'linear', 'linear')
    """
    try:
        low, high = float(low), float(high)
    except (TypeError, ValueError):
        return "linear"  # Parameter() names the bad bound
    return "log" if 0 < low and high >= 10 * low else "linear"


@dataclass(frozen=True)
class Parameter:
    """One input: ``low ≤ value ≤ high``, optimised on a linear or a log scale."""

    name: str
    low: float
    high: float
    log: bool = False

    def __post_init__(self):
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or not self.low < self.high:
            msg = f"parameter {self.name!r}: bounds ({self.low!r}, {self.high!r}) must be finite with low < high"
            raise ValueError(msg)
        if self.log and self.low <= 0:
            msg = f"parameter {self.name!r}: a log-scaled parameter needs low > 0, got {self.low!r}"
            raise ValueError(msg)


class ParameterSpace:
    """Ordered parameters and the transform between their units and the unit cube.

    Parameters
    ----------
    parameters : mapping
        ``{"name": (low, high)}`` or ``{"name": (low, high, "log" | "linear")}``. Without a
        scale, a positive range spanning at least a decade (``high ≥ 10·low > 0``) is searched on
        a log scale and any other range linearly (:func:`default_scale`).
    """

    def __init__(self, parameters: Mapping[str, tuple]):
        if not parameters:
            msg = "parameters is empty; give at least one {'name': (low, high)}"
            raise ValueError(msg)
        self.parameters: list[Parameter] = []
        for name, spec in parameters.items():
            if not isinstance(spec, (tuple, list)) or len(spec) not in (2, 3):
                msg = f"parameter {name!r}: expected (low, high) or (low, high, 'log'), got {spec!r}"
                raise ValueError(msg)
            for bound, value in zip(("low", "high"), spec[:2], strict=True):
                try:
                    float(value)
                except (TypeError, ValueError):
                    msg = f"parameter {name!r}: {bound} {value!r} is not a number"
                    raise ValueError(msg) from None
            scale = spec[2] if len(spec) == 3 else default_scale(spec[0], spec[1])
            if scale not in ("linear", "log"):
                msg = f"parameter {name!r}: scale {scale!r} must be 'linear' or 'log'"
                raise ValueError(msg)
            self.parameters.append(Parameter(name, float(spec[0]), float(spec[1]), scale == "log"))
        self.names = [p.name for p in self.parameters]

    @property
    def dim(self) -> int:
        return len(self.parameters)

    def to_unit(self, point: Mapping[str, float]) -> np.ndarray:
        """Unit-cube coordinates of ``point``; raises :class:`LimitError` outside the bounds."""
        out = np.empty(self.dim)
        for i, p in enumerate(self.parameters):
            if p.name not in point:
                msg = f"point is missing parameter {p.name!r}"
                raise ValueError(msg)
            value = float(point[p.name])
            if not p.low <= value <= p.high:
                msg = f"{p.name}={value!r} is outside the allowed range {p.low:g}–{p.high:g}"
                raise LimitError(msg)
            if p.log:
                out[i] = (math.log(value) - math.log(p.low)) / (math.log(p.high) - math.log(p.low))
            else:
                out[i] = (value - p.low) / (p.high - p.low)
        return out

    def from_unit(self, x: np.ndarray) -> dict[str, float]:
        """Parameter values for unit-cube coordinates ``x`` (clipped into the cube and the bounds).

        The final clip matters for log-scaled parameters: exp(log(high)) can round a hair above
        ``high``, which :meth:`to_unit` would then reject.
        """
        x = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)
        out = {}
        for value, p in zip(x, self.parameters, strict=True):
            if p.log:
                out[p.name] = float(math.exp(math.log(p.low) + value * (math.log(p.high) - math.log(p.low))))
            else:
                out[p.name] = float(p.low + value * (p.high - p.low))
            out[p.name] = min(max(out[p.name], p.low), p.high)
        return out
