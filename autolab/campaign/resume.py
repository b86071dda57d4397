"""Rebuild a campaign from the catalog after a crash or a stop.

What the catalog keeps of a campaign, and where:

- its settings: the ``autonomous_campaign`` run with ``campaign_role="start"``;
- each finished point: a ``measure_point`` run with the ``campaign_id`` and ``exit_status
  "success"`` (a point that did not finish — killed, aborted — is not a point of the campaign,
  and its conditions may be measured again);
- each point's objective value: the derived ``analysis`` run with ``analysis_of`` = the point's
  uid (made again from the stored data if the process died between measuring and analysing);
- each point the reactor could not run (its conditions outside a limit, or more reagent than a
  full syringe holds): an ``autonomous_campaign`` run with ``campaign_role="failed_point"`` and
  the reason. Such a point costs no reagent but counts against the budget, as the optimiser's
  failed trials do, so a campaign in a region the reactor cannot reach still ends.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

from ..conditions import NAMES
from ..errors import CatalogError
from .settings import CampaignSettings

logger = logging.getLogger(__name__)


def resolve_campaign_id(client, text: str) -> str:
    """The id of the stored campaign ``text`` names: its id, or the first characters (≥ 5) of one only; else :class:`CatalogError`.

    The error names the newest campaigns the catalog holds, or says a prefix is too short.
    """
    from ..catalog import find_runs

    stored = [run.metadata["start"] for run in find_runs(client, plan_name="autonomous_campaign")]
    ids = list(dict.fromkeys(start["campaign_id"] for start in stored if start.get("campaign_role") == "start"))
    if text in ids:
        return text
    matches = [campaign for campaign in ids if campaign.startswith(text)]
    if len(matches) == 1 and len(text) >= 5:
        return matches[0]
    if matches and len(text) < 5:
        msg = f"campaign {text!r} is too short: give at least 5 characters of a campaign id"
    elif len(matches) > 1:
        msg = f"{len(matches)} campaigns start with {text!r}: {', '.join(matches)}; give more characters"
    elif ids:
        newest = ", ".join(ids[-5:][::-1])
        msg = f"no campaign {text!r} in the catalog; it holds {len(ids)} campaign(s), the newest: {newest}"
    else:
        msg = f"no campaign {text!r} in the catalog: it holds no campaign (no autonomous_campaign start record)"
    raise CatalogError(msg)


def resume_campaign(client, campaign_id: str, limits: Mapping[str, tuple[float, float]], *, manager=None, sink=None,
                    optimizer=None, factory=None, cost_model=None):
    """Rebuild a campaign from the catalog: settings, tried points and their values, in the order tried.

    Parameters
    ----------
    client : tiled client
        The catalog (:func:`autolab.catalog.open_catalog`).
    campaign_id : str
        The campaign to continue: its id, or the first characters of it (at least 5) if only
        one stored campaign's id starts with them.
    limits : mapping
        The reactor's ``limits()`` (the stored bounds are checked against them again).
    manager : PluginManager, optional
        Analysis plugins, used where a finished point has no stored analysis.
    sink : callable, optional
        Where such a new analysis run goes (the catalog writer); without one it is not stored.
    optimizer : object, optional
        A fresh inner optimiser (default: a new :class:`~autolab.optimize.GPOptimizer` from the
        stored settings); the tried points reach it through its public protocol.
    factory : type, optional
        The campaign class (default :class:`~autolab.campaign.Campaign`).
    cost_model : ReactorCostModel, optional
        The reactor's cost model (:meth:`ReactorCostModel.from_reactor`), used if the campaign
        was cost-aware; such a campaign resumed without one goes on without costs (a warning says so).

    Returns
    -------
    Campaign
        With ``resumed_from`` the number of points tried before.

    Raises
    ------
    CatalogError
        If the catalog has no campaign with that id.
    """
    from ..analysis.runs import analysis_documents, analyze_point
    from ..catalog import find_runs, load_point
    from .state import Campaign

    factory = factory or Campaign

    def records_of(campaign_id):
        records = list(find_runs(client, plan_name="autonomous_campaign", campaign_id=campaign_id))
        return records, [r.metadata["start"] for r in records if r.metadata["start"].get("campaign_role") == "start"]

    records, starts = records_of(campaign_id)
    if not starts:  # not a whole id: the first characters of one
        campaign_id = resolve_campaign_id(client, campaign_id)
        records, starts = records_of(campaign_id)
    stored = CampaignSettings(**starts[0]["campaign_settings"])
    if manager is None:
        from ..analysis import PluginManager

        manager = PluginManager()
    campaign = factory(
        limits,
        stored.objective,
        {k: tuple(v) for k, v in stored.bounds.items()},
        stored.budget,
        stored.batch_size,
        _stored_design(stored),
        stored.seed,
        fixed=stored.fixed,
        acquisition=stored.acquisition,
        objective_settings=_settings_the_objective_takes(manager, stored.objective, stored.objective_settings, campaign_id),
        manager=manager,
        campaign_id=campaign_id,
        optimizer=optimizer,
        constraints=stored.constraints,
        cost_model=cost_model if stored.cost_aware else None,
        _resumed=stored,
    )
    if stored.cost_aware and cost_model is None:
        note = f"campaign {campaign_id} was cost-aware, but no cost model was given to resume it, so it goes on without move costs"
        campaign.notes.append(note)
        logger.warning(note)
    analyses = {}
    for run in find_runs(client, plan_name="analysis", campaign_id=campaign_id):
        start = run.metadata["start"]
        if "objective_value" in start:
            analyses[start["analysis_of"]] = start
    tried = []  # (start time, kind, start document): measured and failed points in the order tried
    for run in find_runs(client, plan_name="measure_point", campaign_id=campaign_id):
        start, stop = run.metadata["start"], run.metadata.get("stop") or {}
        if stop.get("exit_status") == "success":
            tried.append((start["time"], "measured", start))
    for record in records:
        start = record.metadata["start"]
        if start.get("campaign_role") == "failed_point":
            tried.append((start["time"], "failed", start))
    for _, kind, start in sorted(tried, key=lambda item: item[0]):
        if kind == "failed":
            failed = start["failed_point"]
            campaign.restore(failed["suggestion_id"], failed["conditions"], design=bool(failed["design"]),
                             acquisition_value=failed.get("acquisition_value"), failure=failed["reason"])
            continue
        analysis = analyses.get(start["uid"])
        if analysis is None:  # measured, but the process died before its analysis was stored
            report = analyze_point(load_point(client[start["uid"]]), campaign.manager)
            value = campaign.objective_value(report.metrics)
            if sink is not None:
                md = {"objective": stored.objective, "objective_value": value if math.isfinite(value) else None}
                for name, doc in analysis_documents(dict(start), report, reanalysis=True, md=md):
                    sink(name, doc)
        else:
            value = analysis["objective_value"]
        campaign.restore(
            start["suggestion_id"],
            {name: start[name] for name in NAMES},
            design=bool(start.get("design_point")),
            acquisition_value=start.get("acquisition_value"),
            run_uid=start["uid"],
            value=value,
            analysis_uid=None if analysis is None else analysis["uid"],
        )
    campaign.resumed_from = campaign.n_tried
    campaign.model_on_record = _last_learned_model([start for _, kind, start in tried if kind == "measured"], records)
    return campaign


def _last_learned_model(points: list[dict], records: list) -> dict:
    """The GP hyperparameters last on record (length scales, noise level): of the latest point's or
    summary record's ``model_summary`` that has them; ``{}`` before the model chose a point."""
    found = [(start["time"], start.get("model_summary") or {}) for start in points]
    for record in records:
        start = record.metadata["start"]
        if start.get("campaign_role") == "summary":
            found.append((start["time"], (start.get("campaign_summary") or {}).get("model_summary") or {}))
    from .state import learned

    with_scales = [(time, model) for time, model in found if "length_scales" in model]
    return learned(max(with_scales, key=lambda item: item[0])[1]) if with_scales else {}


def _stored_design(stored: CampaignSettings):
    """The ``initial_design`` argument that a campaign's stored design passes the checks with.

    The given points, if any; else the stored size, at most the budget. The campaign then keeps
    the stored size itself (``Campaign(…, _resumed=stored)``): a default design larger than the
    budget, or one of an earlier default rule, is not a size a new campaign would get.
    """
    if stored.initial_design:
        return stored.initial_design
    return min(stored.n_initial, stored.budget)


def _settings_the_objective_takes(manager, objective: str, settings: Mapping, campaign_id: str) -> dict:
    """The stored objective settings that the objective declares, the others dropped with a warning.

    A campaign stored before its objective declared its settings may hold one the objective never
    read; it ran without it, and resumes so.
    """
    declared = manager.objectives().get(objective, {}).get("settings")
    settings = dict(settings or {})
    if not isinstance(declared, Mapping):
        return settings
    dropped = sorted(set(settings) - set(declared))
    if dropped:
        logger.warning("campaign %s: objective %r takes no setting %s; it resumes without, as it ran", campaign_id, objective,
                       ", ".join(dropped))
    return {key: value for key, value in settings.items() if key in declared}
