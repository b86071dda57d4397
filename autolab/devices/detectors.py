"""The in situ detectors: a UV-Vis flow-cell spectrometer and a Kapton flow-cell SAXS detector.

These are the interfaces: their axes (wavelengths, q) belong to the instrument and start empty; a
hardware subclass reads them from the instrument, and the twins
(:class:`~autolab.devices.twin.SimSpectrometer`, :class:`~autolab.devices.twin.SimSAXSDetector`)
get theirs from :func:`~autolab.devices.make_twin_reactor`.

Each detector reads its raw data (spectrometer counts, a 2D SAXS frame with its beam monitor and
transmission) and the reduced data the analysis reads (absorbance; I(q) and σ(q)), reduced by
:mod:`autolab.analysis.reduction` from the calibrations it holds: a dark and a reference spectrum,
a background I(q). The plans :func:`~autolab.plans.take_dark`, :func:`~autolab.plans.take_reference`
and :func:`~autolab.plans.take_background` measure those in runs of their own and store them here
with their run uids (docs/reduction.md).
"""

from __future__ import annotations

import numpy as np
from ophyd import Component as Cpt
from ophyd import Device, Signal

from .framefile import FrameFile
from .signals import UnitSignal

#: Dimension names of the detectors' arrays, as their ``describe()`` gives them.
WAVELENGTH_DIM = "wavelength_nm"
Q_DIM = "q_nm_inv"
FRAME_DIMS = ("pixel_row", "pixel_column")
#: What a detector's flow cell may hold for an acquisition (``cell_content``).
CELL_CONTENTS = ("sample", "solvent", "empty")


class NamedDims:
    """Mixin for an array signal: ``describe()`` also names its dimensions (``dims``).

    With the dimension named, tiled and xarray show ``run.primary.read()`` with dims such as
    ``wavelength_nm`` instead of ``dim_int_1``, shared by the axis and the arrays measured on it.
    The twins' signals and the EPICS waveforms use it alike.
    """

    def __init__(self, *args, dims: tuple[str, ...], **kwargs):
        super().__init__(*args, **kwargs)
        self.dims = tuple(dims)

    def describe(self):
        desc = super().describe()
        desc[self.name]["dims"] = list(self.dims)
        return desc


class AxisSignal(NamedDims, UnitSignal):
    """A 1-D array signal of the twins, with its unit and its dimension named in ``describe()``."""


