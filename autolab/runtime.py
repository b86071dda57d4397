"""Wire a RunEngine, a reactor and the catalog writer together (CLI, scripts, tests)."""

from __future__ import annotations

import importlib
import logging
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

from bluesky import RunEngine

from .catalog import CatalogWriter, frames_directory, journal_directory, open_catalog, resolve_location
from .catalog.reading import ScanIdSource
from .devices import FlowReactor, configure_reactor, make_twin_reactor
from .errors import LimitError, check_range, check_seed
from .interrupt import interruptible_during_task, quiet_expected_aborts

logger = logging.getLogger(__name__)


@dataclass
class Session:
    """A ready-to-use RunEngine with a reactor and a catalog writer subscribed."""

    RE: RunEngine
    reactor: FlowReactor
    catalog: object
    writer: CatalogWriter
    location: str
    analysis: object | None = None
    progress: object | None = None
    deferred: object | None = None

    def close(self, deferred_timeout_s: float | None = 120.0) -> None:
        """Wait for the deferred analyses (up to ``deferred_timeout_s``) and until every run is in the catalog, then stop the RunEngine.

        The RunEngine's event-loop thread stops and its loop is closed (bluesky starts one per
        RunEngine and never stops it, so a process that opens many sessions, a sweep's worker,
        would keep one idle thread per session); ``session.RE`` cannot run plans afterwards. A
        RunEngine still running a plan (closed from another thread) is left running. A twin's
        moves that an interrupted plan left unfinished on a scaled clock are dropped first
        (:meth:`~autolab.devices.clock.SimClock.cancel_pending`), so none finishes into the closed loop.
        """
        try:
            if self.deferred is not None:
                self.deferred.close(deferred_timeout_s)
            self.writer.close()
        finally:
            cancel_pending = getattr(getattr(self.reactor, "clock", None), "cancel_pending", None)
            if cancel_pending is not None and self.RE.state == "idle":  # a twin's moves left by an interrupted plan end with it
                cancel_pending()
            stop_event_loop(self.RE)


def stop_event_loop(RE: RunEngine, timeout_s: float = 10.0) -> bool:
    """Stop an idle RunEngine's event-loop thread and close its loop; True if it stopped.

    A RunEngine that is not idle (a plan running or paused) is left as it is, and so is a loop
    that does not stop within ``timeout_s`` seconds.
    """
    loop = RE.loop
    if loop.is_closed():
        return True
    if RE.state != "idle":
        return False
    if loop.is_running():
        loop.call_soon_threadsafe(loop.stop)
        deadline = time.monotonic() + timeout_s
        while loop.is_running():
            if time.monotonic() > deadline:
                logger.warning("the RunEngine's event loop did not stop within %s s; its thread is left running", timeout_s)
                return False
            time.sleep(0.005)
    thread = getattr(RE, "_th", None)  # bluesky's loop thread: it ends once run_forever has returned
    if thread is not None:
        thread.join(timeout_s)
    loop.close()
    return True


