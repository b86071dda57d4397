"""Analyses too slow for a campaign's critical path, run in a worker process after each point.

Plugins declare such methods with the ``autolab_analyze_uvvis_deferred`` and
``autolab_analyze_saxs_deferred`` hooks (e.g. the SAXS plugin's Monte-Carlo size distribution,
≈ 1 s per pattern). :class:`DeferredAnalysis` is a RunEngine callback: when a ``measure_point``
run stops it hands the point's readings to one worker process and returns at once, so the
RunEngine, the point's own analysis and the optimiser's next suggestion never wait for it. The
worker's result is stored as its own derived run — ``plan_name="deferred_analysis"``,
``analysis_of=<raw uid>``, the same metadata as the point's ``analysis`` run — and never feeds
an objective.

The worker is a separate Python process (``python -m autolab.analysis.deferred``) that loads
the plugins of the ``autolab.plugins`` entry-point group: a process, not a thread, because
these methods hold the GIL for most of their run and would slow the RunEngine's thread as much
as they use. It reads jobs as pickles on its stdin and writes results as pickles on its stdout.
If the worker dies, the points it had not finished keep their raw data and ordinary analysis;
``autolab analyze RUN`` runs every hook, the deferred ones included, and stores the result as a
re-analysis run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
from typing import Any

from .manager import AnalysisReport, PluginManager

logger = logging.getLogger(__name__)

#: ``plan_name`` of the derived runs that hold deferred metrics.
DEFERRED_PLAN_NAME = "deferred_analysis"


class DeferredAnalysis:
    """RunEngine callback: run the plugins' deferred hooks on each measured point in a worker process.

    Parameters
    ----------
    sink : callable
        Where each derived ``deferred_analysis`` run's documents go, ``sink(name, doc)`` —
        usually the :class:`~autolab.catalog.CatalogWriter` (it is called from this object's
        reader thread).
    on_report : callable, optional
        Called as ``on_report(raw_start, report)`` once a point's deferred metrics are stored.

    Notes
    -----
    The callback only puts the point on an in-memory queue; a feeder thread hands queued points
    to the worker, and a reader thread stores what comes back. However far the worker falls
    behind, the RunEngine never waits. The worker starts with the first point (its imports take
    1–2 s), in its own session, so a Ctrl-C meant for the RunEngine does not reach it. Call
    :meth:`close` before the catalog writer's ``close``: it waits for the points still queued or
    in the worker, then stops it.
    """

    def __init__(self, sink, on_report=None):
        from .runs import PointReadings

        self.sink = sink
        self.on_report = on_report
        self._points = PointReadings()
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._idle = threading.Condition()
        self._pending: dict[str, dict[str, Any]] = {}  # uid → start document, until stored or given up
        self._sent: dict[str, subprocess.Popen] = {}  # uid → the worker it was handed to
        self._process: subprocess.Popen | None = None
        self._readers: list[threading.Thread] = []
        self._feeder: threading.Thread | None = None
        #: Raw run uid → uid of its stored ``deferred_analysis`` run.
        self.derived: dict[str, str] = {}
        self.errors: list[str] = []

    @property
    def pending(self) -> int:
        """Points queued or in the worker whose deferred analysis is not stored yet."""
        with self._idle:
            return len(self._pending)

    def __call__(self, name: str, doc: dict) -> None:
        point = self._points(name, doc)
        if point is None:
            return
        start, readings = point
        with self._idle:
            self._pending[start["uid"]] = start
            if self._feeder is None:
                self._feeder = threading.Thread(target=self._feed, name="autolab-deferred-feeder", daemon=True)
                self._feeder.start()
        self._jobs.put((start, readings))

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every point handed over is stored (or given up); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._pending, timeout)

    def close(self, timeout: float | None = 120.0) -> None:
        """Wait up to ``timeout`` s for the queued points, then stop the worker.

        Points not finished after ``timeout`` lose only their deferred metrics (logged);
        ``autolab analyze RUN`` computes every hook again (as a re-analysis run).
        """
        if not self.wait(timeout):
            self._note(f"{self.pending} deferred analysis(es) not finished after {timeout} s; `autolab analyze RUN` redoes them")
        self._jobs.put(None)
        if self._feeder is not None:
            self._feeder.join(timeout=10)
        process = self._process
        if process is not None:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        for reader in self._readers:
            reader.join(timeout=10)

    # --- internals -----------------------------------------------------------------------
    def _feed(self) -> None:
        """Hand each queued point to the worker (starting one when there is none or it died)."""
        while True:
            job = self._jobs.get()
            if job is None:
                if self._process is not None:
                    with contextlib.suppress(OSError):
                        self._process.stdin.close()
                return
            start, readings = job
            uid = start["uid"]
            try:
                if self._process is None or self._process.poll() is not None:
                    self._start_worker()
                with self._idle:
                    self._sent[uid] = self._process
                pickle.dump((uid, readings, start), self._process.stdin)
                self._process.stdin.flush()
            except (OSError, ValueError) as exc:  # the worker is gone (or would not start)
                self._give_up([uid], f"the deferred-analysis worker cannot take run {uid} ({exc!r}); it keeps its ordinary analysis")

    def _start_worker(self) -> None:
        if self._process is not None:  # it died: release its pipe before starting another
            with contextlib.suppress(OSError):
                self._process.stdin.close()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "autolab.analysis.deferred"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True,
        )
        reader = threading.Thread(target=self._read, args=(self._process,), name="autolab-deferred-reader", daemon=True)
        self._readers.append(reader)
        reader.start()

    def _read(self, process: subprocess.Popen) -> None:
        """Store each result the worker sends; when it ends, give up what it had not finished."""
        while True:
            try:
                uid, report = pickle.load(process.stdout)
            except (EOFError, OSError, pickle.UnpicklingError, ValueError):
                break
            with self._idle:
                start = self._pending.get(uid)
            if start is not None:
                self._store(start, report)
            with self._idle:
                self._pending.pop(uid, None)
                self._sent.pop(uid, None)
                self._idle.notify_all()
        process.stdout.close()
        try:
            code = process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        with self._idle:
            unfinished = [uid for uid, sent_to in self._sent.items() if sent_to is process]
        if unfinished:
            self._give_up(unfinished, f"the deferred-analysis worker exited with {code}; "
                                      f"{len(unfinished)} point(s) keep only their ordinary analysis")

    def _give_up(self, uids: list[str], message: str) -> None:
        self._note(message)
        with self._idle:
            for uid in uids:
                self._pending.pop(uid, None)
                self._sent.pop(uid, None)
            self._idle.notify_all()

    def _store(self, start: dict, report: AnalysisReport) -> None:
        from .runs import analysis_documents

        try:
            for name, doc in analysis_documents(start, report, md={"plan_name": DEFERRED_PLAN_NAME}):
                self.sink(name, doc)
                if name == "start":
                    self.derived[start["uid"]] = doc["uid"]
            if self.on_report is not None:
                self.on_report(start, report)
        except Exception as exc:  # the raw run and its ordinary analysis are stored either way
            self._note(f"storing the deferred analysis of run {start['uid']} failed: {exc!r}")

    def _note(self, message: str) -> None:
        logger.error(message)
        self.errors.append(message)


def serve(stdin=None, stdout=None) -> None:
    """The worker's loop: read ``(uid, readings, start)`` pickles, write ``(uid, report)`` pickles."""
    from .runs import analyze_readings

    stdin = stdin or sys.stdin.buffer
    if stdout is None:  # results go to the original stdout; anything a plugin prints goes to stderr
        stdout = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)
    manager = PluginManager()
    while True:
        try:
            uid, readings, start = pickle.load(stdin)
        except EOFError:
            return
        try:
            report = analyze_readings(manager, readings, start, deferred=True)
        except Exception as exc:  # bad readings: say so in the report, keep serving
            report = AnalysisReport(errors={"deferred": f"{type(exc).__name__}: {exc}"})
        pickle.dump((uid, report), stdout)
        stdout.flush()


if __name__ == "__main__":
    serve()
