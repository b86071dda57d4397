"""``python -m autolab.queue_manager``: bluesky-queueserver's ``start-re-manager`` with a patient watchdog.

It takes the same arguments as ``start-re-manager`` and runs the same code; ``autolab queue
start`` runs it as ``python -P -m autolab.queue_manager`` (``-P``: the queue directory it runs in
is not on its import path, as it is not for the console script). The one difference is
how long queueserver's watchdog waits for the manager's heartbeat (sent every 0.5 s) before it
kills the manager and starts a new one: :data:`HEARTBEAT_TIMEOUT_S` instead of queueserver's 5 s.

Why: on a loaded machine (a beamline workstation reducing data, a 2-core CI runner) the
manager's event loop can miss 5 s of heartbeats while it is healthy. The restarted manager then
meets a worker that is still answering its predecessor's requests: it reads those answers as
wrong message IDs, starts without the worker's list of plans (so it refuses every item) and may
not answer ``status`` for longer than a client waits. A manager that has really hung is still
restarted, :data:`HEARTBEAT_TIMEOUT_S` later.
"""

from __future__ import annotations

import sys

#: Seconds without a heartbeat before the watchdog restarts RE Manager (queueserver's own: 5 s).
HEARTBEAT_TIMEOUT_S = 30.0


def main() -> int:
    """Run ``start-re-manager`` with the watchdog's heartbeat timeout set to :data:`HEARTBEAT_TIMEOUT_S`."""
    from bluesky_queueserver.manager import start_manager

    class PatientWatchdog(start_manager.WatchdogProcess):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if not hasattr(self, "_heartbeat_timeout"):  # a queueserver that renamed it: say so rather than run unpatched
                msg = "bluesky-queueserver's WatchdogProcess has no _heartbeat_timeout: autolab.queue_manager needs updating"
                raise RuntimeError(msg)
            self._heartbeat_timeout = HEARTBEAT_TIMEOUT_S

    start_manager.WatchdogProcess = PatientWatchdog
    sys.argv[0] = "start-re-manager"
    return start_manager.start_manager()


if __name__ == "__main__":
    sys.exit(main())
