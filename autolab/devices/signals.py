"""Signals shared by autolab's devices: a Signal that reports units, and a read-only one whose
value is computed on demand by its parent device (the twins' readbacks)."""

from __future__ import annotations

import time

from ophyd import Signal, SignalRO


class UnitSignal(Signal):
    """An ophyd ``Signal`` whose ``describe()`` carries ``units`` (and optional limits)."""

    def __init__(self, *args, units: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.units = units

    def describe(self):
        desc = super().describe()
        if self.units:
            desc[self.name]["units"] = self.units
        return desc


class ComputedSignal(SignalRO):
    """A read-only signal whose value comes from ``parent._compute(attr_name)`` at each ``get()``.

    Twins use it for readbacks that evolve with simulated time (a heater's temperature, a pump's
    dispensed volume) so that every ``read()`` reflects the twin's clock without a polling thread.
    """

    def __init__(self, *args, units: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.units = units

    def get(self, **kwargs):
        value = self.parent._compute(self.attr_name)
        old = self._readback
        self._readback = value
        self._metadata["timestamp"] = time.time()
        if not _same(old, value):
            self._run_subs(sub_type=self.SUB_VALUE, old_value=old, value=value, timestamp=self.timestamp)
        return value

    def describe(self):
        self.get()
        desc = super().describe()
        if self.units:
            desc[self.name]["units"] = self.units
        return desc


def _same(a, b) -> bool:
    try:
        return bool(a == b)
    except ValueError:  # arrays
        return a is b
