"""Feedback for campaigns started from Python or IPython: a progress bar, a line per point, a summary.

:class:`CampaignProgress` is a RunEngine callback. It reads only the documents a campaign emits
(its ``autonomous_campaign`` record runs and each point's derived ``analysis`` run; a point's line
appears once that run has closed, when the optimiser has the point), so it follows
``RE(autonomous_campaign(...))`` in the IPython session, in a script's ``open_session()`` (in a
terminal, or with ``progress=True``) and a campaign replayed from the catalog alike. When the campaign's summary record arrives it
prints the result and keeps it as :attr:`CampaignProgress.last_summary`, a :class:`CampaignSummary`.

:func:`campaign_summary` reads the same object back from the catalog, from any process.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .conditions import CONDITIONS, describe


@dataclass(frozen=True)
class CampaignSummary:
    """The result of one campaign, as its summary record stores it.

    Index it like the dict the plan returns (``summary["best_value"]``) or use the attributes.
    ``str(summary)`` is the two lines the command line prints.
    """

    campaign_id: str
    objective: str
    direction: str
    best: dict[str, float] | None
    best_value: float | None
    best_run_uid: str | None
    n_runs: int
    budget: int
    stop_reason: str | None
    run_uids: list[str] = field(default_factory=list)
    values: list[float | None] = field(default_factory=list)
    best_so_far: list[float | None] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_record(cls, record: Mapping[str, Any], campaign_id: str | None = None) -> CampaignSummary:
        """Build it from the plan's summary dict or a summary record's ``campaign_summary``."""
        known = {name for name in cls.__dataclass_fields__ if name != "extra"}
        values = {k: v for k, v in record.items() if k in known}
        values.setdefault("campaign_id", campaign_id)
        for key in ("campaign_id", "objective", "direction", "best", "best_value", "best_run_uid", "n_runs", "budget", "stop_reason"):
            values.setdefault(key, None)
        return cls(**values, extra={k: v for k, v in record.items() if k not in known})

    def __getitem__(self, key: str) -> Any:
        if key in self.__dataclass_fields__ and key != "extra":
            return getattr(self, key)
        return self.extra[key]

    def to_dict(self) -> dict[str, Any]:
        """The summary as the plain dict the plan returns."""
        return {**{k: getattr(self, k) for k in self.__dataclass_fields__ if k != "extra"}, **self.extra}

    def __str__(self) -> str:
        failed = self.extra.get("n_failed") or 0
        not_run = f", {failed} not run" if failed else ""
        lines = [f"campaign {self.campaign_id}: {self.n_runs}/{self.budget} points{not_run}, {self.stop_reason or 'stopped'}"]
        if self.best is not None and self.best_value is not None:
            where = describe(self.best, 4)
            lines.append(f"best {self.objective} = {self.best_value:.4g} at {where}; run {self.best_run_uid}")
        else:
            lines.append(f"no point gave a {self.objective} value")
        return "\n".join(lines)

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython shows the two lines, not the dataclass
        printer.text(str(self))


class CampaignProgress:
    """RunEngine callback: a progress bar and a line per campaign point; the summary at the end.

    A point the reactor could not run (a ``failed_point`` record) gets its line too, marked
    ``failed`` with the reason; a measured point whose analysis gave the objective no value (a
    failed trial for the optimiser) is marked ``no value``, with a note saying so.

    Parameters
    ----------
    console : rich.console.Console, optional
        Where to print (default: a new console on standard error).

    Examples
    --------
    >>> progress = CampaignProgress()
    >>> RE.subscribe(progress)  # doctest: +SKIP
    >>> RE(autonomous_campaign(reactor, "msc437", budget=10))  # doctest: +SKIP
    >>> progress.last_summary.best_value  # doctest: +SKIP
    """

    def __init__(self, console=None):
        from rich.console import Console

        self.console = console if console is not None else Console(stderr=True)
        self.last_summary: CampaignSummary | None = None
        self._campaign: dict[str, Any] | None = None
        self._progress = None
        self._task = None
        self._pending: dict[str, tuple[dict, str | None]] = {}
        #: The campaign's measure_point runs of a twin outside its validity domain: run uid → the reasons.
        self._extrapolated: dict[str, list[str]] = {}

    def __call__(self, name: str, doc: dict) -> None:
        if name == "stop":  # a point's line once its analysis (or failure) record is complete
            pending = self._pending.pop(doc.get("run_start"), None)
            if pending is not None and doc.get("exit_status") == "success":
                self._point(*pending)
            return
        if name != "start":
            return
        plan, role = doc.get("plan_name"), doc.get("campaign_role")
        if plan == "autonomous_campaign" and role in ("start", "resume"):
            self._begin(doc)
        elif self._campaign is None or doc.get("campaign_id") != self._campaign["id"]:
            return  # another campaign's run, or none's (a phase map): kept nowhere, so nothing accumulates
        elif plan == "autonomous_campaign" and role == "summary":
            self._finish(doc)
        elif plan == "autonomous_campaign" and role == "failed_point":  # a suggestion the reactor cannot run: on record, not measured
            failed = doc.get("failed_point") or {}
            point = {**(failed.get("conditions") or {}), "objective_value": None, "design_point": failed.get("design"), "not_run": True}
            self._pending[doc["uid"]] = (point, f"not run: {failed.get('reason')}")
        elif plan == "measure_point" and doc.get("extrapolated"):
            self._extrapolated[doc["uid"]] = list(doc.get("extrapolated_because") or [])
        elif plan == "analysis":
            reasons = self._extrapolated.pop(doc.get("analysis_of"), None)
            notes = [] if reasons is None else [f"twin extrapolated: {'; '.join(reasons)}"]
            if doc.get("objective_value") is None:  # measured, but the objective has no value (nc_size without NCs): a failed trial
                notes.insert(0, f"no {self._campaign['objective']} value in this point's analysis: a failed trial for the optimiser")
            self._pending[doc["uid"]] = (doc, "; ".join(notes) or None)

    def _begin(self, doc: dict) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        settings = doc.get("campaign_settings") or {}
        done = int(doc.get("points_tried", doc.get("points_done")) or 0)
        self._campaign = {
            "id": doc["campaign_id"],
            "objective": settings.get("objective", "objective"),
            "direction": settings.get("direction", "maximize"),
            "budget": int(settings.get("budget") or 0),
            "done": done,
            "best": doc.get("best_value_so_far"),  # a resumed campaign's points before the resume count
        }
        self._close_bar()
        self._progress = Progress(TextColumn("campaign"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=self.console)
        self._task = self._progress.add_task("campaign", total=self._campaign["budget"], completed=done)
        self._progress.start()
        verb = "resumes" if doc.get("campaign_role") == "resume" else "starts"
        # soft_wrap: a line longer than the console stays one line (a uid or a note is never split, logs grep whole)
        self.console.print(f"campaign {doc['campaign_id']} {verb}: {self._campaign['objective']}, budget {self._campaign['budget']}, {done} done",
                           soft_wrap=True)
        if done < self._campaign["budget"]:  # a resume of a spent budget measures nothing: no table under the line
            self.console.print(
                f"{'#':>4} " + " ".join(f"{c.column:>11}" for c in CONDITIONS) + f" {'kind':>7} {self._campaign['objective']:>14} {'best':>10}",
                soft_wrap=True,
            )

    def _point(self, doc: dict, note: str | None = None) -> None:
        campaign = self._campaign
        campaign["done"] += 1
        value = doc.get("objective_value")
        if value is not None and math.isfinite(value):
            better = max if campaign["direction"] == "maximize" else min
            campaign["best"] = value if campaign["best"] is None else better(campaign["best"], value)
        cells = " ".join(f"{doc[c.name]:>11.4g}" if doc.get(c.name) is not None else f"{'':>11}" for c in CONDITIONS)
        shown = ("failed" if doc.get("not_run") else "no value") if value is None else f"{value:.4g}"
        best = "—" if campaign["best"] is None else f"{campaign['best']:.4g}"
        kind = {True: "design", False: "model"}.get(doc.get("design_point"), "")
        row = f"{campaign['done']:>4} {cells} {kind:>7} {shown:>14} {best:>10}" + (f"  ({note})" if note else "")
        self.console.print(row, markup=False, highlight=False, soft_wrap=True)
        if self._progress is not None:
            self._progress.update(self._task, completed=campaign["done"])

    def _finish(self, doc: dict) -> None:
        self._close_bar()
        self.last_summary = CampaignSummary.from_record(doc.get("campaign_summary") or {}, doc["campaign_id"])
        self.console.print(str(self.last_summary), markup=False, highlight=False, soft_wrap=True)
        self._campaign = None

    def _close_bar(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def campaign_summary(client, campaign_id: str | None = None) -> CampaignSummary:
    """The summary of a finished campaign, read from the catalog.

    Parameters
    ----------
    client : tiled client
        The catalog (:func:`autolab.catalog.open_catalog`).
    campaign_id : str, optional
        The campaign; default the most recent campaign that has a summary record.

    Raises
    ------
    CatalogError
        If there is no such summary in the catalog (the campaign is still running or was killed).
    """
    from tiled.queries import Key

    from .errors import CatalogError

    records = client.search(Key("start.plan_name") == "autonomous_campaign").search(Key("start.campaign_role") == "summary")
    if campaign_id is not None:
        records = records.search(Key("start.campaign_id") == campaign_id)
    starts = sorted((run.metadata["start"] for run in records.values()), key=lambda start: start["time"])
    if not starts:
        which = f"campaign {campaign_id!r}" if campaign_id else "any campaign"
        msg = f"no summary of {which} in the catalog; a campaign writes it when it ends (`autolab campaign --resume ID` finishes a stopped one)"
        raise CatalogError(msg)
    return CampaignSummary.from_record(starts[-1].get("campaign_summary") or {}, starts[-1]["campaign_id"])
