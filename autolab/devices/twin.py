"""The simulated flow reactor: twin devices driven by :mod:`autolab.sim`.

:func:`make_twin_reactor` builds it and hands it its physics: the kinetic parameters (whose
chamber/oven volume ratio sets the chamber's volume), the spectrometer's wavelength grid and the
SAXS q grid. The device interfaces (:mod:`autolab.devices.reactor`,
:mod:`autolab.devices.detectors`, …) know nothing of the twin.

The flow cell sees a mixture of what was there before the conditions changed and the steady
product of the new conditions. The fraction of new product after θ reactor volumes follows the
residence-time distribution of three ideal stirred tanks in series (Levenspiel, *Chemical Reaction
Engineering*, 3rd ed., ch. 14), F(θ) = 1 − e^(−3θ)(1 + 3θ + (3θ)²/2): 94 % after two volumes,
99.4 % after three — the default flush.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import numpy as np
from ophyd import Component as Cpt
from ophyd import DeviceStatus

from autolab import sim

from ..errors import ReactorFault
from ._twin import TwinMixin
from .clock import SimClock
from .detectors import SAXSDetector, Spectrometer
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


class _TwinDetectorMixin(TwinMixin):
    """Acquire from a ``sample()`` callable (the twin flow cell) after the exposure time."""

    def _init_detector(self, clock, rng, sample: Callable[[], sim.KineticState] | None):
        self._init_twin(clock, rng)
        parent = getattr(self, "parent", None)
        self._sample = sample if sample is not None else getattr(parent, "sample_at_flow_cell", None)
        if self._sample is None:
            msg = f"{type(self).__name__} needs sample= (a callable returning the flow-cell state)"
            raise TypeError(msg)

    def _acquire(self, exposure_s: float, store) -> DeviceStatus:
        status = DeviceStatus(self)
        state = self._sample()
        now = self.clock.now()

        def finish():
            store(state)
            status.set_finished()

        self.clock.finish_at(now + exposure_s, finish)
        return status


class SimSpectrometer(_TwinDetectorMixin, Spectrometer):
    """Twin spectrometer: the sim's absorbance of the flow-cell content plus detector noise.

    ``wavelength_nm`` is its axis, nm (default :data:`autolab.sim.DEFAULT_WAVELENGTH_NM`); a twin
    reactor sets its own (:meth:`set_axis`).
    """

    def __init__(self, prefix="", *, name, clock=None, rng=None, sample=None, wavelength_nm=None, **kwargs):
        super().__init__(prefix, name=name, **kwargs)
        self._init_detector(clock, rng, sample)
        self.set_axis(sim.DEFAULT_WAVELENGTH_NM if wavelength_nm is None else wavelength_nm)

    def set_axis(self, wavelength_nm) -> None:
        """Measure on ``wavelength_nm`` (nm) from now on; the absorbance is reset to zeros of its length."""
        axis = np.array(wavelength_nm, dtype=float)
        self.wavelength_nm.put(axis)
        self.absorbance.put(np.zeros_like(axis))

    def trigger(self) -> DeviceStatus:
        integration = float(self.integration_time_s.get())

        def store(state):
            clean = sim.optics.absorbance(state, self.wavelength_nm.get())
            self.absorbance.put(sim.optics.add_detector_noise(clean, self.rng, integration))

        return self._acquire(integration, store)


class SimSAXSDetector(_TwinDetectorMixin, SAXSDetector):
    """Twin SAXS detector: the sim's I(q) of the flow-cell content with Poisson counting noise.

    ``q_nm_inv`` is its axis, nm⁻¹ (default :data:`autolab.sim.DEFAULT_Q_NM_INV`); a twin reactor
    sets its own (:meth:`set_axis`).
    """

    def __init__(self, prefix="", *, name, clock=None, rng=None, sample=None, q_nm_inv=None, **kwargs):
        super().__init__(prefix, name=name, **kwargs)
        self._init_detector(clock, rng, sample)
        self.set_axis(sim.DEFAULT_Q_NM_INV if q_nm_inv is None else q_nm_inv)

    def set_axis(self, q_nm_inv) -> None:
        """Measure on ``q_nm_inv`` (nm⁻¹) from now on; I(q) and σ(q) are reset to zeros of its length."""
        axis = np.array(q_nm_inv, dtype=float)
        self.q_nm_inv.put(axis)
        self.intensity.put(np.zeros_like(axis))
        self.intensity_sigma.put(np.zeros_like(axis))

    def trigger(self) -> DeviceStatus:
        exposure = float(self.exposure_time_s.get())

        def store(state):
            clean = sim.scattering.intensity(state, self.q_nm_inv.get())
            measured, sigma = sim.scattering.add_counting_noise(clean, self.rng, exposure)
            self.intensity.put(measured)
            self.intensity_sigma.put(sigma)

        return self._acquire(exposure, store)


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
    """The flow reactor with every component simulated (see :func:`make_twin_reactor`).

    Parameters
    ----------
    clock : SimClock
        The simulated clock every component runs on.
    rng : numpy.random.Generator
        Source of all detector and sensor noise.
    params : autolab.sim.KineticParameters
        The chemistry. Its ``chamber_to_oven_volume_ratio`` sets the nucleation chamber's volume
        (× the growth oven's), so that the chamber time at each residence time is the one the
        chemistry is fitted with.
    wavelength_nm : array_like
        The spectrometer's wavelength axis, nm.
    q_nm_inv : array_like
        The SAXS detector's q axis, nm⁻¹.
    """

    cd_pump = Cpt(SimSyringePump, label="Cd precursor pump")
    se_pump = Cpt(SimSyringePump, label="Se precursor pump")
    nucleation_heater = Cpt(SimHeater, label="nucleation heater")
    growth_oven = Cpt(SimHeater, label="growth oven")
    spectrometer = Cpt(SimSpectrometer)
    saxs = Cpt(SimSAXSDetector)
    flush = Cpt(SimFlushMonitor)

    def __init__(
        self,
        prefix="",
        *,
        name,
        clock: SimClock,
        rng: np.random.Generator,
        params: sim.KineticParameters = sim.DEFAULT_PARAMETERS,
        wavelength_nm=sim.DEFAULT_WAVELENGTH_NM,
        q_nm_inv=sim.DEFAULT_Q_NM_INV,
        **kwargs,
    ):
        self.clock = clock
        self.rng = rng
        self.params = params
        self._lock = threading.RLock()
        # The reactor starts full of unreacted precursor mixture at room temperature.
        self._before = sim.steady_state(sim.Conditions(25.0, 25.0, 0.0, 0.0), params)
        self._segment = None  # (conditions key, steady state, dispensed µL at start)
        super().__init__(prefix, name=name, **kwargs)
        oven_ul = float(self.growth_oven_volume_ul.get())
        self.nucleation_chamber_volume_ul.put(round(oven_ul * params.chamber_to_oven_volume_ratio, 2))
        self.spectrometer.set_axis(wavelength_nm)
        self.saxs.set_axis(q_nm_inv)
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
        self._segment = (key, sim.steady_state(sim.Conditions(*key), self.params), self._dispensed_ul())

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
    *,
    name: str = "reactor",
    rng: np.random.Generator | None = None,
    seed: int | None = 0,
    time_scale: float = 0.0,
    params: sim.KineticParameters = sim.DEFAULT_PARAMETERS,
    wavelength_nm=sim.DEFAULT_WAVELENGTH_NM,
    q_nm_inv=sim.DEFAULT_Q_NM_INV,
) -> TwinFlowReactor:
    """Build a simulated flow reactor with its physics from :mod:`autolab.sim`.

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
    params : autolab.sim.KineticParameters
        The chemistry (default: the fitted :data:`autolab.sim.DEFAULT_PARAMETERS`); its
        chamber/oven volume ratio sets the nucleation chamber's volume.
    wavelength_nm : array_like
        The spectrometer's wavelength axis, nm (default :data:`autolab.sim.DEFAULT_WAVELENGTH_NM`,
        300–700 nm in 1 nm steps).
    q_nm_inv : array_like
        The SAXS detector's q axis, nm⁻¹ (default :data:`autolab.sim.DEFAULT_Q_NM_INV`, 250
        log-spaced points over 0.1–5 nm⁻¹).

    Examples
    --------
    >>> from autolab.devices import make_twin_reactor
    >>> reactor = make_twin_reactor(seed=1)
    >>> reactor.flow_rates_for(14.0)["cd_pump"]  # µL/min
    535.71...
    """
    rng = rng if rng is not None else np.random.default_rng(seed)
    return TwinFlowReactor(
        name=name, clock=SimClock(time_scale), rng=rng, params=params, wavelength_nm=wavelength_nm, q_nm_inv=q_nm_inv
    )
