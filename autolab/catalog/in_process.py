"""One in-process tiled app per embedded catalog folder, shared by every client of the process.

An embedded catalog is served inside the process that opens it: tiled's app runs on an event loop
of its own, in a portal thread (``tiled.client.Context.from_app``). tiled keeps one SQLAlchemy
engine per catalog database in a process (``tiled.server.connection_pool``), whichever app asks
for it, so a second app on the same folder would use the first app's engine and connections from
a second event loop. SQLAlchemy's asyncio pool is not made for that ("Using multiple asyncio event
loops" in its asyncio documentation), and it does not hold here: a Dask worker running a sweep's
campaigns one after another, each with a session and an app of its own, once left a request of
its second campaign waiting forever, its app's loop idle, with the first campaign's app still
alive on the same engine.

So :func:`in_process_context` builds the app for a folder once and hands every later
:func:`~autolab.catalog.open_catalog` of that folder in the process the same
:class:`SharedContext`. Its ``close()`` leaves the app running for the process's other clients;
tiled closes it when the process's threads shut down. A folder whose catalog was deleted and made
again (another ``catalog.db`` file, or another catalog identity) gets a new app, and the old one is
shut down first, so that its engine goes with it.
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path

from tiled.client.context import Context

_apps: dict[str, tuple[tuple, SharedContext]] = {}
_apps_lock = threading.Lock()


class SharedContext(Context):
    """A tiled client context around this process's in-process app for one catalog folder.

    ``close()`` does nothing: other clients of the folder in this process use the same app.
    """

    def close(self) -> None:
        """Leave the shared app running (it is closed when the process's threads shut down)."""

    def shut_down(self) -> None:
        """Stop the app: its lifespan shutdown disposes of the catalog's engine."""
        Context.close(self)


def in_process_context(directory: Path, *, create: bool = True) -> SharedContext:
    """The context of this process's tiled app serving the embedded catalog in ``directory`` (absolute).

    Built on the first call for a folder (:func:`~autolab.catalog.location.embedded_adapter`
    checks, creates or relocates it); later calls return the same context while the folder holds
    the same catalog.
    """
    from tiled.server.app import build_app

    from .dependencies import reuse_dependency_graphs
    from .location import embedded_adapter, serialization_registry

    key = str(directory)
    with _apps_lock:
        cached = _apps.get(key)
        if cached is not None:
            identity, context = cached
            if identity == _identity(directory):
                return context
            del _apps[key]
            context.shut_down()
        adapter = embedded_adapter(directory, create=create)
        reuse_dependency_graphs()
        with warnings.catch_warnings():
            # starlette deprecates plain httpx in the TestClient that tiled uses in-process.
            warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
            context = SharedContext.from_app(build_app(adapter, serialization_registry=serialization_registry()))
        _apps[key] = (_identity(directory), context)
        return context


def _identity(directory: Path) -> tuple:
    """What tells one catalog in ``directory`` from another made there later: its database file and its identity."""
    from .location import _read_marker

    try:
        stat = os.stat(directory / "catalog.db")
    except OSError:
        return ()
    return stat.st_dev, stat.st_ino, _read_marker(directory).get("catalog_id")
