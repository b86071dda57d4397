"""The in-process campaign: the loop on the RunEngine, ``measure_point`` as its acquisition.

:func:`autonomous_campaign` (a plan for ``RE(…)`` and the queue) builds a
:class:`~autolab.campaign.Campaign` and runs it with :func:`run_campaign`, which poses the
reactor's campaign as bluesky-adaptive's ``OptimizationProblem`` and drives it with
:func:`~autolab.campaign.loop.campaign_loop`:

- acquisition (:class:`ReactorAcquisition`): check that the reactor can run the point, then the
  ``measure_point`` plan (messages only);
- evaluation (:class:`LiveEvaluation`): the objective value the live analysis callback
  (:class:`~autolab.analysis.runs.AnalysisCallback`, subscribed by every session) computed from
  the run when it stopped, with the uid of the analysis run it stored.
"""


# No ``from __future__ import annotations``: bluesky-queueserver reads the plans' annotations at run time.
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from bluesky import plan_stubs as bps
from bluesky import preprocessors as bpp
from bluesky.utils import MsgGenerator
from bluesky_adaptive.protocols import OptimizationProblem

from autolab.analysis.runs import AnalysisCallback, live_analysis
from autolab.conditions import NAMES
from autolab.devices import FlowReactor, PointConditions
from autolab.errors import LimitError, check_flag
from autolab.optimize.cost import ReactorCostModel
from autolab.plans.failures import device_failures, failure_text, keep_statuses, outstanding_failures
from autolab.plans.stubs import safe_state, stop_flow
from autolab.plans.survey import measure_point

from .loop import Acquired, campaign_loop
from .state import Campaign

logger = logging.getLogger(__name__)


def campaign_record(campaign: Campaign, role: str, **md: Any) -> MsgGenerator[str]:
    """A run without events that records the campaign's settings (``role="start"``/``"resume"``), a failed point or its result."""
    yield from bps.open_run(md={"plan_name": "autonomous_campaign", "campaign_id": campaign.id, "campaign_role": role, **md})
    return (yield from bps.close_run())


def feasible_point(reactor: FlowReactor, conditions: Mapping[str, float]) -> PointConditions:
    """The point's checked conditions, or :class:`LimitError` if the reactor can never run it.

    Never: a condition outside the reactor's limits, or more reagent than full syringes hold.
    Less reagent than is left now is not a reason (syringes can be refilled).
    """
    point = reactor.check_conditions(*(conditions[name] for name in NAMES))
    reactor.check_reagents([point], full_syringes=True)
    return point


class ReactorAcquisition:
    """The campaign's acquisition plan on the RunEngine: one suggestion, one ``measure_point`` run.

    Parameters
    ----------
    reactor : FlowReactor
        The reactor.
    live : AnalysisCallback
        The analysis the run must reach. When it is not subscribed to the RunEngine (a bare
        ``RunEngine``), the run is wrapped with it (``subs_wrapper``).
    subscribed : bool
        Whether ``live`` is already the RunEngine's.
    flush_volumes : float, optional
        Reactor volumes to flush before each reading.
    refill_twin_syringes : bool
        Refill the twin's syringes instead of stopping when they run low; :attr:`refills` lists
        before which points (numbered from 1).
    on_point_failure : {"continue", "pause", "stop"}
        What a device failure inside a point's run does (a heater that does not settle, a
        detector that times out, a device that disconnects): the run is stored as failed either
        way and the point is a failed trial; ``"continue"`` goes on with the next suggestion,
        ``"pause"`` pauses the RunEngine first (``RE.resume()`` or ``qserver re resume`` goes on),
        ``"stop"`` sends the reactor to its safe state and ends the campaign with the reason.
        A failed point first waits (up to :attr:`drain_timeout_s`) for its other moves: each
        further failure joins the point's reason instead of ending a later point.
    """

    def __init__(self, reactor: FlowReactor, live: AnalysisCallback, *, subscribed: bool, flush_volumes: float | None = None,
                 refill_twin_syringes: bool = False, on_point_failure: str = "continue"):
        self.on_point_failure = check_on_point_failure(on_point_failure)
        self.reactor = reactor
        self.live = live
        self.subscribed = subscribed
        self.flush_volumes = flush_volumes
        self.refill_twin_syringes = refill_twin_syringes
        self.refills: list[int] = []

    #: How long (s) a failed point waits for its other moves to finish or fail before the campaign goes on.
    drain_timeout_s: float = 60.0

    def __call__(self, suggestions: Sequence[Mapping], actuators=None, sensors=None, md: Mapping[str, Any] | None = None
                 ) -> MsgGenerator[Acquired]:
        (suggestion,) = suggestions
        md = dict(md or {})
        number = md.get("campaign_point_index", 0) + 1
        try:
            point = feasible_point(self.reactor, suggestion)
        except LimitError as exc:
            return Acquired(failure=str(exc))
        try:
            self.reactor.check_reagents([point])
        except LimitError as exc:
            if not (self.refill_twin_syringes and _refill(self.reactor)):
                return Acquired(stopped=f"stopped before point {number}: {exc}")
            self.refills.append(number)
        plan = measure_point(self.reactor, point.nucleation_temperature_c, point.growth_temperature_c, point.residence_time_s,
                             flush_volumes=self.flush_volumes, md=md)
        statuses: list = []
        try:
            uid = yield from keep_statuses(plan if self.subscribed else bpp.subs_wrapper(plan, self.live), statuses)
        except device_failures() as exc:  # the run is closed, as failed, before the exception reaches here
            # Other moves of the point may still fail (both pumps on a lost connection): they are
            # this point's failures too, not an error in the next point or the campaign.
            later = yield from outstanding_failures(statuses, self.drain_timeout_s)
            reason = f"point {number} failed: {'; '.join(dict.fromkeys([failure_text(exc), *later]))}"
            logger.error("%s", reason)
            if self.on_point_failure == "stop":
                yield from safe_state(self.reactor)  # a device that fails may need a person: pumps off, heaters to standby
                return Acquired(stopped=reason)
            if self.on_point_failure == "pause":
                yield from bps.checkpoint()
                yield from bps.pause()
            return Acquired(failure=reason)
        return Acquired(run_uid=uid)


