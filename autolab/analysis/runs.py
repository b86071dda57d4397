"""Analysis of measured runs, live (a RunEngine callback) or later (a stored run).

Results are stored as a *derived run* next to the raw one: a Bluesky run with
``plan_name="analysis"`` and ``analysis_of=<raw uid>`` whose start document holds every
namespaced metric, the plugin versions and any plugin errors, and whose ``analysis`` stream has
one event with the numeric metrics. It goes through the same catalog writer (and journal) as the
raw data, so a crash loses neither; any run can be analysed again later, with newer plugins,
without touching the raw run.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from bluesky.utils import InvalidCommand, Msg
from event_model import compose_run

from ..conditions import NAMES
from .manager import AnalysisReport, PluginManager

logger = logging.getLogger(__name__)

#: Data keys of a ``measure_point`` event, after the reactor's name and an underscore.
SPECTRUM_KEYS = ("spectrometer_wavelength_nm", "spectrometer_absorbance")
SAXS_KEYS = ("saxs_q_nm_inv", "saxs_intensity", "saxs_intensity_sigma")
#: The point's conditions, copied from the raw start document to the derived run's.
CONDITION_KEYS = NAMES
#: The RunEngine command that answers with the live :class:`AnalysisCallback` (:func:`live_analysis`).
LIVE_ANALYSIS_COMMAND = "autolab_live_analysis"


def readings_of(start: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """A ``measure_point`` event's data without the reactor-name prefix (``spectrometer_absorbance``…)."""
    prefix = start.get("reactor", "reactor") + "_"
    return {k[len(prefix) :]: v for k, v in data.items() if k.startswith(prefix)}


def analyze_readings(
    manager: PluginManager, readings: dict[str, Any], start: dict[str, Any], *, deferred: bool = False
) -> AnalysisReport:
    """Run the UV-Vis and SAXS hooks on one point's readings (keys without the reactor prefix).

    With ``deferred``, the plugins' slow ``…_deferred`` hooks instead (:mod:`autolab.analysis.deferred`).
    """
    report = AnalysisReport()
    if all(k in readings for k in SPECTRUM_KEYS):
        report = report.merge(manager.analyze_uvvis(readings[SPECTRUM_KEYS[0]], readings[SPECTRUM_KEYS[1]], start, deferred=deferred))
    if all(k in readings for k in SAXS_KEYS[:2]):
        sigma = readings.get(SAXS_KEYS[2])
        report = report.merge(manager.analyze_saxs(readings[SAXS_KEYS[0]], readings[SAXS_KEYS[1]], sigma, start, deferred=deferred))
    return report


class PointReadings:
    """Follows the documents of ``measure_point`` runs; returns a finished point's readings.

    Called with every document, it returns ``(start document, readings)`` when a successful
    ``measure_point`` run stops (readings keyed without the reactor prefix, see
    :func:`readings_of`) and None otherwise.
    """

    def __init__(self):
        self._start: dict | None = None
        self._descriptors: dict[str, str] = {}
        self._readings: dict[str, Any] = {}

    def __call__(self, name: str, doc: dict) -> tuple[dict[str, Any], dict[str, Any]] | None:
        if name == "start":
            self._start = doc if doc.get("plan_name") == "measure_point" else None
            self._descriptors.clear()
            self._readings = {}
        elif self._start is None:
            return None
        elif name == "descriptor":
            self._descriptors[doc["uid"]] = doc.get("name", "")
        elif name == "event" and self._descriptors.get(doc["descriptor"]) == "primary":
            self._readings = readings_of(self._start, doc["data"])
        elif name == "stop":
            start, self._start = self._start, None
            if doc.get("exit_status") == "success" and self._readings:
                return start, self._readings
        return None


def numeric_metrics(report: AnalysisReport) -> dict[str, float]:
    """The finite numeric metrics of ``report``, keyed as event data keys (dots become ``__``)."""
    return {
        k.replace(".", "__"): float(v)
        for k, v in report.metrics.items()
        if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(float(v))
    }


