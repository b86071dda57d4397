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

from ..errors import ReactorFault, check_seed
from ._twin import TwinMixin
from .clock import SimClock
from .detectors import CELL_CONTENTS, SAXSDetector, Spectrometer
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
            try:
                store(state)
            except Exception as exc:  # e.g. a frame file that cannot be written: the acquisition fails, with its reason
                status.set_exception(exc)
                return
            status.set_finished()

        self.clock.finish_at(now + exposure_s, finish)
        return status


class SimSpectrometer(_TwinDetectorMixin, Spectrometer):
    """Twin spectrometer: raw counts of the flow-cell content (:mod:`autolab.sim.detector_raw`), reduced to absorbance.

    ``wavelength_nm`` is its axis, nm (default :data:`autolab.sim.DEFAULT_WAVELENGTH_NM`); a twin
    reactor sets its own (:meth:`set_axis`). A twin starts calibrated: setting the axis takes a
    dark and a reference (solvent-filled cell) on it, as an operator does before the first
    sample; their run uids stay empty until :func:`~autolab.plans.take_dark` and
    :func:`~autolab.plans.take_reference` replace them.
    """

    def __init__(self, prefix="", *, name, clock=None, rng=None, sample=None, wavelength_nm=None,
                 raw_model: sim.detector_raw.SpectrometerModel = sim.detector_raw.DEFAULT_SPECTROMETER, **kwargs):
        super().__init__(prefix, name=name, **kwargs)
        self._init_detector(clock, rng, sample)
        self.raw_model = raw_model
        self.saturation_counts.put(raw_model.saturation_counts)
        self.set_axis(sim.DEFAULT_WAVELENGTH_NM if wavelength_nm is None else wavelength_nm)

    def set_axis(self, wavelength_nm) -> None:
        """Measure on ``wavelength_nm`` (nm) from now on; readings reset, a dark and a reference taken on it."""
        axis = np.array(wavelength_nm, dtype=float)
        self.wavelength_nm.put(axis)
        self.absorbance.put(np.zeros_like(axis))
        self.counts.put(np.zeros_like(axis))
        self.saturated.put(np.zeros(axis.shape, dtype=np.uint8))
        dark, reference = (self._raw(axis, None, light=light) for light in (False, True))
        self.dark_counts.put(dark.counts)
        self.reference_counts.put(reference.counts)
        self.reference_saturated.put(reference.saturated.astype(np.uint8))
        self.dark_run_uid.put("")
        self.reference_run_uid.put("")

    def _raw(self, axis, absorbance, *, light: bool):
        return sim.detector_raw.acquire_spectrum(
            axis, absorbance, self.rng, integration_time_s=float(self.integration_time_s.get()),
            scans=int(self.scans_to_average.get()), light=light, model=self.raw_model,
        )

    def trigger(self) -> DeviceStatus:
        integration, scans = sim.detector_raw.check_spectrometer_settings(self.integration_time_s.get(), self.scans_to_average.get())
        content = _check_content(self, ("sample", "solvent"))
        light = _check_choice(self, "shutter", ("open", "closed")) == "open"

        def store(state):
            axis = self.wavelength_nm.get()
            raw = self._raw(axis, sim.optics.absorbance(state, axis) if content == "sample" else None, light=light)
            self.counts.put(raw.counts)
            self.saturated.put(raw.saturated.astype(np.uint8))
            # Only a sample in the light has an absorbance; a dark or a reference is raw data alone.
            measured = content == "sample" and light
            self.absorbance.put(self.reduce(raw.counts, raw.saturated) if measured else np.full(axis.shape, np.nan))

        return self._acquire(integration * scans, store)