class FrameSignal(AxisSignal):
    """A detector's 2D frame: inline in the event, or, with a :class:`~autolab.devices.framefile.FrameFile`, in an HDF5 file.

    With ``frame_file`` set, ``describe()`` marks the frame external (``"external": "STREAM:"``),
    ``read()`` leaves it out of the event and :meth:`collect_asset_docs` gives the
    ``stream_resource``/``stream_datum`` documents of the frame its detector wrote
    (:meth:`SAXSDetector.keep_frame`). Without one (a catalog on a server), the frame is an
    ordinary array reading, inline in the event.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.frame_file: FrameFile | None = None

    def describe(self):
        desc = super().describe()
        if self.frame_file is not None:
            frame = np.asarray(self.get())
            # the catalog reads the file with the descriptor's shape and dtype (tiled checks both)
            desc[self.name].update(external="STREAM:", shape=list(frame.shape), dtype_numpy=frame.dtype.str)
        return desc

    def read(self):
        return {} if self.frame_file is not None else super().read()

    def collect_asset_docs(self, index: int | None = None):
        """The documents of the frame written last (none inline, or when no frame waits)."""
        yield from (self.frame_file.collect() if self.frame_file is not None else ())


class Spectrometer(Device):
    """UV-Vis spectrometer on the flow cell: raw counts and the absorbance reduced from them.

    ``trigger()`` acquires one spectrum: ``counts`` (mean over ``scans_to_average`` scans of
    ``integration_time_s``), ``saturated`` (1 where a pixel reached ``saturation_counts``) and
    ``absorbance`` = −log10((S − D)/(R − D)) from the stored dark (``dark_counts``) and reference
    (``reference_counts``), NaN on saturated pixels (:func:`autolab.analysis.reduction.absorbance`);
    all NaN for a dark or a reference, which are raw data alone.
    Each array has the wavelength axis's length and names its dimension ``wavelength_nm``. The
    axis is the instrument's (its pixels' wavelengths, nm): empty until the instrument, or the
    twin's builder, sets it. ``shutter`` ("open"/"closed") is the lamp's shutter (closed for a
    dark) and ``cell_content`` what fills the flow cell ("sample", or "solvent" for a reference).
    """

    wavelength_nm = Cpt(AxisSignal, value=np.zeros(0), kind="normal", units="nm", dims=(WAVELENGTH_DIM,))
    absorbance = Cpt(AxisSignal, value=np.zeros(0), kind="normal", units="AU", dims=(WAVELENGTH_DIM,))
    counts = Cpt(AxisSignal, value=np.zeros(0), kind="normal", units="counts", dims=(WAVELENGTH_DIM,))
    saturated = Cpt(AxisSignal, value=np.zeros(0, dtype=np.uint8), kind="normal", units="", dims=(WAVELENGTH_DIM,))
    integration_time_s = Cpt(UnitSignal, value=0.1, kind="config", units="s")
    scans_to_average = Cpt(UnitSignal, value=10, kind="config", units="")
    saturation_counts = Cpt(UnitSignal, value=65535.0, kind="config", units="counts")
    shutter = Cpt(Signal, value="open", kind="config")
    cell_content = Cpt(Signal, value="sample", kind="config")
    dark_run_uid = Cpt(Signal, value="", kind="config")
    reference_run_uid = Cpt(Signal, value="", kind="config")
    dark_counts = Cpt(AxisSignal, value=np.zeros(0), kind="omitted", units="counts", dims=(WAVELENGTH_DIM,))
    reference_counts = Cpt(AxisSignal, value=np.zeros(0), kind="omitted", units="counts", dims=(WAVELENGTH_DIM,))
    reference_saturated = Cpt(AxisSignal, value=np.zeros(0, dtype=np.uint8), kind="omitted", units="", dims=(WAVELENGTH_DIM,))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The settings a dark or reference was taken at: counts grow with both, so a sample at
        # other settings cannot be reduced with it.
        self._taken_at = {"dark": None, "reference": None}
        self.dark_counts.subscribe(lambda **_: self._note_settings("dark"), run=False)
        self.reference_counts.subscribe(lambda **_: self._note_settings("reference"), run=False)

    def _settings(self) -> tuple[float, int]:
        return float(self.integration_time_s.get()), int(self.scans_to_average.get())

    def _note_settings(self, kind: str) -> None:
        self._taken_at[kind] = self._settings()

    def missing_calibrations(self) -> list[str]:
        """The plans to run before a spectrum can be reduced: a missing dark or reference, or one taken at other settings."""
        absent, stale = self._calibration_state()
        return [f"take_{kind}" for kind in ("dark", "reference") if kind in absent or kind in stale]

    def _calibration_state(self) -> tuple[list[str], list[str]]:
        """(kinds not held on this axis, kinds held but taken at other settings than now)."""
        size = np.size(self.wavelength_nm.get())
        absent, stale = [], []
        for kind, signal in (("dark", self.dark_counts), ("reference", self.reference_counts)):
            if size == 0 or np.size(signal.get()) != size:
                absent.append(kind)
            elif self._taken_at[kind] != self._settings():
                stale.append(kind)
        return absent, stale

    def calibration_problem(self) -> str | None:
        """Why this spectrometer cannot reduce a spectrum now, in one sentence naming the plans to run; None if it can."""
        absent, stale = self._calibration_state()
        if not (absent or stale):
            return None
        plans = " and ".join(f"{plan}({_where(self)})" for plan in self.missing_calibrations())
        if absent:
            return f"{self.name} cannot reduce its data without calibration: run {plans} first"
        taken = " and ".join(
            f"{kind} at unknown settings" if self._taken_at[kind] is None else "{} at {:g} s × {} scans".format(kind, *self._taken_at[kind])
            for kind in stale
        )
        now = "{:g} s × {} scans".format(*self._settings())
        return f"{self.name} has its {taken} but integrates {now} now: run {plans} again"

    def reduce(self, counts, saturated) -> np.ndarray:
        """Absorbance of ``counts`` against the stored dark and reference (all NaN without them)."""
        if self.missing_calibrations():
            return np.full(np.shape(counts), np.nan)
        from autolab.analysis.reduction import absorbance

        flags = np.asarray(saturated, dtype=bool) | np.asarray(self.reference_saturated.get(), dtype=bool)
        return absorbance(counts, self.dark_counts.get(), self.reference_counts.get(), saturated=flags)


class PoniSignal(Signal):
    """A detector's PONI geometry, the text of a PONI file; a text pyFAI cannot read is refused on put.

    Refused with :class:`~autolab.errors.LimitError` naming the signal and what is missing, so a
    wrong geometry fails where it is given, not in the first point's acquisition. An empty text
    (no geometry yet) is taken; ``set`` refuses before it starts a status.
    """

    def put(self, value, **kwargs):
        super().put(self._checked(value), **kwargs)

    def set(self, value, **kwargs):
        return super().set(self._checked(value), **kwargs)  # refused here, before a status exists

    def _checked(self, value) -> str:
        text = str(value)
        if text.strip():
            from autolab.analysis.reduction import check_poni
            from autolab.errors import LimitError

            try:
                check_poni(text)
            except ValueError as exc:
                msg = f"{self.name}: {exc}"
                raise LimitError(msg) from None
        return text


class SAXSDetector(Device):
    """SAXS pixel detector on the Kapton flow cell: the 2D frame and I(q), σ(q) (cm⁻¹) reduced from it.

    ``trigger()`` acquires one frame: ``image`` (counts; negative pixels are the detector's gaps),
    the beam monitor ``monitor_photons_s`` and the transmission diode's ``transmission``. A point's
    ``read()`` leaves the frame out unless asked (``saxs.image.kind = "normal"``): a frame is
    ≈ 100 times the rest of a point, and :func:`~autolab.plans.take_background` always stores its
    own. A stored frame goes into an HDF5 file (:meth:`store_frames_in`; a session gives an
    embedded catalog's ``frames/`` folder) that the run refers to, or inline without one. The frame
    is integrated with pyFAI on the geometry ``poni`` (a PONI file's text) onto the ``q_nm_inv``
    bins, normalised by monitor, exposure, transmission and ``thickness_cm``, put on the absolute
    scale by ``calibration_factor`` and, for the sample, the stored background I(q) subtracted
    (:func:`autolab.analysis.reduction.reduce_frame`). ``cell_content`` is what fills the flow
    cell ("sample", "solvent" or "empty"); a frame of anything but the sample is integrated
    without subtraction (it is a background). Each 1-D array names its dimension ``q_nm_inv``.
    The q axis is the integration's (its bins, nm⁻¹): empty until the instrument, or the twin's
    builder, sets it.
    """

    q_nm_inv = Cpt(AxisSignal, value=np.zeros(0), kind="normal", units="1/nm", dims=(Q_DIM,))
    intensity = Cpt(AxisSignal, value=np.zeros(0), kind="normal", units="1/cm", dims=(Q_DIM,))
    intensity_sigma = Cpt(AxisSignal, value=np.zeros(0), kind="normal", units="1/cm", dims=(Q_DIM,))
    image = Cpt(FrameSignal, value=np.zeros((0, 0), dtype=np.int32), kind="omitted", units="counts", dims=FRAME_DIMS)
    monitor_photons_s = Cpt(UnitSignal, value=0.0, kind="normal", units="photons/s")
    transmission = Cpt(UnitSignal, value=0.0, kind="normal", units="")
    exposure_time_s = Cpt(UnitSignal, value=1.0, kind="config", units="s")
    poni = Cpt(PoniSignal, value="", kind="config")
    thickness_cm = Cpt(UnitSignal, value=0.1, kind="config", units="cm")
    calibration_factor = Cpt(UnitSignal, value=1.0, kind="config", units="")
    cell_content = Cpt(Signal, value="sample", kind="config")
    background_run_uid = Cpt(Signal, value="", kind="config")
    mask = Cpt(Signal, value=np.zeros((0, 0), dtype=bool), kind="omitted")
    background_intensity = Cpt(AxisSignal, value=np.zeros(0), kind="omitted", units="1/cm", dims=(Q_DIM,))
    background_sigma = Cpt(AxisSignal, value=np.zeros(0), kind="omitted", units="1/cm", dims=(Q_DIM,))

    def store_frames_in(self, directory) -> None:
        """Write stored frames into HDF5 files under ``directory`` (None: inline in the events, as by default).

        :func:`~autolab.runtime.open_session` gives an embedded catalog's ``frames/`` folder
        (:func:`~autolab.catalog.frames_directory`).
        """
        self.image.frame_file = None if directory is None else FrameFile(directory, owner=self.name)

    def stores_frame(self) -> bool:
        """Whether the frame of the acquisition now is stored: always for a background, for a sample when asked."""
        return self.image.attr_name in self.read_attrs or self.cell_content.get() != "sample"

    def keep_frame(self, frame) -> None:
        """Hold ``frame`` in ``image`` and, if it is stored in a file, write it there (part of the acquisition).

        A frame that cannot be written raises :class:`~autolab.errors.ReactorFault` naming the
        file: the acquisition, and with it the point, fails, instead of losing the frame.
        """
        self.image.put(frame)
        if self.image.frame_file is not None and self.stores_frame():
            self.image.frame_file.write(frame, self.image.name)

    def stage(self):
        staged = super().stage()
        if self.image.frame_file is not None:
            self.image.frame_file.start()
        return staged

    def unstage(self):
        if self.image.frame_file is not None:
            self.image.frame_file.finish()
        return super().unstage()

    def collect_asset_docs(self, index: int | None = None):
        """The frame's ``stream_resource``/``stream_datum`` documents when this device's reading holds the frame."""
        if self.image.attr_name in self.read_attrs:
            yield from self.image.collect_asset_docs(index)

    def missing_calibrations(self) -> list[str]:
        """The plans to run before a frame can be reduced (``take_background`` without a background)."""
        size = np.size(self.q_nm_inv.get())
        return [] if size and np.size(self.background_intensity.get()) == size else ["take_background"]

    def calibration_problem(self) -> str | None:
        """Why this detector cannot reduce a frame now, in one sentence naming the plan to run; None if it can."""
        if not self.missing_calibrations():
            return None
        return f"{self.name} cannot reduce its data without calibration: run take_background({_where(self)}) first"

    def reduce(self, frame, *, monitor_photons_s: float, transmission: float, content: str | None = None):
        """I(q) and σ(q) of ``frame``; the background is subtracted from a sample's (NaN without one).

        ``content`` is what filled the cell (default: ``cell_content``). Returns
        ``(intensity, sigma)`` on ``q_nm_inv``, cm⁻¹.
        """
        from autolab.analysis.reduction import ReducedSAXS, reduce_frame

        q = self.q_nm_inv.get()
        sample = (self.cell_content.get() if content is None else content) == "sample"
        background = None
        if sample:
            if self.missing_calibrations():
                return np.full(np.shape(q), np.nan), np.full(np.shape(q), np.nan)
            background = ReducedSAXS(q, self.background_intensity.get(), self.background_sigma.get())
        mask = self.mask.get()
        reduced = reduce_frame(
            frame,
            self.poni.get(),
            q,
            background=background,
            monitor_photons_s=monitor_photons_s,
            exposure_time_s=float(self.exposure_time_s.get()),
            transmission=transmission,
            thickness_cm=float(self.thickness_cm.get()),
            calibration_factor=float(self.calibration_factor.get()),
            mask=mask if np.size(mask) else None,
        )
        return reduced.intensity, reduced.sigma


def _where(detector) -> str:
    """How a user names the detector in a plan: ``reactor.spectrometer``, or its name if standalone."""
    return f"reactor.{detector.attr_name}" if detector.parent is not None else detector.name