#: What ``on_point_failure`` may be.
ON_POINT_FAILURE = ("continue", "pause", "stop")


def check_on_point_failure(value: str) -> str:
    """``value`` if it is one of :data:`ON_POINT_FAILURE`, else :class:`LimitError` naming them."""
    if value not in ON_POINT_FAILURE:
        msg = f"on_point_failure={value!r} is not one of {', '.join(ON_POINT_FAILURE)}"
        raise LimitError(msg)
    return value


class LiveEvaluation:
    """The campaign's evaluation: the objective value the live analysis computed for the run.

    Parameters
    ----------
    campaign : Campaign
        Whose objective is evaluated (from the report, if the live analysis's plugins lack it).
    live : AnalysisCallback
        The live analysis the acquisition's runs reached.
    """

    def __init__(self, campaign: Campaign, live: AnalysisCallback):
        self.campaign = campaign
        self.live = live

    def __call__(self, acquired: Acquired, suggestions: Sequence[Mapping]) -> list[dict[str, Any]]:
        (suggestion,) = suggestions
        result = self.live.results.get(acquired.run_uid)
        if result is None:
            value = float("nan")  # the run made no readings to analyse
        elif result.objective == self.campaign.settings.objective and result.objective_value is not None:
            value = result.objective_value
        else:
            value = self.campaign.objective_value(result.report.metrics)
        return [{"_id": suggestion["_id"], self.campaign.settings.objective: value, "run_uid": acquired.run_uid,
                 "analysis_uid": None if result is None else result.derived_uid}]


def _refill(reactor: FlowReactor) -> bool:
    """Refill the twin's syringes (a person swapping them); False for pumps that cannot."""
    pumps = (reactor.cd_pump, reactor.se_pump)
    if not all(hasattr(pump, "refill") for pump in pumps):
        return False
    for pump in pumps:
        pump.refill()
    return True


def keeping_summary(plan: MsgGenerator[dict], result: dict) -> MsgGenerator[dict]:
    """Run ``plan`` (a campaign plan), keeping what it returns in ``result["summary"]``.

    A ``RunEngine`` called by the command line or a sweep returns its runs' uids, not the plan's
    return value; this wrapper keeps the summary for the caller.
    """
    result["summary"] = yield from plan
    return result["summary"]


