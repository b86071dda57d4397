"""The cost of moving the reactor: seconds from one point to the next, for cost-aware suggestions.

A heater changes by ``|ΔT| / ramp rate`` and then settles (minutes); a new flow needs a flush of
the reactor (seconds): the time from the current point to a candidate is

    max over the heaters (|ΔT| / ramp rate + settle time if ΔT ≠ 0)
    + flush volumes × (reactor volume / growth-oven volume) × residence time + measurement time

(the heaters ramp together, the flush starts once both have settled, as the reactor's
``wait_steady`` does). :class:`ReactorCostModel` holds these numbers;
:meth:`ReactorCostModel.from_reactor` reads them from a reactor. With a cost model
:class:`~autolab.optimize.GPOptimizer` suggests the quickest point to reach among those whose
acquisition is within a factor ``COST_TOLERANCE ** α`` (1.1^α) of the best — its candidates, and the
best of them again with one or both heaters held at their current setpoints, which costs no ramp
and no settling — with ``α`` cooling from 1 to 0 as the budget is used (:func:`cost_cooling_alpha`; the schedule of Lee et al. 2020,
"Cost-aware Bayesian optimization", arXiv:2003.10870), and returns a batch in the order that takes
least time (:func:`quickest_order`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import LimitError

#: A cost-aware suggestion's expected improvement may fall short of the best by this factor (to
#: the power α): near ties go to the quicker point, and no suggestion gives up more than a tenth
#: of the improvement. Chosen on the twin's seeds 0–89, one point at a time (docs/optimize.md):
#: larger factors save more of the whole budget's time, 1.1 reaches 98 % of the grid best soonest
#: by the clock with no more points than plain suggestions. Lee et al.'s EI/cost^α instead trades
#: any amount of improvement for time.
COST_TOLERANCE = 1.1

#: Batches up to this size are ordered exactly (every permutation); larger ones greedily.
EXACT_ORDER_MAX = 6


def _check(field_name: str, value: Any, *, positive: bool) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or (number <= 0 if positive else number < 0):
        allowed = "> 0" if positive else "≥ 0"
        msg = f"{field_name}={value!r} is outside the allowed range: a finite number {allowed}"
        raise LimitError(msg)
    return number


@dataclass(frozen=True)
class ReactorCostModel:
    """Seconds to take the reactor from one point to another and measure there.

    Parameters
    ----------
    ramp_rates_c_per_min : mapping
        ``{input name: ramp rate}`` of each heated input, °C/min (> 0).
    settle_times_s : mapping
        ``{input name: settle time}``, s (≥ 0), paid when that heater's setpoint changes.
    flush_volumes : float
        Reactor volumes flushed before a reading (≥ 0).
    reactor_to_oven_volume_ratio : float
        Reactor volume (chamber + oven + transfer line) over the growth-oven volume (≥ 0): one
        reactor volume flushes in this many residence times.
    measurement_s : float
        Seconds of acquisition per point (≥ 0).
    residence_time_name : str
        The input that is the growth-oven residence time, s.
    fixed : mapping
        Values of inputs the optimiser does not vary (a campaign's fixed conditions).

    Examples
    --------
    >>> model = ReactorCostModel({"growth_temperature_c": 10.0}, {"growth_temperature_c": 60.0}, flush_volumes=3,
    ...                          reactor_to_oven_volume_ratio=1.2, measurement_s=30)
    >>> start = {"growth_temperature_c": 220.0, "residence_time_s": 10.0}
    >>> float(model.time_s(start, {"growth_temperature_c": 280.0, "residence_time_s": 10.0})[0])  # 360 + 60 + 36 + 30
    486.0
    """

    ramp_rates_c_per_min: Mapping[str, float]
    settle_times_s: Mapping[str, float]
    flush_volumes: float = 3.0
    reactor_to_oven_volume_ratio: float = 1.0
    measurement_s: float = 30.0
    residence_time_name: str = "residence_time_s"
    fixed: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self):
        rates = {str(k): _check(f"ramp_rates_c_per_min[{k!r}]", v, positive=True) for k, v in dict(self.ramp_rates_c_per_min).items()}
        settle = {str(k): _check(f"settle_times_s[{k!r}]", v, positive=False) for k, v in dict(self.settle_times_s).items()}
        if set(settle) != set(rates):
            msg = f"settle_times_s names {sorted(settle)} but ramp_rates_c_per_min names {sorted(rates)}; give both for each heater"
            raise LimitError(msg)
        object.__setattr__(self, "ramp_rates_c_per_min", rates)
        object.__setattr__(self, "settle_times_s", settle)
        object.__setattr__(self, "flush_volumes", _check("flush_volumes", self.flush_volumes, positive=False))
        ratio = _check("reactor_to_oven_volume_ratio", self.reactor_to_oven_volume_ratio, positive=False)
        object.__setattr__(self, "reactor_to_oven_volume_ratio", ratio)
        object.__setattr__(self, "measurement_s", _check("measurement_s", self.measurement_s, positive=False))
        object.__setattr__(self, "fixed", {str(k): float(v) for k, v in dict(self.fixed).items()})

    @classmethod
    def from_reactor(cls, reactor, *, fixed: Mapping[str, float] | None = None, flush_volumes: float | None = None,
                     measurement_s: float = 30.0) -> ReactorCostModel:
        """The cost model of ``reactor`` as it is configured now.

        Parameters
        ----------
        reactor : FlowReactor
            Any object with a :class:`~autolab.devices.FlowReactor`'s heaters
            (``nucleation_heater``, ``growth_oven``: ``ramp_rate_c_per_min``, ``settle_time_s``),
            volumes (``reactor_volume_ul``, ``growth_oven_volume_ul``) and
            ``flush.required_volumes`` (read, never imported: the optimiser does not depend on devices).
        fixed : mapping, optional
            Values of the conditions the optimiser does not vary.
        flush_volumes : float, optional
            Reactor volumes flushed per point; the reactor's ``flush.required_volumes`` when omitted.
        measurement_s : float
            Seconds of acquisition per point (as :meth:`FlowReactor.reagent_need_ul` counts).
        """
        heaters = {"nucleation_temperature_c": reactor.nucleation_heater, "growth_temperature_c": reactor.growth_oven}
        return cls(
            {name: float(h.ramp_rate_c_per_min.get()) for name, h in heaters.items()},
            {name: float(h.settle_time_s.get()) for name, h in heaters.items()},
            flush_volumes=float(reactor.flush.required_volumes.get()) if flush_volumes is None else flush_volumes,
            reactor_to_oven_volume_ratio=float(reactor.reactor_volume_ul) / float(reactor.growth_oven_volume_ul.get()),
            measurement_s=measurement_s,
            fixed=dict(fixed or {}),
        )

    def with_fixed(self, fixed: Mapping[str, float]) -> ReactorCostModel:
        """The same model with these fixed input values."""
        return replace(self, fixed=dict(fixed))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (an optimiser's state stores them)."""
        return {k: dict(v) if isinstance(v, Mapping) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> ReactorCostModel:
        """The model :meth:`to_dict` describes."""
        return cls(**dict(state))

    def move_time_s(self, start: Mapping[str, float] | None, end: Mapping[str, Any]) -> np.ndarray:
        """Seconds for the heaters to go from ``start`` to ``end`` and settle (0 without a start).

        ``end`` maps input names to values or arrays (broadcast); fixed inputs fill missing names.
        """
        end = {**self.fixed, **end}
        shape = np.broadcast(*[np.asarray(v, dtype=float) for v in end.values()]).shape if end else ()
        out = np.zeros(shape)
        if start is None:
            return out
        start = {**self.fixed, **start}
        for name, rate in self.ramp_rates_c_per_min.items():
            if name not in start or name not in end:
                continue
            delta = np.abs(np.asarray(end[name], dtype=float) - float(start[name]))
            out = np.maximum(out, delta / rate * 60.0 + np.where(delta > 0, self.settle_times_s[name], 0.0))
        return out

    def point_time_s(self, end: Mapping[str, Any]) -> np.ndarray:
        """Seconds at a point once the heaters have settled: the flush and the measurement."""
        end = {**self.fixed, **end}
        residence = np.asarray(end.get(self.residence_time_name, 0.0), dtype=float)
        return self.flush_volumes * self.reactor_to_oven_volume_ratio * residence + self.measurement_s

    def time_s(self, start: Mapping[str, float] | None, end: Mapping[str, Any]) -> np.ndarray:
        """Seconds from ``start`` to a measured ``end``: :meth:`move_time_s` + :meth:`point_time_s` (an array)."""
        return np.atleast_1d(self.move_time_s(start, end) + self.point_time_s(end))


def cost_cooling_alpha(budget: int, used: int, n_initial: int) -> float:
    """The weight of ``log(time)``: ``(budget − used) / (budget − n_initial)``, within 0–1."""
    if budget <= n_initial:
        return 0.0
    return float(min(1.0, max(0.0, (budget - used) / (budget - n_initial))))


def quickest_order(model: ReactorCostModel, start: Mapping[str, float] | None, points: Sequence[Mapping[str, float]]) -> list[int]:
    """The order of ``points`` that takes least time from ``start`` through all of them.

    Exact (every permutation, the first in lexicographic order on a tie) up to
    :data:`EXACT_ORDER_MAX` points; nearest neighbour first above. Only the moves depend on the
    order (each point's flush and measurement are paid whatever it is).
    """
    n = len(points)
    if n < 2:
        return list(range(n))
    names = sorted({name for p in points for name in p})
    columns = {name: np.array([float(p[name]) for p in points]) for name in names}
    first = model.move_time_s(start, columns) * np.ones(n)
    moves = np.array([model.move_time_s(p, columns) * np.ones(n) for p in points])  # moves[i, j]: from i to j
    if n <= EXACT_ORDER_MAX:
        best, best_order = math.inf, list(range(n))
        for order in itertools.permutations(range(n)):
            total = first[order[0]] + sum(moves[a, b] for a, b in itertools.pairwise(order))
            if total < best - 1e-9:
                best, best_order = total, list(order)
        return best_order
    order = [int(np.argmin(first))]
    left = [i for i in range(n) if i != order[0]]
    while left:
        nearest = min(left, key=lambda j: (moves[order[-1], j], j))
        order.append(nearest)
        left.remove(nearest)
    return order


def order_time_s(model: ReactorCostModel, start: Mapping[str, float] | None, points: Sequence[Mapping[str, float]]) -> float:
    """Seconds of heater moves from ``start`` through ``points`` in the order given."""
    total, here = 0.0, start
    for p in points:
        total += float(model.move_time_s(here, {k: float(v) for k, v in p.items()}))
        here = p
    return total
