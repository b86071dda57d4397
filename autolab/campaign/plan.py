"""The closed loop: suggest → measure → analyse → objective → ingest, until the budget is spent."""

from typing import Any

from bluesky import plan_stubs as bps
from bluesky import preprocessors as bpp
from bluesky.utils import MsgGenerator
from ophyd import Signal

from autolab.analysis.runs import analysis_metadata, analyze_readings, numeric_metrics, readings_of
from autolab.devices import FlowReactor, PointConditions
from autolab.errors import LimitError
from autolab.plans.stubs import safe_state, stop_flow
from autolab.plans.survey import measure_point

from .state import CONDITIONS, Campaign


class _PointCollector:
    """Keeps the start document, the primary event's data and the stop document of one run."""

    def __init__(self):
        self.start: dict | None = None
        self.data: dict[str, Any] = {}
        self.stop: dict | None = None
        self._primary: set[str] = set()

    def __call__(self, name: str, doc: dict) -> None:
        if name == "start":
            self.start, self.data, self.stop = doc, {}, None
        elif name == "descriptor" and doc.get("name") == "primary":
            self._primary.add(doc["uid"])
        elif name == "event" and doc["descriptor"] in self._primary:
            self.data = doc["data"]
        elif name == "stop":
            self.stop = doc


def record_analysis(raw_start: dict[str, Any], report, *, md: dict[str, Any] | None = None) -> MsgGenerator[str]:
    """Store one point's analysis as a derived run through the RunEngine.

    Parameters
    ----------
    raw_start : dict
        Start document of the measured point.
    report : AnalysisReport
        What the analysis plugins found.
    md : dict, optional
        Extra start metadata (the campaign's objective value).

    Yields
    ------
    msg : Msg
        A run with ``plan_name="analysis"`` and ``analysis_of`` the point's uid (the same start
        metadata :class:`~autolab.analysis.runs.AnalysisCallback` writes) and one ``analysis``
        event with the numeric metrics.

    Returns
    -------
    uid : str
        The derived run's uid.
    """
    metrics = [Signal(name=key, value=value) for key, value in numeric_metrics(report).items()]

    @bpp.run_decorator(md={**analysis_metadata(raw_start, report), **(md or {})})
    def inner():
        if metrics:
            yield from bps.trigger_and_read(metrics, name="analysis")
        else:
            yield from bps.null()

    return (yield from inner())


def campaign_record(campaign: Campaign, role: str, **md: Any) -> MsgGenerator[str]:
    """A run without events that records the campaign's settings (``role="start"``/``"resume"``) or result."""
    yield from bps.open_run(md={"plan_name": "autonomous_campaign", "campaign_id": campaign.id, "campaign_role": role, **md})
    return (yield from bps.close_run())


def _refill(reactor: FlowReactor) -> bool:
    """Refill the twin's syringes (a person swapping them); False for pumps that cannot."""
    pumps = (reactor.cd_pump, reactor.se_pump)
    if not all(hasattr(pump, "refill") for pump in pumps):
        return False
    for pump in pumps:
        pump.refill()
    return True


def feasible_point(reactor: FlowReactor, conditions: dict[str, float]) -> PointConditions:
    """The point's checked conditions, or :class:`LimitError` if the reactor can never run it.

    Never: a condition outside the reactor's limits, or more reagent than full syringes hold.
    Less reagent than is left now is not a reason (syringes can be refilled).
    """
    point = reactor.check_conditions(*(conditions[name] for name in CONDITIONS))
    reactor.check_reagents([point], full_syringes=True)
    return point


