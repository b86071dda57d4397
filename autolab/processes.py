"""The background processes autolab starts (the queue's Redis and RE Manager, the twin's IOC): are they running."""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """True while process ``pid`` runs; a zombie child of this process (exited, not yet waited for) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child: os.kill said it exists
        return True
    return waited == 0
