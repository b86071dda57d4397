"""Sweeps: many dry-run campaigns — seeds × settings — run in parallel on Dask distributed.

A sweep is the grid of a :class:`SweepSpec`: every combination of its list-valued settings
(objective, acquisition, batch size, cost-aware or not, bound sets), each run once per seed. Each
campaign is a task on a Dask cluster — a :class:`distributed.LocalCluster` of worker processes on
127.0.0.1 by default, or the scheduler given as ``tcp://HOST:PORT`` — and runs the twin with its
own session (:func:`autolab.runtime.open_session`) into one catalog, every run tagged with the
sweep's ``sweep_id`` and the campaign's ``sweep_setting``. A campaign that fails is reported with
its error and the others go on.

Everything a spec says is checked in the calling process before the cluster starts: unknown keys,
values of the wrong type, empty seed ranges, bounds and objectives the reactor or the plugins do
not know, and a budget that does not exceed the initial design (a sweep compares optimisers, and a
design-only campaign has none).

>>> spec = SweepSpec.from_mapping({"objective": ["msc437", "yield"], "seeds": "0-2", "budget": 12})
>>> [s.label for s in spec.settings()]
['objective=msc437', 'objective=yield']
>>> len(spec.tasks("/tmp/catalog", "sweep-1"))
6
"""

from __future__ import annotations

import itertools
import math
import statistics
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import LimitError

#: Keys a sweep spec may give, with what each holds. List-valued settings span the grid.
SPEC_KEYS = {
    "objective": "an objective name, or a list of them (`autolab plugins`)",
    "seeds": 'seeds as "A-B", "A,B,C" or a list of whole numbers',
    "budget": "points per campaign, design included (a whole number)",
    "initial_design": ("design points per campaign, the centre then Sobol points (a whole number; "
                       "default max(5, 3d+1), at most a quarter of the budget but at least max(5, d+1))"),
    "batch_size": "points per model update, or a list of them",
    "acquisition": '"log_ei" or "ucb", or a list of them',
    "cost_aware": "true or false, or [false, true]",
    "bounds": "a table NAME = [LOW, HIGH] or [LOW, HIGH, \"log\"], or a list of such tables",
    "fix": "a table NAME = VALUE of conditions held constant",
    "constraints": "a list of linear inequalities between conditions",
}
#: The settings whose lists span the grid, in the order a setting's label names them.
GRID_KEYS = ("objective", "acquisition", "batch_size", "cost_aware", "bounds")
#: A campaign counts as at target once its best so far is within this fraction of its setting's best.
TARGET_FRACTION = 0.95


def parse_seeds(text: str | int | Sequence[int]) -> list[int]:
    """``"0-3"`` → ``[0, 1, 2, 3]``; ``"1,5,7"`` and ``[1, 5, 7]`` as given; an empty range is refused."""
    if isinstance(text, bool):
        msg = f"seeds={text!r}: give {SPEC_KEYS['seeds']}"
        raise LimitError(msg)
    if isinstance(text, int):
        return [text]
    if not isinstance(text, str):
        values = list(text)
        if not values or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            msg = f"seeds={values!r}: give {SPEC_KEYS['seeds']}"
            raise LimitError(msg)
        return values
    seeds: list[int] = []
    for part in text.replace(" ", "").split(","):
        low, dash, high = part.partition("-")
        try:
            first, last = int(low), int(high if dash else low)
        except ValueError:
            msg = f"seeds={text!r}: {part!r} is not a whole number or a range A-B"
            raise LimitError(msg) from None
        if last < first:
            msg = f"seeds={text!r}: the range {part!r} is empty; write the low seed first"
            raise LimitError(msg)
        seeds.extend(range(first, last + 1))
    if not seeds:
        msg = f"seeds={text!r}: no seed given"
        raise LimitError(msg)
    return seeds


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, list | tuple) else [value]


def _whole(key: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) or not low <= value <= high:
        msg = f"{key}={value!r} must be a whole number in {low}–{high}"
        raise LimitError(msg)
    return int(value)


@dataclass(frozen=True)
class SweepSetting:
    """One point of a sweep's grid: the campaign settings every seed of it runs with."""

    objective: str
    acquisition: str = "log_ei"
    batch_size: int = 1
    cost_aware: bool = False
    bounds: Mapping[str, Sequence] | None = None
    label: str = ""


