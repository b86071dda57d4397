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
``autolab analyze RUN`` runs every hook again later.
"""

from __future__ import annotations

import logging
import os
import pickle
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
        usually the :class:`~autolab.catalog.CatalogWriter` (it may be called from this
        object's reader thread).
    on_report : callable, optional
        Called as ``on_report(raw_start, report)`` once a point's deferred metrics are stored.

    Notes
    -----
    The worker starts with the first point (its imports take 1–2 s, in the background). Call
    :meth:`close` before the catalog writer's ``close``: it waits for the points still in the
    worker, then stops it.
    """

    def __init__(self, sink, on_report=None):
        from .runs import PointReadings

        self.sink = sink
        self.on_report = on_report
        self._points = PointReadings()
        self._lock = threading.Lock()
        self._pending: dict[str, dict[str, Any]] = {}
        self._idle = threading.Condition(self._lock)
        self._process: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        #: Raw run uid → uid of its stored ``deferred_analysis`` run.
        self.derived: dict[str, str] = {}
        self.errors: list[str] = []

    @property
    def pending(self) -> int:
        """Points handed to the worker whose deferred analysis is not stored yet."""
        with self._lock:
            return len(self._pending)

    def __call__(self, name: str, doc: dict) -> None:
        point = self._points(name, doc)
        if point is None:
            return
        start, readings = point
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                if self._process is not None:  # it died: release its pipes before starting another
                    self._process.stdin.close()
                self._start_worker()
            self._pending[start["uid"]] = start
            try:
                pickle.dump((start["uid"], readings, start), self._process.stdin)
                self._process.stdin.flush()
            except (BrokenPipeError, OSError) as exc:
                self._pending.pop(start["uid"], None)
                self._note(f"the deferred-analysis worker stopped; run {start['uid']} keeps its ordinary analysis ({exc!r})")

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every point handed over is stored (or the worker died); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._pending, timeout)

    def close(self, timeout: float | None = 120.0) -> None:
        """Wait up to ``timeout`` s for the points in the worker, then stop it.

        Points still in the worker after ``timeout`` lose only their deferred metrics (logged);
        ``autolab analyze RUN`` computes them again.
        """
        if not self.wait(timeout):
            self._note(f"{self.pending} deferred analysis(es) not finished after {timeout} s; `autolab analyze RUN` redoes them")
        with self._lock:
            process, self._process = self._process, None
        if process is not None:
            try:
                process.stdin.close()
                process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                process.kill()
        if self._reader is not None:
            self._reader.join(timeout=10)

    # --- internals -----------------------------------------------------------------------
    def _start_worker(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "autolab.analysis.deferred"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0
        )
        self._reader = threading.Thread(target=self._read, args=(self._process,), name="autolab-deferred-analysis", daemon=True)
        self._reader.start()

    def _read(self, process: subprocess.Popen) -> None:
        """Store each result the worker sends; on its end, release whatever it had not finished."""
        while True:
            try:
                uid, report = pickle.load(process.stdout)
            except (EOFError, OSError, pickle.UnpicklingError):
                break
            with self._lock:
                start = self._pending.get(uid)
            if start is not None:
                self._store(start, report)
            with self._idle:
                self._pending.pop(uid, None)
                self._idle.notify_all()
        process.stdout.close()
        try:
            code = process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        with self._idle:
            if self._pending:
                self._note(f"the deferred-analysis worker exited with {code}; "
                           f"{len(self._pending)} point(s) keep only their ordinary analysis")
            if self._process is process or self._process is None:
                self._pending.clear()
            self._idle.notify_all()

    def _store(self, start: dict, report: AnalysisReport) -> None:
        from .runs import analysis_documents

        try:
            for name, doc in analysis_documents(start, report, md={"plan_name": DEFERRED_PLAN_NAME}):
                self.sink(name, doc)
                if name == "start":
                    self.derived[start["uid"]] = doc["uid"]
        except Exception as exc:  # the raw run and its ordinary analysis are stored either way
            self._note(f"storing the deferred analysis of run {start['uid']} failed: {exc!r}")
            return
        if self.on_report is not None:
            self.on_report(start, report)

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
