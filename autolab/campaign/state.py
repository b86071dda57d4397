"""A closed-loop campaign's state: settings, optimiser, measured points, and its rebuild from the catalog.

:class:`Campaign` is what :func:`autolab.plans.autonomous_campaign` drives. It owns the
:class:`~autolab.optimize.GPOptimizer`, turns suggestions into reactor conditions (adding the
fixed ones), builds each point's start-document metadata, turns an analysis report into the
objective value, and keeps the list of finished points. Everything it knows is also in the
catalog, so :meth:`Campaign.resume` rebuilds it there after a crash or a stop:

- the campaign's settings: the ``autonomous_campaign`` run with ``campaign_role="start"``;
- each finished point: a ``measure_point`` run with the ``campaign_id`` and ``exit_status
  "success"`` (a point that did not finish — killed, aborted — is not a point of the campaign,
  and its conditions may be measured again);
- each point's objective value: the derived ``analysis`` run with ``analysis_of`` = the point's
  uid (re-made from the stored data if the process died between measuring and analysing);
- each point the reactor could not run (its conditions outside a limit, or more reagent than a
  full syringe holds): an ``autonomous_campaign`` run with ``campaign_role="failed_point"`` and
  the reason. Such a point costs no reagent but counts against the budget, as the optimiser's
  failed trials do, so a campaign in a region the reactor cannot reach still ends.

Points are numbered from 1 in the order they were tried, failed ones included.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..analysis.runs import jsonable
from ..conditions import NAMES
from ..errors import CatalogError, LimitError, check_range
from ..optimize import GPOptimizer

logger = logging.getLogger(__name__)

#: The reactor conditions a campaign can vary or fix.
CONDITIONS = NAMES
#: Conditions optimised on a log scale by default (a residence time spans decades).
LOG_SCALED = ("residence_time_s",)


@dataclass
class CampaignPoint:
    """One tried point of a campaign: measured, or (with ``failure``) not run by the reactor.

    ``index`` counts the points tried before it (0-based); ``number`` is the 1-based number shown
    in every message and table.
    """

    index: int
    suggestion_id: str
    conditions: dict[str, float]
    value: float | None
    run_uid: str | None
    design: bool
    acquisition_value: float | None = None
    analysis_uid: str | None = None
    failure: str | None = None

    @property
    def number(self) -> int:
        """The point's number, counted from 1 (failed points included)."""
        return self.index + 1


@dataclass
class CampaignSettings:
    """Everything that defines a campaign (stored in its start record, read back by resume)."""

    objective: str
    direction: str
    bounds: dict[str, list]
    fixed: dict[str, float]
    budget: int
    batch_size: int
    n_initial: int
    initial_design: list[dict[str, float]] = field(default_factory=list)
    seed: int = 0
    acquisition: str = "log_ei"
    objective_settings: dict[str, Any] = field(default_factory=dict)


