"""EPICS (Channel Access) versions of the reactor's devices, in the PV layout ``docs/epics.md`` lists.

Each class subclasses its interface (:class:`~autolab.devices.SyringePump`,
:class:`~autolab.devices.Heater`, …) and replaces its signals with ``EpicsSignal`` components of
the same names, so ``read()``/``describe()`` have the twin's keys and plans cannot tell which they
drive. The detectors keep the interface's signals for their data: ``trigger()`` fetches the raw
counts or frame from the IOC and reduces them here with the calibrations this client holds, as the
twins do, so the calibration plans work over Channel Access too. ophyd's control layer is whichever is installed: caproto (a dependency of autolab) or
pyepics.

Times the PVs give (settle time, exposure) are in the instrument's seconds. The twin IOC runs
faster than real time by ``time_scale`` (real seconds per instrument second; 1 for a real
beamline), which the device file gives; waits and timeouts here are scaled by it.

Build a reactor from a device file with :func:`autolab.devices.devicefile.load_reactor`.
"""

from __future__ import annotations

import threading
import time
from typing import ClassVar

import numpy as np
from bluesky.suspenders import SuspendBoolHigh, SuspendFloor
from ophyd import Component as Cpt
from ophyd import Device, DeviceStatus, EpicsSignal, EpicsSignalRO
from ophyd import FormattedComponent as FCpt

from ..errors import LimitError, ReactorFault
from . import detectors
from .detectors import WAVELENGTH_DIM, NamedDims, SAXSDetector, Spectrometer
from .heater import Heater
from .pump import SyringePump
from .reactor import FlowReactor, FlushMonitor
from .signals import ComputedSignal

#: Seconds (wall clock) a put waits for the IOC's completion before the operation fails.
PUT_TIMEOUT_S = 5.0
#: Dimension names of a 2D frame (rows, columns), as the SAXS interface names them.
FRAME_DIMS = getattr(detectors, "FRAME_DIMS", ("pixel_row", "pixel_column"))
#: Wall-clock seconds added to every scaled limit: a twin IOC running far faster than real time
#: must not fail a heater for the milliseconds a loaded computer takes to answer.
WALL_MARGIN_S = 2.0
#: Beam current below which the beam counts as dumped (the suspender pauses), mA.
BEAM_DUMP_THRESHOLD_MA = 10.0
#: Beam current above which a run resumes after a dump, mA.
BEAM_RESUME_THRESHOLD_MA = 150.0


class EpicsAxisSignalRO(NamedDims, EpicsSignalRO):
    """A read-only waveform whose ``describe()`` names its dimension, as the twins' axis signals do."""