@dataclass
class SweepSpec:
    """What a sweep runs: a grid of settings, seeds, and what every campaign shares.

    Build it with :meth:`from_mapping` (a TOML spec file's table, or the command's options), which
    checks every key and value and says which one is wrong.
    """

    objectives: list[str]
    seeds: list[int]
    budget: int
    initial_design: int | None = None
    batch_sizes: list[int] = field(default_factory=lambda: [1])
    acquisitions: list[str] = field(default_factory=lambda: ["log_ei"])
    cost_aware: list[bool] = field(default_factory=lambda: [False])
    bound_sets: list[dict[str, list] | None] = field(default_factory=lambda: [None])
    fixed: dict[str, float] = field(default_factory=dict)
    constraints: list[str] = field(default_factory=list)

    @classmethod
    def from_mapping(cls, spec: Mapping[str, Any]) -> SweepSpec:
        """A spec from ``{"objective": …, "seeds": …, "budget": …}``; :class:`LimitError` names a bad key or value."""
        unknown = sorted(set(spec) - set(SPEC_KEYS))
        if unknown:
            msg = f"sweep spec: unknown key {unknown[0]!r}; the keys are {', '.join(SPEC_KEYS)}"
            raise LimitError(msg)
        for key in ("objective", "seeds", "budget"):
            if key not in spec:
                msg = f"sweep spec: {key!r} is missing ({SPEC_KEYS[key]})"
                raise LimitError(msg)
        objectives = _as_list(spec["objective"])
        if not objectives or not all(isinstance(o, str) and o for o in objectives):
            msg = f"objective={spec['objective']!r}: give {SPEC_KEYS['objective']}"
            raise LimitError(msg)
        acquisitions = _as_list(spec.get("acquisition", "log_ei"))
        for a in acquisitions:
            if a not in ("log_ei", "ucb"):
                msg = f"acquisition={a!r}: give {SPEC_KEYS['acquisition']}"
                raise LimitError(msg)
        cost_aware = _as_list(spec.get("cost_aware", False))
        if not cost_aware or not all(isinstance(c, bool) for c in cost_aware):
            msg = f"cost_aware={spec.get('cost_aware')!r}: give {SPEC_KEYS['cost_aware']}"
            raise LimitError(msg)
        if True in cost_aware and "ucb" in acquisitions:
            msg = ("acquisition='ucb' with cost_aware=true is in the grid, but a cost-aware choice weighs log-EI values: "
                   "give cost_aware=false or acquisition='log_ei', or run them as two sweeps")
            raise LimitError(msg)
        bound_sets = [None] if spec.get("bounds") is None else _as_list(spec["bounds"])
        for bounds in bound_sets:
            if bounds is not None and not isinstance(bounds, Mapping):
                msg = f"bounds={bounds!r}: give {SPEC_KEYS['bounds']}"
                raise LimitError(msg)
            for name, bound in (bounds or {}).items():
                numbers = list(bound)[:2] if isinstance(bound, list | tuple) else []
                if len(numbers) != 2 or not all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers):
                    msg = f"bounds.{name}={bound!r}: give [LOW, HIGH] or [LOW, HIGH, \"log\"] in the condition's unit"
                    raise LimitError(msg)
        fixed = spec.get("fix") or {}
        if not isinstance(fixed, Mapping):
            msg = f"fix={fixed!r}: give {SPEC_KEYS['fix']}"
            raise LimitError(msg)
        for name, value in fixed.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                msg = f"fix.{name}={value!r} is not a number"
                raise LimitError(msg)
        constraints = _as_list(spec.get("constraints") or [])
        if not all(isinstance(c, str) for c in constraints):
            msg = f"constraints={constraints!r}: give {SPEC_KEYS['constraints']}"
            raise LimitError(msg)
        initial = spec.get("initial_design")
        return cls(
            objectives=objectives,
            seeds=parse_seeds(spec["seeds"]),
            budget=_whole("budget", spec["budget"], 1, 1000),
            initial_design=None if initial is None else _whole("initial_design", initial, 1, 1000),
            batch_sizes=[_whole("batch_size", b, 1, 20) for b in _as_list(spec.get("batch_size", 1))],
            acquisitions=acquisitions,
            cost_aware=cost_aware,
            bound_sets=[None if b is None else {k: list(v) for k, v in b.items()} for b in bound_sets],
            fixed={k: float(v) for k, v in fixed.items()},
            constraints=constraints,
        )

    @classmethod
    def from_file(cls, path: str | Path, overrides: Mapping[str, Any] | None = None) -> SweepSpec:
        """A spec from a TOML file, with ``overrides`` (the command's options) taking precedence."""
        import tomllib

        try:
            with open(path, "rb") as handle:
                loaded = tomllib.load(handle)
        except OSError as exc:
            msg = f"sweep spec {str(path)!r} cannot be read: {exc.strerror}"
            raise LimitError(msg) from None
        except tomllib.TOMLDecodeError as exc:
            msg = f"sweep spec {str(path)!r} is not valid TOML: {exc}"
            raise LimitError(msg) from None
        return cls.from_mapping({**loaded, **(overrides or {})})

    def settings(self) -> list[SweepSetting]:
        """The grid: one :class:`SweepSetting` per combination of the list-valued settings."""
        grid = {"objective": self.objectives, "acquisition": self.acquisitions, "batch_size": self.batch_sizes,
                "cost_aware": self.cost_aware, "bounds": self.bound_sets}
        varying = [key for key in GRID_KEYS if len(grid[key]) > 1]
        out = []
        for values in itertools.product(*(grid[key] for key in GRID_KEYS)):
            chosen = dict(zip(GRID_KEYS, values, strict=True))
            parts = [f"{key}={chosen[key]}" if key != "bounds" else f"bounds#{self.bound_sets.index(chosen[key]) + 1}"
                     for key in varying]
            out.append(SweepSetting(**chosen, label=" ".join(parts) if parts else f"objective={chosen['objective']}"))
        return out

    def tasks(self, catalog: str, sweep_id: str, *, time_scale: float = 0.0, api_key: str | None = None) -> list[dict[str, Any]]:
        """One task per campaign (setting × seed), as :func:`run_sweep_campaign` takes it."""
        return [
            {"sweep_id": sweep_id, "catalog": catalog, "seed": seed, "budget": self.budget, "initial_design": self.initial_design,
             "objective": s.objective, "acquisition": s.acquisition, "batch_size": s.batch_size, "cost_aware": s.cost_aware,
             "bounds": None if s.bounds is None else dict(s.bounds), "fixed": dict(self.fixed), "constraints": list(self.constraints),
             "setting": s.label, "time_scale": time_scale, "api_key": api_key}
            for s in self.settings() for seed in self.seeds
        ]

    def check(self, reactor) -> None:
        """Build every setting's campaign on ``reactor`` without running it; one line on the first problem.

        Besides what :class:`~autolab.campaign.Campaign` checks (objective, bounds, fixed values,
        constraints), a budget that does not exceed the initial design is refused. A problem of one
        setting of a grid of several names the setting (``bounds#2: …``).
        """
        from .campaign.settings import campaign_bounds, check_design

        several = len(self.settings()) > 1
        for task in self.tasks("", "check")[:: len(self.seeds)]:
            try:
                # The design's size first: a campaign built with a budget within it would note so itself.
                space, _ = campaign_bounds(reactor.limits(), task["bounds"], task["fixed"] or None)
                n_initial, _ = check_design(task["initial_design"], space, task["budget"])
                if self.budget <= n_initial:
                    msg = (
                        f"budget={self.budget} does not exceed the initial design of {n_initial} point(s) "
                        f"({task['setting']}); give budget ≥ {n_initial + 1} or a smaller initial_design (--initial-design)"
                    )
                    raise LimitError(msg)
                _campaign(task, reactor)
            except LimitError as exc:
                if not several or str(exc).startswith("budget="):
                    raise
                msg = f"{task['setting']}: {exc}"
                raise LimitError(msg) from exc