def campaign_bounds(
    limits: Mapping[str, tuple[float, float]],
    bounds: Mapping[str, Sequence] | None,
    fixed: Mapping[str, float] | None,
) -> tuple[dict[str, list], dict[str, float]]:
    """Validate a campaign's search bounds and fixed conditions against the reactor's limits.

    Parameters
    ----------
    limits : mapping
        The reactor's ``limits()``: ``{"nucleation_temperature_c": (low, high), …}``.
    bounds : mapping, optional
        ``{"name": (low, high)}`` or ``(low, high, "log" | "linear")``; default: every condition
        not in ``fixed``, over the reactor's whole range (residence time log-scaled).
    fixed : mapping, optional
        Conditions held constant, ``{"growth_temperature_c": 280.0}``.

    Returns
    -------
    bounds, fixed : dict
        ``{"name": [low, high, scale]}`` and ``{"name": value}``, every condition in exactly one.

    Raises
    ------
    LimitError
        Naming the condition, the value and the reactor's allowed range.
    """
    fixed = {str(k): v for k, v in (fixed or {}).items()}
    if bounds is None:
        bounds = {name: limits[name] for name in CONDITIONS if name not in fixed}
    out: dict[str, list] = {}
    for name, spec in bounds.items():
        if name not in CONDITIONS:
            msg = f"bounds: unknown condition {name!r}; the campaign can vary {', '.join(CONDITIONS)}"
            raise LimitError(msg)
        if name in fixed:
            msg = f"{name} is both fixed ({fixed[name]!r}) and in bounds; give it in one of them"
            raise LimitError(msg)
        if not isinstance(spec, (list, tuple)) or len(spec) not in (2, 3):
            msg = f"bounds[{name!r}]={spec!r}: give (low, high) or (low, high, 'log' | 'linear')"
            raise LimitError(msg)
        low_limit, high_limit = limits[name]
        low = check_range(f"bounds[{name!r}] low", spec[0], low_limit, high_limit, _unit(name), what="reactor's")
        high = check_range(f"bounds[{name!r}] high", spec[1], low_limit, high_limit, _unit(name), what="reactor's")
        if not low < high:
            msg = f"bounds[{name!r}]: low {low!r} must be below high {high!r}"
            raise LimitError(msg)
        scale = spec[2] if len(spec) == 3 else ("log" if name in LOG_SCALED else "linear")
        if scale not in ("log", "linear"):
            msg = f"bounds[{name!r}]: scale {scale!r} must be 'log' or 'linear'"
            raise LimitError(msg)
        out[name] = [low, high, scale]
    checked_fixed = {}
    for name, value in fixed.items():
        if name not in CONDITIONS:
            msg = f"fixed: unknown condition {name!r}; the conditions are {', '.join(CONDITIONS)}"
            raise LimitError(msg)
        checked_fixed[name] = check_range(f"fixed {name}", value, *limits[name], _unit(name), what="reactor's")
    missing = [name for name in CONDITIONS if name not in out and name not in checked_fixed]
    if missing:
        msg = f"{', '.join(missing)}: neither in bounds nor fixed; give each condition a range or a value"
        raise LimitError(msg)
    if not out:
        msg = "every condition is fixed; give at least one condition a range in bounds"
        raise LimitError(msg)
    return out, checked_fixed


def _check_count(field: str, value: Any, low: int, high: int) -> int:
    number = check_range(field, value, low, high, "points")
    if number != int(number) or isinstance(value, bool):
        msg = f"{field}={value!r} must be a whole number of points in {low}–{high}"
        raise LimitError(msg)
    return int(number)


def _unit(name: str) -> str:
    return "s" if name.endswith("_s") else "°C"