def run_campaign(
    reactor: FlowReactor,
    campaign: Campaign,
    *,
    flush_volumes: float | None = None,
    md: dict[str, Any] | None = None,
    refill_twin_syringes: bool = False,
    on_point_failure: str = "continue",
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
    on_point_failure : {"continue", "pause", "stop"}
        When a device fails a point (see Notes): go on with the next suggestion, pause the
        RunEngine first, or stop the campaign.

    Yields
    ------
    msg : Msg
        A campaign record run, then per point a ``measure_point`` run (its analysis run is
        stored by the session's live analysis), then a summary record run. At the end the
        pumps stop; if the campaign fails or is aborted, :func:`~autolab.plans.safe_state` also
        sends the heaters to 25 °C.

    Notes
    -----
    The points are analysed by the RunEngine's live :class:`~autolab.analysis.runs.AnalysisCallback`
    (every session subscribes one); on a bare ``RunEngine`` the campaign analyses its own runs
    with one of its own, and their analysis runs are not stored.

    A suggestion the reactor can never run — a condition outside its limits, or more reagent
    than full syringes hold — is not measured: it is registered with the optimiser as a failed
    trial, kept in a ``campaign_role="failed_point"`` record run with the reason, listed in the
    summary's ``failed_points``, and counts against the budget; the campaign goes on with the
    next suggestion.

    A point a device fails while it is measured — a heater that does not settle in its time
    limit, a detector that times out, a device that disconnects — is stored as a failed
    ``measure_point`` run (``exit_status="fail"`` and the reason in its stop document), then
    recorded as a failed point like the above. ``on_point_failure`` says what follows.

    Returns
    -------
    summary : dict
        :meth:`Campaign.summary`: best conditions and value, run uids, stop reason.
    """
    extra = dict(md or {})
    check_on_point_failure(on_point_failure)
    check_flag("refill_twin_syringes", refill_twin_syringes)
    reactor.standby_flow_rates()  # a standby flow the pumps cannot give is named before any message
    live = yield from live_analysis()
    subscribed = live is not None
    if not subscribed:
        logger.warning("no live analysis is subscribed to this RunEngine (autolab.runtime.subscribe_analysis): the campaign "
                       "analyses its own points and their analysis runs are not stored")
        live = AnalysisCallback(campaign.manager, None)
    acquisition = ReactorAcquisition(reactor, live, subscribed=subscribed, flush_volumes=flush_volumes,
                                     refill_twin_syringes=refill_twin_syringes, on_point_failure=on_point_failure)
    problem = OptimizationProblem(
        optimizer=campaign,
        actuators=[reactor],
        sensors=[reactor.spectrometer, reactor.saxs],
        evaluation_function=LiveEvaluation(campaign, live),
        acquisition_plan=acquisition,
    )

    def record(role: str, **record_md: Any) -> MsgGenerator[str]:
        if role in ("start", "resume"):
            record_md["reactor"] = reactor.name
        return campaign_record(campaign, role, **record_md, **extra)

    def refills() -> dict[str, Any]:
        return {"syringe_refills_before_points": acquisition.refills} if acquisition.refills else {}

    # Finished: the pumps stop, the heaters stay for the next experiment. Failed or aborted: safe state.
    return (yield from bpp.contingency_wrapper(
        campaign_loop(problem, record, md=extra, summary_extra=refills),
        except_plan=lambda exc: safe_state(reactor),
        else_plan=lambda: stop_flow(reactor),
    ))


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
    on_point_failure: str = "continue",
    optimizer=None,
    constraints: list[str] | None = None,
    cost_aware: bool = False,
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
        Design points before the model is used, the centre of the domain and then Sobol points
        (default ``max(5, 3·d + 1)``, at most a quarter of the budget but never fewer than
        ``max(5, d + 1)``), or the design points themselves.
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
    on_point_failure : {"continue", "pause", "stop"}
        When a device fails a point (a heater that does not settle, a detector timeout, a lost
        connection): the failed run is stored and the point is a failed trial; then go on, pause
        (``RE.resume()``, ``qserver re resume``) or stop the campaign.
    optimizer : object, optional
        Any optimiser on bluesky-adaptive's ``Optimizer`` protocol over the names in ``bounds``,
        instead of the default :class:`~autolab.optimize.GPOptimizer` (in process only: the queue
        cannot carry an object).
    constraints : list of str, optional
        Linear inequalities between conditions in their units, e.g.
        ``["growth_temperature_c <= nucleation_temperature_c"]`` (one text alone is one constraint);
        every suggested and given point satisfies them.
    cost_aware : bool
        Weigh each suggestion's expected improvement against the time the reactor takes to move
        there (heater ramps and settling, flush, measurement; the reactor's own ramp rates and
        volumes), and run each batch in the order that takes least time.

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
    cost_aware = check_flag("cost_aware", cost_aware)
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
        optimizer=optimizer,
        constraints=constraints,
        cost_model=ReactorCostModel.from_reactor(reactor, flush_volumes=flush_volumes) if cost_aware else None,
    )
    return (yield from run_campaign(reactor, campaign, flush_volumes=flush_volumes, md=md, refill_twin_syringes=refill_twin_syringes,
                                    on_point_failure=on_point_failure))
