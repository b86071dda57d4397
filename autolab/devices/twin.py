"""The simulated flow reactor: twin devices driven by :mod:`autolab.sim`.

The flow cell sees a mixture of what was there before the conditions changed and the steady
product of the new conditions. The fraction of new product after θ reactor volumes follows the
residence-time distribution of three ideal stirred tanks in series (Levenspiel, *Chemical Reaction
Engineering*, 3rd ed., ch. 14), F(θ) = 1 − e^(−3θ)(1 + 3θ + (3θ)²/2): 94 % after two volumes,
99.4 % after three — the default flush.
"""

from __future__ import annotations

import math
import threading

import numpy as np
from ophyd import Component as Cpt
from ophyd import DeviceStatus

from autolab import sim

from ..errors import ReactorFault
from ._twin import TwinMixin
from .clock import SimClock
from .detectors import SimSAXSDetector, SimSpectrometer
from .heater import SimHeater
from .pump import SimSyringePump
from .reactor import FlowReactor, FlushMonitor
from .signals import ComputedSignal

#: Tanks in series used for the flow cell's washout curve.
TANKS_IN_SERIES = 3


def washout_fraction(volumes: float, tanks: int = TANKS_IN_SERIES) -> float:
    """Fraction of new product at the outlet after ``volumes`` reactor volumes (tanks in series)."""
    if volumes <= 0:
        return 0.0
    x = tanks * volumes
    return 1.0 - math.exp(-x) * sum(x**k / math.factorial(k) for k in range(tanks))


class SimFlushMonitor(TwinMixin, FlushMonitor):
    """Twin flush monitor: finishes after enough flow (in simulated time) has passed."""

    flushed_volumes = Cpt(ComputedSignal, kind="hinted", units="reactor volumes")

    def __init__(self, prefix="", *, name, clock=None, rng=None, **kwargs):
        super().__init__(prefix, name=name, **kwargs)
        self._init_twin(clock, rng)

    def _compute(self, attr):
        return self.parent.flushed_volumes()

    def trigger(self) -> DeviceStatus:
        """Finish once both heaters have settled and then enough volumes have flushed."""
        reactor = self.parent
        status = DeviceStatus(self)
        heaters = (reactor.nucleation_heater, reactor.growth_oven)

        def start_counting():
            missing = float(self.required_volumes.get()) - reactor.flushed_volumes()
            if missing <= 0:
                status.set_finished()
                return
            flow_ul_s = reactor.total_flow_now_ul_min() / 60.0
            if flow_ul_s <= 0:
                msg = "the pumps are stopped, so the reactor cannot flush; set a residence time first"
                status.set_exception(ReactorFault(msg))
                return
            # a hair past the target so the readback is not a rounding error short of it
            seconds = missing * reactor.reactor_volume_ul / flow_ul_s * (1 + 1e-9)
            self.clock.finish_at(self.clock.now() + seconds, status.set_finished)

        self.clock.finish_at(max(h.settled_at for h in heaters), start_counting)
        return status


class TwinFlowReactor(FlowReactor):
    """The flow reactor with every component simulated (see :func:`make_twin_reactor`)."""

    cd_pump = Cpt(SimSyringePump, label="Cd precursor pump")
    se_pump = Cpt(SimSyringePump, label="Se precursor pump")
    nucleation_heater = Cpt(SimHeater, label="nucleation heater")
    growth_oven = Cpt(SimHeater, label="growth oven")
    spectrometer = Cpt(SimSpectrometer)
    saxs = Cpt(SimSAXSDetector)
    flush = Cpt(SimFlushMonitor)

    def __init__(self, prefix="", *, name, clock: SimClock, rng: np.random.Generator, **kwargs):
        self.clock = clock
        self.rng = rng
        self._lock = threading.RLock()
        # The reactor starts full of unreacted precursor mixture at room temperature.
        self._before = sim.steady_state(sim.Conditions(25.0, 25.0, 0.0, 0.0))
        self._segment = None  # (conditions key, steady state, dispensed µL at start)
        super().__init__(prefix, name=name, **kwargs)
        self.nucleation_heater.safety_limit_c.put(350.0)
        self.growth_oven.safety_limit_c.put(350.0)
        self.growth_oven.ramp_rate_c_per_min.put(30.0)
        self.nucleation_heater.ramp_rate_c_per_min.put(120.0)

    # --- what the flow cell sees ------------------------------------------------------------
    def total_flow_now_ul_min(self) -> float:
        """Actual total flow now, µL/min (readbacks, so a dry pump counts as 0)."""
        return float(self.cd_pump.flow_rate.get()) + float(self.se_pump.flow_rate.get())

    def _dispensed_ul(self) -> float:
        return float(self.cd_pump.dispensed_volume_ul.get()) + float(self.se_pump.dispensed_volume_ul.get())

    def _conditions_now(self):
        """Conditions in effect now (settled setpoints, else rounded readbacks), or None without flow."""
        flow = self.total_flow_now_ul_min()
        if flow <= 0:
            return None

        def temperature(heater):
            if heater.settled:
                return float(heater.setpoint.get())
            return round(float(heater.readback.get()) * 2.0) / 2.0

        residence = self.residence_time_for(flow)
        return (
            temperature(self.nucleation_heater),
            temperature(self.growth_oven),
            round(residence, 3),
            round(self.nucleation_time_for(residence), 4),
        )

    def _update(self):
        key = self._conditions_now()
        if key is None or (self._segment is not None and self._segment[0] == key):
            return
        self._before = self._mixture()
        self._segment = (key, sim.steady_state(sim.Conditions(*key)), self._dispensed_ul())

    def flushed_volumes(self) -> float:
        """Reactor volumes passed since the conditions last changed."""
        with self._lock:
            self._update()
            if self._segment is None:
                return 0.0
            return (self._dispensed_ul() - self._segment[2]) / self.reactor_volume_ul

    def sample_at_flow_cell(self) -> sim.KineticState:
        """The mixture now in the flow cells (old product washing out, new product arriving)."""
        with self._lock:
            self._update()
            return self._mixture()

    def _mixture(self) -> sim.KineticState:
        if self._segment is None:
            return self._before
        volumes = (self._dispensed_ul() - self._segment[2]) / self.reactor_volume_ul
        return self._before.mixed_with(self._segment[1], washout_fraction(volumes))


def make_twin_reactor(
    *, name: str = "reactor", rng: np.random.Generator | None = None, seed: int | None = 0, time_scale: float = 0.0
) -> TwinFlowReactor:
    """Build a simulated flow reactor.

    Parameters
    ----------
    name : str
        Device name; readings are prefixed with it (``reactor_spectrometer_absorbance``).
    rng : numpy.random.Generator, optional
        Source of all detector and sensor noise. Built from ``seed`` when omitted.
    seed : int, optional
        Seed for ``rng`` (ignored when ``rng`` is given).
    time_scale : float
        Real seconds per simulated second; 0 (default) for a virtual clock (fastest, repeatable).

    Examples
    --------
    >>> from autolab.devices import make_twin_reactor
    >>> reactor = make_twin_reactor(seed=1)
    >>> reactor.flow_rates_for(14.0)["cd_pump"]  # µL/min
    535.71...
    """
    rng = rng if rng is not None else np.random.default_rng(seed)
    return TwinFlowReactor(name=name, clock=SimClock(time_scale), rng=rng)
