"""Simulated time for the twins."""

from __future__ import annotations

import threading
import time


class SimClock:
    """The twins' shared clock, in simulated seconds.

    Parameters
    ----------
    time_scale : float
        Real seconds per simulated second. ``1.0`` runs in real time, ``0.01`` a hundred times
        faster, and ``0`` (the default) makes the clock virtual: every wait finishes at once and
        the clock jumps forward by the simulated duration, so a dry run costs only computation
        and is exactly repeatable.

    Notes
    -----
    In virtual mode, operations started together (e.g. two heaters in one ``mv``) run one after
    another in simulated time; each still reports its own duration correctly.
    """

    def __init__(self, time_scale: float = 0.0):
        time_scale = float(time_scale)
        if not time_scale >= 0.0:
            msg = f"time_scale={time_scale!r} must be ≥ 0 (real seconds per simulated second)"
            raise ValueError(msg)
        self.time_scale = time_scale
        self._virtual_s = 0.0
        self._wall0 = time.monotonic()
        self._lock = threading.Lock()
        self._timers: set[threading.Timer] = set()

    @property
    def virtual(self) -> bool:
        """True when waits complete immediately and time jumps."""
        return self.time_scale == 0.0

    def now(self) -> float:
        """Current simulated time, s since the clock was made."""
        if self.virtual:
            return self._virtual_s
        return (time.monotonic() - self._wall0) / self.time_scale

    def finish_at(self, sim_time_s: float, finish) -> None:
        """Call ``finish()`` once the simulated clock reaches ``sim_time_s``.

        Virtual clocks jump to ``sim_time_s`` (never backwards) and call ``finish`` now; scaled
        clocks call it from a timer thread after the equivalent real delay.
        """
        if self.virtual:
            with self._lock:
                self._virtual_s = max(self._virtual_s, sim_time_s)
            finish()
            return
        delay = max(0.0, (sim_time_s - self.now()) * self.time_scale)

        def fire():
            with self._lock:
                self._timers.discard(timer)
            finish()

        timer = threading.Timer(delay, fire)
        timer.daemon = True
        with self._lock:
            self._timers.add(timer)
        timer.start()

    def cancel_pending(self) -> int:
        """Drop every wait a scaled clock has not finished yet; return how many.

        For a session that closes: an interrupted move's status would otherwise finish later, on
        a timer thread, into a RunEngine whose event loop is closed (a traceback on stderr).
        """
        with self._lock:
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()
        return len(timers)