class SimSAXSDetector(_TwinDetectorMixin, SAXSDetector):
    """Twin SAXS detector: a 2D frame of the flow-cell content (:mod:`autolab.sim.detector_raw`), reduced with pyFAI.

    ``q_nm_inv`` is its axis, nm⁻¹ (default :data:`autolab.sim.DEFAULT_Q_NM_INV`); a twin reactor
    sets its own (:meth:`set_axis`). The geometry (PONI text, beamstop mask), the cell thickness
    and the absolute-scale factor (1/detector efficiency) come from ``geometry`` and ``beam``. A twin
    starts with a background frame of the solvent-filled cell, integrated when first needed; its
    run uid stays empty until :func:`~autolab.plans.take_background` replaces it.
    """

    def __init__(self, prefix="", *, name, clock=None, rng=None, sample=None, q_nm_inv=None,
                 geometry: sim.detector_raw.SAXSGeometry = sim.detector_raw.DEFAULT_GEOMETRY,
                 beam: sim.detector_raw.SAXSBeam = sim.detector_raw.DEFAULT_BEAM, **kwargs):
        super().__init__(prefix, name=name, **kwargs)
        self._init_detector(clock, rng, sample)
        self.geometry, self.beam = geometry, beam
        self.poni.put(geometry.poni_text())
        self.thickness_cm.put(beam.thickness_cm)
        self.calibration_factor.put(1.0 / beam.efficiency)
        self.mask.put(geometry.beamstop_mask())
        q_pixels = geometry.q_nm_inv()[~geometry.mask()]
        # The frame's I(q) is computed on this grid and interpolated to the pixels: 0.9 % steps
        # resolve the twin's narrowest feature (the Bragg peaks, σ 0.04 nm⁻¹ = 2.2 % at 1.84 nm⁻¹).
        self._model_q = np.geomspace(0.95 * q_pixels.min(), 1.05 * geometry.q_nm_inv().max(), 500)
        self.set_axis(sim.DEFAULT_Q_NM_INV if q_nm_inv is None else q_nm_inv)

    def set_axis(self, q_nm_inv) -> None:
        """Integrate onto ``q_nm_inv`` (nm⁻¹) from now on; readings reset, a solvent background frame taken."""
        axis = np.array(q_nm_inv, dtype=float)
        self.q_nm_inv.put(axis)
        self.intensity.put(np.zeros_like(axis))
        self.intensity_sigma.put(np.zeros_like(axis))
        self.background_intensity.put(np.zeros(0))
        self.background_sigma.put(np.zeros(0))
        self.background_run_uid.put("")
        self._startup_background = self._frame("solvent", None, float(self.exposure_time_s.get()))

    def missing_calibrations(self) -> list[str]:
        """Integrates the twin's startup background first, if it is still pending."""
        startup, self._startup_background = self._startup_background, None
        if startup is not None:
            intensity, sigma = self.reduce(
                startup.counts, monitor_photons_s=startup.monitor_photons_s, transmission=startup.transmission, content="solvent"
            )
            self.background_intensity.put(intensity)
            self.background_sigma.put(sigma)
        return super().missing_calibrations()

    def _frame(self, content, state, exposure):
        if content == "sample":
            model = sim.scattering.intensity(state, self._model_q)
        else:
            model = np.full(self._model_q.shape, sim.scattering.DEFAULT_SCATTERING.background_cm_inv)
        return sim.detector_raw.acquire_frame(
            self._model_q, model, self.rng, exposure_time_s=exposure, content=content, geometry=self.geometry, beam=self.beam
        )

    def trigger(self) -> DeviceStatus:
        exposure = sim.detector_raw.check_exposure(self.exposure_time_s.get())
        content = _check_content(self, CELL_CONTENTS)
        if content == "sample":
            self.missing_calibrations()

        def store(state):
            frame = self._frame(content, state, exposure)
            self.keep_frame(frame.counts)
            self.monitor_photons_s.put(frame.monitor_photons_s)
            self.transmission.put(frame.transmission)
            intensity, sigma = self.reduce(frame.counts, monitor_photons_s=frame.monitor_photons_s, transmission=frame.transmission)
            self.intensity.put(intensity)
            self.intensity_sigma.put(sigma)

        return self._acquire(exposure, store)


def _check_choice(device, attr: str, allowed) -> str:
    value = getattr(device, attr).get()
    if value not in allowed:
        msg = f"{device.name} {attr}={value!r} is not one of {', '.join(map(repr, allowed))}"
        raise ValueError(msg)
    return value


def _check_content(device, allowed) -> str:
    return _check_choice(device, "cell_content", allowed)


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
        # The reactor starts primed with solvent, as the spectrometer's reference and the SAXS background are taken on it.
        self._before = sim.solvent_state(params)
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

    def extrapolated_because(self, nucleation_temperature_c: float, growth_temperature_c: float, residence_time_s: float) -> list[str]:
        """Why the twin's result at this point is an extrapolation: one reason per bound of its
        validity domain (:data:`autolab.sim.DOMAIN`, the region the seed papers cover) the point
        violates; empty inside. A real reactor has no such method: its readings are measured."""
        return sim.outside_domain(sim.Conditions(nucleation_temperature_c, growth_temperature_c, residence_time_s))

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
    if rng is None:  # a plain number must be a seed numpy takes; a SeedSequence or a sequence of ints goes to numpy as it is
        rng = np.random.default_rng(check_seed("seed", seed) if isinstance(seed, (int, float)) else seed)
    return TwinFlowReactor(
        name=name, clock=SimClock(time_scale), rng=rng, params=params, wavelength_nm=wavelength_nm, q_nm_inv=q_nm_inv
    )