def _campaign(task: Mapping[str, Any], reactor):
    """The :class:`~autolab.campaign.Campaign` of one task on ``reactor`` (checked, not run)."""
    from .campaign import Campaign
    from .optimize.cost import ReactorCostModel

    cost_model = ReactorCostModel.from_reactor(reactor) if task["cost_aware"] else None
    return Campaign(reactor.limits(), task["objective"], task["bounds"], task["budget"], task["batch_size"],
                    task["initial_design"], task["seed"], fixed=task["fixed"] or None, acquisition=task["acquisition"],
                    constraints=task["constraints"] or None, cost_model=cost_model)


def run_sweep_campaign(task: Mapping[str, Any]) -> dict[str, Any]:
    """Run one campaign of a sweep on a twin of its own, into the sweep's catalog; its result row.

    This is what a Dask worker runs. Every run the campaign makes carries ``sweep_id`` and
    ``sweep_setting`` in its start document. Besides the summary's numbers, the row has the
    campaign's wall time and its parts: ``open_s`` (catalog and session), ``points_s`` (the
    campaign plan) and ``flush_s`` (the writer catching up with the catalog). The live analysis runs as in any session; the slow
    deferred hooks do not (a sweep compares optimisers on their objective).
    """
    from .campaign.plan import keeping_summary, run_campaign
    from .runtime import open_session

    started = time.perf_counter()
    phases: dict[str, float] = {}
    session = open_session(task["catalog"], seed=task["seed"], time_scale=task["time_scale"], api_key=task.get("api_key"),
                           deferred=False, progress=False)
    # A Dask worker runs tasks off the main thread, where no SIGINT handler can be installed; the
    # cluster, not Ctrl-C, stops a sweep's campaigns.
    session.RE.context_managers = []
    phases["open_s"] = time.perf_counter() - started
    try:
        campaign = _campaign(task, session.reactor)
        result: dict[str, Any] = {}

        md = {"sweep_id": task["sweep_id"], "sweep_setting": task["setting"]}
        mark = time.perf_counter()
        session.RE(keeping_summary(run_campaign(session.reactor, campaign, md=md, refill_twin_syringes=True), result))
        phases["points_s"] = time.perf_counter() - mark
        mark = time.perf_counter()
        session.writer.flush(timeout=600)
        phases["flush_s"] = time.perf_counter() - mark
    finally:
        session.close()
    summary = result["summary"]
    return {
        "campaign_id": summary["campaign_id"], "setting": task["setting"], "seed": task["seed"],
        "objective": summary["objective"], "direction": summary["direction"], "best_value": summary["best_value"],
        "best": summary["best"], "n_runs": summary["n_runs"], "n_failed": summary["n_failed"],
        "best_so_far": summary["best_so_far"], "stop_reason": summary["stop_reason"],
        "wall_s": time.perf_counter() - started, **phases,
    }


