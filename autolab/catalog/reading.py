"""Reading runs back: one point's arrays, searches, measurements only, table rows, scan ids."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..errors import CatalogError

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
        msg = f"run {start['uid']} has no primary stream (it did not finish a measurement)"
        raise CatalogError(msg)
    primary = run["primary"]

    def array(key):
        return np.asarray(primary[f"{prefix}_{key}"].read())[-1]

    readings = {}
    for key in primary:
        if key.startswith(prefix) and not key.startswith(("ts_",)):
            value = primary[key].read()
            arr = np.asarray(value)
            if arr.ndim == 1:
                readings[key[len(prefix) + 1 :]] = float(arr[-1])
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
    since, until : float, optional
        Unix time bounds on the run's start time.
    conditions : dict, optional
        ``{"residence_time_s": (low, high), …}``: inclusive ranges on start-document fields.
    """
    from tiled.queries import Key

    results = client
    for field, value in (("plan_name", plan_name), ("campaign_id", campaign_id), ("phase_map_uid", phase_map_uid)):
        if value is not None:
            results = results.search(Key(f"start.{field}") == value)
    if since is not None:
        results = results.search(Key("start.time") >= float(since))
    if until is not None:
        results = results.search(Key("start.time") <= float(until))
    for field, (low, high) in (conditions or {}).items():
        results = results.search(Key(f"start.{field}") >= float(low)).search(Key(f"start.{field}") <= float(high))
    return sorted(results.values(), key=lambda run: run.metadata["start"]["time"])


def run_summaries(runs: Iterable) -> list[dict]:
    """One flat row per run for tables: uid, time, plan, conditions, exit status."""
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
                "exit_status": stop.get("exit_status", "in progress"),
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


def last_scan_id(client) -> int:
    """The largest ``scan_id`` of the runs in ``client`` (0 for none).

    A session sets its RunEngine's ``md["scan_id"]`` to it, so scan ids go on 1, 2, 3, … across
    processes instead of starting at 1 in each.
    """
    from tiled.queries import Comparison

    numbered = client.search(Comparison("ge", "start.scan_id", 0)).sort(("start.scan_id", -1))
    for run in numbered.values().head(1):
        return int(run.metadata["start"]["scan_id"])
    return 0
