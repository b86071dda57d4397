"""The one campaign loop: suggest → acquire → evaluate → ingest, until the campaign says stop.

The loop is written on bluesky-adaptive's ``OptimizationProblem``: its ``optimizer`` is the
:class:`~autolab.campaign.Campaign` (itself on the ``Optimizer`` protocol), its
``acquisition_plan`` measures one suggestion and returns an :class:`Acquired`, and its
``evaluation_function`` turns that into the outcome the campaign ingests. Two problems use it:

- in process (:func:`~autolab.campaign.plan.run_campaign`): the acquisition is the
  ``measure_point`` plan on the RunEngine, the evaluation reads what the live analysis callback
  made of the run;
- through the queue (:func:`autolab.agent.run_agent`): the acquisition adds a ``measure_point``
  item to the queue and waits for its run, the evaluation reads the analysis run the worker's
  live callback stored in the catalog. Its plan yields no message; :func:`run_without_engine`
  drives it.

It differs from bluesky-adaptive's ``optimize`` plan where a reactor campaign needs it: each
suggestion of a batch is acquired, evaluated and ingested in turn (the reactor measures one point
at a time, and a long campaign keeps every finished point); a suggestion the reactor can never
run becomes a failed trial on record instead of failing the whole batch; an acquisition may stop
the campaign with a reason (syringes empty, a point not approved) without losing what was done;
and the campaign's settings, failed points and summary are written as record runs.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from bluesky_adaptive.protocols import OptimizationProblem


@dataclass
class Acquired:
    """What an acquisition plan made of one suggestion.

    Exactly one of ``run_uid`` (measured), ``failure`` (the reactor can never run it: a failed
    trial, and the campaign goes on) and ``stopped`` (the campaign must stop before it, with this
    reason; the suggestion is dropped) is set.
    """

    run_uid: str | None = None
    failure: str | None = None
    stopped: str | None = None
    #: Whatever the evaluation needs besides the run uid (the analysis run's uid, its values).
    details: dict[str, Any] = field(default_factory=dict)


#: ``record(role, **metadata)``: a plan writing one campaign record run (start, resume, failed_point, summary).
Recorder = Callable[..., Generator[Any, Any, Any]]


def campaign_loop(problem: OptimizationProblem, record: Recorder, *, md: dict[str, Any] | None = None,
                  summary_extra: Callable[[], dict[str, Any]] | None = None) -> Generator[Any, Any, dict]:
    """Drive ``problem.optimizer`` (a :class:`~autolab.campaign.Campaign`) until it says stop; return its summary.

    Parameters
    ----------
    problem : bluesky_adaptive.protocols.OptimizationProblem
        ``optimizer`` the campaign; ``acquisition_plan(suggestions, actuators, sensors, md=…)``
        a plan returning an :class:`Acquired` for its one suggestion; ``evaluation_function(acquired,
        suggestions)`` the outcomes (``{"_id", <objective>: value, "run_uid", "analysis_uid"}``).
    record : callable
        ``record(role, **metadata)``, a plan writing one campaign record run.
    md : dict, optional
        Metadata for every point (added to the campaign's own); the point's ``shared_md_keys``
        lists them, so its analysis run carries them too.
    summary_extra : callable, optional
        Returns entries added to the summary at the end (e.g. syringe refills).

    Yields
    ------
    msg : Msg
        Whatever the record and acquisition plans yield.

    Returns
    -------
    summary : dict
        :meth:`Campaign.summary`, with ``stop_reason``.
    """
    campaign = problem.optimizer
    extra = dict(md or {})
    if extra:  # the campaign's metadata reaches every run of it, the analysis runs included
        extra["shared_md_keys"] = sorted(extra)
    best = campaign.best()
    yield from record(
        "resume" if campaign.resumed_from else "start",
        campaign_settings=campaign.settings_metadata(),
        points_done=len(campaign.points),
        points_tried=campaign.n_tried,
        best_value_so_far=None if best is None else best.value,
    )
    stop_reason = None
    while stop_reason is None:
        stop, reason = campaign.should_stop()
        if stop:
            stop_reason = reason or "optimiser stopped"
            break
        for suggestion in campaign.suggest():
            acquired = yield from problem.acquisition_plan(
                [suggestion], problem.actuators, problem.sensors, md={**campaign.point_metadata(suggestion["_id"]), **extra}
            )
            if acquired.stopped is not None:
                campaign.discard_pending()
                stop_reason = acquired.stopped
                break
            if acquired.failure is not None:
                campaign.register_failures([{"_id": suggestion["_id"], "reason": acquired.failure}])
                yield from record("failed_point", failed_point=campaign.failure_record(campaign.failed[-1]))
                continue
            campaign.ingest(problem.evaluation_function(acquired, [suggestion]))
    summary = campaign.summary(stop_reason)
    summary.update(summary_extra() if summary_extra is not None else {})
    yield from record("summary", campaign_summary={k: v for k, v in summary.items() if k != "campaign_id"})
    return summary


def run_without_engine(plan: Generator[Any, Any, Any]) -> Any:
    """Run a plan that yields no message (the queue agent's loop) to its end; return its value.

    Raises
    ------
    RuntimeError
        If the plan yields a message: it needs a RunEngine.
    """
    try:
        msg = next(plan)
    except StopIteration as stop:
        return stop.value
    plan.close()
    message = f"this loop has no RunEngine, but its plan yielded {msg!r}"
    raise RuntimeError(message)
