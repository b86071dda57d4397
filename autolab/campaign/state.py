"""A campaign's state: its optimiser, the points it tried, and its summary.

:class:`Campaign` is itself an optimiser on bluesky-adaptive's protocols (``suggest``,
``ingest``, ``get_best_points``, ``register_failures``, ``should_stop``), wrapped around an inner
one — :class:`~autolab.optimize.GPOptimizer` by default, or any object on the ``Optimizer``
protocol. Around the inner optimiser it adds what a reactor campaign needs: the budget, a given
initial design, the fixed conditions, the start-document metadata of each point, the objective
from the analysis plugins, failed points with their reasons, and the list of finished points
with its summary. Points and designs reach the inner optimiser only through its public protocol
(``register_suggestions``, ``ingest``, ``register_failures``).

Everything a campaign knows is also in the catalog, so :func:`~autolab.campaign.resume.resume_campaign`
rebuilds it there after a crash or a stop. Points are numbered from 1 in the order they were
tried, failed ones included.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bluesky_adaptive.protocols import CanRegisterSuggestions, Optimizer, SupportsStoppingCriteria, TrialFaultAware

from ..analysis.runs import jsonable
from ..errors import LimitError, check_seed
from ..optimize import GPOptimizer
from ..optimize.gp import checked_outcomes
from .settings import CampaignSettings, campaign_bounds, campaign_constraints, check_count, check_design, check_design_constraints

logger = logging.getLogger(__name__)

#: A campaign's budget and batch size, points (inclusive): checked here and at the queue's door (autolab.queue_plans).
BUDGET_POINTS = (1, 1000)
BATCH_POINTS = (1, 20)


def learned(model_summary: Mapping[str, Any]) -> dict[str, Any]:
    """The learned GP hyperparameters of a model summary: ``length_scales`` and ``noise_level``, where present."""
    return {key: model_summary[key] for key in ("length_scales", "noise_level") if key in model_summary}


def _optimizer_flag(resumed: CampaignSettings | None, optimizer, setting: str, attribute: str) -> bool:
    """A campaign record's optimiser flag: as stored when resumed, else the given GPOptimizer's, else True."""
    if resumed is not None:
        return bool(getattr(resumed, setting))
    return bool(getattr(optimizer, attribute)) if isinstance(optimizer, GPOptimizer) else True


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


class Campaign:
    """State of one autonomous campaign (see the module docstring).

    Parameters
    ----------
    limits : mapping
        The reactor's ``limits()``, against which bounds, fixed values and design points are checked.
    objective : str
        An objective declared by an analysis plugin (``autolab plugins`` lists them).
    bounds, fixed : mapping, optional
        Search space and held conditions (see :func:`~autolab.campaign.settings.campaign_bounds`).
    budget : int
        Points to try (1–1000): design points included, and points the reactor cannot run count too.
    batch_size : int
        Points suggested together (jointly chosen, accounting for pending ones).
    initial_design : int or list of dict, optional
        Number of design points before the model is used, the centre of the domain and then Sobol
        points (default ``max(5, 3·d + 1)``, at most a quarter of the budget but never fewer than
        ``max(5, d + 1)``), or the design points themselves as condition dicts.
    seed : int
        Seeds the design and the optimiser.
    acquisition : {"log_ei", "ucb"}
        The default optimiser's acquisition function.
    objective_settings : dict, optional
        Passed to the objective hook (e.g. ``{"target_diameter_nm": 3.0}`` for ``nc_size``).
    manager : PluginManager, optional
        Analysis plugins (default: every installed one).
    campaign_id : str, optional
        Default: a new UUID.
    optimizer : object, optional
        Any optimiser on bluesky-adaptive's ``Optimizer`` protocol over the names in ``bounds``
        (its suggestions carry each of them); default a :class:`~autolab.optimize.GPOptimizer`
        built from the settings. ``register_suggestions``, ``register_failures`` and
        ``should_stop`` are used when it has them.
    constraints : str or sequence of str, optional
        Linear inequalities between conditions in their units, e.g.
        ``"growth_temperature_c <= nucleation_temperature_c"`` (one text alone is one); every suggestion and every given
        design point satisfies them (:func:`~autolab.campaign.settings.campaign_constraints`).
        The default optimiser only.
    cost_model : ReactorCostModel, optional
        Cost-aware suggestions and batch order (:mod:`autolab.optimize.cost`), e.g.
        ``ReactorCostModel.from_reactor(reactor)``; the fixed conditions are filled in. The
        default optimiser only.
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
        optimizer=None,
        constraints: Sequence[str] | None = None,
        cost_model=None,
        _resumed: CampaignSettings | None = None,
    ):
        from ..analysis import PluginManager

        self.manager = manager if manager is not None else PluginManager()
        declared = self.manager.objective_spec(objective)
        objective_settings = self.manager.check_objective_settings(objective, objective_settings)
        budget = check_count("budget", budget, *BUDGET_POINTS)
        seed = check_seed("seed", seed)
        batch_size = check_count("batch_size", batch_size, *BATCH_POINTS)
        space, held = campaign_bounds(limits, bounds, fixed)
        n_initial, design = check_design(initial_design, space, budget)
        if _resumed is not None and not _resumed.initial_design:
            # A resumed campaign keeps the design size it began with, even one above its budget or
            # from an earlier default rule (resume_campaign passes the stored settings).
            n_initial = _resumed.n_initial
        constraint_texts, on_space = campaign_constraints(constraints, space, held)
        check_design_constraints(design, held, constraint_texts)
        if optimizer is not None and (constraint_texts or cost_model is not None):
            given = "constraints" if constraint_texts else "cost_model"
            msg = f"{given} apply to the default optimiser; give them to the optimizer passed in instead"
            raise LimitError(msg)
        self.settings = CampaignSettings(
            objective=objective,
            direction=declared.get("direction", "maximize"),
            bounds=space,
            fixed=held,
            budget=budget,
            batch_size=batch_size,
            n_initial=n_initial,
            initial_design=design,
            seed=int(seed),
            acquisition=acquisition,
            objective_settings=dict(objective_settings or {}),
            constraints=constraint_texts,
            cost_aware=cost_model is not None,
            # What a resume builds without an optimiser passed in: the stored flags, a given
            # GPOptimizer's own, or the defaults.
            design_centre=_optimizer_flag(_resumed, optimizer, "design_centre", "centre_first"),
            map_fit=_optimizer_flag(_resumed, optimizer, "map_fit", "map_fit"),
        )
        self.id = campaign_id or str(uuid.uuid4())
        #: Warnings about the settings, also logged (``autolab.campaign``) and kept in the summary.
        self.notes: list[str] = []
        if budget <= n_initial:
            self.notes.append(
                f"budget={budget} does not exceed the initial design of {n_initial} point(s) over {len(space)} "
                f"input(s), so every point is a space-filling design point and the GP model chooses none; "
                f"give a budget above {n_initial} or a smaller initial_design (--initial-design)"
            )
        for note in self.notes:
            logger.warning(note)
        if optimizer is None:
            optimizer = GPOptimizer(
                {name: tuple(spec) for name, spec in space.items()},
                {objective: self.settings.direction},
                seed=int(seed),
                acquisition=acquisition,
                n_initial=n_initial,
                max_trials=budget,
                constraints=on_space,
                cost_model=None if cost_model is None else cost_model.with_fixed(held),
                # A campaign stored before the centre point and the MAP fit were defaults goes on without them.
                centre_first=self.settings.design_centre,
                map_fit=self.settings.map_fit,
            )
        elif not isinstance(optimizer, Optimizer):
            msg = f"optimizer={optimizer!r} lacks suggest, ingest or get_best_points (bluesky-adaptive's Optimizer protocol)"
            raise TypeError(msg)
        self.optimizer = optimizer
        self.points: list[CampaignPoint] = []
        self.failed: list[CampaignPoint] = []
        self.listeners: list[Callable[[Campaign, CampaignPoint], None]] = []
        self.resumed_from: int = 0
        #: A resumed campaign's GP hyperparameters as its records last hold them (``length_scales``,
        #: ``noise_level``; :meth:`model_summary`); ``{}`` for a new one.
        self.model_on_record: dict[str, Any] = {}
        #: Suggestions handed out and not yet ingested or failed: ``_id`` → what the campaign knows of it.
        self.pending: dict[str, dict[str, Any]] = {}

    # --- bluesky-adaptive's protocol ----------------------------------------------------------
    def suggest(self, num_points: int | None = None) -> list[dict[str, Any]]:
        """The next suggestions, ``{"_id": …, <every condition>: value}`` (fixed ones included).

        At most ``num_points`` (default the batch size) and the remaining budget; the given
        initial design comes first, then the inner optimiser's suggestions. With a cost model
        the batch comes in the order that takes the reactor least time.
        """
        n = min(self.settings.batch_size if num_points is None else int(num_points), self.remaining)
        design_done = sum(p.design for p in (*self.points, *self.failed)) + sum(s["given"] for s in self.pending.values())
        out = []
        for _ in range(n):
            model = self.model_summary()
            if design_done < len(self.settings.initial_design):
                params = dict(self.settings.initial_design[design_done])
                trial_id, known = self._register(params)
                design_done += 1
                given, acq = True, None
            else:
                (suggestion,) = self.optimizer.suggest(1)
                trial_id, known, given = suggestion["_id"], True, False
                params = self._params_of(suggestion)
                acq = self._acquisition_value(trial_id)
                # The trial counts stay those before the point; the learned hyperparameters are those
                # of the model that chose it (fitted in this suggest).
                model.update(learned(self.model_summary()))
            self.pending[trial_id] = {
                "conditions": {**params, **self.settings.fixed},
                "acquisition_value": None if acq is None or not math.isfinite(acq) else float(acq),
                "design": given or acq is None,
                "given": given,
                "known": known,
                "model": jsonable(model),
            }
            out.append({"_id": trial_id, **self.pending[trial_id]["conditions"]})
        order = getattr(self.optimizer, "order_suggestions", None)
        if self.settings.cost_aware and order is not None and all(self.pending[s["_id"]]["known"] for s in out):
            by_id = {s["_id"]: s for s in out}  # the batch in the order that takes least time to run
            out = [by_id[s["_id"]] for s in order([{"_id": s["_id"]} for s in out])]
        return out

    def ingest(self, points: Sequence[Mapping[str, Any]]) -> None:
        """Record measured outcomes: ``{"_id", <objective>: value, "run_uid", "analysis_uid"}`` each.

        A None or NaN objective is a failed trial for the optimiser (the point stays measured).
        """
        known = (*self.settings.bounds, *self.settings.fixed, "run_uid", "analysis_uid")
        values = [checked_outcomes(outcome, [self.settings.objective], known, f"outcome {index} of {len(points)}")
                  for index, outcome in enumerate(points, start=1)]
        for outcome, checked in zip(points, values, strict=True):
            info = self._take_pending(outcome["_id"])
            value = checked[self.settings.objective]
            value = math.nan if value is None else value
            self._tell_optimizer(outcome["_id"], info, value)
            self._keep(
                self.points,
                outcome["_id"],
                info,
                value=value if math.isfinite(value) else None,
                run_uid=outcome.get("run_uid"),
                analysis_uid=outcome.get("analysis_uid"),
            )

    def register_failures(self, suggestions: Sequence[Mapping[str, Any]]) -> None:
        """Register points the reactor could not run (``{"_id", "reason"}``) as failed trials.

        The inner optimiser learns them (it never suggests the point again, and the GP's
        feasibility model avoids the region); each is kept with its reason and counts against the budget.
        """
        for suggestion in suggestions:
            info = self._take_pending(suggestion["_id"])
            if info["known"] and isinstance(self.optimizer, TrialFaultAware):
                self.optimizer.register_failures([{"_id": suggestion["_id"]}])
            else:
                self._tell_optimizer(suggestion["_id"], info, math.nan)
            self._keep(self.failed, suggestion["_id"], info, failure=str(suggestion.get("reason", "failed")))

    def should_stop(self) -> tuple[bool, str | None]:
        """Stop when the budget is spent, or when the inner optimiser says so."""
        if self.remaining <= 0:
            return True, "budget spent"
        if isinstance(self.optimizer, SupportsStoppingCriteria):
            return self.optimizer.should_stop()
        return False, None

    def get_best_points(self) -> list[tuple[str, dict, dict]]:
        """The best finished point as ``(_id, conditions, {objective: value})`` (empty before one)."""
        best = self.best()
        return [] if best is None else [(best.suggestion_id, dict(best.conditions), {self.settings.objective: best.value})]

    def discard_pending(self) -> None:
        """Forget suggestions that will not be measured (the loop stopped inside a batch)."""
        withdraw = getattr(self.optimizer, "withdraw", None)
        known = [trial_id for trial_id, info in self.pending.items() if info["known"]]
        if withdraw is not None and known:
            withdraw(known)
        self.pending.clear()

    # --- what the loop and the records need ---------------------------------------------------
    @property
    def remaining(self) -> int:
        """Points still to try within the budget (failed points count against it)."""
        return self.settings.budget - len(self.points) - len(self.failed)

    @property
    def n_tried(self) -> int:
        """Points tried so far: measured and failed."""
        return len(self.points) + len(self.failed)

    def point_metadata(self, suggestion_id: str) -> dict[str, Any]:
        """Start-document metadata of the point measuring suggestion ``suggestion_id``.

        ``campaign_objective`` and ``objective_settings`` let the live analysis callback store the
        point's objective value with its analysis.
        """
        info = self.pending[suggestion_id]
        return {
            "campaign_id": self.id,
            "suggestion_id": suggestion_id,
            "campaign_point_index": self.n_tried,
            "campaign_objective": self.settings.objective,
            "objective_settings": dict(self.settings.objective_settings),
            "acquisition_value": info["acquisition_value"],
            "design_point": info["design"],
            "model_summary": info["model"],
        }

    def objective_value(self, metrics: Mapping[str, Any]) -> float:
        """The campaign's objective for one point's metrics (NaN: a failed trial)."""
        value = self.manager.objective(self.settings.objective, dict(metrics), self.settings.objective_settings)
        return float("nan") if value is None else float(value)

    def failure_record(self, point: CampaignPoint) -> dict[str, Any]:
        """What the catalog keeps of a failed point (read back by resume)."""
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

    def restore(self, suggestion_id: str, conditions: Mapping[str, float], *, design: bool, acquisition_value: float | None,
                run_uid: str | None = None, value: float | None = None, analysis_uid: str | None = None,
                failure: str | None = None) -> None:
        """Take back one point tried before a stop (resume): measured, or failed with ``failure``.

        The inner optimiser learns it through ``register_suggestions`` and ``ingest`` (or
        ``register_failures``), under its original ``_id``.
        """
        params = {name: float(conditions[name]) for name in self.settings.bounds}
        trial_id, known = self._register(params, suggestion_id)
        self.pending[trial_id] = {
            "conditions": {name: float(v) for name, v in conditions.items()},
            "acquisition_value": acquisition_value,
            "design": bool(design),
            "given": False,
            "known": known,
            "model": {},
        }
        if failure is not None:
            self.register_failures([{"_id": trial_id, "reason": failure}])
        else:
            self.ingest([{"_id": trial_id, self.settings.objective: value, "run_uid": run_uid, "analysis_uid": analysis_uid}])

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

    def model_summary(self) -> dict[str, Any]:
        """The inner optimiser's ``summary()`` (trial counts, GP length scales, noise), or ``{}``.

        A resumed campaign's optimiser has learned nothing until its first model step; until then
        the hyperparameters are those last on record (:attr:`model_on_record`).
        """
        summary = getattr(self.optimizer, "summary", None)
        out = dict(summary()) if callable(summary) else {}
        if "length_scales" not in out and self.model_on_record:
            out.update(self.model_on_record)
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
                "model_summary": self.model_summary(),
                "stop_reason": stop_reason,
                "resumed_from": self.resumed_from,
                "notes": list(self.notes),
            }
        )

    @classmethod
    def resume(cls, client, campaign_id: str, limits: Mapping[str, tuple[float, float]], *, manager=None, sink=None,
               optimizer=None, cost_model=None) -> Campaign:
        """Rebuild a campaign from the catalog (:func:`~autolab.campaign.resume.resume_campaign`)."""
        from .resume import resume_campaign

        return resume_campaign(client, campaign_id, limits, manager=manager, sink=sink, optimizer=optimizer, factory=cls,
                               cost_model=cost_model)

    # --- internals -----------------------------------------------------------------------------
    def _register(self, params: dict[str, float], trial_id: str | None = None) -> tuple[str, bool]:
        """Tell the inner optimiser about a point it did not suggest; ``(_id, whether it knows the _id)``."""
        if isinstance(self.optimizer, CanRegisterSuggestions):
            (registered,) = self.optimizer.register_suggestions([{**params, **({"_id": trial_id} if trial_id else {})}])
            return registered["_id"], True
        return trial_id or f"design-{uuid.uuid4()}", False

    def _params_of(self, suggestion: Mapping[str, Any]) -> dict[str, float]:
        missing = [name for name in self.settings.bounds if name not in suggestion]
        if missing:
            msg = f"the optimiser's suggestion {dict(suggestion)!r} lacks {', '.join(missing)}; it must cover the campaign's bounds"
            raise LimitError(msg)
        return {name: float(suggestion[name]) for name in self.settings.bounds}

    def _acquisition_value(self, trial_id: str) -> float | None:
        value = getattr(self.optimizer, "acquisition_value", None)
        return value(trial_id) if callable(value) else None

    def _take_pending(self, trial_id: str) -> dict[str, Any]:
        try:
            return self.pending.pop(trial_id)
        except KeyError:
            msg = f"_id={trial_id!r} is not a pending suggestion of campaign {self.id}"
            raise LimitError(msg) from None

    def _tell_optimizer(self, trial_id: str, info: Mapping[str, Any], value: float) -> None:
        params = {name: info["conditions"][name] for name in self.settings.bounds}
        self.optimizer.ingest([{**params, "_id": trial_id, self.settings.objective: value}])

    def _keep(self, where: list[CampaignPoint], trial_id: str, info: Mapping[str, Any], **result: Any) -> None:
        point = CampaignPoint(
            index=self.n_tried,
            suggestion_id=trial_id,
            conditions=dict(info["conditions"]),
            design=bool(info["design"]),
            acquisition_value=info["acquisition_value"],
            **{"value": None, "run_uid": None, **result},
        )
        where.append(point)
        for listener in self.listeners:
            listener(self, point)
