"""The run catalog: an embedded tiled catalog on disk by default, or a tiled server.

Writing goes through :class:`CatalogWriter`, a RunEngine callback that

1. appends every document to a per-run journal file (JSON lines) on the RunEngine thread —
   cheap, and on disk before the RunEngine moves on, so a crash loses at most the document being
   written — and
2. hands the document to ``bluesky_tiled_plugins.TiledWriter`` on a background thread, with
   ``batch_size=1`` so each event reaches tiled as soon as it is made.

When a run's stop document has been written to tiled its journal is deleted. A journal left
behind by a crash is replayed into the catalog the next time a writer opens it, so every
finished point — and whatever the interrupted point had produced — ends up in the catalog.

Catalog locations, in order of precedence: the ``catalog`` argument (``--catalog`` on the
command line), the ``AUTOLAB_CATALOG`` environment variable, then ``$XDG_DATA_HOME/autolab/catalog``
(``~/.local/share/autolab/catalog``). A location starting with ``http://`` or ``https://`` is a
tiled server (``tiled serve catalog …``), reached with an API key from ``api_key`` or
``TILED_API_KEY``; the same code path writes and reads it.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from event_model import NumpyEncoder

from .errors import CatalogError

logger = logging.getLogger(__name__)

#: Environment variable naming the default catalog (a directory or a tiled server URI).
CATALOG_ENV = "AUTOLAB_CATALOG"
#: Spec of the root node, so tiled clients present it as a catalog of Bluesky runs.
_ROOT_SPECS = [{"name": "CatalogOfBlueskyRuns", "version": "3.0"}]


def default_location() -> str:
    """The catalog location used when none is given (env var, else the per-user data dir)."""
    env = os.environ.get(CATALOG_ENV)
    if env:
        return env
    return str(_data_home() / "catalog")


def _data_home() -> Path:
    """autolab's per-user data directory: ``$XDG_DATA_HOME/autolab`` or ``~/.local/share/autolab``."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "autolab"


def is_remote(location: str) -> bool:
    """True if ``location`` is a tiled server URI rather than a directory."""
    return str(location).startswith(("http://", "https://"))


def open_catalog(location: str | os.PathLike | None = None, *, api_key: str | None = None):
    """Open (creating if needed) the catalog at ``location`` and return its tiled client.

    Parameters
    ----------
    location : str or path, optional
        A directory for the embedded SQLite + files catalog, or a tiled server URI.
    api_key : str, optional
        API key for a tiled server (default: ``TILED_API_KEY``).

    Returns
    -------
    client : bluesky_tiled_plugins.CatalogOfBlueskyRuns
        Index it by run uid (``client[uid]``), search it with ``tiled.queries``.
    """
    location = str(location) if location is not None else default_location()
    if is_remote(location):
        from tiled.client import from_uri

        try:
            return from_uri(location, api_key=api_key or os.environ.get("TILED_API_KEY"))
        except Exception as exc:
            msg = f"cannot reach the tiled server at {location}: {exc}"
            raise CatalogError(msg) from exc
    return _open_embedded(Path(location))


def _open_embedded(directory: Path):
    from tiled.catalog import from_uri
    from tiled.client import Context, from_context
    from tiled.server.app import build_app

    # tiled's app logger announces its version at INFO on every start; keep output clean.
    logging.getLogger("tiled.server.app").setLevel(logging.WARNING)

    if directory.exists() and not directory.is_dir():
        msg = f"catalog path {directory} exists and is not a directory"
        raise CatalogError(msg)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"cannot create the catalog directory {directory}: {exc.strerror}"
        raise CatalogError(msg) from exc
    database = directory / "catalog.db"
    adapter = from_uri(
        f"sqlite:///{database}",
        writable_storage=[str(directory / "data"), f"sqlite:///{directory / 'tables.db'}"],
        init_if_not_exists=not database.exists(),
        specs=_ROOT_SPECS,
    )
    with warnings.catch_warnings():
        # starlette deprecates plain httpx in the TestClient that tiled uses in-process.
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        context = Context.from_app(build_app(adapter))
    return from_context(context)


def journal_directory(location: str | None = None) -> Path:
    """Where :class:`CatalogWriter` keeps journals of runs not yet confirmed in the catalog."""
    location = str(location) if location is not None else default_location()
    if is_remote(location):
        safe = location.split("://", 1)[1].replace("/", "_").replace(":", "_")
        return _data_home() / "journal" / safe
    return Path(location) / "journal"