def run_campaign(
    reactor: FlowReactor,
    campaign: Campaign,
    *,
    flush_volumes: float | None = None,
    md: dict[str, Any] | None = None,
    refill_twin_syringes: bool = False,
) -> MsgGenerator[dict]:
    """Drive a prepared (new or resumed) :class:`~autolab.campaign.Campaign` to its end.

    Parameters
    ----------
    reactor : FlowReactor
        The reactor.
    campaign : Campaign
        The campaign (:class:`Campaign` or :meth:`Campaign.resume`).
    flush_volumes : float, optional
        Reactor volumes to flush before each reading.
    md : dict, optional
        Metadata added to every run of the campaign.
    refill_twin_syringes : bool
        Dry runs on the twin: when what is left in the syringes cannot supply the next point,
        put full ones in (what a person does between points) instead of stopping; the summary
        lists before which points (numbered from 1). Pumps without ``refill`` (the real reactor)
        stop the campaign with the reason, to be continued with ``--resume`` after a refill.

    Yields
    ------
    msg : Msg
        A campaign record run, then per point a ``measure_point`` run and its derived
        ``analysis`` run, then a summary record run. At the end the pumps stop; if the campaign
        fails or is aborted, :func:`~autolab.plans.safe_state` also sends the heaters to 25 °C.

    Notes
    -----
    A suggestion the reactor can never run — a condition outside its limits, or more reagent
    than full syringes hold — is not measured: it is registered with the optimiser as a failed
    trial, kept in a ``campaign_role="failed_point"`` record run with the reason, listed in the
    summary's ``failed_points``, and counts against the budget; the campaign goes on with the
    next suggestion.

    Returns
    -------
    summary : dict
        :meth:`Campaign.summary`: best conditions and value, run uids, stop reason.
    """
    extra = dict(md or {})
    reactor.standby_flow_rates()  # a standby flow the pumps cannot give is named before any message
    role = "resume" if campaign.resumed_from else "start"
    yield from campaign_record(
        campaign,
        role,
        campaign_settings=campaign.settings_metadata(),
        points_done=len(campaign.points),
        points_tried=campaign.n_tried,
        reactor=reactor.name,
        **extra,
    )

    refills: list[int] = []

    def loop():
        stop_reason = "budget spent"
        while campaign.remaining > 0:
            should_stop, reason = campaign.optimizer.should_stop()
            if should_stop:
                stop_reason = reason
                break
            batch = campaign.next_batch()
            for suggestion in batch:
                number = campaign.n_tried + 1
                try:
                    point = feasible_point(reactor, suggestion["conditions"])
                except LimitError as exc:
                    failed = campaign.record_failure(suggestion, str(exc))
                    yield from campaign_record(campaign, "failed_point", failed_point=campaign.failure_record(failed), **extra)
                    continue
                try:
                    reactor.check_reagents([point])
                except LimitError as exc:
                    if not (refill_twin_syringes and _refill(reactor)):
                        campaign.discard_pending()
                        return f"stopped before point {number}: {exc}"
                    refills.append(number)
                collector = _PointCollector()
                uid = yield from bpp.subs_wrapper(
                    measure_point(
                        reactor,
                        point.nucleation_temperature_c,
                        point.growth_temperature_c,
                        point.residence_time_s,
                        flush_volumes=flush_volumes,
                        md={**campaign.point_metadata(suggestion), **extra},
                    ),
                    collector,
                )
                report = analyze_readings(campaign.manager, readings_of(collector.start, collector.data), collector.start)
                value = campaign.objective_value(report.metrics)
                analysis_uid = yield from record_analysis(
                    collector.start, report, md={**campaign.analysis_md(suggestion["_id"], value), **extra}
                )
                campaign.record(suggestion, uid, value, analysis_uid=analysis_uid)
        return stop_reason

    # Finished: the pumps stop, the heaters stay for the next experiment. Failed or aborted: safe state.
    stop_reason = yield from bpp.contingency_wrapper(loop(), except_plan=lambda exc: safe_state(reactor), else_plan=lambda: stop_flow(reactor))
    summary = campaign.summary(stop_reason)
    if refills:
        summary["syringe_refills_before_points"] = refills
    yield from campaign_record(campaign, "summary", campaign_summary={k: v for k, v in summary.items() if k != "campaign_id"}, **extra)
    return summary


def autonomous_campaign(
    reactor: FlowReactor,
    objective: str = "msc437",
    bounds: dict[str, list] | None = None,
    budget: int = 25,
    batch_size: int = 1,
    initial_design: int | list[dict[str, float]] | None = None,
    seed: int = 0,
    md: dict[str, Any] | None = None,
    *,
    fixed: dict[str, float] | None = None,
    acquisition: str = "log_ei",
    objective_settings: dict[str, Any] | None = None,
    flush_volumes: float | None = None,
    refill_twin_syringes: bool = False,
) -> MsgGenerator[dict]:
    """Optimise the reactor's conditions for an analysis objective, closed loop.

    Parameters
    ----------
    reactor : FlowReactor
        The reactor; its ``limits()`` bound the search unless ``bounds`` is given.
    objective : str
        An objective declared by an analysis plugin: ``msc437`` (CdSe-437 absorbance, maximised),
        ``msc437_selectivity``, ``nc_size``, ``yield``, or a third-party one.
    bounds : dict, optional
        ``{"nucleation_temperature_c": [low, high], "residence_time_s": [low, high, "log"], …}``.
        Default: every condition not in ``fixed`` over the reactor's safe limits, the residence
        time log-scaled.
    budget : int
        Points to try (1–1000): design points included, and points the reactor cannot run count too.
    batch_size : int
        Points chosen together per model update (1–20).
    initial_design : int or list of dict, optional
        Sobol design points before the model is used (default ``max(5, 2·d + 1)``), or the design
        points themselves.
    seed : int
        Seeds the design and the optimiser: the same seed on the same twin repeats the campaign.
    md : dict, optional
        Metadata added to every run of the campaign.
    fixed : dict, optional
        Conditions held constant, e.g. ``{"growth_temperature_c": 280}``.
    acquisition : {"log_ei", "ucb"}
        Acquisition function.
    objective_settings : dict, optional
        Settings of the objective hook, e.g. ``{"target_diameter_nm": 3.0}`` for ``nc_size``.
    flush_volumes : float, optional
        Reactor volumes to flush before each reading.
    refill_twin_syringes : bool
        Dry runs on the twin: refill its syringes instead of stopping when they run low.

    Yields
    ------
    msg : Msg
        See :func:`run_campaign`.

    Returns
    -------
    summary : dict
        Campaign id, best conditions and value, run uids, stop reason.

    Notes
    -----
    Every argument is checked before the first message. Each point is a ``measure_point`` run
    whose start document carries ``campaign_id``, ``suggestion_id``, ``acquisition_value`` (log EI
    or UCB at the suggestion; None for design points) and ``model_summary`` (trial counts, GP
    length scales and noise); its analysis is a derived run with ``objective_value``. The
    campaign's settings and result are ``autonomous_campaign`` record runs. ``autolab campaign
    --resume ID`` continues a stopped campaign from the catalog.

    Examples
    --------
    >>> RE(autonomous_campaign(reactor, "msc437", budget=25, seed=0))  # doctest: +SKIP
    """
    campaign = Campaign(
        reactor.limits(),
        objective,
        bounds,
        budget,
        batch_size,
        initial_design,
        seed,
        fixed=fixed,
        acquisition=acquisition,
        objective_settings=objective_settings,
    )
    return (yield from run_campaign(reactor, campaign, flush_volumes=flush_volumes, md=md, refill_twin_syringes=refill_twin_syringes))
