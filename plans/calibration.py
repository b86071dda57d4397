"""Calibration runs of the detectors: a dark, a reference and a background, each a run of its own.

Each plan acquires once with the detector set up for it (lamp shutter closed; solvent in the cell;
solvent or an empty cell in the X-ray beam), restores the detector for samples even when the run
fails, and stores what it measured on the detector with its run uid. The detector then reduces
every later sample with it, and :func:`~autolab.plans.measure_point` names those uids in its start
document (:func:`calibration_runs`).
"""

from typing import Any

from bluesky import plan_stubs as bps
from bluesky import preprocessors as bpp
from bluesky.utils import MsgGenerator

from autolab.devices import FlowReactor, SAXSDetector, Spectrometer
from autolab.errors import LimitError, ReactorFault

#: What a SAXS background may be measured on.
BACKGROUND_CONTENTS = ("solvent", "empty")


def take_dark(spectrometer: Spectrometer, *, md: dict[str, Any] | None = None) -> MsgGenerator[str]:
    """Measure the spectrometer's dark (lamp shutter closed) in a run of its own and keep it.

    Parameters
    ----------
    spectrometer : Spectrometer
        The spectrometer (``reactor.spectrometer``).
    md : dict, optional
        Caller's metadata, merged over autolab's in the start document.

    Yields
    ------
    msg : Msg
        One run: the shutter closed, one ``primary`` event with the raw ``counts``, the shutter
        opened again (also if the run fails); then ``set`` of ``dark_counts`` and ``dark_run_uid``.

    Returns
    -------
    uid : str
        The run's uid.

    Notes
    -----
    Take it at the integration time and number of scans the samples use: the dark counts grow
    with both. The start document has ``calibration="dark"`` and the detector's name.

    Examples
    --------
    >>> RE(take_dark(reactor.spectrometer))  # doctest: +SKIP
    """
    readings = {}
    uid = yield from _calibration_run(spectrometer, "dark", {spectrometer.shutter: ("closed", "open")}, readings, md)
    if readings:
        yield from bps.mv(spectrometer.dark_counts, _value(readings, spectrometer.counts), spectrometer.dark_run_uid, uid)
    return uid


def take_reference(spectrometer: Spectrometer, *, md: dict[str, Any] | None = None) -> MsgGenerator[str]:
    """Measure the spectrometer's reference (the solvent-filled cell) in a run of its own and keep it.

    Parameters
    ----------
    spectrometer : Spectrometer
        The spectrometer (``reactor.spectrometer``).
    md : dict, optional
        Caller's metadata, merged over autolab's in the start document.

    Yields
    ------
    msg : Msg
        One run: ``cell_content`` set to "solvent", one ``primary`` event with the raw ``counts``
        and ``saturated`` flags, ``cell_content`` back to "sample" (also if the run fails); then
        ``set`` of ``reference_counts``, ``reference_saturated`` and ``reference_run_uid``.

    Returns
    -------
    uid : str
        The run's uid.

    Notes
    -----
    The absorbance of every later sample is measured against this reference: 0 AU is the
    solvent. Pixels that saturate in the reference stay NaN in every sample's absorbance until a
    new reference is taken at a shorter integration time.

    Examples
    --------
    >>> RE(take_reference(reactor.spectrometer))  # doctest: +SKIP
    """
    readings = {}
    uid = yield from _calibration_run(spectrometer, "reference", {spectrometer.cell_content: ("solvent", "sample")}, readings, md)
    if readings:
        yield from bps.mv(
            spectrometer.reference_counts, _value(readings, spectrometer.counts),
            spectrometer.reference_saturated, _value(readings, spectrometer.saturated),
            spectrometer.reference_run_uid, uid,
        )
    return uid