def analysis_metadata(raw_start: dict[str, Any], report: AnalysisReport, *, reanalysis: bool = False) -> dict[str, Any]:
    """Start-document metadata of the derived analysis run of ``raw_start``'s run."""
    metadata = {
        "plan_name": "analysis",
        "analysis_of": raw_start["uid"],
        "reanalysis": reanalysis,
        "metrics": nested_metrics(report.metrics),
        "errors": dict(report.errors),
        "plugin_versions": dict(report.versions),
    }
    if report.notes:
        metadata["analysis_notes"] = list(report.notes)
    # The point's identity and conditions, and the metadata its plan gives to every run it makes
    # (a campaign's ``md``, listed in ``shared_md_keys``).
    for key in ("campaign_id", "suggestion_id", "design_point", "phase_map_uid", "conditions", *CONDITION_KEYS,
                *raw_start.get("shared_md_keys", ())):
        if key in raw_start:
            metadata[key] = raw_start[key]
    return metadata


def analysis_documents(raw_start: dict[str, Any], report: AnalysisReport, *, reanalysis: bool = False, md: dict | None = None):
    """The documents of the derived analysis run for ``report`` (start, descriptor, event, stop)."""
    numeric = numeric_metrics(report)
    bundle = compose_run(metadata={**analysis_metadata(raw_start, report, reanalysis=reanalysis), **(md or {})})
    data_keys = {k: {"source": "autolab.analysis", "dtype": "number", "shape": []} for k in numeric}
    descriptor = bundle.compose_descriptor(name="analysis", data_keys=data_keys)
    now = time.time()
    docs = [("start", bundle.start_doc), ("descriptor", descriptor.descriptor_doc)]
    if numeric:
        docs.append(("event", descriptor.compose_event(data=numeric, timestamps=dict.fromkeys(numeric, now))))
    docs.append(("stop", bundle.compose_stop(exit_status="success")))
    return docs


@dataclass
class PointAnalysis:
    """What the live analysis made of one point: the report, its objective value and the derived run.

    ``objective_value`` is set for a campaign's point (its start names ``campaign_objective``):
    NaN when the metrics give no value; None when the point is no campaign's or the plugins
    declare no such objective.
    """

    report: AnalysisReport
    objective: str | None = None
    objective_value: float | None = None
    derived_uid: str | None = None


class AnalysisCallback:
    """RunEngine callback: analyse each ``measure_point`` run when it stops, emit a derived run.

    The one analysis path of a session: points measured by hand, by a phase map and by a
    campaign alike. For a campaign's point (its start document names ``campaign_objective`` and
    ``objective_settings``) the derived run also holds ``objective`` and ``objective_value``, and
    the campaign reads them from :attr:`results` (in process) or from the catalog (the queue agent).

    Parameters
    ----------
    manager : PluginManager
        The plugins to run.
    sink : callable or None
        Where the derived run's documents go, ``sink(name, doc)`` — usually the
        :class:`~autolab.catalog.CatalogWriter`; None keeps the results in memory only.
    on_report : callable, optional
        Called as ``on_report(raw_start, report)`` after each analysis (e.g. a live table).

    Notes
    -----
    The derived runs do not pass through the RunEngine: callbacks that follow them (a progress
    bar, a live plot) are chained with :meth:`forward_to`, as downstream callbacks of this one.
    """

    def __init__(self, manager: PluginManager, sink, on_report=None):
        self.manager = manager
        self.sink = sink
        self.on_report = on_report
        #: Callbacks that receive the derived runs' documents after the sink.
        self.downstream: list = []
        self._points = PointReadings()
        #: Raw run uid → :class:`PointAnalysis`.
        self.results: dict[str, PointAnalysis] = {}
        self.errors: list[str] = []

    @property
    def reports(self) -> dict[str, AnalysisReport]:
        """Raw run uid → its :class:`AnalysisReport`."""
        return {uid: result.report for uid, result in self.results.items()}

    @property
    def derived(self) -> dict[str, str]:
        """Raw run uid → uid of the derived analysis run stored for it."""
        return {uid: result.derived_uid for uid, result in self.results.items() if result.derived_uid is not None}

    def forward_to(self, callback) -> None:
        """Send the derived runs' documents to ``callback`` too (``callback(name, doc)``)."""
        self.downstream.append(callback)

    def subscribe(self, RE) -> None:
        """Subscribe to ``RE`` and answer its :data:`LIVE_ANALYSIS_COMMAND` (:func:`live_analysis`)."""
        RE.subscribe(self)

        async def answer(msg):
            return self

        RE.register_command(LIVE_ANALYSIS_COMMAND, answer)

    def __call__(self, name: str, doc: dict) -> None:
        point = self._points(name, doc)
        if point is None:
            return
        start, readings = point
        result = PointAnalysis(analyze_readings(self.manager, readings, start))
        md = self._objective(start, result)
        self.results[start["uid"]] = result
        try:  # a failure here must not fail the measurement's run
            for doc_name, derived in analysis_documents(start, result.report, md=md):
                if self.sink is not None:
                    self.sink(doc_name, derived)
                    if doc_name == "start":
                        result.derived_uid = derived["uid"]
                for callback in self.downstream:
                    callback(doc_name, derived)
        except Exception as exc:
            message = f"storing the analysis of run {start['uid']} failed: {exc!r}"
            logger.error(message)
            self.errors.append(message)
        if self.on_report is not None:
            self.on_report(start, result.report)

    def _objective(self, start: dict[str, Any], result: PointAnalysis) -> dict[str, Any]:
        """The campaign objective of a campaign's point, kept in ``result``; the derived run's extra metadata."""
        name = start.get("campaign_objective")
        if not name:
            return {}
        result.objective = name
        try:
            result.objective_value = self.manager.objective(name, result.report.metrics, start.get("objective_settings") or {})
        except ValueError as exc:  # the session's plugins lack the campaign's objective
            self.errors.append(str(exc))
            return {"objective": name}
        value = result.objective_value
        return {"objective": name, "objective_value": value if math.isfinite(value) else None}