class Campaign:
    """State of one autonomous campaign (see the module docstring).

    Parameters
    ----------
    limits : mapping
        The reactor's ``limits()``, against which bounds, fixed values and design points are checked.
    objective : str
        An objective declared by an analysis plugin (``autolab plugins`` lists them).
    bounds, fixed : mapping, optional
        Search space and held conditions (see :func:`campaign_bounds`).
    budget : int
        Points to try (1–1000): design points included, and points the reactor cannot run count too.
    batch_size : int
        Points suggested together (jointly chosen, accounting for pending ones).
    initial_design : int or list of dict, optional
        Number of Sobol design points before the model is used (default ``max(5, 2·d + 1)``), or
        the design points themselves as condition dicts.
    seed : int
        Seeds the design and the optimiser.
    acquisition : {"log_ei", "ucb"}
        The optimiser's acquisition function.
    objective_settings : dict, optional
        Passed to the objective hook (e.g. ``{"target_diameter_nm": 3.0}`` for ``nc_size``).
    manager : PluginManager, optional
        Analysis plugins (default: every installed one).
    campaign_id : str, optional
        Default: a new UUID.
    """

    def __init__(
        self,
        limits: Mapping[str, tuple[float, float]],
        objective: str = "msc437",
        bounds: Mapping[str, Sequence] | None = None,
        budget: int = 25,
        batch_size: int = 1,
        initial_design: int | Sequence[Mapping[str, float]] | None = None,
        seed: int = 0,
        *,
        fixed: Mapping[str, float] | None = None,
        acquisition: str = "log_ei",
        objective_settings: Mapping[str, Any] | None = None,
        manager=None,
        campaign_id: str | None = None,
    ):
        from ..analysis import PluginManager

        self.manager = manager if manager is not None else PluginManager()
        declared = self.manager.objectives()
        if objective not in declared:
            msg = f"objective={objective!r} is not provided by any plugin; available: {', '.join(sorted(declared))}"
            raise LimitError(msg)
        budget = _check_count("budget", budget, 1, 1000)
        batch_size = _check_count("batch_size", batch_size, 1, 20)
        space, held = campaign_bounds(limits, bounds, fixed)
        design: list[dict[str, float]] = []
        if initial_design is None:
            n_initial = max(5, 2 * len(space) + 1)
        elif isinstance(initial_design, (int, np.integer)):
            n_initial = _check_count("initial_design", initial_design, 1, budget)
        else:
            design = [self._check_design_point(limits, space, held, i, p) for i, p in enumerate(initial_design)]
            n_initial = len(design)
        self.settings = CampaignSettings(
            objective=objective,
            direction=declared[objective].get("direction", "maximize"),
            bounds=space,
            fixed=held,
            budget=budget,
            batch_size=batch_size,
            n_initial=n_initial,
            initial_design=design,
            seed=int(seed),
            acquisition=acquisition,
            objective_settings=dict(objective_settings or {}),
        )
        self.id = campaign_id or str(uuid.uuid4())
        #: Warnings about the settings, also logged (``autolab.campaign``) and kept in the summary.
        self.notes: list[str] = []
        if budget <= n_initial:
            self.notes.append(
                f"budget={budget} does not exceed the initial design of {n_initial} point(s) over {len(space)} "
                f"input(s), so every point is a space-filling design point and the GP model chooses none; "
                f"give a budget above {n_initial} or a smaller initial_design"
            )
        for note in self.notes:
            logger.warning(note)
        self.optimizer = GPOptimizer(
            {name: tuple(spec) for name, spec in space.items()},
            {objective: self.settings.direction},
            seed=int(seed),
            acquisition=acquisition,
            n_initial=n_initial,
            max_trials=budget,
        )
        self.points: list[CampaignPoint] = []
        self.failed: list[CampaignPoint] = []
        self.listeners: list[Callable[[Campaign, CampaignPoint], None]] = []
        self.resumed_from: int = 0

    @staticmethod
    def _check_design_point(limits, space, held, index, point) -> dict[str, float]:
        if not isinstance(point, Mapping):
            msg = f"initial_design[{index}]={point!r} must be a dict of conditions"
            raise LimitError(msg)
        out = {}
        for name in space:
            if name not in point:
                msg = f"initial_design[{index}] is missing {name!r}"
                raise LimitError(msg)
            low, high, _ = space[name]
            out[name] = check_range(f"initial_design[{index}] {name}", point[name], low, high, _unit(name), what="campaign's")
        return out

    # --- the loop's steps -------------------------------------------------------------------
    @property
    def remaining(self) -> int:
        """Points still to try within the budget (failed points count against it)."""
        return self.settings.budget - len(self.points) - len(self.failed)

    @property
    def n_tried(self) -> int:
        """Points tried so far: measured and failed."""
        return len(self.points) + len(self.failed)

    def next_batch(self) -> list[dict[str, Any]]:
        """The next suggestions (at most ``batch_size`` and the remaining budget).

        Each is ``{"_id", "conditions", "acquisition_value", "design", "model"}``.
        """
        n = min(self.settings.batch_size, self.remaining)
        design_done = sum(p.design for p in (*self.points, *self.failed))
        out = []
        for _ in range(n):
            model = self.optimizer.summary()
            if design_done < len(self.settings.initial_design):
                params = self.settings.initial_design[design_done]
                trial_id = f"design-{design_done}-{uuid.uuid4()}"
                self._add_pending(trial_id, params, None)
                design_done += 1
                design, acq = True, None
            else:
                (suggestion,) = self.optimizer.suggest(1)
                trial_id = suggestion.pop("_id")
                params = suggestion
                acq = self.optimizer.acquisition_value(trial_id)
                design = acq is None
            out.append(
                {
                    "_id": trial_id,
                    "conditions": {**params, **self.settings.fixed},
                    "acquisition_value": None if acq is None or not math.isfinite(acq) else float(acq),
                    "design": design,
                    "model": jsonable(model),
                }
            )
        return out

    def _add_pending(self, trial_id: str, params: dict[str, float], acquisition: float | None) -> None:
        """Make the optimiser know a trial it did not suggest itself (a given design point, a resumed point)."""
        x = self.optimizer.space.to_unit(params).tolist()
        self.optimizer.trials_[trial_id] = {"params": params, "x": x, "status": "pending", "outcomes": None, "acquisition": acquisition}

    def point_metadata(self, suggestion: Mapping[str, Any]) -> dict[str, Any]:
        """Start-document metadata of the point measuring ``suggestion``."""
        return {
            "campaign_id": self.id,
            "suggestion_id": suggestion["_id"],
            "campaign_point_index": self.n_tried,
            "campaign_objective": self.settings.objective,
            "acquisition_value": suggestion["acquisition_value"],
            "design_point": suggestion["design"],
            "model_summary": suggestion["model"],
            "analysis_inline": True,
        }

    def objective_value(self, metrics: Mapping[str, Any]) -> float:
        """The campaign's objective for one point's metrics (NaN: a failed trial)."""
        value = self.manager.objective(self.settings.objective, dict(metrics), self.settings.objective_settings)
        return float("nan") if value is None else float(value)

    def record(self, suggestion: Mapping[str, Any], run_uid: str, value: float, *, analysis_uid: str | None = None) -> CampaignPoint:
        """Give the optimiser one point's outcome and keep it; tell the listeners."""
        params = {name: suggestion["conditions"][name] for name in self.settings.bounds}
        self.optimizer.ingest([{**params, "_id": suggestion["_id"], self.settings.objective: value}])
        point = CampaignPoint(
            index=self.n_tried,
            suggestion_id=suggestion["_id"],
            conditions=dict(suggestion["conditions"]),
            value=value if math.isfinite(value) else None,
            run_uid=run_uid,
            design=bool(suggestion["design"]),
            acquisition_value=suggestion.get("acquisition_value"),
            analysis_uid=analysis_uid,
        )
        self.points.append(point)
        for listener in self.listeners:
            listener(self, point)
        return point

    def record_failure(self, suggestion: Mapping[str, Any], reason: str) -> CampaignPoint:
        """Register a point the reactor could not run as a failed trial; keep it with the reason.

        The optimiser learns it through its public ``register_failures`` (it never suggests the
        point again and its feasibility model avoids the region); the listeners are told.
        """
        self.optimizer.register_failures([{"_id": suggestion["_id"]}])
        point = CampaignPoint(
            index=self.n_tried,
            suggestion_id=suggestion["_id"],
            conditions=dict(suggestion["conditions"]),
            value=None,
            run_uid=None,
            design=bool(suggestion["design"]),
            acquisition_value=suggestion.get("acquisition_value"),
            failure=str(reason),
        )
        self.failed.append(point)
        for listener in self.listeners:
            listener(self, point)
        return point

    def failure_record(self, point: CampaignPoint) -> dict[str, Any]:
        """What the catalog keeps of a failed point (read back by :meth:`resume`)."""
        return jsonable(
            {
                "number": point.number,
                "suggestion_id": point.suggestion_id,
                "conditions": point.conditions,
                "design": point.design,
                "acquisition_value": point.acquisition_value,
                "reason": point.failure,
            }
        )

    def discard_pending(self) -> None:
        """Forget suggestions that were not measured (the loop stopped in a batch)."""
        for trial_id in [k for k, t in self.optimizer.trials_.items() if t["status"] == "pending"]:
            del self.optimizer.trials_[trial_id]

    # --- results -----------------------------------------------------------------------------
    def best(self) -> CampaignPoint | None:
        """The best finished point for the objective's direction (None before any success)."""
        scored = [p for p in self.points if p.value is not None]
        if not scored:
            return None
        sign = 1.0 if self.settings.direction == "maximize" else -1.0
        return max(scored, key=lambda p: sign * p.value)

    def best_so_far(self) -> list[float | None]:
        """Best value after each point, in measurement order."""
        out, best = [], None
        better = max if self.settings.direction == "maximize" else min
        for p in self.points:
            if p.value is not None:
                best = p.value if best is None else better(best, p.value)
            out.append(best)
        return out

    def settings_metadata(self) -> dict[str, Any]:
        """The campaign's settings as stored in its start record."""
        return jsonable(asdict(self.settings))

    def summary(self, stop_reason: str | None = None) -> dict[str, Any]:
        """The campaign's result: best point and value, runs, model state (JSON-ready)."""
        best = self.best()
        return jsonable(
            {
                "campaign_id": self.id,
                "objective": self.settings.objective,
                "direction": self.settings.direction,
                "best": None if best is None else best.conditions,
                "best_value": None if best is None else best.value,
                "best_run_uid": None if best is None else best.run_uid,
                "n_runs": len(self.points),
                "n_failed": len(self.failed),
                "failed_points": [self.failure_record(p) for p in self.failed],
                "budget": self.settings.budget,
                "run_uids": [p.run_uid for p in self.points],
                "values": [p.value for p in self.points],
                "best_so_far": self.best_so_far(),
                "model_summary": self.optimizer.summary(),
                "stop_reason": stop_reason,
                "resumed_from": self.resumed_from,
                "notes": list(self.notes),
            }
        )

    # --- rebuild from the catalog -------------------------------------------------------------
    @classmethod
    def resume(cls, client, campaign_id: str, limits: Mapping[str, tuple[float, float]], *, manager=None, sink=None) -> Campaign:
        """Rebuild a campaign from the catalog: settings, finished points and their values.

        Parameters
        ----------
        client : tiled client
            The catalog (:func:`autolab.catalog.open_catalog`).
        campaign_id : str
            The campaign to continue.
        limits : mapping
            The reactor's ``limits()`` (the stored bounds are checked against them again).
        manager : PluginManager, optional
            Analysis plugins, used where a finished point has no stored analysis.
        sink : callable, optional
            Where such a new analysis run goes (the catalog writer); without one it is not stored.

        Raises
        ------
        CatalogError
            If the catalog has no campaign with that id.
        """
        from ..analysis.runs import analysis_documents, analyze_run
        from ..catalog import find_runs

        records = [r for r in find_runs(client, plan_name="autonomous_campaign", campaign_id=campaign_id)]
        starts = [r.metadata["start"] for r in records if r.metadata["start"].get("campaign_role") == "start"]
        if not starts:
            msg = f"no campaign {campaign_id!r} in the catalog (no autonomous_campaign start record)"
            raise CatalogError(msg)
        stored = CampaignSettings(**starts[0]["campaign_settings"])
        campaign = cls(
            limits,
            stored.objective,
            {k: tuple(v) for k, v in stored.bounds.items()},
            stored.budget,
            stored.batch_size,
            stored.initial_design or stored.n_initial,
            stored.seed,
            fixed=stored.fixed,
            acquisition=stored.acquisition,
            objective_settings=stored.objective_settings,
            manager=manager,
            campaign_id=campaign_id,
        )
        analyses = {}
        for run in find_runs(client, plan_name="analysis", campaign_id=campaign_id):
            start = run.metadata["start"]
            if "objective_value" in start:
                analyses[start["analysis_of"]] = start
        opt = campaign.optimizer
        sobol_design = 0
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
                suggestion = {
                    "_id": failed["suggestion_id"],
                    "conditions": {name: float(v) for name, v in failed["conditions"].items()},
                    "design": bool(failed["design"]),
                    "acquisition_value": failed.get("acquisition_value"),
                }
                if suggestion["design"] and not str(suggestion["_id"]).startswith("design-"):
                    sobol_design += 1
                campaign._add_pending(suggestion["_id"], {n: suggestion["conditions"][n] for n in stored.bounds}, None)
                campaign.record_failure(suggestion, failed["reason"])
                continue
            analysis = analyses.get(start["uid"])
            if analysis is None:  # measured, but the process died before its analysis was stored
                report = analyze_run(client, start["uid"], campaign.manager)
                value = campaign.objective_value(report.metrics)
                if sink is not None:
                    md = campaign.analysis_md(start["suggestion_id"], value)
                    for name, doc in analysis_documents(dict(start), report, reanalysis=True, md=md):
                        sink(name, doc)
            else:
                value = analysis["objective_value"]
                value = float("nan") if value is None else float(value)
            suggestion = {
                "_id": start["suggestion_id"],
                "conditions": {name: float(start[name]) for name in CONDITIONS},
                "design": bool(start.get("design_point")),
                "acquisition_value": start.get("acquisition_value"),
            }
            if suggestion["design"] and not str(suggestion["_id"]).startswith("design-"):
                sobol_design += 1
            campaign._add_pending(suggestion["_id"], {n: suggestion["conditions"][n] for n in stored.bounds}, suggestion["acquisition_value"])
            campaign.record(suggestion, start["uid"], value, analysis_uid=None if analysis is None else analysis["uid"])
        # Continue the Sobol design where it stopped, and draw new trial ids from a fresh stream.
        opt.sobol_drawn_ = sobol_design
        resumes = sum(r.metadata["start"].get("campaign_role") == "resume" for r in records)
        opt.rng_ = np.random.default_rng([stored.seed, campaign.n_tried, resumes + 1])
        campaign.resumed_from = campaign.n_tried
        return campaign

    def analysis_md(self, suggestion_id: str, value: float) -> dict[str, Any]:
        """Extra start metadata of a campaign point's derived analysis run."""
        return {
            "campaign_id": self.id,
            "suggestion_id": suggestion_id,
            "objective": self.settings.objective,
            "objective_value": value if math.isfinite(value) else None,
        }
