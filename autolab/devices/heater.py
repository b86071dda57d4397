"""Temperature controllers: the nucleation chamber heater and the growth oven."""

from __future__ import annotations

import numpy as np
from ophyd import Component as Cpt
from ophyd import Device, DeviceStatus

from ..errors import check_range
from ._twin import TwinMixin
from .signals import ComputedSignal, UnitSignal


class Heater(Device):
    """A temperature positioner (°C) with a ramp rate, a settle tolerance and a safety limit.

    ``set(T)`` checks ``T`` against ``low_limit_c``…``safety_limit_c`` (raising
    :class:`~autolab.errors.LimitError` before anything changes) and returns a Status that
    finishes only once the readback has settled within ``settle_tolerance_c`` of ``T`` for
    ``settle_time_s``. Real controllers subclass this with EPICS signals; :class:`SimHeater` is
    the twin.
    """

    readback = Cpt(UnitSignal, value=25.0, kind="hinted", units="degC")
    setpoint = Cpt(UnitSignal, value=25.0, kind="normal", units="degC")
    ramp_rate_c_per_min = Cpt(UnitSignal, value=60.0, kind="config", units="degC/min")
    settle_tolerance_c = Cpt(UnitSignal, value=1.0, kind="config", units="degC")
    settle_time_s = Cpt(UnitSignal, value=10.0, kind="config", units="s")
    low_limit_c = Cpt(UnitSignal, value=20.0, kind="config", units="degC")
    safety_limit_c = Cpt(UnitSignal, value=350.0, kind="config", units="degC")

    def __init__(self, prefix: str = "", *, name: str, label: str = "heater", **kwargs):
        super().__init__(prefix, name=name, **kwargs)
        self.label = label

    @property
    def limits(self) -> tuple[float, float]:
        """Allowed setpoint range (low limit, hard safety limit), °C."""
        return float(self.low_limit_c.get()), float(self.safety_limit_c.get())

    @property
    def position(self) -> float:
        return float(self.readback.get())

    def check_value(self, value: float, field: str | None = None) -> float:
        """Raise :class:`~autolab.errors.LimitError` unless ``value`` is an allowed setpoint."""
        low, high = self.limits
        return check_range(field or f"{self.name} setpoint", value, low, high, "°C", what=f"{self.label}'s")

    def estimate_settle_time_s(self, target_c: float, from_c: float | None = None) -> float:
        """Seconds to ramp from ``from_c`` (default: the current setpoint) to ``target_c`` and settle."""
        start = float(self.setpoint.get()) if from_c is None else float(from_c)
        distance = abs(float(target_c) - start)
        return distance / float(self.ramp_rate_c_per_min.get()) * 60.0 + float(self.settle_time_s.get())

    def set(self, value: float) -> DeviceStatus:  # pragma: no cover - hardware classes override
        msg = f"{type(self).__name__} is an interface; use SimHeater or an EPICS subclass"
        raise NotImplementedError(msg)


class SimHeater(TwinMixin, Heater):
    """Twin of a heater: linear ramp, a damped overshoot, and ±0.1 °C sensor noise.

    Parameters
    ----------
    clock : SimClock, optional
        Simulated time (inherited from a twin reactor when omitted).
    rng : numpy.random.Generator, optional
        Source of sensor noise (inherited from a twin reactor when omitted).
    noise_c : float
        Standard deviation of the readback noise once settled, °C.
    """

    readback = Cpt(ComputedSignal, kind="hinted", units="degC")

    def __init__(self, prefix="", *, name, clock=None, rng=None, noise_c: float = 0.1, initial_c=25.0, **kwargs):
        super().__init__(prefix, name=name, **kwargs)
        self._init_twin(clock, rng)
        self.noise_c = noise_c
        # (t0, from °C, to °C, ramp s); a new twin starts settled at initial_c.
        self._ramp = (self.clock.now() - float(self.settle_time_s.get()), float(initial_c), float(initial_c), 0.0)
        self.setpoint.put(float(initial_c))

    def true_temperature_c(self) -> float:
        """Noise-free temperature now, °C: the ramp, then a decaying 2 % overshoot."""
        t0, start, target, ramp_s = self._ramp
        elapsed = self.clock.now() - t0
        if elapsed < ramp_s:
            return start + (target - start) * elapsed / ramp_s
        return target + 0.02 * (target - start) * np.exp(-(elapsed - ramp_s) / 3.0)

    def _compute(self, attr):
        return float(self.true_temperature_c() + self.rng.normal(0.0, self.noise_c))

    def set(self, value: float) -> DeviceStatus:
        target = self.check_value(value)
        status = DeviceStatus(self)
        start = self.true_temperature_c()
        ramp_s = abs(target - start) / float(self.ramp_rate_c_per_min.get()) * 60.0
        now = self.clock.now()
        self._ramp = (now, start, target, ramp_s)
        self.setpoint.put(target)
        self.clock.finish_at(now + ramp_s + float(self.settle_time_s.get()), status.set_finished)
        return status

    @property
    def settled_at(self) -> float:
        """Simulated time (s) at which the current ramp and settling dwell end."""
        t0, _, _, ramp_s = self._ramp
        return t0 + ramp_s + float(self.settle_time_s.get())

    @property
    def settled(self) -> bool:
        """True when the ramp and settling dwell are over."""
        return self.clock.now() >= self.settled_at
