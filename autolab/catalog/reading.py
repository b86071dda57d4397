"""Reading runs back: one point's arrays, searches, measurements only, table rows, scan ids."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CatalogError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: scan ids come from the catalog alone
    fcntl = None

#: ``plan_name`` of runs that are not measurements: derived analysis runs and campaign records.
DERIVED_PLAN_NAMES = ("analysis", "deferred_analysis", "autonomous_campaign")


@dataclass(frozen=True)
class PointData:
    """One measured point read back from the catalog."""

    uid: str
    start: dict
    stop: dict | None
    wavelength_nm: np.ndarray
    absorbance: np.ndarray
    q_nm_inv: np.ndarray
    intensity: np.ndarray
    intensity_sigma: np.ndarray
    readings: dict[str, float]

    @property
    def conditions(self) -> dict:
        """Nucleation and growth temperature (°C) and residence time (s) of the point."""
        return dict(self.start.get("conditions", {}))


def _no_reading(start: dict, run) -> str:
    """Why ``run`` has no point to read: a derived run (naming what it derives from), or a measurement that did not finish."""
    plan = start.get("plan_name", "")
    if plan in DERIVED_PLAN_NAMES:
        source = start.get("analysis_of")
        of = f"; the measurement it analyses is run {source}" if source else ""
        return f"run {start['uid']} is a derived {plan!r} run, not a measurement: it has no primary stream{of}"
    streams = ", ".join(sorted(run)) or "none"
    return f"run {start['uid']} ({plan or 'no plan_name'}) has no primary stream (streams: {streams}): it did not finish a measurement"


def load_point(run, *, reactor: str | None = None) -> PointData:
    """Read the spectra, SAXS pattern and reactor readbacks of one ``measure_point`` run.

    Parameters
    ----------
    run : BlueskyRun client
        ``client[uid]`` from :func:`open_catalog`.
    reactor : str, optional
        The reactor's device name (default: the ``reactor`` key of the start document).
    """
    start = dict(run.metadata["start"])
    prefix = reactor or start.get("reactor", "reactor")
    if "primary" not in run:
        raise CatalogError(_no_reading(start, run))
    primary = run["primary"]
    # One read of the columns a point needs (the scalar readings and five arrays), not one request
    # per column; a stored 2D frame is left out.
    arrays = {name: f"{prefix}_{name}" for name in
              ("spectrometer_wavelength_nm", "spectrometer_absorbance", "saxs_q_nm_inv", "saxs_intensity", "saxs_intensity_sigma")}
    data_keys = primary.metadata.get("data_keys") or {}
    scalars = [key for key, described in data_keys.items()
               if key.startswith(f"{prefix}_") and not key.startswith("ts_") and not described.get("shape")]
    dataset = primary.read(variables=[*scalars, *(key for key in arrays.values() if key in data_keys)])

    def array(name):
        key = arrays[name]
        if key not in dataset:
            msg = f"run {start['uid']} has no {key} in its primary stream"
            raise CatalogError(msg)
        return np.asarray(dataset[key].values)[-1]

    readings = {key[len(prefix) + 1 :]: float(np.asarray(dataset[key].values)[-1]) for key in scalars if key in dataset}
    return PointData(
        uid=start["uid"],
        start=start,
        stop=dict(run.metadata.get("stop") or {}) or None,
        wavelength_nm=array("spectrometer_wavelength_nm"),
        absorbance=array("spectrometer_absorbance"),
        q_nm_inv=array("saxs_q_nm_inv"),
        intensity=array("saxs_intensity"),
        intensity_sigma=array("saxs_intensity_sigma"),
        readings=readings,
    )


def find_runs(
    client,
    *,
    plan_name: str | None = None,
    campaign_id: str | None = None,
    phase_map_uid: str | None = None,
    since: float | None = None,
    until: float | None = None,
    conditions: dict[str, tuple[float, float]] | None = None,
) -> list:
    """Runs matching every given criterion, oldest first.

    Parameters
    ----------
    plan_name, campaign_id, phase_map_uid : str, optional
        Exact matches on the start document.
    since, until : float or datetime, optional
        Bounds on the run's start time: Unix time in s, or a :class:`datetime.datetime` (a naive one
        in local time).
    conditions : dict, optional
        ``{"residence_time_s": (low, high), …}``: inclusive ranges on the point's conditions
        (``nucleation_temperature_c``, ``growth_temperature_c``, ``residence_time_s``) and the
        other numbers of :data:`SEARCHABLE_NUMBERS` (the chamber time, the standby flow).

    Raises
    ------
    LimitError
        A name that is not one of those, a range that is not two finite numbers, low ≤ high, or
        a time bound that is not a time (a search with any of them would find nothing, silently).
    """
    from tiled.queries import Key

    results = client
    for field, value in (("plan_name", plan_name), ("campaign_id", campaign_id), ("phase_map_uid", phase_map_uid)):
        if value is not None:
            results = results.search(Key(f"start.{field}") == value)
    if since is not None:
        results = results.search(Key("start.time") >= _unix_time("since", since))
    if until is not None:
        results = results.search(Key("start.time") <= _unix_time("until", until))
    for field, (low, high) in _condition_ranges(conditions).items():
        results = results.search(Key(f"start.{field}") >= low).search(Key(f"start.{field}") <= high)
    return sorted(results.values(), key=lambda run: run.metadata["start"]["time"])


#: The exit status :func:`run_summaries` gives a run without a stop document: one running now, or
#: one whose process was killed (its writer's journal stored what it had).
UNFINISHED = "unfinished"


#: The numbers a point's start document holds at its top level, which ``find_runs(conditions=…)`` searches.
SEARCHABLE_NUMBERS = ("nucleation_temperature_c", "growth_temperature_c", "residence_time_s", "nucleation_time_s", "standby_flow_ul_min")


def _unix_time(name: str, value) -> float:
    """``value`` (Unix time in s, or a datetime) as Unix time, or :class:`LimitError` naming ``name``."""
    import datetime
    import math
    import numbers

    from autolab.errors import LimitError

    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    msg = f"{name}={value!r} must be a start time: Unix time in s (e.g. time.time() - 3600) or a datetime"
    raise LimitError(msg)


def _condition_ranges(conditions: dict | None) -> dict[str, tuple[float, float]]:
    """``conditions`` checked: names in :data:`SEARCHABLE_NUMBERS`, each with a (low, high) pair of finite numbers, low ≤ high."""
    import math
    from collections.abc import Mapping

    from autolab.errors import LimitError

    if conditions is not None and not isinstance(conditions, Mapping):
        msg = f"conditions={conditions!r} must be a dict of ranges, e.g. {{'residence_time_s': (1.5, 14)}}"
        raise LimitError(msg)
    checked = {}
    for field, bounds in (conditions or {}).items():
        if field not in SEARCHABLE_NUMBERS:
            msg = f"conditions: {field!r} is not a condition; search one of {', '.join(SEARCHABLE_NUMBERS)}"
            raise LimitError(msg)
        try:
            if isinstance(bounds, (str, bytes)):  # "12" would unpack into (1, 2)
                raise TypeError
            low, high = (float(b) for b in bounds)
            if not (math.isfinite(low) and math.isfinite(high)):
                raise ValueError
        except (TypeError, ValueError):
            msg = f"conditions[{field!r}]={bounds!r} must be a (low, high) pair of finite numbers"
            raise LimitError(msg) from None
        if not low <= high:
            msg = f"conditions[{field!r}]={bounds!r}: low {low:g} is above high {high:g}"
            raise LimitError(msg)
        checked[field] = (low, high)
    return checked


def run_summaries(runs: Iterable) -> list[dict]:
    """One flat row per run for tables: uid, time, plan, conditions, exit status (:data:`UNFINISHED` without a stop), campaign.

    ``campaign_id`` is the campaign a run belongs to (its points, their analyses and its records;
    None outside a campaign). ``campaign_role`` is None but for a campaign's record runs (``start``,
    ``resume``, ``failed_point``, ``summary``), which ``autolab runs --all`` shows beside the plan name.
    """
    rows = []
    for run in runs:
        start = run.metadata["start"]
        stop = run.metadata.get("stop") or {}
        rows.append(
            {
                "uid": start["uid"],
                "time": start["time"],
                "plan_name": start.get("plan_name", ""),
                "nucleation_temperature_c": start.get("nucleation_temperature_c"),
                "growth_temperature_c": start.get("growth_temperature_c"),
                "residence_time_s": start.get("residence_time_s"),
                "exit_status": stop.get("exit_status", UNFINISHED),
                # A campaign's record runs: "start", "resume", "failed_point" or "summary" (the record's own status is not the campaign's).
                "campaign_role": start.get("campaign_role"),
                "campaign_id": start.get("campaign_id"),
            }
        )
    return rows


def measurements(client):
    """The measurement runs of ``client``: without derived analysis runs and campaign records.

    The same as ``client.search(NotIn("start.plan_name", ["analysis", "autonomous_campaign"]))``
    with ``tiled.queries.NotIn``, which any tiled client can send.

    Examples
    --------
    >>> from autolab.catalog import measurements, open_catalog  # doctest: +SKIP
    >>> measurements(open_catalog("my-catalog")).values().last().primary.read()  # doctest: +SKIP
    """
    from tiled.queries import NotIn

    return client.search(NotIn("start.plan_name", list(DERIVED_PLAN_NAMES)))


def last_scan_id(client, *, above: int = 0) -> int:
    """The largest ``scan_id`` of the runs in ``client`` (``above`` when none is larger; 0 for none).

    Compared as numbers: tiled sorts metadata as text on SQLite (``9`` after ``10``), so the
    newest runs give a first guess and ``Comparison("gt", "start.scan_id", guess)`` searches
    find any larger one. With ``above`` set to a number already known, this is one request.
    """
    from tiled.queries import Comparison

    highest = int(above)
    if highest <= 0:
        highest = max([*_page_scan_ids(lambda: client.values().tail(_PAGE)), 0])
    while True:
        larger = _page_scan_ids(lambda above=highest: client.search(Comparison("gt", "start.scan_id", above)).values().head(_PAGE))
        if not larger or max(larger) <= highest:  # none larger (a scan_id that is not a number reads as 0)
            return highest
        highest = max(larger)


_PAGE = 20
_PAGE_ATTEMPTS = 5


def _page_scan_ids(page) -> list[int]:
    """The scan ids of the runs ``page()`` lists, read up to 5 times (0.05–0.4 s apart) while it fails.

    On a served PostgreSQL catalog a page can list a run that another writer is creating before
    its node is complete; tiled then fails to build that run's client (``AttributeError`` from
    its ``from_json(None)``). A moment later the node is whole.
    """
    for attempt in range(_PAGE_ATTEMPTS - 1):
        try:
            return [_scan_id(run) for run in page()]
        except (AttributeError, KeyError, TypeError):
            time.sleep(0.05 * 2**attempt)
    return [_scan_id(run) for run in page()]  # the last attempt's error is raised


def _scan_id(run) -> int:
    value = run.metadata.get("start", {}).get("scan_id")
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


class ScanIdSource:
    """The RunEngine's ``scan_id_source``: each run takes the next number of the catalog.

    ``RunEngine(scan_id_source=ScanIdSource(client, location))`` (what :func:`autolab.runtime.open_session`
    and :mod:`autolab.startup` do) calls it at every ``open_run``, so sessions open at the same
    time on one catalog number their runs in one sequence.

    Embedded catalog (a folder)
        The number is ``max(this session's last, the counter file, …) + 1``, read and written
        under an exclusive ``flock`` on ``<catalog>/last_scan_id``. Every autolab session that
        opens the folder takes its numbers there, so their runs get distinct numbers that
        increase in the order the runs open, across processes, whether or not the journaled
        writer has stored the earlier runs yet. The catalog's largest ``scan_id`` (a tiled
        query, about 25 ms) is read when the source is made and whenever the file is missing or
        unreadable, so runs stored by other means (through ``autolab serve``, replayed exports)
        before that are counted; a run such a writer opens while this session is open is not.
        The file is not ``fsync``-ed: after a crash of the machine the next session repairs it
        from the catalog. Without ``fcntl`` (not POSIX) it works like the served case.
    Served catalog (``http://…``)
        The number is ``max(this session's last, the server's largest scan_id) + 1``, one request
        per run. A run that another process has opened but whose start document has not reached
        the server yet (normally milliseconds; longer while its writer catches up) is not seen,
        so two sessions opening runs at nearly the same moment can share a number.

    The uid is unique in every case. Per run the embedded source costs well under a millisecond
    (a ``flock``, a read and a write of a few bytes).

    Parameters
    ----------
    client : tiled client
        The catalog (from :func:`~autolab.catalog.open_catalog`).
    location : str or path
        The catalog's resolved location (:func:`~autolab.catalog.resolve_location`): a folder, or
        a server URI.
    """

    COUNTER_NAME = "last_scan_id"

    def __init__(self, client, location):
        from .location import is_remote

        self.client = client
        self.counter = None if is_remote(location) or fcntl is None else Path(location) / self.COUNTER_NAME
        if self.counter is not None:
            self._take(lambda value: value, catalog_highest=last_scan_id(client))  # old catalogs, runs from elsewhere

    def __call__(self, md: dict) -> int:
        own = int(md.get("scan_id") or 0)
        if self.counter is None:
            return last_scan_id(self.client, above=own) + 1
        return self._take(lambda value: max(value, own) + 1)

    def _take(self, step, *, catalog_highest: int | None = None) -> int:
        """Under the file's lock: read the counter, write ``step(value)`` back and return it."""
        fd = os.open(self.counter, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            text = os.read(fd, 64).decode("ascii", "replace").strip()
            if not text.isdigit() and catalog_highest is None:
                catalog_highest = last_scan_id(self.client)
            value = max(int(text) if text.isdigit() else 0, catalog_highest or 0)
            taken = step(value)
            if str(taken) != text:
                os.lseek(fd, 0, os.SEEK_SET)
                os.ftruncate(fd, 0)
                os.write(fd, f"{taken}\n".encode("ascii"))
            return taken
        finally:
            os.close(fd)  # drops the lock
