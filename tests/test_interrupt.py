"""Ctrl-C on a command (autolab.interrupt): the plan stops, its cleanup runs, and the call says so."""

from __future__ import annotations

import os
import signal
import threading

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
import pytest
from bluesky import RunEngine
from ophyd.sim import det

from autolab import interrupt


def _long_plan(events: list, cleaned: list):
    def inner():
        for _ in range(500):
            yield from bps.checkpoint()
            events.append((yield from bps.trigger_and_read([det])))
            yield from bps.sleep(0.01)

    def cleanup():
        cleaned.append("cleanup")
        yield from bps.null()

    yield from bpp.finalize_wrapper(bpp.run_wrapper(inner()), cleanup())


@pytest.mark.parametrize("helper_thread_works", [True, False], ids=["pause-from-thread", "pause-lost"])
def test_one_sigint_stops_the_plan_runs_its_cleanup_and_returns_interrupted(monkeypatch, helper_thread_works):
    """The first SIGINT stops a 5 s plan within a second; a pause request the RunEngine loses is made up by the plan."""
    if not helper_thread_works:  # as if every request_pause from the helper thread were dropped
        monkeypatch.setattr(interrupt.PauseOnCtrlC, "_pause_when_asked", lambda self: None)
    RE = RunEngine({})
    handler, managers = signal.getsignal(signal.SIGINT), list(RE.context_managers)
    docs: list = []
    RE.subscribe(lambda name, doc: docs.append((name, doc)))
    events: list = []
    cleaned: list = []
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        result, interrupted = interrupt.run_interruptible(RE, _long_plan(events, cleaned))
    finally:
        timer.cancel()
    assert (result, interrupted) == (None, True)
    assert 0 < len(events) < 500
    assert cleaned == ["cleanup"]
    assert RE.state == "idle"
    (stop,) = [doc for name, doc in docs if name == "stop"]
    assert stop["exit_status"] == "abort"
    assert signal.getsignal(signal.SIGINT) == handler  # the RunEngine's own handling is back
    assert RE.context_managers == managers


def test_sigint_delivered_to_another_thread_stops_the_plan_within_a_second():
    """The kernel may hand SIGINT to any thread; the main thread, waiting for the plan, still runs the handler at once."""
    import time

    RE = RunEngine({}, during_task=interrupt.interruptible_during_task())
    events: list = []
    cleaned: list = []
    sent: list = []

    def send_to_this_thread():
        sent.append(time.monotonic())
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)

    timer = threading.Timer(0.5, send_to_this_thread)
    timer.start()
    try:
        _, interrupted = interrupt.run_interruptible(RE, _long_plan(events, cleaned))
    finally:
        timer.cancel()
    assert interrupted is True
    assert time.monotonic() - sent[0] < 1.0  # the whole plan takes ≥ 5 s; bluesky's untimed wait would run to its end
    assert cleaned == ["cleanup"]
    assert 0 < len(events) < 500


def test_a_plan_that_ends_is_not_interrupted():
    RE = RunEngine({})
    cleaned: list = []

    def short():
        yield from bps.null()
        cleaned.append("done")
        return 7

    _, interrupted = interrupt.run_interruptible(RE, short())
    assert interrupted is False
    assert cleaned == ["done"]


def test_ctrl_c_in_a_polling_loop_is_held_during_a_step_and_raised_at_the_next_safe_point():
    """The step runs to its end after the signal; check() raises; sleep() wakes at once; the old handler is back.

    A handler that something else installed meanwhile (here: SIGINT ignored) does not make the
    loop deaf to Ctrl-C: the next check() puts the loop's own handler back.
    """
    import time

    before = signal.getsignal(signal.SIGINT)
    finished = []

    def loop():
        with interrupt.CtrlCAtSafePoints() as ctrl_c:
            ctrl_c.check()  # nothing pressed: nothing raised
            os.kill(os.getpid(), signal.SIGINT)
            finished.append("the whole step")
            ctrl_c.check()

    with pytest.raises(KeyboardInterrupt):
        loop()
    assert finished == ["the whole step"]
    assert signal.getsignal(signal.SIGINT) is before

    def sleeping_loop():
        with interrupt.CtrlCAtSafePoints() as ctrl_c:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a library replaces the handler during a step
            ctrl_c.check()
            threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
            ctrl_c.sleep(30)

    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        sleeping_loop()
    assert time.monotonic() - start < 5
    assert signal.getsignal(signal.SIGINT) is before



def test_a_move_left_by_an_interrupted_plan_does_not_finish_into_the_closed_session(tmp_path, caplog):
    """A scaled twin's heater still ramping when its session closes: the move is dropped with the
    session, not finished later on a timer thread into the closed RunEngine loop (which ophyd
    reports as an error with a traceback)."""
    import logging
    import time

    from autolab.runtime import open_session

    session = open_session(tmp_path / "catalog", time_scale=0.01, progress=False, deferred=False)
    heater = session.reactor.nucleation_heater
    heater.ramp_rate_c_per_min.put(20.0)  # 40 °C: 120 s ramp + 10 s settling = 1.3 s real, a margin on a loaded CI machine
    status = None

    def start_a_ramp():
        nonlocal status
        status = yield from bps.abs_set(heater, heater.position + 40.0)  # not waited for, as after an abort

    session.RE(start_a_ramp())
    assert not status.done
    with caplog.at_level(logging.ERROR):
        session.close()
        time.sleep(3.0)  # well past the ramp's 1.3 s real
    assert not status.done
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