def live_analysis():
    """Plan stub: the RunEngine's live :class:`AnalysisCallback`, or None when none is subscribed.

    Yields
    ------
    msg : Msg
        One :data:`LIVE_ANALYSIS_COMMAND` message, answered by :meth:`AnalysisCallback.subscribe`.
    """
    try:
        return (yield Msg(LIVE_ANALYSIS_COMMAND))
    except InvalidCommand:
        return None


def analyze_point(point, manager: PluginManager, *, sink=None, md: dict | None = None, deferred: bool = False) -> AnalysisReport:
    """Re-analyse a stored point; with a ``sink``, store a new derived run (plus ``md``).

    Parameters
    ----------
    point : StoredPoint
        The point as :func:`autolab.catalog.load_point` reads it (``start``, ``wavelength_nm``,
        ``absorbance``, ``q_nm_inv``, ``intensity``, ``intensity_sigma``).
    manager : PluginManager
        The plugins to run.
    sink : callable, optional
        Where the derived run's documents go (``reanalysis: True`` in its start document).
    md : dict, optional
        Extra start metadata of the derived run.
    deferred : bool
        Run the plugins' slow deferred hooks too; their metrics join the report.
    """
    readings = {
        "spectrometer_wavelength_nm": point.wavelength_nm,
        "spectrometer_absorbance": point.absorbance,
        "saxs_q_nm_inv": point.q_nm_inv,
        "saxs_intensity": point.intensity,
        "saxs_intensity_sigma": point.intensity_sigma,
    }
    report = analyze_readings(manager, readings, point.start)
    if deferred:
        report = report.merge(analyze_readings(manager, readings, point.start, deferred=True))
    if sink is not None:
        for name, doc in analysis_documents(point.start, report, reanalysis=True, md=md):
            sink(name, doc)
    return report


def nested_metrics(metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"uvvis.msc_absorbance_CdSe-437": v}`` → ``{"uvvis": {"msc_absorbance_CdSe-437": v}}``.

    Bluesky metadata keys may not contain dots, so the plugin is the outer key. Metric names
    keep one spelling everywhere, so they should contain no dots; a third-party metric that
    does has them stored as ``__`` (:func:`autolab.agent.flat_metrics` reverses it).
    """
    out: dict[str, dict[str, Any]] = {}
    for key, value in metrics.items():
        plugin, _, name = key.partition(".")
        out.setdefault(plugin, {})[name.replace(".", "__")] = jsonable(value)
    return out


def jsonable(value):
    """``value`` with numpy scalars/arrays as Python numbers/lists and non-finite floats as None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