def points_to_target(best_so_far: Sequence[float | None], reference: float, direction: str,
                     fraction: float = TARGET_FRACTION) -> int | None:
    """The first point (counted from 1) whose best so far is within ``1 − fraction`` of ``reference``; None if never.

    For a maximised objective the target is ``reference − (1 − fraction)·|reference|``; for a
    minimised one, ``reference + (1 − fraction)·|reference|``.
    """
    margin = (1.0 - fraction) * abs(reference)
    for index, value in enumerate(best_so_far, start=1):
        if value is None:
            continue
        if (direction == "maximize" and value >= reference - margin) or (direction == "minimize" and value <= reference + margin):
            return index
    return None


def sweep_table(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Add ``points_to_95`` to each campaign's row: against the best any campaign of its objective found."""
    best: dict[str, float] = {}
    for row in rows:
        if row.get("best_value") is None:
            continue
        value, key = row["best_value"], row["objective"]
        better = max if row["direction"] == "maximize" else min
        best[key] = value if key not in best else better(best[key], value)
    out = []
    for row in rows:
        reference = best.get(row.get("objective"))
        reached = None if reference is None or "best_so_far" not in row else points_to_target(row["best_so_far"], reference, row["direction"])
        out.append({**row, "points_to_95": reached})
    return out


def setting_quartiles(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, list[float]]]:
    """Per setting, the median and quartiles of the best-so-far curves (over its seeds), point by point."""
    curves: dict[str, list[list[float]]] = {}
    for row in rows:
        if row.get("best_so_far"):
            curves.setdefault(row["setting"], []).append([math.nan if v is None else float(v) for v in row["best_so_far"]])
    out = {}
    for setting, runs in curves.items():
        length = max(len(c) for c in runs)
        columns = [[c[i] for c in runs if i < len(c) and not math.isnan(c[i])] for i in range(length)]
        quartiles = [statistics.quantiles(col, n=4, method="inclusive") if len(col) > 1 else [col[0]] * 3 if col else [math.nan] * 3
                     for col in columns]
        out[setting] = {"q1": [q[0] for q in quartiles], "median": [q[1] for q in quartiles], "q3": [q[2] for q in quartiles]}
    return out


