"""Agent mode: the optimiser outside the worker, one queue item per suggestion.

``autolab agent`` keeps the :class:`~autolab.campaign.Campaign` (and its GP) in its own process
and talks to a running RE Manager through bluesky-queueserver-api: each suggestion becomes one
``measure_point`` item at the back of the queue, so a person can add their own plans between
points, pause the queue or stop it. It runs the same loop as the in-process campaign
(:func:`~autolab.campaign.loop.campaign_loop`), with the queue as the acquisition: the worker
measures and analyses the point (its live ``AnalysisCallback`` stores the derived run with the
objective value); the agent reads that run in the catalog the queue records (the same one the
worker writes) and ingests it. While it waits it
also watches the queue item: an item that fails, is aborted or halted, or is removed from the
queue before it runs, stops the agent with that reason; so does a manager that stops answering.
The campaign's records (start/resume/summary) are written by the agent through its own
journaled writer. Because every point and its analysis are in the catalog, an
agent restarted with ``--resume CAMPAIGN_ID`` continues where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bluesky_adaptive.protocols import OptimizationProblem
from event_model import compose_run

from .analysis.runs import jsonable
from .campaign import Acquired, Campaign, campaign_loop, run_without_engine
from .conditions import NAMES
from .errors import AutolabError, LimitError
from .interrupt import CtrlCAtSafePoints

#: queueserver exit statuses of an item that did not finish its plan.
FAILED_ITEM_STATUSES = ("failed", "aborted", "halted", "unknown")
#: Seconds the manager may fail to answer in a row before the agent gives up.
MANAGER_SILENCE_S = 60.0


def record(sink, campaign: Campaign, role: str, **md: Any) -> str:
    """Write one campaign record run (start document + stop) through ``sink`` (a CatalogWriter)."""
    bundle = compose_run(metadata=jsonable({"plan_name": "autonomous_campaign", "campaign_id": campaign.id, "campaign_role": role,
                                            "agent": True, **md}))
    sink("start", bundle.start_doc)
    sink("stop", bundle.compose_stop(exit_status="success"))
    return bundle.start_doc["uid"]


def _find_point(client, campaign_id: str, suggestion_id: str):
    """The point run measuring ``suggestion_id`` of campaign ``campaign_id``, and its analysis run.

    Suggestion ids come from the optimiser's seeded generator, so two campaigns with one seed
    share them: the campaign id tells their points apart.
    """
    from tiled.queries import Key

    found = client.search(Key("start.campaign_id") == campaign_id).search(Key("start.suggestion_id") == suggestion_id)
    runs = list(found.values())
    point = next((r for r in runs if r.metadata["start"].get("plan_name") == "measure_point"), None)
    uid = None if point is None else point.metadata["start"]["uid"]
    analysis = next((r for r in runs if r.metadata["start"].get("plan_name") == "analysis"
                     and r.metadata["start"].get("analysis_of") == uid), None)
    return point, analysis


class QueueAcquisition:
    """The agent's acquisition: one suggestion becomes one ``measure_point`` item at the back of the queue.

    It yields no message (the queue's worker runs the plan); it returns when the point's run and
    the analysis run the worker's live analysis stored for it are in the catalog, or with the
    reason the campaign stops (an item that failed, was aborted or removed, a suggestion not
    approved). See :func:`run_agent` for the parameters.
    """

    def __init__(self, api, open_client, campaign: Campaign, *, approve=None, check=None, poll_s: float = 1.0,
                 point_timeout_s: float = 3600.0):
        self.api = api
        self.open_client = open_client
        self.campaign = campaign
        self.approve = approve
        self.check = check
        self.poll_s = poll_s
        self.point_timeout_s = point_timeout_s

    def __call__(self, suggestions, actuators=None, sensors=None, md=None):
        (suggestion,) = suggestions
        if self.approve is not None and not self.approve(self.campaign.pending[suggestion["_id"]] | {"_id": suggestion["_id"]}):
            return Acquired(stopped="suggestion not approved")
        conditions = {name: suggestion[name] for name in NAMES}
        if self.check is not None:
            try:
                self.check(conditions)
            except LimitError as exc:
                return Acquired(failure=str(exc))
        from bluesky_queueserver_api import BPlan

        added = self.api.item_add(BPlan("measure_point", "reactor", *conditions.values(), md=jsonable(dict(md or {}))))
        item_uid = added["item"]["item_uid"]
        _start_queue(self.api)
        uid, analysis, why = _wait_for_result(self.api, self.open_client, self.campaign.id, suggestion["_id"], item_uid,
                                              self.poll_s, self.point_timeout_s)
        if uid is None:  # the point failed or was aborted in the worker
            _remove_item(self.api, item_uid)
            return Acquired(stopped=f"point {len(self.campaign.points) + 1} ({suggestion['_id']}) did not finish in the queue: {why}")
        _drop_if_requeued(self.api, item_uid)
        return Acquired(run_uid=uid, details={"analysis": analysis})
        yield  # a plan, though one without messages


class CatalogEvaluation:
    """The agent's evaluation: the objective value in the analysis run the worker's live analysis stored."""

    def __init__(self, campaign: Campaign):
        self.campaign = campaign

    def __call__(self, acquired: Acquired, suggestions) -> list[dict[str, Any]]:
        (suggestion,) = suggestions
        start = acquired.details["analysis"]
        objective = self.campaign.settings.objective
        if start.get("objective") == objective and "objective_value" in start:
            value = start["objective_value"]
        else:  # analysed by a worker without the campaign's objective in the start document
            value = self.campaign.objective_value(flat_metrics(start))
        return [{"_id": suggestion["_id"], objective: value, "run_uid": acquired.run_uid, "analysis_uid": start["uid"]}]


def run_agent(
    api,
    open_client: Callable[[], Any],
    campaign: Campaign,
    sink,
    *,
    approve: Callable[[dict], bool] | None = None,
    poll_s: float = 1.0,
    point_timeout_s: float = 3600.0,
    on_point: Callable[[Campaign, Any], None] | None = None,
    check: Callable[[dict[str, float]], Any] | None = None,
) -> dict:
    """Drive ``campaign`` through the queue until it says stop; return its summary.

    The same loop as the in-process campaign (:func:`~autolab.campaign.loop.campaign_loop`),
    with the queue as its acquisition (:class:`QueueAcquisition`) and the catalog as its
    evaluation (:class:`CatalogEvaluation`).

    Parameters
    ----------
    api : REManagerAPI
        bluesky-queueserver-api client of a running manager with an open environment.
    open_client : callable
        Returns a fresh catalog client; each look at the catalog opens one and closes it after (the worker
        writes from another process).
    campaign : Campaign
        New, or from :meth:`Campaign.resume`.
    sink : callable
        The agent's catalog writer, for the campaign's record runs.
    approve : callable, optional
        Called with each suggestion (``_id``, ``conditions``, ``design``, ``acquisition_value``,
        ``model``) before it is queued; False stops the agent (nothing queued).
    poll_s : float
        Seconds between looks at the catalog and the queue while a point is measured.
    point_timeout_s : float
        Seconds to wait for one point (the queue may be paused or busy with other plans).
    on_point : callable, optional
        Called with the campaign and each :class:`~autolab.campaign.CampaignPoint` as it completes.
    check : callable, optional
        Called with each suggestion's conditions before it is queued; a :class:`LimitError` (a
        point the reactor can never run, :func:`autolab.campaign.feasible_point`) makes it a
        failed trial on record, as in :func:`~autolab.campaign.run_campaign`, and the agent goes on.

    Returns
    -------
    dict
        :meth:`Campaign.summary`; its ``stop_reason`` is ``"budget spent"``, ``"suggestion not
        approved"`` or why a point did not finish in the queue (the point numbered from 1).

    Raises
    ------
    AutolabError
        If a point gives no result within ``point_timeout_s`` or the manager stops answering.
    """
    if on_point is not None:
        campaign.listeners.append(on_point)
    problem = OptimizationProblem(
        optimizer=campaign,
        actuators=["reactor"],
        sensors=[],
        evaluation_function=CatalogEvaluation(campaign),
        acquisition_plan=QueueAcquisition(api, open_client, campaign, approve=approve, check=check, poll_s=poll_s,
                                          point_timeout_s=point_timeout_s),
    )

    def record_run(role: str, **md: Any):
        record(sink, campaign, role, **md)
        yield from ()

    return run_without_engine(campaign_loop(problem, record_run))


def _wait_for_result(
    api, open_client, campaign_id: str, suggestion_id: str, item_uid: str, poll_s: float, timeout_s: float
) -> tuple[str | None, dict | None, str]:
    """Poll the catalog for the point's run and analysis, and the queue for its item's fate.

    Returns ``(run uid, analysis start document, "")`` for a finished point, ``(None, None,
    reason)`` for one that failed in the worker.
    """
    deadline = time.monotonic() + timeout_s
    answered = time.monotonic()
    missing = 0
    with CtrlCAtSafePoints() as ctrl_c:  # Ctrl-C stops the agent between looks, never inside tiled's request
        while time.monotonic() < deadline:
            ctrl_c.check()
            client = open_client()
            try:
                point, analysis = _find_point(client, campaign_id, suggestion_id)
            finally:
                client.context.close()  # a served catalog's connections go now (an embedded one's app is the process's: it stays)
            if point is not None:
                stop = point.metadata.get("stop") or {}
                if stop and stop.get("exit_status") != "success":
                    return None, None, f"run exit status {stop.get('exit_status')!r}"
                if stop and analysis is not None:
                    return point.metadata["start"]["uid"], dict(analysis.metadata["start"]), ""
            try:
                where, result = _item_state(api, item_uid)
                answered = time.monotonic()
            except Exception as exc:
                if time.monotonic() - answered > MANAGER_SILENCE_S:
                    msg = f"RE Manager has not answered for {MANAGER_SILENCE_S:g} s ({exc}); is the queue running? (`autolab queue status`)"
                    raise AutolabError(msg) from None
                where, result = "unknown", {}
            if where == "history" and result.get("exit_status") in FAILED_ITEM_STATUSES:
                return None, None, f"item {result['exit_status']}: {result.get('msg') or 'no message'}"
            missing = missing + 1 if where == "missing" else 0
            if missing >= 2:  # twice: an item moving from the queue to the history is briefly in neither
                return None, None, "item removed from the queue before it ran"
            ctrl_c.sleep(poll_s)
    msg = f"no result for suggestion {suggestion_id} within {timeout_s:g} s; is the queue running? (`autolab queue status`)"
    raise AutolabError(msg)


def flat_metrics(analysis_start: dict) -> dict[str, Any]:
    """An analysis run's stored metrics as objectives take them: ``{"plugin.metric": value}``.

    Examples
    --------
    >>> flat_metrics({"metrics": {"uvvis": {"msc_absorbance_CdSe-437": 0.11, "nc_exciton_nm": 512.0}}})
    {'uvvis.msc_absorbance_CdSe-437': 0.11, 'uvvis.nc_exciton_nm': 512.0}

    Catalogs written before the band metrics lost their dot (``msc_absorbance__CdSe-437``) read
    under today's names, so such campaigns resume with the same objective.
    """
    metrics = analysis_start.get("metrics", {})
    return {
        f"{plugin}.{name.replace('msc_absorbance__', 'msc_absorbance_').replace('__', '.')}": v
        for plugin, values in metrics.items()
        for name, v in values.items()
    }


def _drop_if_requeued(api, item_uid: str) -> None:
    """Remove a measured point's item that is back in the queue (aborted after its run finished).

    queueserver puts an aborted item back at the front; measuring it again would repeat the point.
    """
    try:
        if _item_state(api, item_uid)[0] == "queued":
            _remove_item(api, item_uid)
    except Exception:  # the manager is busy or gone: the point is measured either way
        pass


def _start_queue(api) -> None:
    """Start the queue if it is idle; a person (or another client) starting it first is fine."""
    if api.status()["manager_state"] != "idle":
        return
    try:
        api.queue_start()
    except Exception:
        if api.status()["manager_state"] == "idle":  # still idle: the refusal was about something else
            raise


def _remove_item(api, item_uid: str) -> None:
    """Take the agent's failed item out of the queue, where queueserver puts it back at the front."""
    try:
        api.item_remove(uid=item_uid)
    except Exception:  # not in the queue (the operator removed it, or the worker aborted it out)
        pass


def queued_points(api, campaign_id: str) -> list[int]:
    """Numbers (from 1) of campaign ``campaign_id``'s points whose items are still in the queue, running or waiting.

    What an agent stopped by Ctrl-C leaves behind: the worker measures such a point, and a
    resume counts it once its run is in the catalog.
    """
    queue = api.queue_get()
    items = [queue.get("running_item") or {}, *queue.get("items", [])]
    return [
        md["campaign_point_index"] + 1
        for item in items
        if item.get("name") == "measure_point"
        and (md := (item.get("kwargs") or {}).get("md") or {}).get("campaign_id") == campaign_id
        and "campaign_point_index" in md
    ]


def _item_state(api, item_uid: str) -> tuple[str, dict]:
    """Where the queue item ``item_uid`` is: ``("history", result)``, ``"running"``, ``"queued"`` or ``"missing"``."""
    for item in reversed(api.history_get()["items"]):
        if item.get("item_uid") == item_uid:
            return "history", item.get("result") or {}
    queue = api.queue_get()
    if (queue.get("running_item") or {}).get("item_uid") == item_uid:
        return "running", {}
    if any(item.get("item_uid") == item_uid for item in queue.get("items", [])):
        return "queued", {}
    return "missing", {}