def open_session(
    catalog: str | None = None,
    *,
    seed: int | None = 0,
    time_scale: float = 0.0,
    reactor: FlowReactor | None = None,
    api_key: str | None = None,
    analyze: bool = True,
    progress: bool | None = None,
    deferred: bool = True,
    create: bool = True,
    devices: str | os.PathLike | None = None,
) -> Session:
    """Open the catalog, build the twin reactor (unless one is given) and a RunEngine.

    Parameters
    ----------
    catalog : str, optional
        Catalog directory or tiled server URI (see :mod:`autolab.catalog` for the default); a
        directory is resolved to an absolute path (``session.location``) and created if needed
        (unless ``create`` is False).
    seed : int, optional
        Seed of the twin's noise.
    time_scale : float
        Real seconds per simulated second for the twin (0: virtual clock, fastest).
    reactor : FlowReactor, optional
        A reactor to use instead of a new twin.
    api_key : str, optional
        API key for a tiled server.
    analyze : bool
        Run the analysis plugins as each point finishes and store their derived runs; the
        plugins' slow deferred hooks run in a worker process (``session.deferred``, a
        :class:`~autolab.analysis.deferred.DeferredAnalysis`) and are stored as later runs.
    progress : bool, optional
        Subscribe a :class:`~autolab.progress.CampaignProgress` (``session.progress``): campaigns
        show a progress bar and a line per point on stderr, and ``session.progress.last_summary``
        holds the last campaign's result. By default on when stderr is a terminal or a Jupyter
        notebook, off in scripts whose output goes to a file or a pipe.
    deferred : bool
        With ``analyze``, also run the plugins' deferred hooks (``False``: the live analysis only,
        as a sweep's campaigns do).
    create : bool
        Create a catalog folder that does not exist; ``False`` makes a missing folder a
        :class:`~autolab.errors.CatalogError` naming the path (to resume from a catalog, say).
    devices : str or path, optional
        A device file (:mod:`autolab.devices.devicefile`): the reactor over EPICS instead of the
        twin, connected and checked before the catalog is opened. A reactor with
        ``suspenders()`` (the EPICS one: beam current, heater alarms, pump stalls) has them
        installed on the RunEngine.

    Notes
    -----
    Each run takes the catalog's next ``scan_id`` when it opens
    (:class:`~autolab.catalog.reading.ScanIdSource`), so runs are numbered 1, 2, 3, … across
    processes, also between sessions open at the same time on one catalog folder.
    """
    if reactor is None and devices is not None:
        from .devices.devicefile import load_reactor

        reactor = load_reactor(devices)
    location = resolve_location(catalog)
    client = open_catalog(location, api_key=api_key, create=create)
    writer = CatalogWriter(client, journal_directory(location))
    RE = RunEngine(call_returns_result=False, scan_id_source=ScanIdSource(client, location), during_task=interruptible_during_task())
    quiet_expected_aborts()  # a plan argument refused in one line is not also logged with bluesky's traceback
    RE.subscribe(writer)
    analysis = deferred_worker = None
    if analyze:
        from .analysis import PluginManager

        analysis, deferred_worker = subscribe_analysis(RE, PluginManager(), writer, deferred=deferred)
    campaign_progress = None
    if progress is None:
        from rich.console import Console

        console = Console(stderr=True)
        progress = console.is_terminal or console.is_jupyter
    if progress:
        from .progress import CampaignProgress

        campaign_progress = CampaignProgress()
        RE.subscribe(campaign_progress)
        if analysis is not None:
            analysis.forward_to(campaign_progress)  # the points' analysis runs, with their objective values
    reactor = reactor if reactor is not None else make_twin_reactor(seed=seed, time_scale=time_scale)
    saxs = getattr(reactor, "saxs", None)
    if hasattr(saxs, "store_frames_in"):  # stored frames go into HDF5 files beside an embedded catalog (docs/reduction.md)
        saxs.store_frames_in(frames_directory(location))
    install_suspenders(RE, reactor)
    return Session(
        RE=RE, reactor=reactor, catalog=client, writer=writer, location=location, analysis=analysis, progress=campaign_progress,
        deferred=deferred_worker,
    )


def install_suspenders(RE: RunEngine, reactor: FlowReactor) -> None:
    """Install the reactor's suspenders (``reactor.suspenders()``, if it has them) on ``RE``."""
    for suspender in getattr(reactor, "suspenders", list)():
        RE.install_suspender(suspender)


def subscribe_analysis(RE: RunEngine, plugins, writer, *, deferred: bool = True):
    """Subscribe the live analysis, and the deferred one when a plugin has slow hooks (unless ``deferred`` is False).

    Returns ``(AnalysisCallback, DeferredAnalysis or None)``; both store through ``writer``.
    Used by :func:`open_session` and :mod:`autolab.startup` (the IPython session and queue worker).
    """
    from .analysis.deferred import DeferredAnalysis
    from .analysis.runs import AnalysisCallback

    analysis = AnalysisCallback(plugins, writer)
    analysis.subscribe(RE)  # also answers the campaign's question for the live analysis
    worker = DeferredAnalysis(writer) if deferred and plugins.has_deferred() else None
    if worker is not None:
        RE.subscribe(worker)
    return analysis, worker


def session_config() -> dict:
    """The session's settings: ``AUTOLAB_CONFIG`` (a TOML file) overlaid by ``AUTOLAB_*`` variables.

    The file's ``[reactor]`` table may give ``factory = "package.module:function"`` (a function
    returning the real :class:`~autolab.devices.FlowReactor`), or ``seed`` and ``time_scale`` for
    the twin; ``AUTOLAB_REACTOR``, ``AUTOLAB_SEED`` and ``AUTOLAB_TIME_SCALE`` override it. The
    file's ``[catalog] location`` is read by :func:`autolab.catalog.default_location`, so every
    command, the session and the queue worker agree on the catalog.
    """
    import tomllib

    config: dict = {"reactor": {}}
    path = os.environ.get("AUTOLAB_CONFIG")
    if path:
        try:
            with open(path, "rb") as handle:
                loaded = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            msg = f"AUTOLAB_CONFIG={path!r} cannot be read: {exc}"
            raise LimitError(msg) from exc
        config["reactor"].update(loaded.get("reactor", {}))
    for key, env in (("factory", "AUTOLAB_REACTOR"), ("seed", "AUTOLAB_SEED"), ("time_scale", "AUTOLAB_TIME_SCALE"),
                     ("devices", "AUTOLAB_DEVICES")):
        if os.environ.get(env):
            config["reactor"][key] = os.environ[env]
    return config