def plot_sweep(rows: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """Best-so-far curves, median and quartiles per setting, as a PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for setting, curve in setting_quartiles(rows).items():
        points = range(1, len(curve["median"]) + 1)
        (line,) = ax.plot(points, curve["median"], label=setting)
        ax.fill_between(points, curve["q1"], curve["q3"], color=line.get_color(), alpha=0.2)
    objectives = sorted({row["objective"] for row in rows if row.get("objective")})
    ax.set_xlabel("point")
    ax.set_ylabel(f"best so far ({', '.join(objectives)})")
    ax.set_title("median and quartiles over seeds")
    if ax.lines:
        ax.legend(fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def start_cluster(workers: int, scheduler: str | None = None, *, timeout_s: float = 10.0):
    """A Dask client: on ``scheduler`` (``tcp://HOST:PORT``) or on a new local cluster of ``workers`` processes.

    The local cluster listens on 127.0.0.1 only, has no dashboard, and its workers, restarted ones
    included, do not profile themselves: Dask's worker profiler calls ``sys._current_frames()``
    every 10 ms, which in CPython 3.11 releases without the fix of gh-106883 (3.11.7 among them) can
    deadlock the whole worker process when a garbage collection runs inside it; a worker busy
    writing a catalog hits it now and then. Workers of a ``scheduler`` are configured where they
    start (``DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False``). A scheduler that does not answer
    within ``timeout_s`` is one :class:`LimitError`.
    """
    from distributed import Client, LocalCluster

    if scheduler is not None:
        if not scheduler.startswith(("tcp://", "tls://")):
            msg = f"scheduler={scheduler!r}: give the scheduler's address as tcp://HOST:PORT"
            raise LimitError(msg)
        try:
            return Client(scheduler, timeout=f"{timeout_s}s")
        except (OSError, TimeoutError) as exc:
            msg = f"scheduler {scheduler} does not answer within {timeout_s:g} s ({type(exc).__name__})"
            raise LimitError(msg) from None
    workers = _whole("workers", workers, 1, 256)
    # Each nanny hands this to every worker it starts, a restarted one too.
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, silence_logs=50, config={"distributed.worker.profile.enabled": False})
    return Client(cluster)


def close_cluster(client) -> None:
    """Close a client from :func:`start_cluster`, and its local cluster if it started one."""
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


def run_sweep(spec: SweepSpec, catalog: str, *, workers: int = 2, scheduler: str | None = None, time_scale: float = 0.0,
              on_done: Callable[[dict[str, Any]], None] | None = None, sweep_id: str | None = None,
              api_key: str | None = None, client=None) -> dict[str, Any]:
    """Run every campaign of ``spec`` on Dask into ``catalog``; the sweep's result.

    Parameters
    ----------
    spec : SweepSpec
        The grid and seeds (already checked against the reactor by :meth:`SweepSpec.check`).
    catalog : str
        An absolute catalog folder every worker can reach (a shared file system past one
        machine) or a tiled server URI.
    workers : int
        Worker processes of the local cluster (ignored with ``scheduler``).
    scheduler : str, optional
        ``tcp://HOST:PORT`` of a running Dask scheduler.
    on_done : callable, optional
        Called with each campaign's row as it finishes (a progress bar).
    api_key : str, optional
        The tiled server's API key, for a served catalog.
    client : distributed.Client, optional
        A client from :func:`start_cluster` to run on (left open); otherwise one is started from
        ``workers`` and ``scheduler`` and closed at the end.

    Returns
    -------
    dict
        ``sweep_id``, ``campaigns`` (one row per campaign, finished or failed, in the order of the
        grid, with ``points_to_95``), ``settings``, ``workers``, ``wall_s``.
    """
    from distributed import as_completed

    sweep_id = sweep_id or str(uuid.uuid4())
    tasks = spec.tasks(catalog, sweep_id, time_scale=time_scale, api_key=api_key)
    started = time.perf_counter()
    own = client is None
    client = start_cluster(workers, scheduler) if own else client
    try:
        n_workers = len(client.scheduler_info()["workers"])
        futures = {client.submit(run_sweep_campaign, task, key=f"campaign-{sweep_id}-{i}", pure=False): i
                   for i, task in enumerate(tasks)}
        rows: list[dict[str, Any] | None] = [None] * len(tasks)
        for future in as_completed(futures):
            index = futures[future]
            task = tasks[index]
            try:
                row = future.result()
            except Exception as exc:  # one campaign's failure is its row; the others go on
                row = {"campaign_id": None, "setting": task["setting"], "seed": task["seed"], "objective": task["objective"],
                       "best_value": None, "n_runs": 0, "error": f"{type(exc).__name__}: {exc}"}
            rows[index] = row
            if on_done is not None:
                on_done(row)
    finally:
        if own:
            close_cluster(client)
    return {"sweep_id": sweep_id, "catalog": catalog, "workers": n_workers, "wall_s": time.perf_counter() - started,
            "settings": [s.label for s in spec.settings()], "campaigns": sweep_table([r for r in rows if r is not None])}


def sweep_runs(client, sweep_id: str) -> Iterable:
    """The catalog's runs of one sweep (every campaign's measurements, analyses and records)."""
    from tiled.queries import Key

    return client.search(Key("start.sweep_id") == sweep_id)