class CatalogWriter:
    """RunEngine callback that writes every run to the catalog without losing finished points.

    Parameters
    ----------
    client : tiled client
        From :func:`open_catalog`.
    journal_dir : path
        Directory for the per-run journals (see :func:`journal_directory`).

    Examples
    --------
    >>> writer = CatalogWriter(open_catalog(path), journal_directory(path))  # doctest: +SKIP
    >>> RE.subscribe(writer)  # doctest: +SKIP
    >>> writer.flush()  # wait until tiled holds every finished run  # doctest: +SKIP
    """

    def __init__(self, client, journal_dir: str | os.PathLike):
        from bluesky_tiled_plugins import TiledWriter

        self.client = client
        self.journal_dir = Path(journal_dir)
        self.journal_dir.mkdir(parents=True, exist_ok=True)
        self._tiled_writer = TiledWriter(client, batch_size=1)
        self._queue: queue.Queue = queue.Queue()
        self._journals: dict[str, Any] = {}
        self._descriptor_run: dict[str, str] = {}
        self.errors: list[str] = []
        self.replayed = self._replay_journals()
        self._thread = threading.Thread(target=self._work, name="autolab-catalog-writer", daemon=True)
        self._thread.start()

    # --- RunEngine thread ----------------------------------------------------------------
    def __call__(self, name: str, doc: dict) -> None:
        run_uid = self._run_uid(name, doc)
        line = json.dumps({"name": name, "doc": doc}, cls=NumpyEncoder)
        if run_uid is not None:
            handle = self._journals.get(run_uid)
            if handle is None:
                handle = self._journals[run_uid] = open(self.journal_dir / f"{run_uid}.jsonl", "a")
            handle.write(line + "\n")
            handle.flush()
            if name == "stop":
                os.fsync(handle.fileno())
                handle.close()
                del self._journals[run_uid]
        self._queue.put((name, doc, run_uid))

    def _run_uid(self, name: str, doc: dict) -> str | None:
        if name == "start":
            return doc["uid"]
        if name == "stop":
            return doc["run_start"]
        if name == "descriptor":
            self._descriptor_run[doc["uid"]] = doc["run_start"]
            return doc["run_start"]
        if name in ("event", "event_page"):
            return self._descriptor_run.get(doc["descriptor"])
        return doc.get("run_start")

    def flush(self, timeout: float | None = 60.0) -> None:
        """Block until every document received so far is in the catalog.

        Raises
        ------
        CatalogError
            If the writer is still busy after ``timeout`` seconds.
        """
        done = threading.Event()
        self._queue.put((None, done, None))
        if not done.wait(timeout):
            msg = f"the catalog writer is still busy after {timeout} s; journals in {self.journal_dir} keep the data"
            raise CatalogError(msg)

    def close(self) -> None:
        """Flush and stop the background thread."""
        self.flush()
        self._queue.put(None)
        self._thread.join(timeout=10)

    # --- writer thread -------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            name, doc, run_uid = item
            if name is None:
                doc.set()
                continue
            try:
                self._tiled_writer(name, doc)
            except Exception as exc:  # keep the journal; it is replayed on the next open
                message = f"writing {name} of run {run_uid} to the catalog failed: {exc!r}"
                logger.error(message, exc_info=logger.isEnabledFor(logging.DEBUG))
                self.errors.append(message)
                continue
            if name == "stop" and run_uid is not None:
                (self.journal_dir / f"{run_uid}.jsonl").unlink(missing_ok=True)

    def _replay_journals(self) -> list[str]:
        """Write runs left in journals by an earlier crash into the catalog; return their uids."""
        from bluesky_tiled_plugins import TiledWriter

        replayed = []
        for path in sorted(self.journal_dir.glob("*.jsonl")):
            docs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            if not docs or docs[0]["name"] != "start":
                logger.warning("journal %s does not begin with a start document; left alone", path)
                continue
            uid = docs[0]["doc"]["uid"]
            if uid in self.client:
                if self.client[uid].metadata.get("stop"):  # already complete in tiled
                    path.unlink()
                    continue
                self.client[uid].delete(recursive=True, external_only=False)
                # tiled 0.2 drops the nodes but leaves the run's zarr arrays on disk, and a new
                # array cannot be written over them; in an embedded catalog they sit beside the journal.
                leftover = self.journal_dir.parent / "data" / uid
                if leftover.is_dir():
                    shutil.rmtree(leftover)
            writer = TiledWriter(self.client, batch_size=1)
            for entry in docs:
                writer(entry["name"], entry["doc"])
            path.unlink()
            replayed.append(uid)
        return replayed


# --- reading back ------------------------------------------------------------------------


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
