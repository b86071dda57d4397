"""One in-process tiled app per embedded catalog folder, shared by every client of the process.

An embedded catalog is served inside the process that opens it: tiled's app runs on an event loop
of its own, in a portal thread (``tiled.client.Context.from_app``). tiled keeps one SQLAlchemy
engine per catalog database in a process (``tiled.server.connection_pool``), whichever app asks
for it, so a second app on the same folder would use the first app's engine and connections from
a second event loop, which SQLAlchemy's asyncio pool is not made for ("Using multiple asyncio
event loops" in its asyncio documentation); and a catalog deleted and made again in the folder
would still be read through the old app's engine, from the deleted file.

So :func:`in_process_context` builds the app for a folder once and hands every later
:func:`~autolab.catalog.open_catalog` of that folder in the process the same
:class:`SharedContext`. Its ``close()`` leaves the app running for the process's other clients;
tiled closes it when the process's threads shut down. A folder that holds another catalog than
when its app was built (its ``catalog.db`` deleted and made again, another catalog identity, or
a folder moved away and back, whose stored locations must be set again) gets a new app, and the
old one is shut down first, its engine with it.
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path

from tiled.client.context import Context

_apps: dict[str, tuple[tuple, SharedContext]] = {}
_folder_locks: dict[str, threading.Lock] = {}
_registry_lock = threading.Lock()


class SharedContext(Context):
    """A tiled client context around this process's in-process app for one catalog folder.

    ``close()`` does nothing: other clients of the folder in this process use the same app.
    """

    #: tiled's database settings of the catalog behind the app (set by :func:`in_process_context`).
    database_settings = None

    def close(self) -> None:
        """Leave the shared app running (it is closed when the process's threads shut down)."""

    def shut_down(self) -> None:
        """Stop the app; its engine goes with it, even if the app's own shutdown fails."""
        from tiled.server import connection_pool

        try:
            Context.close(self)
        finally:
            if self.database_settings is not None:
                connection_pool._connection_pools.pop(self.database_settings, None)


def in_process_context(directory: Path, *, create: bool = True) -> SharedContext:
    """The context of this process's tiled app serving the embedded catalog in ``directory`` (absolute).

    Built on the first call for a folder (:func:`~autolab.catalog.location.embedded_adapter`
    checks, creates or relocates it); later calls return the same context while the folder holds
    the same catalog in the same place. Calls for one folder wait for each other; calls for
    other folders do not.
    """
    key = str(directory)
    with _registry_lock:
        folder_lock = _folder_locks.setdefault(key, threading.Lock())
    with folder_lock:
        cached = _apps.get(key)
        if cached is not None:
            identity, context = cached
            if _same_catalog(identity, _identity(directory)):
                return context
            del _apps[key]
            context.shut_down()
        context = _build(directory, create)
        _apps[key] = (_identity(directory), context)
        return context


def _build(directory: Path, create: bool) -> SharedContext:
    from tiled.server.app import build_app

    from .dependencies import reuse_dependency_graphs
    from .location import embedded_adapter, serialization_registry
    from .uncommitted import replace_uncommitted_arrays

    adapter = embedded_adapter(directory, create=create)
    reuse_dependency_graphs()
    replace_uncommitted_arrays()
    with warnings.catch_warnings():
        # starlette deprecates plain httpx in the TestClient that tiled uses in-process.
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        context = SharedContext.from_app(build_app(adapter, serialization_registry=serialization_registry()))
    context.database_settings = adapter.context.database_settings
    return context


def _identity(directory: Path) -> tuple:
    """What tells one catalog in ``directory`` from another: its database file, the place it was set up for, its identity.

    The last two come from ``autolab-catalog.json`` and are None where it cannot be read.
    """
    from .location import DATABASE_FILE, read_marker

    try:
        stat = os.stat(directory / DATABASE_FILE)
    except OSError:
        return ()
    marker = read_marker(directory)
    return stat.st_dev, stat.st_ino, marker.get("location"), marker.get("catalog_id")


def _same_catalog(built: tuple, now: tuple) -> bool:
    """Whether the folder still holds the catalog its app was built for (an unreadable marker field is no evidence)."""
    if not built or not now or built[:2] != now[:2]:
        return False
    return all(then == current for then, current in zip(built[2:], now[2:], strict=True) if current is not None)


def _forget_apps() -> None:
    """In a forked child: the parent's portal threads, and the holders of its locks, are not there."""
    global _registry_lock
    _apps.clear()
    _folder_locks.clear()
    _registry_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_apps)

