"""Agent mode: the optimiser outside the worker, one queue item per suggestion.

``autolab agent`` keeps the :class:`~autolab.campaign.Campaign` (and its GP) in its own process
and talks to a running RE Manager through bluesky-queueserver-api: each suggestion becomes one
``measure_point`` item at the back of the queue, so a person can add their own plans between
points, pause the queue or stop it. The worker measures and analyses the point (its live
``AnalysisCallback`` stores the derived run); the agent reads the objective from that run in the
catalog and ingests it. The campaign's records (start/resume/summary) are written by the agent
through its own journaled writer. Because every point and its analysis are in the catalog, an
agent restarted with ``--resume CAMPAIGN_ID`` continues where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from event_model import compose_run

from .analysis.runs import jsonable
from .campaign import CONDITIONS, Campaign
from .errors import AutolabError


def record(sink, campaign: Campaign, role: str, **md: Any) -> str:
    """Write one campaign record run (start document + stop) through ``sink`` (a CatalogWriter)."""
    bundle = compose_run(metadata=jsonable({"plan_name": "autonomous_campaign", "campaign_id": campaign.id, "campaign_role": role,
                                            "agent": True, **md}))
    sink("start", bundle.start_doc)
    sink("stop", bundle.compose_stop(exit_status="success"))
    return bundle.start_doc["uid"]


def _find_point(client, suggestion_id: str):
    from tiled.queries import Key

    runs = list(client.search(Key("start.suggestion_id") == suggestion_id).values())
    point = next((r for r in runs if r.metadata["start"].get("plan_name") == "measure_point"), None)
    analysis = next((r for r in runs if r.metadata["start"].get("plan_name") == "analysis"), None)
    return point, analysis


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
) -> dict:
    """Drive ``campaign`` through the queue until its budget is spent; return its summary.

    Parameters
    ----------
    api : REManagerAPI
        bluesky-queueserver-api client of a running manager with an open environment.
    open_client : callable
        Returns a fresh catalog client (re-opened each poll: the worker writes from another process).
    campaign : Campaign
        New, or from :meth:`Campaign.resume`.
    sink : callable
        The agent's catalog writer, for the campaign's record runs.
    approve : callable, optional
        Called with each suggestion before it is queued; False stops the agent (nothing queued).
    """
    if on_point is not None:
        campaign.listeners.append(on_point)
    record(sink, campaign, "resume" if campaign.resumed_from else "start", campaign_settings=campaign.settings_metadata(),
           points_done=len(campaign.points))
    stop_reason = "budget spent"
    while campaign.remaining > 0 and stop_reason == "budget spent":
        for suggestion in campaign.next_batch():
            if approve is not None and not approve(suggestion):
                campaign.discard_pending()
                stop_reason = "suggestion not approved"
                break
            c = suggestion["conditions"]
            md = {k: v for k, v in campaign.point_metadata(suggestion).items() if k != "analysis_inline"}
            from bluesky_queueserver_api import BPlan

            api.item_add(BPlan("measure_point", "reactor", *(c[name] for name in CONDITIONS), md=jsonable(md)))
            if api.status()["manager_state"] == "idle":
                api.queue_start()
            value, uid = _wait_for_result(open_client, campaign, suggestion["_id"], poll_s, point_timeout_s)
            if uid is None:  # the point failed or was aborted in the worker
                campaign.discard_pending()
                stop_reason = f"point {suggestion['_id']} did not finish in the queue"
                break
            campaign.record(suggestion, uid, value)
    summary = campaign.summary(stop_reason)
    record(sink, campaign, "summary", campaign_summary={k: v for k, v in summary.items() if k != "campaign_id"})
    return summary


def _wait_for_result(open_client, campaign: Campaign, suggestion_id: str, poll_s: float, timeout_s: float) -> tuple[float, str | None]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        point, analysis = _find_point(open_client(), suggestion_id)
        if point is not None:
            stop = point.metadata.get("stop") or {}
            if stop and stop.get("exit_status") != "success":
                return float("nan"), None
            if stop and analysis is not None:
                metrics = analysis.metadata["start"].get("metrics", {})
                flat = {f"{plugin}.{name.replace('__', '.')}": v for plugin, values in metrics.items() for name, v in values.items()}
                return campaign.objective_value(flat), point.metadata["start"]["uid"]
        time.sleep(poll_s)
    msg = f"no result for suggestion {suggestion_id} within {timeout_s:g} s; is the queue running?"
    raise AutolabError(msg)