def reactor_factory(factory: str):
    """The function ``"package.module:function"`` names (the config's ``[reactor] factory`` or
    ``AUTOLAB_REACTOR``), imported but not called.

    Raises
    ------
    LimitError
        Naming the factory, where it is set, and why it cannot be loaded.
    """
    module, _, name = str(factory).partition(":")
    where = "AUTOLAB_REACTOR" if os.environ.get("AUTOLAB_REACTOR") else "[reactor] factory in AUTOLAB_CONFIG"
    if not module or not name:
        msg = f"reactor factory {factory!r} ({where}) must be 'package.module:function'"
        raise LimitError(msg)
    try:
        function = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        msg = f"reactor factory {factory!r} ({where}) cannot be loaded: {exc}"
        raise LimitError(msg) from exc
    if not callable(function):
        msg = f"reactor factory {factory!r} ({where}) is a {type(function).__name__}, not a function"
        raise LimitError(msg)
    return function


def twin_settings(settings: dict) -> tuple[int, float]:
    """The twin's ``(seed, time_scale)`` from the session config's ``[reactor]`` table (:func:`session_config`).

    Raises
    ------
    LimitError
        Naming where a value is set (``AUTOLAB_SEED``, ``AUTOLAB_TIME_SCALE`` or the config file), the value and
        what is allowed: a seed is a whole number ≥ 0, a time scale a number ≥ 0.
    """
    return _twin_seed(settings), _twin_time_scale(settings)


def _given(settings: dict, key: str, env: str) -> tuple[Any, str]:
    """The config's ``key`` (default 0) and how to name it: the variable, or the config file's table."""
    value = settings.get(key, 0)
    given = f"{env}={value!r}" if os.environ.get(env) else f"[reactor] {key}={value!r} in AUTOLAB_CONFIG {os.environ.get('AUTOLAB_CONFIG')}"
    return value, given


def _twin_seed(settings: dict) -> int:
    """The twin's seed, exactly as given (a whole number ≥ 0, text included), or :class:`LimitError` naming where it is set."""
    value, given = _given(settings, "seed", "AUTOLAB_SEED")
    try:
        return check_seed("seed", int(value) if isinstance(value, str) else value)  # int() takes " 3 ", exactly
    except (ValueError, LimitError):
        msg = f"{given} must be a whole number ≥ 0"
        raise LimitError(msg) from None


def _twin_time_scale(settings: dict) -> float:
    """The twin's time scale (a number ≥ 0, text included), or :class:`LimitError` naming where it is set."""
    value, given = _given(settings, "time_scale", "AUTOLAB_TIME_SCALE")
    try:
        return check_range("time_scale", value, 0.0, sys.float_info.max, "")  # text parses, whitespace and all; inf and NaN fail
    except LimitError:
        msg = f"{given} must be a number ≥ 0 (real seconds per simulated second; 0: the virtual clock)"
        raise LimitError(msg) from None


def session_reactor(*, seed: int | None = None, time_scale: float | None = None,
                    standby_flow_ul_min: float | str | None = None, devices: str | os.PathLike | None = None) -> FlowReactor:
    """The reactor of every command, the beamline session and the queue worker (:mod:`autolab.startup`).

    From :func:`session_config`: the ``factory`` it names (the real reactor), otherwise the twin
    with its ``seed`` (default 0) and ``time_scale`` (default 0, the virtual clock).

    Parameters
    ----------
    seed : int, optional
        The twin's seed instead of the config's (a command's ``--seed``).
    time_scale : float, optional
        The twin's time scale instead of the config's (a command's ``--time-scale``).
    standby_flow_ul_min : float or str, optional
        The standby flow instead of the config's (a command's ``--standby-flow-ul-min``).
    devices : str or path, optional
        A device file instead of the config's ``devices`` (``AUTOLAB_DEVICES``): the reactor over
        EPICS (:func:`autolab.devices.devicefile.load_reactor`), connected and checked.

    A factory's reactor is built as the factory builds it; ``seed`` and ``time_scale`` set only the
    twin. Either way the table's settings (``standby_flow_ul_min``, :func:`~autolab.devices.configure_reactor`)
    are applied, so every command, the IPython session, the queue worker and the agent use them.
    """
    settings = session_config()["reactor"]
    factory = settings.get("factory")
    devices = devices or settings.get("devices")
    if devices:
        from .devices.devicefile import load_reactor

        reactor = load_reactor(devices)
    elif factory:
        reactor = reactor_factory(factory)()
        if not isinstance(reactor, FlowReactor):
            msg = f"reactor factory {factory!r} returned {type(reactor).__name__}, not a FlowReactor"
            raise LimitError(msg)
    else:
        seed = _twin_seed(settings) if seed is None else seed  # a command's --seed overrides the config's, unread
        time_scale = _twin_time_scale(settings) if time_scale is None else time_scale
        reactor = make_twin_reactor(seed=seed, time_scale=time_scale)
    if standby_flow_ul_min is not None:
        settings = {key: value for key, value in settings.items() if key != "standby_flow_ul_min"}
        reactor.set_standby_flow(standby_flow_ul_min, field="--standby-flow-ul-min")
    return configure_reactor(reactor, settings, source=f"AUTOLAB_CONFIG {os.environ.get('AUTOLAB_CONFIG')} [reactor]")
