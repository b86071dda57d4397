"""Plans that name every device failure of a point, and the exceptions by which a device fails one.

The RunEngine raises one failure into a plan; two pumps that lose their connection in one point
fail together. :func:`naming_every_failure` wraps a plan so that its failure names them all
(:class:`DevicesFailed`); a campaign's failed point (:mod:`autolab.campaign.plan`) and the
``autolab measure`` / ``phase-map`` commands use the same pieces.
"""

# No ``from __future__ import annotations``: bluesky-queueserver reads the plans' annotations at run time.

import logging
import time
from collections.abc import Sequence
from typing import Any

from bluesky import plan_stubs as bps
from bluesky.utils import MsgGenerator

from autolab.errors import ReactorFault, one_line

logger = logging.getLogger(__name__)


def device_failures() -> tuple[type[BaseException], ...]:
    """The exceptions by which a device fails a point: a failed or timed-out status, a lost connection.

    Not among them: aborts and stops (``RequestAbort``, ``RequestStop``), Ctrl-C, and errors
    of the software itself, which end the campaign as before.
    """
    from bluesky.utils import FailedStatus
    from ophyd.utils.errors import DisconnectedError, StatusTimeoutError, WaitTimeoutError

    return (FailedStatus, StatusTimeoutError, WaitTimeoutError, DisconnectedError, TimeoutError, DevicesFailed)


class DevicesFailed(ReactorFault):
    """Devices failed one plan (:func:`naming_every_failure`): one line per failure in :attr:`reasons`."""

    def __init__(self, reasons: Sequence[str]):
        self.reasons = list(reasons)
        super().__init__("; ".join(self.reasons))


def naming_every_failure(plan: MsgGenerator[Any], timeout_s: float = 60.0) -> MsgGenerator[Any]:
    """``plan``; where a device fails it, :class:`DevicesFailed` naming that failure and its other moves' failures.

    The RunEngine raises one failure into a plan; two pumps that lose their connection in one
    point fail together. After the first, this waits (up to ``timeout_s``) for the plan's other
    ``set``/``trigger`` statuses and names every one that failed, as a campaign's failed point does.
    """
    statuses: list = []
    try:
        return (yield from keep_statuses(plan, statuses))
    except device_failures() as exc:
        later = yield from outstanding_failures(statuses, timeout_s)
        raise DevicesFailed(dict.fromkeys([failure_text(exc), *later])) from exc


def keep_statuses(plan: MsgGenerator[Any], statuses: list) -> MsgGenerator[Any]:
    """``plan`` unchanged; the status of each of its ``set``/``trigger`` messages is appended to ``statuses``.

    Only until a failure is handed to the plan: what it moves after that (a phase map's safe
    state, heaters cooling for minutes) is its recovery, not the failed point's moves.
    """
    response: Any = None
    thrown: BaseException | None = None
    failed = False
    while True:
        try:
            msg = plan.send(response) if thrown is None else plan.throw(thrown)
        except StopIteration as stop:
            return stop.value
        response, thrown = None, None
        try:
            response = yield msg
        except GeneratorExit:
            plan.close()
            raise
        except BaseException as exc:  # handed to the plan, as the RunEngine would
            thrown, failed = exc, True
            continue
        if not failed and msg.command in ("set", "trigger") and hasattr(response, "add_callback"):
            statuses.append(response)


def outstanding_failures(statuses: Sequence, timeout_s: float) -> MsgGenerator[list[str]]:
    """Wait (up to ``timeout_s``) until every status in ``statuses`` is done; the failures of the point.

    The RunEngine raises a status's failure at the plan's next message; the ones raised here are
    collected instead of ending the campaign. It holds one pending failure at a time, so of two
    statuses failing in one turn of its event loop one is never raised: every failed status in
    ``statuses`` is read as well.
    """
    failures: list[str] = []
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            while not all(status.done for status in statuses) and time.monotonic() < deadline:
                yield from bps.sleep(0.05)
            yield from bps.sleep(0.05)  # a failure's callback reaches the RunEngine just after its status is done
        except device_failures() as exc:
            failures.append(failure_text(exc))
        else:
            if not all(status.done for status in statuses):
                pending = ", ".join(repr(status) for status in statuses if not status.done)
                logger.warning("after a failure, moves still not done in %.0f s: %s", timeout_s, pending)
            failed = [status.exception() for status in statuses if status.done and not status.success]
            return failures + [one_line(exc) for exc in failed if exc is not None]


def failure_text(exc: BaseException) -> str:
    """One line for a device failure: the status's own exception where there is one."""
    if isinstance(exc, DevicesFailed):
        return str(exc)
    cause = exc.args[0] if exc.args else None
    inner = getattr(cause, "exception", None)
    inner = inner() if callable(inner) else inner
    return one_line(inner or exc.__cause__ or exc)