def take_background(
    saxs: SAXSDetector, *, content: str = "solvent", md: dict[str, Any] | None = None
) -> MsgGenerator[str]:
    """Measure the SAXS background (solvent-filled or empty cell) in a run of its own and keep its I(q).

    Parameters
    ----------
    saxs : SAXSDetector
        The SAXS detector (``reactor.saxs``).
    content : {"solvent", "empty"}
        What fills the cell: the solvent (the default; the samples' I(q) is then that of what the
        solvent carries) or nothing (the samples' I(q) then keeps the solvent's scattering).
    md : dict, optional
        Caller's metadata, merged over autolab's in the start document.

    Yields
    ------
    msg : Msg
        One run: ``cell_content`` set to ``content``, one ``primary`` event with the frame
        (always, whatever ``saxs.image.kind``; in an HDF5 file the run's ``stream_resource`` names
        when the detector stores frames in files), the monitor, the transmission and the frame's I(q)
        (normalised, not subtracted),
        ``cell_content`` back to "sample" (also if the run fails); then ``set`` of
        ``background_intensity``, ``background_sigma`` and ``background_run_uid``.

    Returns
    -------
    uid : str
        The run's uid.

    Raises
    ------
    LimitError
        If ``content`` is not "solvent" or "empty" (before any message).

    Examples
    --------
    >>> RE(take_background(reactor.saxs, content="solvent"))  # doctest: +SKIP
    """
    if content not in BACKGROUND_CONTENTS:
        msg = f"content={content!r} is not a background the SAXS cell can hold; allowed: {', '.join(map(repr, BACKGROUND_CONTENTS))}"
        raise LimitError(msg)
    readings = {}
    uid = yield from _calibration_run(
        saxs, "background", {saxs.cell_content: (content, "sample")}, readings, md, extra=[saxs.image], content=content
    )
    if readings:
        yield from bps.mv(
            saxs.background_intensity, _value(readings, saxs.intensity),
            saxs.background_sigma, _value(readings, saxs.intensity_sigma),
            saxs.background_run_uid, uid,
        )
    return uid


def calibration_runs(reactor: FlowReactor) -> dict[str, str | None]:
    """The runs whose dark, reference and background the reactor's detectors reduce with now.

    Returns ``{"dark": uid, "reference": uid, "background": uid}``; a uid is None for a
    calibration that came with the detector rather than from a run (a twin starts calibrated).

    Raises
    ------
    ReactorFault
        If a detector lacks a calibration, or holds a dark or reference taken at other settings
        than it integrates at now, naming the plans to run.
    """
    for detector in (reactor.spectrometer, reactor.saxs):
        problem = detector.calibration_problem()
        if problem:
            raise ReactorFault(problem)
    uids = {
        "dark": reactor.spectrometer.dark_run_uid.get(),
        "reference": reactor.spectrometer.reference_run_uid.get(),
        "background": reactor.saxs.background_run_uid.get(),
    }
    return {kind: (uid or None) for kind, uid in uids.items()}


def _calibration_run(detector, kind: str, settings: dict, readings: dict, md: dict[str, Any] | None, *, extra=(), **plan_args):
    """One run of ``detector`` with ``settings`` ({signal: (during, after)}); fills ``readings``.

    ``extra`` are signals read beside the detector's own readings (the SAXS frame, which a
    point reads only when asked).
    """
    _md = {
        "plan_name": f"take_{kind}",
        "plan_args": {"detector": repr(detector.name), **plan_args},
        "calibration": kind,
        "detectors": [detector.name],
        "hints": {"dimensions": [(["time"], "primary")]},
    }
    _md.update(md or {})

    @bpp.run_decorator(md=_md)
    @bpp.stage_decorator([detector])  # inside the run, as measure_point's (a pause after the close replays nothing)
    def inner():
        for signal, (during, _) in settings.items():
            yield from bps.mv(signal, during)
        # trigger_and_read would drop a component of a device it reads, so the event is built here
        yield from bps.trigger(detector, group="calibration", wait=True)
        yield from bps.create("primary")
        readings.update((yield from bps.read(detector)) or {})
        for signal in extra:
            if signal.attr_name not in detector.read_attrs:
                readings.update((yield from bps.read(signal)) or {})
        yield from bps.save()

    def restore():
        for signal, (_, after) in settings.items():
            yield from bps.mv(signal, after)

    return (yield from bpp.finalize_wrapper(inner(), restore()))


def _value(readings: dict, signal):
    return readings[signal.name]["value"]
