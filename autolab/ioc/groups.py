"""caproto PV groups that serve one twin reactor's devices over Channel Access.

Each group wraps one twin device of a :class:`~autolab.devices.TwinFlowReactor` (built by
:func:`~autolab.devices.make_twin_reactor`, so the IOC runs the in-process twin's physics, not a
copy): a put calls the twin's ``set()``/``trigger()``, and :meth:`TwinIOC.refresh` copies the
twin's readbacks into the read-only PVs. The PV names follow the layouts real IOCs use (areaDetector's
``cam1:``/``image1:`` for the SAXS detector); the tables are in ``docs/epics.md``.

Every group also has ``Sim:`` PVs that inject faults (a stalled pump, a heater alarm, a heater
that cannot reach its setpoint, a detector that hangs, a beam dump), written by
``autolab ioc fault`` or by a test. Fault durations are wall-clock seconds.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
from caproto import AlarmSeverity, AlarmStatus, ChannelType
from caproto.server import PVGroup, pvproperty

#: Stored beam current of the simulated storage ring, mA.
NOMINAL_BEAM_CURRENT_MA = 200.0
#: Smallest change of the beam current the IOC posts, mA (its MDEL).
BEAM_DEADBAND_MA = 0.1
#: Photodiode current per mA of stored beam behind an empty path, µA (the transmission diode's gain).
DIODE_UA_PER_MA = 0.05
#: Transmission of the filled Kapton flow cell that the diode reports, a fraction.
FLOW_CELL_TRANSMISSION = 0.82
#: areaDetector's DetectorState_RBV states.
DETECTOR_STATES = ["Idle", "Acquire", "Readout", "Correct", "Saving", "Aborting", "Error", "Waiting",
                   "Initializing", "Disconnected", "Aborted"]


class _Fault:
    """A fault that lasts until a wall-clock time (0: off)."""

    def __init__(self):
        self.until = 0.0

    def start(self, seconds: float) -> None:
        self.until = time.monotonic() + float(seconds) if seconds > 0 else 0.0

    @property
    def active(self) -> bool:
        return time.monotonic() < self.until


async def _wait_status(status, *, poll_s: float = 0.002) -> None:
    while not status.done:
        await asyncio.sleep(poll_s)
    if not status.success:
        raise status.exception() or RuntimeError("the twin's operation failed")


async def _put_if_changed(prop, value, **kwargs) -> None:
    old = prop.value
    if isinstance(value, np.ndarray) or np.ndim(old):
        if np.array_equal(np.asarray(old), np.asarray(value)) and not kwargs:
            return
    elif old == value and not kwargs:
        return
    await prop.write(value, **kwargs)


class PumpGroup(PVGroup):
    """A syringe pump: ``Rate`` (µL/min) and ``Run`` start it; ``Stall_RBV`` reports a stall."""

    rate = pvproperty(name="Rate", value=0.0, units="uL/min", precision=3, doc="Flow-rate setpoint")
    rate_rbv = pvproperty(name="Rate_RBV", value=0.0, units="uL/min", precision=3, read_only=True)
    run = pvproperty(name="Run", value=0, doc="1 runs the pump at Rate, 0 stops it")
    running = pvproperty(name="Run_RBV", value=0, read_only=True)
    infused = pvproperty(name="Infused_RBV", value=0.0, units="uL", precision=3, read_only=True)
    remaining = pvproperty(name="Remaining_RBV", value=0.0, units="uL", precision=3, read_only=True)
    syringe_volume = pvproperty(name="SyringeVolume", value=0.0, units="uL", precision=1)
    min_rate = pvproperty(name="MinRate", value=0.0, units="uL/min", precision=3, read_only=True)
    max_rate = pvproperty(name="MaxRate", value=0.0, units="uL/min", precision=3, read_only=True)
    stall = pvproperty(name="Stall_RBV", value=0, read_only=True, doc="1 while the pump is stalled")
    sim_stall = pvproperty(name="Sim:Stall", value=0.0, units="s", doc="Stall the pump for this many seconds")
    sim_refill = pvproperty(name="Sim:Refill", value=0, doc="1 puts a full syringe in (what a person does at the pump)")

    def __init__(self, prefix, *, device, **kwargs):
        super().__init__(prefix, **kwargs)
        self.device = device
        self.fault = _Fault()
        self._stalled_flow = None
        self._startup = {self.syringe_volume: float(device.syringe_volume_ul.get()),
                         self.min_rate: device.limits[0], self.max_rate: device.limits[1]}

    @rate.putter
    async def rate(self, instance, value):
        if float(value) != 0.0:
            self.device.check_value(value, f"{self.prefix}Rate")
        if self.running.value:
            await self._drive(float(value))
        return value

    @run.putter
    async def run(self, instance, value):
        await self._drive(float(self.rate.value) if value else 0.0)
        await self.running.write(1 if value else 0)
        return 1 if value else 0

    async def _drive(self, flow: float) -> None:
        """Run the twin pump at ``flow``; a stalled pump takes it up when the stall clears."""
        if self.fault.active:
            self._stalled_flow = flow
            return
        await _wait_status(self.device.set(flow))
        await _put_if_changed(self.rate_rbv, float(self.device.flow_rate.get()))  # now, not at the next poll

    @syringe_volume.putter
    async def syringe_volume(self, instance, value):
        self.device.syringe_volume_ul.put(float(value))
        return value

    @sim_refill.putter
    async def sim_refill(self, instance, value):
        if value:
            self.device.refill()
        return 0

    @sim_stall.putter
    async def sim_stall(self, instance, value):
        if value > 0 and self._stalled_flow is None:
            self._stalled_flow = float(self.device.flow_rate_setpoint.get())
            await _wait_status(self.device.set(0.0))
        self.fault.start(value)
        return value

    async def refresh(self) -> None:
        device = self.device
        if self._stalled_flow is not None and not self.fault.active:
            flow, self._stalled_flow = self._stalled_flow, None
            await _wait_status(device.set(flow))
        stalled = self.fault.active
        severity = AlarmSeverity.MAJOR_ALARM if stalled else AlarmSeverity.NO_ALARM
        status = AlarmStatus.STATE if stalled else AlarmStatus.NO_ALARM
        if self.stall.value != int(stalled):
            await self.stall.write(int(stalled), severity=severity, status=status)
        await _put_if_changed(self.rate_rbv, float(device.flow_rate.get()))
        await _put_if_changed(self.infused, float(device.dispensed_volume_ul.get()))
        await _put_if_changed(self.remaining, float(device.remaining_volume_ul.get()))


def _faulty_readback(readback_c: float, true_c: float, setpoint_c: float, offset_c: float, deadband_c: float) -> float:
    """The readback of a heater with a ``Sim:Offset`` fault: never nearer its setpoint than ``|offset_c|``.

    A ramp that passed through the setpoint's tolerance band would let a move settle for a moment,
    so the readback's distance from the setpoint is ``|offset_c|`` plus the heater's own, on the
    side the noise-free temperature ``true_c`` is on: below while the heater ramps up, above while
    it cools down, and on ``offset_c``'s side once it is within ``deadband_c`` of the setpoint.
    """
    if offset_c == 0.0:
        return readback_c
    gap = true_c - setpoint_c
    side = np.sign(offset_c) if abs(gap) <= deadband_c else np.sign(gap)
    return float(setpoint_c + side * (abs(offset_c) + abs(readback_c - setpoint_c)))


class HeaterGroup(PVGroup):
    """A temperature controller: ``Temperature`` setpoint and ``Temperature_RBV`` (°C), ramp and settle settings."""

    setpoint = pvproperty(name="Temperature", value=25.0, units="degC", precision=2, doc="Setpoint")
    readback = pvproperty(name="Temperature_RBV", value=25.0, units="degC", precision=2, read_only=True)
    ramp_rate = pvproperty(name="RampRate", value=0.0, units="degC/min", precision=2)
    tolerance = pvproperty(name="Tolerance", value=0.0, units="degC", precision=2)
    settle_time = pvproperty(name="SettleTime", value=0.0, units="s", precision=2)
    low_limit = pvproperty(name="LowLimit", value=0.0, units="degC", precision=1, read_only=True)
    high_limit = pvproperty(name="HighLimit", value=0.0, units="degC", precision=1, read_only=True)
    alarm = pvproperty(name="Alarm_RBV", value=0, read_only=True, doc="1 while the controller is in alarm")
    sim_alarm = pvproperty(name="Sim:Alarm", value=0.0, units="s", doc="Raise the alarm for this many seconds")
    sim_offset = pvproperty(name="Sim:Offset", value=0.0, units="degC",
                            doc="The readback stays at least this far from the setpoint (a heater that cannot settle); 0 heals it")

    def __init__(self, prefix, *, device, **kwargs):
        super().__init__(prefix, **kwargs)
        self.device = device
        self.fault = _Fault()
        self._startup = {self.setpoint: float(device.setpoint.get()), self.ramp_rate: float(device.ramp_rate_c_per_min.get()),
                         self.tolerance: float(device.settle_tolerance_c.get()), self.settle_time: float(device.settle_time_s.get()),
                         self.low_limit: device.limits[0], self.high_limit: device.limits[1]}

    @setpoint.putter
    async def setpoint(self, instance, value):
        self.device.set(float(value))  # checks the limits; the readback ramps from now on
        return value

    @ramp_rate.putter
    async def ramp_rate(self, instance, value):
        self.device.ramp_rate_c_per_min.put(float(value))
        return value

    @tolerance.putter
    async def tolerance(self, instance, value):
        self.device.settle_tolerance_c.put(float(value))
        return value

    @settle_time.putter
    async def settle_time(self, instance, value):
        self.device.settle_time_s.put(float(value))
        return value

    @sim_alarm.putter
    async def sim_alarm(self, instance, value):
        self.fault.start(value)
        return value

    async def refresh(self) -> None:
        alarmed = self.fault.active
        if self.alarm.value != int(alarmed):
            await self.alarm.write(int(alarmed), severity=AlarmSeverity.MAJOR_ALARM if alarmed else AlarmSeverity.NO_ALARM,
                                   status=AlarmStatus.STATE if alarmed else AlarmStatus.NO_ALARM)
        # posted at every poll, as a controller's scanned readback: its timestamp says how fresh it is
        device = self.device
        await self.readback.write(_faulty_readback(float(device.readback.get()), device.true_temperature_c(), float(device.setpoint.get()),
                                                   float(self.sim_offset.value), float(device.settle_tolerance_c.get())))


class _AcquireMixin:
    """An ``Acquire`` put that completes when the twin's acquisition does (areaDetector's put-callback)."""

    async def _acquire(self, trigger, store) -> None:
        if self.fault.active:  # a hung detector: the acquisition never completes while the fault lasts
            while self.fault.active:
                await asyncio.sleep(0.01)
            return
        await _wait_status(trigger())
        await store()


class SpectrometerGroup(_AcquireMixin, PVGroup):
    """UV-Vis spectrometer: ``Acquire`` takes a spectrum; ``Absorbance_RBV`` on ``Wavelength_RBV``."""

    acquire = pvproperty(name="Acquire", value=0, doc="1 acquires one spectrum; the put completes with it")
    acquire_time = pvproperty(name="AcquireTime", value=0.1, units="s", precision=4, doc="Integration time")
    array_counter = pvproperty(name="ArrayCounter_RBV", value=0, read_only=True)
    wavelength = pvproperty(name="Wavelength_RBV", value=[0.0], max_length=4096, units="nm", read_only=True)
    absorbance = pvproperty(name="Absorbance_RBV", value=[0.0], max_length=4096, units="AU", read_only=True)
    spectrum = pvproperty(name="Spectrum_RBV", value=[0.0], max_length=4096, units="counts", read_only=True,
                          doc="Raw counts of the last acquisition (mean over NumAverage scans)")
    saturated = pvproperty(name="Saturated_RBV", value=[0], max_length=4096, read_only=True, doc="1 where a pixel saturated")
    dark = pvproperty(name="Dark_RBV", value=[0.0], max_length=4096, units="counts", read_only=True,
                      doc="The dark spectrum the IOC's reduction uses")
    reference = pvproperty(name="Reference_RBV", value=[0.0], max_length=4096, units="counts", read_only=True,
                           doc="The reference (solvent) spectrum the IOC's reduction uses")
    saturation_level = pvproperty(name="SaturationLevel_RBV", value=65535.0, units="counts", read_only=True)
    num_average = pvproperty(name="NumAverage", value=1, doc="Scans averaged per acquisition")
    shutter = pvproperty(name="Shutter", value="open", dtype=ChannelType.STRING, doc="Lamp shutter: open or closed")
    cell_content = pvproperty(name="CellContent", value="sample", dtype=ChannelType.STRING, doc="sample or solvent")
    sim_hang = pvproperty(name="Sim:Hang", value=0.0, units="s", doc="Acquisitions hang for this many seconds")

    def __init__(self, prefix, *, device, **kwargs):
        super().__init__(prefix, **kwargs)
        self.device = device
        self.fault = _Fault()
        self._startup = {self.acquire_time: float(device.integration_time_s.get()),
                         self.wavelength: np.asarray(device.wavelength_nm.get(), dtype=float),
                         self.absorbance: np.asarray(device.absorbance.get(), dtype=float)}
        self._startup.update(_raw_startup(device, {
            "scans_to_average": (self.num_average, int), "saturation_counts": (self.saturation_level, float),
            "dark_counts": (self.dark, _floats), "reference_counts": (self.reference, _floats),
            "shutter": (self.shutter, str), "cell_content": (self.cell_content, str),
        }))

    @acquire.putter
    async def acquire(self, instance, value):
        if not value:
            return 0
        await instance.write(1, verify_value=False)  # Acquire reads 1 while the acquisition runs

        async def store():
            await self.absorbance.write(np.asarray(self.device.absorbance.get(), dtype=float))
            if hasattr(self.device, "counts"):  # a twin with raw counts
                await self.spectrum.write(np.asarray(self.device.counts.get(), dtype=float))
                await self.saturated.write(np.asarray(self.device.saturated.get(), dtype=int))
            await self.array_counter.write(self.array_counter.value + 1)

        await self._acquire(self.device.trigger, store)
        return 0

    @acquire_time.putter
    async def acquire_time(self, instance, value):
        if not value > 0:
            msg = f"{self.prefix}AcquireTime={value!r} must be > 0 s"
            raise ValueError(msg)
        self.device.integration_time_s.put(float(value))
        return value

    @num_average.putter
    async def num_average(self, instance, value):
        return _put_twin(self.device, "scans_to_average", int(value))

    @shutter.putter
    async def shutter(self, instance, value):
        return _put_twin(self.device, "shutter", _choice(self.prefix + "Shutter", value, ("open", "closed")))

    @cell_content.putter
    async def cell_content(self, instance, value):
        return _put_twin(self.device, "cell_content", _choice(self.prefix + "CellContent", value, ("sample", "solvent")))

    @sim_hang.putter
    async def sim_hang(self, instance, value):
        self.fault.start(value)
        return value


def _floats(value):
    return np.asarray(value, dtype=float)


def _raw_startup(device, signals: dict) -> dict:
    """Startup values of the PVs whose twin signal exists (a twin with raw data has them all)."""
    return {prop: convert(getattr(device, attr).get()) for attr, (prop, convert) in signals.items() if hasattr(device, attr)}


def _choice(pv: str, value, allowed) -> str:
    if value not in allowed:
        msg = f"{pv}={value!r} is not one of {', '.join(allowed)}"
        raise ValueError(msg)
    return value


def _put_twin(device, attr: str, value):
    if hasattr(device, attr):
        getattr(device, attr).put(value)
    return value


class CamGroup(_AcquireMixin, PVGroup):
    """The SAXS detector's ``cam1:`` and ``image1:`` records and its azimuthal integration ``IQ:``."""

    acquire = pvproperty(name="cam1:Acquire", value=0, doc="1 takes one exposure; the put completes with it")
    acquire_time = pvproperty(name="cam1:AcquireTime", value=1.0, units="s", precision=4)
    array_counter = pvproperty(name="cam1:ArrayCounter_RBV", value=0, read_only=True)
    detector_state = pvproperty(name="cam1:DetectorState_RBV", value="Idle", dtype=ChannelType.ENUM,
                                enum_strings=DETECTOR_STATES, read_only=True)
    image_counter = pvproperty(name="image1:ArrayCounter_RBV", value=0, read_only=True)
    array_data = pvproperty(name="image1:ArrayData", value=[0], max_length=1 << 16, read_only=True)
    array_size0 = pvproperty(name="image1:ArraySize0_RBV", value=0, read_only=True)
    array_size1 = pvproperty(name="image1:ArraySize1_RBV", value=0, read_only=True)
    q = pvproperty(name="IQ:Q_RBV", value=[0.0], max_length=4096, units="1/nm", read_only=True)
    intensity = pvproperty(name="IQ:Intensity_RBV", value=[0.0], max_length=4096, units="1/cm", read_only=True)
    sigma = pvproperty(name="IQ:Sigma_RBV", value=[0.0], max_length=4096, units="1/cm", read_only=True)
    background = pvproperty(name="IQ:Background_RBV", value=[0.0], max_length=4096, units="1/cm", read_only=True,
                            doc="The background I(q) the IOC's own integration subtracts (the twin's startup solvent frame)")
    background_sigma = pvproperty(name="IQ:BackgroundSigma_RBV", value=[0.0], max_length=4096, units="1/cm", read_only=True)
    i0 = pvproperty(name="I0_RBV", value=0.0, units="ph/s", read_only=True,  # CA units hold 8 characters
                         doc="Incident flux during the last exposure (the beam monitor)")
    transmission = pvproperty(name="Transmission_RBV", value=0.0, read_only=True, doc="Sample transmission during the last exposure")
    cell_content = pvproperty(name="CellContent", value="sample", dtype=ChannelType.STRING, doc="sample, solvent or empty")
    sim_hang = pvproperty(name="Sim:Hang", value=0.0, units="s", doc="Exposures hang for this many seconds")

    def __init__(self, prefix, *, device, beam, **kwargs):
        super().__init__(prefix, **kwargs)
        self.device = device
        self.beam = beam
        self.fault = _Fault()
        self._startup = {self.acquire_time: float(device.exposure_time_s.get()),
                         self.q: np.asarray(device.q_nm_inv.get(), dtype=float),
                         self.intensity: np.asarray(device.intensity.get(), dtype=float),
                         self.sigma: np.asarray(device.intensity_sigma.get(), dtype=float)}
        self._startup.update(_raw_startup(device, {"cell_content": (self.cell_content, str)}))
        if hasattr(device, "image"):  # the frame's size is the detector's, known before the first exposure
            rows, columns = np.shape(device.image.get())
            self._startup.update({self.array_size0: int(columns), self.array_size1: int(rows)})
        if hasattr(device, "background_intensity"):
            device.missing_calibrations()  # a twin integrates its startup background frame when first asked
            self._startup.update(_raw_startup(device, {"background_intensity": (self.background, _floats),
                                                       "background_sigma": (self.background_sigma, _floats)}))

    @acquire.putter
    async def acquire(self, instance, value):
        if not value:
            return 0
        await instance.write(1, verify_value=False)  # Acquire reads 1 while the acquisition runs
        await self.detector_state.write("Acquire")

        async def store():
            # Scattering scales with the photons delivered: none while the beam is dumped.
            beam_fraction = self.beam.fraction_now()
            await self.intensity.write(np.asarray(self.device.intensity.get(), dtype=float) * beam_fraction)
            await self.sigma.write(np.asarray(self.device.intensity_sigma.get(), dtype=float) * beam_fraction)
            if hasattr(self.device, "image"):  # a twin with 2D frames: areaDetector's NDArray, row-major
                frame = np.asarray(self.device.image.get()) * beam_fraction
                await self.array_size0.write(frame.shape[1])
                await self.array_size1.write(frame.shape[0])
                await self.array_data.write(frame.astype(np.int32).ravel())
                await self.i0.write(float(self.device.monitor_photons_s.get()) * beam_fraction)
                await self.transmission.write(float(self.device.transmission.get()))
            await self.array_counter.write(self.array_counter.value + 1)
            await self.image_counter.write(self.image_counter.value + 1)

        try:
            await self._acquire(self.device.trigger, store)
        finally:
            await self.detector_state.write("Idle")
        return 0

    @acquire_time.putter
    async def acquire_time(self, instance, value):
        if not value > 0:
            msg = f"{self.prefix}cam1:AcquireTime={value!r} must be > 0 s"
            raise ValueError(msg)
        self.device.exposure_time_s.put(float(value))
        return value

    @cell_content.putter
    async def cell_content(self, instance, value):
        return _put_twin(self.device, "cell_content", _choice(self.prefix + "CellContent", value, ("sample", "solvent", "empty")))

    @sim_hang.putter
    async def sim_hang(self, instance, value):
        self.fault.start(value)
        return value


