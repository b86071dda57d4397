"""The background processes autolab starts (the queue's Redis and RE Manager, the twin's IOC): are they running."""

from __future__ import annotations

import os

import psutil


def alive(pid: int) -> bool:
    """True while process ``pid`` runs; a process that has exited (a zombie not yet reaped) does not.

    A zombie child of this process is reaped here. One of another process (a queue started by an
    earlier ``autolab`` command, whose processes init adopted) waits for init to reap it, which a
    container's first process may do seconds later or never; it has stopped all the same.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child: os.kill said it exists, unless it is a zombie
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False
    return waited == 0
