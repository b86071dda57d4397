"""``autolab serve``: a tiled server over an embedded catalog folder, guarded by an API key.

The server is built from the same adapter as :func:`~autolab.catalog.open_catalog`'s in-process
catalog (:func:`~autolab.catalog.location.embedded_adapter`: arrays as zarr files, event tables
in their own SQLite storage) with the same serializers, so a folder reads and writes the same
through the server as directly, and both may be used at once. Clients reach it with
``tiled.client.from_uri(uri, api_key=KEY)`` or autolab's ``--catalog URI`` with ``TILED_API_KEY``.
The root metadata names the catalog (``autolab_catalog_id``), so a client keeps the journals of
this catalog apart from those of another catalog served at the same address later.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

from ..errors import CatalogError, LimitError
from .location import embedded_adapter, resolve_location, serialization_registry

#: Host the server binds by default: this machine only.
DEFAULT_HOST = "127.0.0.1"
#: Port the server listens on by default (tiled's own default).
DEFAULT_PORT = 8000
_API_KEY = re.compile(r"[A-Za-z0-9]+")


def build_server_app(directory: str | os.PathLike, api_key: str):
    """The tiled web application serving the embedded catalog in ``directory`` (created if needed).

    Parameters
    ----------
    directory : path
        The catalog folder; a relative path is taken from the current directory.
    api_key : str
        The single API key that reads and writes (letters and digits). Requests without it are
        refused: nothing is open to anonymous clients.
    """
    from tiled.config import Authentication
    from tiled.server.app import build_app

    check_api_key(api_key)
    adapter = embedded_adapter(Path(resolve_location(directory)), create=True)
    authentication = Authentication(single_user_api_key=api_key, allow_anonymous_access=False)
    return build_app(adapter, authentication, serialization_registry=serialization_registry())


def _check_port_free(host: str, port: int) -> None:
    import errno
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
                msg = f"--host={host}: not an address of this machine ({exc.strerror}); give 127.0.0.1 or one of its interfaces"
            else:
                msg = f"--port={port}: cannot listen on {host}:{port} ({exc.strerror}); choose another port"
            raise CatalogError(msg) from None


def check_api_key(api_key: str) -> str:
    """Return ``api_key`` if tiled accepts it as a key (letters and digits), else raise :class:`LimitError`."""
    if not _API_KEY.fullmatch(api_key or ""):
        msg = f"--api-key={api_key!r} is not a valid API key; use letters and digits only (or leave it out to get one)"
        raise LimitError(msg)
    return api_key


def serve(
    directory: str | os.PathLike,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    api_key: str | None = None,
    echo: Callable[[str], None] = print,
) -> None:
    """Serve the catalog in ``directory`` over HTTP until SIGINT (Ctrl-C) or SIGTERM.

    Parameters
    ----------
    directory : path
        The embedded catalog folder (created if needed).
    host : str
        Interface to bind; ``127.0.0.1`` (default) serves this machine only.
    port : int
        TCP port, 1–65535.
    api_key : str, optional
        The API key; when not given, a random one is made and printed.
    echo : callable
        Where the line telling clients how to connect goes.
    """
    import uvicorn

    if not 1 <= int(port) <= 65535:
        msg = f"--port={port} is outside the allowed range 1–65535"
        raise LimitError(msg)
    _check_port_free(host, int(port))
    generated = api_key is None
    key = secrets.token_hex(32) if generated else check_api_key(api_key)
    location = resolve_location(directory)
    app = build_server_app(location, key)
    uri = f"http://{host}:{port}"
    key_text = f"TILED_API_KEY={key}" if generated else "TILED_API_KEY set to the key given with --api-key"
    echo(f"serving catalog {location} at {uri}; clients use --catalog {uri} with {key_text} (Ctrl-C stops)")
    config = uvicorn.Config(app, host=host, port=int(port), log_level="warning", access_log=False)
    uvicorn.Server(config).run()