class BeamGroup(PVGroup):
    """The storage ring's beam current (mA), which a ``Sim:Dump`` drops to 0 for a while."""

    current = pvproperty(name="Current_RBV", value=NOMINAL_BEAM_CURRENT_MA, units="mA", precision=3, read_only=True)
    sim_dump = pvproperty(name="Sim:Dump", value=0.0, units="s", doc="Dump the beam for this many seconds")

    def __init__(self, prefix, *, rng, **kwargs):
        super().__init__(prefix, **kwargs)
        self.rng = rng
        self.fault = _Fault()

    @sim_dump.putter
    async def sim_dump(self, instance, value):
        self.fault.start(value)
        return value

    def fraction_now(self) -> float:
        return 0.0 if self.fault.active else 1.0

    def current_now_ma(self) -> float:
        if self.fault.active:
            return 0.0
        return NOMINAL_BEAM_CURRENT_MA * (1.0 + 1e-4 * float(self.rng.standard_normal()))

    async def refresh(self) -> None:
        # A deadband, as a real IOC's MDEL: the ring's 0.02 mA noise is not posted at every poll.
        current = self.current_now_ma()
        if abs(current - float(self.current.value)) > BEAM_DEADBAND_MA or (current == 0.0) != (self.current.value == 0.0):
            await self.current.write(current)


class DiodeGroup(PVGroup):
    """The transmission diode behind the flow cell: its current (µA) and the transmission it gives."""

    current = pvproperty(name="Current_RBV", value=0.0, units="uA", precision=5, read_only=True)
    transmission = pvproperty(name="Transmission_RBV", value=FLOW_CELL_TRANSMISSION, units="", precision=4, read_only=True)

    def __init__(self, prefix, *, beam, cam, **kwargs):
        super().__init__(prefix, **kwargs)
        self.beam = beam
        self.cam = cam

    async def refresh(self) -> None:
        # The last frame's transmission where the twin makes frames, else the filled cell's nominal one.
        transmission = float(self.cam.transmission.value) or FLOW_CELL_TRANSMISSION
        await _put_if_changed(self.transmission, transmission)
        await _put_if_changed(self.current, self.beam.current.value * DIODE_UA_PER_MA * transmission)
