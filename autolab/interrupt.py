"""Ctrl-C on the command line: the plan stops at once, is aborted quietly, and one line says so.

bluesky's own SIGINT handler suits the IPython session: the first Ctrl-C asks for a pause at the
next checkpoint and prints how to pause at once, and the user then resumes, stops or aborts. A
command has nothing to resume and a point can take minutes, so :func:`run_interruptible` makes the
first Ctrl-C pause at once and then aborts the plan: its cleanup runs (pumps stopped, heaters to a
safe setpoint where the plan says so) and an open run is closed with ``exit_status="abort"``.
bluesky's "Pausing…"/"Aborting…" prints and its "Run aborted" log record with a traceback are
hidden; the command prints one line of its own and exits with :data:`INTERRUPTED_EXIT`.

Every session's RunEngine waits for its plan with :func:`interruptible_during_task`, so the main
thread, where Python runs signal handlers, takes a Ctrl-C within :data:`WAKE_S`.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import signal
import sys
import threading
import time
from typing import Any

from .errors import AutolabError

#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED_EXIT = 130


class Interrupted(AutolabError):
    """A command stopped by Ctrl-C; the message says what was kept and how to go on."""


def run_interruptible(RE, plan) -> tuple[Any, bool]:
    """Run ``plan`` on ``RE``; the first Ctrl-C pauses it at once and aborts it quietly.

    What bluesky prints while the plan runs is kept off standard output (so ``--json`` output
    stays one object) and written to standard error afterwards, unless Ctrl-C was pressed.

    Parameters
    ----------
    RE : RunEngine
        The RunEngine (its SIGINT handling is replaced for this call only).
    plan : generator
        The plan.

    Returns
    -------
    result, interrupted
        What ``RE(plan)`` returned and False, or None and True after Ctrl-C.
    """
    from bluesky.utils import RunEngineInterrupted

    requested = threading.Event()
    quiet = _DropOnceRequested(requested)
    log = logging.getLogger("bluesky")
    managers = RE.context_managers
    RE.context_managers = [functools.partial(PauseOnCtrlC, requested=requested)]
    printed = io.StringIO()
    log.addFilter(quiet)
    try:
        with contextlib.redirect_stdout(printed):  # "Pausing...", "Aborting: running cleanup...", a suspender's notes
            try:
                return RE(_pause_once_requested(plan, requested, RE)), False
            except RunEngineInterrupted:
                RE.abort(reason="interrupted from the command line")
                return None, True
    finally:
        log.removeFilter(quiet)
        RE.context_managers = managers
        if not requested.is_set() and printed.getvalue():
            sys.stderr.write(printed.getvalue())


def _pause_once_requested(plan, requested: threading.Event, RE):
    """``plan``, with a pause of its own before its next message once Ctrl-C was pressed.

    The signal's helper thread asks the RunEngine to pause from outside; if that request is lost
    in a moment between the RunEngine's states, the plan itself pauses at its next message, so a
    Ctrl-C can never let a campaign run on to its end. Only a running plan is paused: the cleanup
    messages of the abort that follows pass through unchanged.
    """
    from bluesky.preprocessors import plan_mutator
    from bluesky.utils import Msg

    def pause_first(msg):
        if not requested.is_set() or msg.command == "pause" or RE.state != "running":
            return None, None

        def pause_then():
            yield Msg("pause", None, defer=False)
            return (yield msg)

        return pause_then(), None

    return plan_mutator(plan, pause_first)


class PauseOnCtrlC:
    """RunEngine context manager: the first Ctrl-C pauses the plan at once, silently.

    The signal handler only sets ``requested``; a helper thread asks the RunEngine to pause, as
    bluesky's own handler does.
    """

    def __init__(self, RE, *, requested: threading.Event):
        self._RE = RE
        self._requested = requested
        self._wake = threading.Event()
        self._done = False

    def __enter__(self):
        self._original = signal.getsignal(signal.SIGINT)

        def handler(signum, frame):
            self._requested.set()
            self._wake.set()

        signal.signal(signal.SIGINT, handler)
        threading.Thread(target=self._pause_when_asked, name="autolab-ctrl-c", daemon=True).start()
        return self

    def _pause_when_asked(self) -> None:
        self._wake.wait()
        # The RunEngine refuses a pause in some moments of a plan (between its states); ask
        # again until it takes it or the plan has finished meanwhile.
        while self._requested.is_set() and not self._done:
            try:
                self._RE.request_pause(defer=False)
            except Exception as exc:  # any refusal is retried; the end of the plan stops the loop
                logging.getLogger(__name__).debug("the RunEngine refused the pause (%r); asking again", exc)
                time.sleep(0.05)
            else:
                return

    def __exit__(self, *exc) -> None:
        self._done = True
        signal.signal(signal.SIGINT, self._original)
        self._wake.set()


#: Seconds between the main thread's looks for a pending signal while a plan runs.
WAKE_S = 0.1


def interruptible_during_task():
    """A RunEngine ``during_task`` whose wait for the plan wakes every :data:`WAKE_S`, so Ctrl-C is handled at once.

    bluesky runs the plan on its own thread while the main thread waits for it. Python runs signal
    handlers only on the main thread, between bytecodes, and the kernel delivers SIGINT to any
    thread of the process: when it lands on one of the others, a main thread blocked in an untimed
    ``Event.wait()`` (bluesky's default) runs the handler only once the whole plan has finished.
    This one waits in steps of :data:`WAKE_S`; with Matplotlib on a Qt backend it keeps bluesky's
    own wait, which runs the Qt event loop.
    """
    from bluesky.utils import DefaultDuringTask

    class InterruptibleDuringTask(DefaultDuringTask):
        def block(self, blocking_event):
            if "matplotlib" in sys.modules and "qt" in sys.modules["matplotlib"].get_backend().lower():
                return super().block(blocking_event)
            while not blocking_event.wait(WAKE_S):
                pass
            return None

    return InterruptibleDuringTask()


class _DropOnceRequested(logging.Filter):
    """Drops bluesky's log records once Ctrl-C was pressed: the abort's "Run aborted" traceback."""

    def __init__(self, requested: threading.Event):
        super().__init__()
        self._requested = requested

    def filter(self, record: logging.LogRecord) -> bool:
        return not self._requested.is_set()


class QuietExpectedAborts(logging.Filter):
    """Drops bluesky's "Run aborted" tracebacks for what the user is told in one line anyway.

    A plan refused by autolab's own checks (an :class:`AutolabError`: a temperature outside a
    limit, an unknown objective), aborted on request (``RE.abort()``) or failed by one of
    ``also`` (a command's device failures) otherwise prints bluesky's traceback above the
    session's or the command's own line; other errors keep theirs.
    """

    def __init__(self, also: tuple[type[BaseException], ...] = ()):
        super().__init__()
        from bluesky.utils import RequestAbort

        self._quiet = (AutolabError, RequestAbort, *also)

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, self._quiet)


def quiet_expected_aborts() -> None:
    """Drop bluesky's "Run aborted" traceback of an :class:`AutolabError` in this process (idempotent).

    The error itself still reaches the caller of ``RE(...)`` with its one-line message.
    """
    log = logging.getLogger("bluesky")
    if not any(type(f) is QuietExpectedAborts for f in log.filters):
        log.addFilter(QuietExpectedAborts())


def one_line_errors(shell) -> None:
    """Make an IPython ``shell`` print an :class:`AutolabError` as one line, its type and message.

    The message already names the field, the value and the allowed range; the traceback through
    bluesky's RunEngine would bury it. bluesky's own "Run aborted" record of it is dropped too
    (:class:`QuietExpectedAborts`).
    """

    def show(_shell, etype, value, _tb, tb_offset=None):
        print(f"{etype.__name__}: {value}", file=sys.stderr)

    shell.set_custom_exc((AutolabError,), show)
    quiet_expected_aborts()


class CtrlCAtSafePoints:
    """Ctrl-C for a polling loop: held while a step runs, raised as :class:`KeyboardInterrupt` between steps.

    A catalog request served by tiled's in-process app runs on a helper thread, and a
    ``KeyboardInterrupt`` in the waiting main thread would leave that request (and its SQLite
    connection) to be cancelled at exit. Inside this context the SIGINT handler only records the
    press; :meth:`check` raises it at a point the loop chooses, and :meth:`sleep` wakes at once.
    The handler is put back if anything replaced it in the meantime, so the loop stays
    interruptible whatever its steps do. Outside the main thread (where no signal arrives) it
    only sleeps.
    """

    def __init__(self):
        self._pressed = threading.Event()
        self._previous = None
        self._installed = False
        # One handler object, so check() can tell by identity whether it is still the one in place
        # (each attribute access to a method makes a new bound method).
        self._handler = lambda signum, frame: self._pressed.set()

    def __enter__(self) -> CtrlCAtSafePoints:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
            self._installed = True
        return self

    def __exit__(self, *exc) -> None:
        if self._installed:
            # None: a handler not set from Python, which signal.signal cannot restore; the default is the nearest.
            signal.signal(signal.SIGINT, signal.default_int_handler if self._previous is None else self._previous)

    def check(self) -> None:
        """Raise :class:`KeyboardInterrupt` if Ctrl-C was pressed; make sure this context's handler is the one in place."""
        if self._installed and signal.getsignal(signal.SIGINT) is not self._handler:
            signal.signal(signal.SIGINT, self._handler)
        if self._pressed.is_set():
            raise KeyboardInterrupt

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less if Ctrl-C is pressed meanwhile; then :meth:`check`."""
        self._pressed.wait(seconds)
        self.check()
