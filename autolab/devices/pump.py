"""Syringe pumps for the Cd and Se precursors."""

from __future__ import annotations

from ophyd import Component as Cpt
from ophyd import Device, DeviceStatus

from ..errors import LimitError, check_range
from ._twin import TwinMixin
from .signals import ComputedSignal, UnitSignal


class SyringePump(Device):
    """A syringe pump: flow-rate setpoint/readback (µL/min), dispensed volume, syringe size.

    ``set(flow)`` accepts 0 (stop) or a flow between ``min_flow_rate_ul_min`` and
    ``max_flow_rate_ul_min``, and refuses to start an empty syringe. A pump that runs dry stops:
    its flow readback falls to 0 and ``remaining_volume_ul`` reads 0.
    """

    flow_rate = Cpt(UnitSignal, value=0.0, kind="hinted", units="uL/min")
    flow_rate_setpoint = Cpt(UnitSignal, value=0.0, kind="normal", units="uL/min")
    dispensed_volume_ul = Cpt(UnitSignal, value=0.0, kind="normal", units="uL")
    remaining_volume_ul = Cpt(UnitSignal, value=50_000.0, kind="normal", units="uL")
    syringe_volume_ul = Cpt(UnitSignal, value=50_000.0, kind="config", units="uL")
    min_flow_rate_ul_min = Cpt(UnitSignal, value=10.0, kind="config", units="uL/min")
    max_flow_rate_ul_min = Cpt(UnitSignal, value=12_000.0, kind="config", units="uL/min")

    def __init__(self, prefix: str = "", *, name: str, label: str = "pump", **kwargs):
        super().__init__(prefix, name=name, **kwargs)
        self.label = label

    @property
    def limits(self) -> tuple[float, float]:
        """(minimum non-zero flow, maximum flow), µL/min."""
        return float(self.min_flow_rate_ul_min.get()), float(self.max_flow_rate_ul_min.get())

    @property
    def position(self) -> float:
        return float(self.flow_rate.get())

    def check_value(self, value: float, field: str | None = None) -> float:
        """Raise :class:`~autolab.errors.LimitError` unless ``value`` is 0 or an allowed flow."""
        field = field or f"{self.name} flow rate"
        try:
            if float(value) == 0.0:
                return 0.0
        except (TypeError, ValueError):
            pass
        low, high = self.limits
        flow = check_range(field, value, low, high, "µL/min", what=f"{self.label}'s")
        if float(self.remaining_volume_ul.get()) <= 0.0:
            msg = f"{self.label} ({self.name}) syringe is empty; refill it before setting {field}={value!r}"
            raise LimitError(msg)
        return flow

    def set(self, value: float) -> DeviceStatus:  # pragma: no cover - hardware classes override
        msg = f"{type(self).__name__} is an interface; use SimSyringePump or an EPICS subclass"
        raise NotImplementedError(msg)


class SimSyringePump(TwinMixin, SyringePump):
    """Twin of a syringe pump: flow starts after ``response_time_s`` and stops when dry."""

    flow_rate = Cpt(ComputedSignal, kind="hinted", units="uL/min")
    dispensed_volume_ul = Cpt(ComputedSignal, kind="normal", units="uL")
    remaining_volume_ul = Cpt(ComputedSignal, kind="normal", units="uL")

    def __init__(self, prefix="", *, name, clock=None, rng=None, response_time_s: float = 2.0, **kwargs):
        super().__init__(prefix, name=name, **kwargs)
        self._init_twin(clock, rng)
        self.response_time_s = response_time_s
        self._segment = (self.clock.now(), 0.0, 0.0)  # t0, dispensed at t0 (µL), flow (µL/min)

    def _dispensed(self) -> float:
        t0, dispensed0, flow = self._segment
        volume = dispensed0 + flow * (self.clock.now() - t0) / 60.0
        return min(volume, float(self.syringe_volume_ul.get()))

    def _compute(self, attr):
        dispensed = self._dispensed()
        remaining = float(self.syringe_volume_ul.get()) - dispensed
        if attr == "dispensed_volume_ul":
            return dispensed
        if attr == "remaining_volume_ul":
            return remaining
        return self._segment[2] if remaining > 0 else 0.0

    def set(self, value: float) -> DeviceStatus:
        flow = self.check_value(value)
        now = self.clock.now()
        self._segment = (now, self._dispensed(), flow)
        self.flow_rate_setpoint.put(flow)
        status = DeviceStatus(self)
        self.clock.finish_at(now + (self.response_time_s if flow else 0.0), status.set_finished)
        return status

    def refill(self) -> None:
        """Put a full syringe in (the twin's equivalent of a person swapping it)."""
        self._segment = (self.clock.now(), 0.0, self._segment[2])