class EpicsImageSignalRO(EpicsSignalRO):
    """areaDetector's ``ArrayData`` as a 2D frame, shaped by the parent's ``array_size1`` (rows) and ``array_size0`` (columns)."""

    def __init__(self, *args, dims: tuple[str, ...], units: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.dims = tuple(dims)
        self.units = units

    def get(self, **kwargs):
        flat = np.asarray(super().get(**kwargs))
        rows, columns = int(self.parent.array_size1.get()), int(self.parent.array_size0.get())
        if rows * columns == 0 or rows * columns > flat.size:  # the sizes' monitors may lag the first frame
            rows, columns = (int(self.parent.array_size1.get(use_monitor=False)), int(self.parent.array_size0.get(use_monitor=False)))
        return flat[: rows * columns].reshape(rows, columns)

    def describe(self):
        desc = super().describe()
        desc[self.name].update(shape=list(self.get().shape), dims=list(self.dims))
        if self.units:
            desc[self.name]["units"] = self.units
        return desc


class _Scaled:
    """Gives a device ``time_scale``: its own (``time_scale=``) or its parent reactor's, else 1."""

    def _init_scale(self, time_scale: float | None) -> None:
        self._own_time_scale = time_scale

    @property
    def time_scale(self) -> float:
        if self._own_time_scale is not None:
            return float(self._own_time_scale)
        return float(getattr(self.parent, "time_scale", 1.0) or 1.0)


class EpicsStatus(DeviceStatus):
    """A device status whose text names why it failed, so a failed run's stop document records the cause.

    bluesky's ``FailedStatus`` (and with it the run's ``exit_status="fail"`` reason) shows the
    status as text; ophyd's shows only ``success=False``.
    """

    def __str__(self):
        text = super().__str__()
        if self.done and not self.success and self.exception() is not None:
            text = f"{text[:-1]}, reason={self.exception()})"
        return text

    __repr__ = __str__


def _put_wait(signal, value, timeout: float = PUT_TIMEOUT_S) -> None:
    """Put ``value`` with completion and wait for it; :class:`ReactorFault` naming the PV if it does not come."""
    done = threading.Event()
    signal.put(value, use_complete=True, callback=lambda **_: done.set())
    if not done.wait(timeout):
        msg = f"PV {signal.pvname} did not complete the put of {value!r} within {timeout:g} s"
        raise ReactorFault(msg)


def _in_thread(status: DeviceStatus, work) -> DeviceStatus:
    """Run ``work()`` in a daemon thread; finish ``status`` with its outcome (once)."""

    def run():
        try:
            work()
        except Exception as exc:
            if not status.done:
                status.set_exception(exc)
            return
        if not status.done:
            status.set_finished()

    threading.Thread(target=run, daemon=True, name=f"autolab-{status.device.name}").start()
    return status


class EpicsSyringePump(_Scaled, SyringePump):
    """A syringe pump over Channel Access (PVs ``Rate``, ``Rate_RBV``, ``Run``, ``Infused_RBV``, …).

    ``set(flow)`` checks the flow (0 or within the pump's range) before any put, writes ``Rate``
    and ``Run`` (1, or 0 for flow 0) and finishes once ``Rate_RBV`` reads the flow.
    """

    flow_rate = Cpt(EpicsSignalRO, "Rate_RBV", kind="hinted", auto_monitor=True)
    flow_rate_setpoint = Cpt(EpicsSignal, "Rate", kind="normal", auto_monitor=True)
    dispensed_volume_ul = Cpt(EpicsSignalRO, "Infused_RBV", kind="normal", auto_monitor=True)
    remaining_volume_ul = Cpt(EpicsSignalRO, "Remaining_RBV", kind="normal", auto_monitor=True)
    syringe_volume_ul = Cpt(EpicsSignal, "SyringeVolume", kind="config", auto_monitor=True)
    min_flow_rate_ul_min = Cpt(EpicsSignalRO, "MinRate", kind="config", auto_monitor=True)
    max_flow_rate_ul_min = Cpt(EpicsSignalRO, "MaxRate", kind="config", auto_monitor=True)
    run = Cpt(EpicsSignal, "Run", kind="omitted", auto_monitor=True)
    stall = Cpt(EpicsSignalRO, "Stall_RBV", kind="omitted", auto_monitor=True)

    def __init__(self, prefix="", *, name, time_scale: float | None = None, set_timeout_s: float = 10.0,
                 put_timeout_s: float = PUT_TIMEOUT_S, **kwargs):
        super().__init__(prefix, name=name, **kwargs)
        self._init_scale(time_scale)
        self.set_timeout_s = set_timeout_s
        self.put_timeout_s = put_timeout_s

    def set(self, value: float) -> DeviceStatus:
        flow = self.check_value(value)
        status = EpicsStatus(self, timeout=self.set_timeout_s)
        flush = getattr(self.parent, "flush", None)

        def work():
            _put_wait(self.flow_rate_setpoint, flow, self.put_timeout_s)
            _put_wait(self.run, 1 if flow else 0, self.put_timeout_s)
            if flush is not None and hasattr(flush, "mark"):
                flush.mark()
            while not status.done:
                if abs(float(self.flow_rate.get()) - flow) <= 1e-6 * max(flow, 1.0):
                    return
                time.sleep(0.005)

        return _in_thread(status, work)

    def suspenders(self) -> list:
        """A suspender that pauses a run while the pump reports a stall (``Stall_RBV`` = 1)."""
        return [SuspendBoolHigh(self.stall, tripped_message=f"{self.label} ({self.name}) stalled")]


class EpicsHeater(_Scaled, Heater):
    """A temperature controller over Channel Access, a positioner with ``PVPositionerPC``-style done logic.

    ``set(T)`` checks ``T`` against the limits before any put, writes ``Temperature`` and finishes
    once ``Temperature_RBV`` has stayed within ``Tolerance`` of ``T`` for ``SettleTime`` (scaled by
    ``time_scale``); a target equal to the readback finishes after that dwell, never hangs. A
    heater that has not settled after ``settle_limit_s`` (default: twice the expected ramp and
    settle time plus a minute, in the instrument's seconds; plus :data:`WALL_MARGIN_S` of wall-clock time) fails the status with a
    :class:`~autolab.errors.ReactorFault` naming the readback and the setpoint.
    """

    readback = Cpt(EpicsSignalRO, "Temperature_RBV", kind="hinted", auto_monitor=True)
    setpoint = Cpt(EpicsSignal, "Temperature", kind="normal", auto_monitor=True)
    ramp_rate_c_per_min = Cpt(EpicsSignal, "RampRate", kind="config", auto_monitor=True)
    settle_tolerance_c = Cpt(EpicsSignal, "Tolerance", kind="config", auto_monitor=True)
    settle_time_s = Cpt(EpicsSignal, "SettleTime", kind="config", auto_monitor=True)
    low_limit_c = Cpt(EpicsSignalRO, "LowLimit", kind="config", auto_monitor=True)
    safety_limit_c = Cpt(EpicsSignalRO, "HighLimit", kind="config", auto_monitor=True)
    alarm = Cpt(EpicsSignalRO, "Alarm_RBV", kind="omitted", auto_monitor=True)

    def __init__(self, prefix="", *, name, time_scale: float | None = None, settle_limit_s: float | None = None, **kwargs):
        super().__init__(prefix, name=name, **kwargs)
        self._init_scale(time_scale)
        self.settle_limit_s = settle_limit_s
        self._move = 0

    def settle_limit_for(self, target_c: float) -> float:
        """Longest the heater may take to reach ``target_c`` and settle, in the instrument's seconds."""
        if self.settle_limit_s is not None:
            return float(self.settle_limit_s)
        return 2.0 * self.estimate_settle_time_s(target_c, from_c=float(self.readback.get())) + 60.0

    def set(self, value: float) -> DeviceStatus:
        target = self.check_value(value)
        limit_s = self.settle_limit_for(target)
        scale = self.time_scale
        self._move += 1
        move = self._move
        status = EpicsStatus(self)

        def work():
            _put_wait(self.setpoint, target)
            written = time.monotonic()  # the dwell starts once the setpoint is written, never before
            tolerance = float(self.settle_tolerance_c.get())
            dwell = float(self.settle_time_s.get()) * scale
            deadline = time.monotonic() + limit_s * scale + WALL_MARGIN_S
            # The dwell is counted on the readbacks' own timestamps, so a readback that arrives late
            # (a busy IOC or client) is not taken for one that stayed: the last one in the window
            # must have been taken a dwell after the first, and a dwell must have passed since the
            # setpoint was written (a readback already inside). A readback the IOC stops posting while
            # inside counts after the dwell plus WALL_MARGIN_S of wall-clock time.
            inside_since = inside_stamp = None
            while move == self._move:
                now = time.monotonic()
                readback, stamp = float(self.readback.get()), float(self.readback.timestamp or 0.0)
                if abs(readback - target) <= tolerance:
                    if inside_since is None:
                        inside_since, inside_stamp = now, stamp
                    if (stamp - inside_stamp >= dwell and now - written >= dwell) or now - inside_since >= dwell + WALL_MARGIN_S:
                        return
                else:
                    inside_since = None
                if now > deadline:
                    msg = (f"{self.label} ({self.name}) did not settle within {limit_s:g} s: readback {readback:.2f} °C, "
                           f"setpoint {target:g} °C ± {tolerance:g} °C")
                    raise ReactorFault(msg)
                time.sleep(min(0.005, max(dwell / 4, 0.001)))

        return _in_thread(status, work)

    def suspenders(self) -> list:
        """A suspender that pauses a run while the controller is in alarm (``Alarm_RBV`` = 1)."""
        return [SuspendBoolHigh(self.alarm, tripped_message=f"{self.label} ({self.name}) in alarm")]


class _EpicsAcquire(_Scaled):
    """``trigger()`` puts 1 to ``Acquire``, waits for the put's completion (or fails after a timeout),
    then fetches the raw data and reduces it here, with the calibrations this client holds."""

    def _init_acquire(self, time_scale, timeout_s) -> None:
        self._init_scale(time_scale)
        self.timeout_s = timeout_s
        self._ioc_calibration_adopted = False

    def _trigger(self, exposure_s: float, fetch_and_reduce) -> DeviceStatus:
        timeout = self.timeout_s if self.timeout_s is not None else exposure_s * self.time_scale * 2.0 + 5.0
        status = EpicsStatus(self)

        def work():
            done = threading.Event()
            self.acquire.put(1, use_complete=True, callback=lambda **_: done.set())
            if not done.wait(timeout):
                msg = f"{self.name}: PV {self.acquire.pvname} did not finish its acquisition within {timeout:g} s (detector timeout)"
                raise ReactorFault(msg)
            fetch_and_reduce()

        return _in_thread(status, work)

    def missing_calibrations(self) -> list[str]:
        self.adopt_ioc_calibration()
        return super().missing_calibrations()

    def calibration_problem(self) -> str | None:
        self.adopt_ioc_calibration()
        return super().calibration_problem()

    def adopt_ioc_calibration(self) -> None:
        """Once, when first needed: take over the calibration the IOC holds, if this client has none.

        The twin's IOC serves the dark, reference and background its twin started with; adopted,
        they reduce the first points as an in-process twin's startup calibrations do (no run
        names them). The calibration plans replace them with runs of their own.
        """
        if self._ioc_calibration_adopted:
            return
        self._ioc_calibration_adopted = True
        self._adopt()


def _array(signal, dtype=float) -> np.ndarray:
    """The PV's value now (a Channel Access get, not the monitor's last value)."""
    return np.asarray(signal.get(use_monitor=False), dtype=dtype)


class EpicsSpectrometer(_EpicsAcquire, Spectrometer):
    """The UV-Vis spectrometer over Channel Access: ``Acquire``, ``AcquireTime``, ``NumAverage``,
    ``Wavelength_RBV`` and the raw ``Spectrum_RBV``/``Saturated_RBV`` of each acquisition.

    ``trigger()`` fetches the raw counts once the acquisition completes and reduces them here to
    ``absorbance`` = −log10((S−D)/(R−D)) with the dark and reference this client holds
    (``dark_counts``, ``reference_counts``), as the twin does: :func:`~autolab.plans.take_dark`
    and :func:`~autolab.plans.take_reference` measure them in runs of their own. Before those, it
    adopts the ``Dark_RBV`` and ``Reference_RBV`` the IOC serves (:meth:`adopt_ioc_calibration`),
    when they match the wavelength axis. The read keys are the twin's.
    """

    wavelength_nm = Cpt(EpicsAxisSignalRO, "Wavelength_RBV", kind="normal", dims=(WAVELENGTH_DIM,), auto_monitor=True)
    raw_counts = Cpt(EpicsSignalRO, "Spectrum_RBV", kind="omitted")
    raw_saturated = Cpt(EpicsSignalRO, "Saturated_RBV", kind="omitted")
    ioc_dark = Cpt(EpicsSignalRO, "Dark_RBV", kind="omitted")
    ioc_reference = Cpt(EpicsSignalRO, "Reference_RBV", kind="omitted")
    integration_time_s = Cpt(EpicsSignal, "AcquireTime", kind="config", auto_monitor=True)
    scans_to_average = Cpt(EpicsSignal, "NumAverage", kind="config", auto_monitor=True)
    saturation_counts = Cpt(EpicsSignalRO, "SaturationLevel_RBV", kind="config", auto_monitor=True)
    shutter = Cpt(EpicsSignal, "Shutter", kind="config", string=True, auto_monitor=True)
    cell_content = Cpt(EpicsSignal, "CellContent", kind="config", string=True, auto_monitor=True)
    acquire = Cpt(EpicsSignal, "Acquire", kind="omitted", auto_monitor=True)
    array_counter = Cpt(EpicsSignalRO, "ArrayCounter_RBV", kind="omitted", auto_monitor=True)

    def __init__(self, prefix="", *, name, time_scale: float | None = None, timeout_s: float | None = None, **kwargs):
        super().__init__(prefix, name=name, **kwargs)
        self._init_acquire(time_scale, timeout_s)

    def _adopt(self) -> None:
        size = np.size(self.wavelength_nm.get())
        if not size or np.size(self.dark_counts.get()) or np.size(self.reference_counts.get()):
            return
        dark, reference = _array(self.ioc_dark), _array(self.ioc_reference)
        if dark.size == size and reference.size == size:
            self.dark_counts.put(dark)
            self.reference_counts.put(reference)
            self.reference_saturated.put((reference >= float(self.saturation_counts.get())).astype(np.uint8))

    def trigger(self) -> DeviceStatus:
        self.adopt_ioc_calibration()
        # Only a sample in the light has an absorbance; a dark or a reference is raw data alone.
        measured = str(self.cell_content.get()) == "sample" and str(self.shutter.get()) == "open"

        def fetch_and_reduce():
            counts, saturated = _array(self.raw_counts), _array(self.raw_saturated, np.uint8)
            self.counts.put(counts)
            self.saturated.put(saturated)
            self.absorbance.put(self.reduce(counts, saturated) if measured else np.full(counts.shape, np.nan))

        return self._trigger(float(self.integration_time_s.get()) * float(self.scans_to_average.get()), fetch_and_reduce)


class EpicsSAXSDetector(_EpicsAcquire, SAXSDetector):
    """The SAXS detector in areaDetector's layout: ``cam1:Acquire``/``AcquireTime``, the frame ``image1:ArrayData``
    with its sizes, and the beam monitor (``I0_RBV``) and transmission (``Transmission_RBV``) of the exposure.

    ``trigger()`` fetches the frame once the exposure completes and integrates it here with pyFAI,
    as the twin does (:meth:`~autolab.devices.SAXSDetector.reduce`): on the geometry ``poni``,
    normalised by the monitor, exposure, transmission and ``thickness_cm``, on the absolute scale
    by ``calibration_factor``, the background this client holds subtracted from a sample's
    (:func:`~autolab.plans.take_background` measures it in a run of its own). A frame without
    photons (monitor 0: the beam was dumped) reduces to NaN. Before a background run it adopts
    the background I(q) the IOC serves (``IQ:Background_RBV``, ``IQ:BackgroundSigma_RBV``, on the
    ``IQ:Q_RBV`` bins, which are also the q bins of the integration here unless ``q_nm_inv`` is
    set). The read keys are the twin's.

    Parameters
    ----------
    poni_file : str or path, optional
        The detector's PONI file (pyFAI-calib2 writes one); without it, put the text into ``poni``.
    mask_file : str or path, optional
        A ``.npy`` array of the frame's shape, nonzero where a pixel is masked (the beamstop).
    thickness_cm : float, optional
        The sample thickness, cm (> 0; default the interface's 0.1).
    calibration_factor : float, optional
        The absolute-scale factor K (> 0; default 1).
    """

    exposure_time_s = Cpt(EpicsSignal, "cam1:AcquireTime", kind="config", auto_monitor=True)
    acquire = Cpt(EpicsSignal, "cam1:Acquire", kind="omitted", auto_monitor=True)
    array_counter = Cpt(EpicsSignalRO, "cam1:ArrayCounter_RBV", kind="omitted", auto_monitor=True)
    detector_state = Cpt(EpicsSignalRO, "cam1:DetectorState_RBV", kind="omitted", string=True, auto_monitor=True)
    array_data = Cpt(EpicsImageSignalRO, "image1:ArrayData", kind="omitted", dims=FRAME_DIMS, units="counts")
    array_size0 = Cpt(EpicsSignalRO, "image1:ArraySize0_RBV", kind="omitted", auto_monitor=True)
    array_size1 = Cpt(EpicsSignalRO, "image1:ArraySize1_RBV", kind="omitted", auto_monitor=True)
    raw_monitor_photons_s = Cpt(EpicsSignalRO, "I0_RBV", kind="omitted")
    raw_transmission = Cpt(EpicsSignalRO, "Transmission_RBV", kind="omitted")
    ioc_q = Cpt(EpicsSignalRO, "IQ:Q_RBV", kind="omitted")
    ioc_background = Cpt(EpicsSignalRO, "IQ:Background_RBV", kind="omitted")
    ioc_background_sigma = Cpt(EpicsSignalRO, "IQ:BackgroundSigma_RBV", kind="omitted")
    cell_content = Cpt(EpicsSignal, "CellContent", kind="config", string=True, auto_monitor=True)

    def __init__(self, prefix="", *, name, time_scale: float | None = None, timeout_s: float | None = None,
                 poni_file=None, mask_file=None, thickness_cm: float | None = None, calibration_factor: float | None = None,
                 **kwargs):
        super().__init__(prefix, name=name, **kwargs)
        self._init_acquire(time_scale, timeout_s)
        if poni_file is not None:
            self.poni.put(_read_file(self.name, "poni_file", poni_file, "a PONI file (pyFAI-calib2 writes one)").read_text())
        if mask_file is not None:
            self.mask.put(np.load(_read_file(self.name, "mask_file", mask_file, "a .npy array of the frame's shape")).astype(bool))
        for key, value in (("thickness_cm", thickness_cm), ("calibration_factor", calibration_factor)):
            if value is not None:
                getattr(self, key).put(_positive_option(self.name, key, value))

    def _adopt(self) -> None:
        if not np.size(self.q_nm_inv.get()):
            self.q_nm_inv.put(_array(self.ioc_q))
        size = np.size(self.q_nm_inv.get())
        if not size or np.size(self.background_intensity.get()):
            return
        background, sigma = _array(self.ioc_background), _array(self.ioc_background_sigma)
        if background.size == size and sigma.size == size:
            self.background_intensity.put(background)
            self.background_sigma.put(sigma)

    def calibration_problem(self) -> str | None:
        if not str(self.poni.get()).strip():
            return (f"{self.name} has no PONI geometry to integrate its frames: give poni_file in the device file "
                    f"or put the PONI file's text into {self.name}.poni")
        return super().calibration_problem()

    def trigger(self) -> DeviceStatus:
        self.adopt_ioc_calibration()
        content = str(self.cell_content.get())

        def fetch_and_reduce():
            frame = self.array_data.get(use_monitor=False)
            monitor = float(self.raw_monitor_photons_s.get(use_monitor=False))
            transmission = float(self.raw_transmission.get(use_monitor=False))
            self.keep_frame(frame)
            self.monitor_photons_s.put(monitor)
            self.transmission.put(transmission)
            if monitor > 0 and transmission > 0:
                intensity, sigma = self.reduce(frame, monitor_photons_s=monitor, transmission=transmission, content=content)
            else:  # no photons reached the sample (a dumped beam): nothing is measured
                intensity = sigma = np.full(np.shape(self.q_nm_inv.get()), np.nan)
            self.intensity.put(intensity)
            self.intensity_sigma.put(sigma)

        return self._trigger(float(self.exposure_time_s.get()), fetch_and_reduce)


def _read_file(device: str, key: str, path, what: str):
    from pathlib import Path

    file = Path(path).expanduser()
    if not file.is_file():
        msg = f"{device} {key}={str(path)!r} is not a file; give the path of {what}"
        raise LimitError(msg)
    return file


def _positive_option(device: str, key: str, value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not (np.isfinite(number) and number > 0):
        msg = f"{device} {key}={value!r} is not allowed: it must be a finite number > 0"
        raise LimitError(msg)
    return number


class EpicsBeamMonitor(Device):
    """The storage ring's beam current (``Current_RBV``, mA)."""

    current = Cpt(EpicsSignalRO, "Current_RBV", kind="hinted", auto_monitor=True)

    def suspenders(self) -> list:
        """A suspender that pauses a run while the beam is below :data:`BEAM_DUMP_THRESHOLD_MA` and
        resumes it (from its last checkpoint, so the point is measured again) above
        :data:`BEAM_RESUME_THRESHOLD_MA`."""
        return [SuspendFloor(self.current, BEAM_DUMP_THRESHOLD_MA, resume_thresh=BEAM_RESUME_THRESHOLD_MA,
                             tripped_message="beam dumped")]


class EpicsTransmissionDiode(Device):
    """The transmission diode behind the flow cell: current (µA) and the sample's transmission."""

    current = Cpt(EpicsSignalRO, "Current_RBV", kind="normal", auto_monitor=True)
    transmission = Cpt(EpicsSignalRO, "Transmission_RBV", kind="hinted", auto_monitor=True)


class EpicsFlushMonitor(FlushMonitor):
    """Counts reactor volumes from the pumps' ``Infused_RBV`` since the flows last changed.

    ``trigger()`` finishes once ``required_volumes`` have passed; with the pumps stopped it fails
    at once with a :class:`~autolab.errors.ReactorFault`.
    """

    flushed_volumes = Cpt(ComputedSignal, kind="hinted", units="reactor volumes")

    def __init__(self, prefix="", *, name, **kwargs):
        super().__init__(prefix, name=name, **kwargs)
        self._baseline_ul = None

    def mark(self) -> None:
        """The flows changed now: count from here."""
        self._baseline_ul = self.parent.infused_ul()

    def _compute(self, attr):
        if self._baseline_ul is None:
            return 0.0
        return (self.parent.infused_ul() - self._baseline_ul) / self.parent.reactor_volume_ul

    def trigger(self) -> DeviceStatus:
        reactor = self.parent
        status = EpicsStatus(self)

        def work():
            flow_ul_s = reactor.total_flow_now_ul_min() / 60.0
            if flow_ul_s <= 0:
                msg = "the pumps are stopped, so the reactor cannot flush; set a residence time first"
                raise ReactorFault(msg)
            missing = float(self.required_volumes.get()) - float(self.flushed_volumes.get())
            limit = max(missing, 0.0) * reactor.reactor_volume_ul / flow_ul_s * 3.0 * reactor.time_scale + 10.0
            deadline = time.monotonic() + limit
            while float(self.flushed_volumes.get()) < float(self.required_volumes.get()):
                if time.monotonic() > deadline:
                    msg = f"the reactor did not flush {float(self.required_volumes.get()):g} volumes within {limit:.1f} s"
                    raise ReactorFault(msg)
                time.sleep(0.005)

        return _in_thread(status, work)


class EpicsFlowReactor(FlowReactor):
    """The flow reactor with every device over Channel Access, each at its own prefix.

    Build one from a device file (:func:`autolab.devices.devicefile.load_reactor`), which also
    chooses each device's class; this class has the default ones.

    Parameters
    ----------
    prefixes : dict
        Each device's PV prefix: ``cd_pump``, ``se_pump``, ``nucleation_heater``, ``growth_oven``,
        ``spectrometer``, ``saxs``, ``beam_monitor``, ``diode``.
    time_scale : float
        Real seconds per instrument second (1 for real hardware; the twin IOC's for the twin).
    """

    cd_pump = FCpt(EpicsSyringePump, "{cd_pump_prefix}", label="Cd precursor pump")
    se_pump = FCpt(EpicsSyringePump, "{se_pump_prefix}", label="Se precursor pump")
    nucleation_heater = FCpt(EpicsHeater, "{nucleation_heater_prefix}", label="nucleation heater")
    growth_oven = FCpt(EpicsHeater, "{growth_oven_prefix}", label="growth oven")
    spectrometer = FCpt(EpicsSpectrometer, "{spectrometer_prefix}")
    saxs = FCpt(EpicsSAXSDetector, "{saxs_prefix}")
    beam_monitor = FCpt(EpicsBeamMonitor, "{beam_monitor_prefix}", kind="omitted")
    diode = FCpt(EpicsTransmissionDiode, "{diode_prefix}", kind="omitted")
    flush = Cpt(EpicsFlushMonitor)

    #: The devices a reactor's device file names, with the interface each class must implement.
    DEVICES: ClassVar[dict[str, type]] = {
        "cd_pump": SyringePump, "se_pump": SyringePump, "nucleation_heater": Heater, "growth_oven": Heater,
        "spectrometer": Spectrometer, "saxs": SAXSDetector, "beam_monitor": EpicsBeamMonitor, "diode": EpicsTransmissionDiode,
    }

    def __init__(self, prefix="", *, name, prefixes: dict[str, str], time_scale: float = 1.0, **kwargs):
        missing = sorted(set(self.DEVICES) - set(prefixes))
        if missing:
            msg = f"EpicsFlowReactor needs a prefix for {', '.join(missing)}"
            raise ValueError(msg)
        for device, device_prefix in prefixes.items():
            setattr(self, f"{device}_prefix", device_prefix)
        self.time_scale = float(time_scale)
        super().__init__(prefix, name=name, **kwargs)

    def total_flow_now_ul_min(self) -> float:
        """Total flow now from the pumps' readbacks, µL/min."""
        return float(self.cd_pump.flow_rate.get()) + float(self.se_pump.flow_rate.get())

    def infused_ul(self) -> float:
        """Volume both pumps have infused, µL."""
        return float(self.cd_pump.dispensed_volume_ul.get()) + float(self.se_pump.dispensed_volume_ul.get())

    def suspenders(self) -> list:
        """Suspenders for a RunEngine: the beam current, each heater's alarm and each pump's stall."""
        out = []
        for device in (self.beam_monitor, self.nucleation_heater, self.growth_oven, self.cd_pump, self.se_pump):
            out.extend(device.suspenders() if hasattr(device, "suspenders") else [])
        return out
