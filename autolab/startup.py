"""The beamline session's namespace: ``autolab ipython`` (or ``ipython -i -m autolab.startup``).

The same module is bluesky-queueserver's startup code (``autolab queue start``), so a plan that
runs by hand runs the same way as a queue item. Importing it builds:

``RE``
    A RunEngine with the catalog writer, live analysis (derived runs for ``measure_point`` and
    ``phase_map`` points; campaigns analyse their own) and, in an interactive session, the
    BestEffortCallback (table; plots only with a display) subscribed; with a display also
    :class:`~autolab.liveplot.LiveCampaignPlot` (each point's spectrum, a campaign's best so far).
``reactor``
    The flow reactor: the twin (seed ``AUTOLAB_SEED``, default 0; time scale
    ``AUTOLAB_TIME_SCALE``, default 0 = virtual clock) unless the config file
    (``AUTOLAB_CONFIG``, TOML, ``[reactor] factory = "package.module:function"``) or
    ``AUTOLAB_REACTOR`` names a factory returning a :class:`~autolab.devices.FlowReactor`
    (see :func:`autolab.runtime.session_config`), or ``AUTOLAB_DEVICES`` (``[reactor] devices``)
    a device file: the reactor over EPICS, whose suspenders ``RE`` has installed (docs/epics.md).
``catalog``, ``writer``
    The tiled catalog client (``AUTOLAB_CATALOG`` or the per-user default) and its writer.
``measure_point``, ``phase_map``, ``autonomous_campaign``, ``set_conditions``, ``wait_steady``, ``stop_flow``, ``safe_state``, ``take_dark``, …
    The plans, the calibrations among them (``take_dark``, ``take_reference``,
    ``take_background``); those with temperatures or times carry ``reactor``'s limits as queueserver
    ``min``/``max`` annotations (:mod:`autolab.queue_plans`), so a queue refuses an out-of-range
    item when it is added.
``plugins``, ``GPOptimizer``, ``Campaign``, ``find_runs``, ``load_point``, ``measurements``
    The analysis plugin manager, the optimiser class, the campaign state class and catalog helpers.
``campaign_progress``, ``campaign_summary``
    The :class:`~autolab.progress.CampaignProgress` callback subscribed to ``RE`` (a progress bar
    and a line per point while a campaign runs; ``campaign_progress.last_summary`` afterwards) and
    :func:`~autolab.progress.campaign_summary` to read any campaign's summary from ``catalog``.

The catalog location is resolved to an absolute path, and each run takes the catalog's next
``scan_id`` when it opens (:class:`~autolab.catalog.reading.ScanIdSource`), so scan ids go on
across sessions, also while the queue worker and another session are open at the same time.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading

from bluesky import RunEngine

from autolab import campaign as _campaign
from autolab import plans as _plans
from autolab.analysis import PluginManager
from autolab.campaign import Campaign
from autolab.catalog import (
    CatalogWriter,
    find_runs,
    frames_directory,
    journal_directory,
    load_point,
    measurements,
    open_catalog,
    resolve_location,
)
from autolab.catalog.reading import ScanIdSource
from autolab.optimize import GPOptimizer
from autolab.plans import stop_flow, take_background, take_dark, take_reference, wait_steady
from autolab.progress import CampaignProgress, campaign_summary
from autolab.queue_plans import limited_plans
from autolab.runtime import install_suspenders, session_reactor, subscribe_analysis

# pyFAI (imported with the twin's SAXS geometry below) integrates on the CPU here; silx's
# "Unable to import pyOpenCl" would otherwise greet every session.
logging.getLogger("silx.opencl.common").setLevel(logging.ERROR)

__all__ = [
    "RE",
    "Campaign",
    "GPOptimizer",
    "autonomous_campaign",
    "campaign_progress",
    "campaign_summary",
    "catalog",
    "find_runs",
    "load_point",
    "measure_point",
    "measurements",
    "phase_map",
    "plugins",
    "reactor",
    "safe_state",
    "set_conditions",
    "stop_flow",
    "take_background",
    "take_dark",
    "take_reference",
    "wait_steady",
    "writer",
]


def _interactive() -> bool:
    return bool(getattr(sys, "ps1", None)) or ("IPython" in sys.modules and sys.stdin is not None and sys.stdin.isatty())


location = resolve_location(None)  # AUTOLAB_CATALOG, the config file's [catalog] location, or the per-user default
catalog = open_catalog(location)
writer = CatalogWriter(catalog, journal_directory(location))
# Leaving the session (or a script that imported it) waits for the writer; what it cannot write
# in time stays in the journals and is replayed on the next open. It must run before the
# interpreter stops thread pools and tiled's in-process portal, which plain atexit runs after.
_register_exit = getattr(threading, "_register_atexit", atexit.register)
_register_exit(writer.close)
plugins = PluginManager()
reactor = session_reactor()
if hasattr(getattr(reactor, "saxs", None), "store_frames_in"):  # stored frames: HDF5 files beside an embedded catalog
    reactor.saxs.store_frames_in(frames_directory(location))
# The plans carry this reactor's limits, so the queue refuses an out-of-range item when it is added.
_limited = limited_plans(
    {"measure_point": _plans.measure_point, "phase_map": _plans.phase_map, "set_conditions": _plans.set_conditions,
     "safe_state": _plans.safe_state, "autonomous_campaign": _campaign.autonomous_campaign},
    reactor.limits(),
)
measure_point = _limited["measure_point"]
phase_map = _limited["phase_map"]
set_conditions = _limited["set_conditions"]
safe_state = _limited["safe_state"]
autonomous_campaign = _limited["autonomous_campaign"]

RE = RunEngine(scan_id_source=ScanIdSource(catalog, location))  # each run takes the catalog's next scan id
RE.subscribe(writer)
install_suspenders(RE, reactor)  # an EPICS reactor's (AUTOLAB_DEVICES): beam dump, heater alarm, pump stall
analysis, deferred_analysis = subscribe_analysis(RE, plugins, writer)
# Slow (deferred) analyses run in a worker process after each point; leaving waits for them
# (up to 2 min) before the writer closes — exit callbacks run last-registered first.
if deferred_analysis is not None:
    _register_exit(deferred_analysis.close)
campaign_progress = CampaignProgress()
RE.subscribe(campaign_progress)
analysis.forward_to(campaign_progress)  # each point's analysis run, with its objective value
if _interactive() and not os.environ.get("AUTOLAB_NO_BEC"):
    from bluesky.callbacks.best_effort import BestEffortCallback

    bec = BestEffortCallback()
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        bec.disable_plots()  # headless: tables only
    else:  # live figures of each point's spectrum and a campaign's best so far
        from autolab.liveplot import LiveCampaignPlot

        live_plot = LiveCampaignPlot()
        RE.subscribe(live_plot)
        analysis.forward_to(live_plot)
    RE.subscribe(bec)

BANNER = f"""autolab session — catalog {location}
  reactor        {type(reactor).__name__} '{reactor.name}' (limits: {', '.join(f'{k} {v[0]:g}–{v[1]:g}' for k, v in reactor.limits().items())})
  RE             RunEngine → catalog writer, live analysis{', BestEffortCallback' if 'bec' in globals() else ''}
  plans          measure_point, phase_map, autonomous_campaign, set_conditions, wait_steady, stop_flow, safe_state
  calibrations   take_dark(reactor.spectrometer), take_reference(reactor.spectrometer), take_background(reactor.saxs)
  catalog        tiled client; measurements(catalog), find_runs(catalog, campaign_id=…), load_point(catalog[uid])
  plugins        {', '.join(p.name for p in plugins.plugins())}; objectives: {', '.join(plugins.objectives())}
  GPOptimizer, Campaign
  campaigns      a progress bar and a line per point; campaign_progress.last_summary, campaign_summary(catalog, id)
Try: RE(measure_point(reactor, 280, 280, 14.0))
     RE(autonomous_campaign(reactor, "msc437", budget=10, seed=0))
Ctrl-C pauses a plan: RE.resume(), RE.stop() or RE.abort() (abort leaves the heaters at a safe setpoint, pumps stopped)."""

if _interactive():
    print(BANNER)
    try:
        from IPython import get_ipython
    except ImportError:  # a plain `python -i`
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        from autolab.interrupt import one_line_errors

        one_line_errors(get_ipython())  # a refused plan argument is one line, not two tracebacks
