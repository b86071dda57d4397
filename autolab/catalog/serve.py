"""``autolab serve``: a tiled server over an embedded catalog folder, guarded by API keys.

The server is built from the same adapter as :func:`~autolab.catalog.open_catalog`'s in-process
catalog (:func:`~autolab.catalog.location.embedded_adapter`: arrays as zarr files, event tables
in their own SQLite storage) with the same serializers, so a folder reads and writes the same
through the server as directly, and both may be used at once. Clients reach it with
``tiled.client.from_uri(uri, api_key=KEY)`` or autolab's ``--catalog URI`` with ``TILED_API_KEY``.
The root metadata names the catalog (``autolab_catalog_id``), so a client keeps the journals of
this catalog apart from those of another catalog served at the same address later.

Every request needs a key: the API key reads and writes; the optional read-only key
(``--read-api-key``) reads runs and their data and nothing else — a write with it, like any
request with a wrong key or none, is answered with HTTP 401 (see :func:`allow_read_only_key`).

With ``database`` (``autolab serve --database postgresql://USER@HOST:PORT/DB``) the server is a
facility catalog: tiled's catalog (runs, metadata) and the event tables live in that PostgreSQL
database, arrays as zarr files under the catalog folder's ``data/`` (see :func:`database_adapter`).
Such a server may run several worker processes (``--workers N``, uvicorn's own supervisor) on one
port: each request is handled in one process, so writers that write at once are served on as many
cores. A catalog folder's event tables (SQLite) take one writing process at a time, so a folder is
served by one process.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
from collections.abc import Callable
from pathlib import Path

from ..errors import CatalogError, LimitError
from .dependencies import reuse_dependency_graphs
from .location import embedded_adapter, resolve_location, serialization_registry
from .uncommitted import replace_uncommitted_arrays

#: Host the server binds by default: this machine only.
DEFAULT_HOST = "127.0.0.1"
#: Port the server listens on by default (tiled's own default).
DEFAULT_PORT = 8000
_API_KEY = re.compile(r"[A-Za-z0-9]+")
#: Environment variable ``autolab serve`` reads its API key from when ``--api-key`` is not given.
API_KEY_ENV = "AUTOLAB_SERVE_API_KEY"
#: Environment variable ``autolab serve`` reads its read-only key from when ``--read-api-key`` is not given.
READ_API_KEY_ENV = "AUTOLAB_SERVE_READ_API_KEY"
#: Most worker processes one server may run (``--workers``).
MAX_WORKERS = 32
#: Environment variable through which a server hands its settings to its worker processes.
_WORKER_SETTINGS_ENV = "AUTOLAB_SERVE_WORKER_SETTINGS"


def build_server_app(
    directory: str | os.PathLike, api_key: str, *, read_api_key: str | None = None, database: str | None = None,
    catalog_identity: str | None = None,
):
    """The tiled web application serving the embedded catalog in ``directory`` (created if needed).

    Parameters
    ----------
    directory : path
        The catalog folder; a relative path is taken from the current directory.
    api_key : str
        The single API key that reads and writes (letters and digits). Requests without it are
        refused: nothing is open to anonymous clients.
    read_api_key : str, optional
        A second key that only reads (tiled's ``read:metadata`` and ``read:data`` scopes), for
        viewers; it must differ from ``api_key``.
    database : str, optional
        A ``postgresql://`` URI: the catalog and event tables live there, and ``directory`` holds
        the arrays only (:func:`database_adapter`).
    catalog_identity : str, optional
        The identity :func:`prepare_facility` returned for ``database``: given, the database is
        taken as ready and is not checked again.
    """
    from tiled.config import Authentication
    from tiled.server.app import build_app

    check_keys(api_key, read_api_key)
    if database is None:
        adapter = embedded_adapter(Path(resolve_location(directory)), create=True)
    else:
        adapter = database_adapter(database, Path(resolve_location(directory)), identity=catalog_identity)
        serialize_table_creation()
    replace_uncommitted_arrays()
    authentication = Authentication(single_user_api_key=api_key, allow_anonymous_access=False)
    reuse_dependency_graphs()
    app = build_app(adapter, authentication, serialization_registry=serialization_registry())
    if read_api_key is not None:
        allow_read_only_key(app, read_api_key)
    return app


def check_keys(api_key: str, read_api_key: str | None, *, options: tuple[str, str] = ("--api-key", "--read-api-key")) -> None:
    """Raise :class:`LimitError` unless both keys are valid (:func:`check_api_key`, naming ``options``) and differ."""
    check_api_key(api_key, option=options[0])
    if read_api_key is not None:
        check_api_key(read_api_key, option=options[1])
        if secrets.compare_digest(read_api_key, api_key):
            msg = "--read-api-key is the same as --api-key; a read-only key must differ from the key that writes"
            raise LimitError(msg)


def allow_read_only_key(app, read_api_key: str) -> None:
    """Let ``read_api_key`` read through the single-user tiled ``app``, and nothing more.

    tiled's single-user mode knows one key, with every scope. This overrides the app's
    dependencies that turn a request's key into a principal and scopes (HTTP and websocket):
    ``read_api_key`` becomes the single user with tiled's read scopes only (``read:metadata``,
    ``read:data``), so tiled's own scope checks refuse its writes with HTTP 401; every other key
    goes through tiled's code unchanged.
    """
    import functools

    from tiled.access_control.scopes import PUBLIC_SCOPES
    from tiled.server import authentication
    from tiled.utils import SingleUserPrincipal

    def is_read_key(key) -> bool:
        return isinstance(key, str) and secrets.compare_digest(key.encode(), read_api_key.encode())

    def scopes(original):
        @functools.wraps(original)  # FastAPI reads the parameters (the dependencies) from the original
        async def read_only_scopes(**kwargs):
            if is_read_key(kwargs.get("api_key")):
                return set(PUBLIC_SCOPES)
            return await original(**kwargs)

        return read_only_scopes

    def principal(original):
        @functools.wraps(original)
        async def read_only_principal(**kwargs):
            if is_read_key(kwargs.get("api_key")):
                request = kwargs.get("request")
                if request is not None:  # tiled's access log names the single user
                    request.state.principal = SingleUserPrincipal
                return None  # the single user, as tiled's own key gives
            return await original(**kwargs)

        return read_only_principal

    for original, wrap in (
        (authentication.get_current_scopes, scopes),
        (authentication.get_current_scopes_websocket, scopes),
        (authentication.get_current_principal, principal),
        (authentication.get_current_principal_websocket, principal),
    ):
        app.dependency_overrides[original] = wrap(original)


def _bind(host: str, port: int):
    """A socket bound to ``host:port`` (port 0: one the system picks), which the server then listens on.

    Binding here, before the seconds the app takes to build, keeps the port from other programs in
    between, and the address printed is the one served. It does not listen yet: a client that
    connects meanwhile is refused at once, which tells it plainly that nothing received its request,
    rather than waiting in a queue until its request times out unanswered (tiled's client retries a
    refused connection, and a write it cannot know the fate of is not retried).
    """
    import errno
    import socket

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
            msg = f"--host={host}: not an address of this machine ({exc.strerror}); give 127.0.0.1 or one of its interfaces"
        else:
            msg = f"--port={port}: cannot listen on {host}:{port} ({exc.strerror}); choose another port, or 0 for a free one"
        raise CatalogError(msg) from None
    return sock


def check_api_key(api_key: str, *, option: str = "--api-key") -> str:
    """Return ``api_key`` if tiled accepts it as a key (letters and digits), else raise :class:`LimitError` naming ``option``."""
    if not _API_KEY.fullmatch(api_key or ""):
        hint = " (or leave it out to get one)" if option == "--api-key" else ""
        msg = f"{option}={api_key!r} is not a valid API key; use letters and digits only{hint}"
        raise LimitError(msg)
    return api_key


def serve(
    directory: str | os.PathLike,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    api_key: str | None = None,
    read_api_key: str | None = None,
    echo: Callable[[str], None] = print,
    database: str | None = None,
    key_sources: tuple[str, str] = ("--api-key", "--read-api-key"),
    workers: int = 1,
) -> None:
    """Serve the catalog in ``directory`` over HTTP until SIGINT (Ctrl-C) or SIGTERM.

    Parameters
    ----------
    directory : path
        The embedded catalog folder (created if needed).
    host : str
        Interface to bind; ``127.0.0.1`` (default) serves this machine only.
    port : int
        TCP port, 1–65535, or 0 for a free one the system picks (the line printed names it).
    api_key : str, optional
        The API key that reads and writes; when not given, a random one is made and printed.
    read_api_key : str, optional
        A key that only reads (for viewers); without it, there is no read-only key.
    echo : callable
        Where the lines telling clients how to connect go.
    database : str, optional
        A ``postgresql://`` URI for the catalog and the event tables (``directory`` then holds
        the arrays). It is checked before the server starts: one that cannot be reached is a
        :class:`~autolab.errors.CatalogError` naming it (password masked) within seconds.
    key_sources : (str, str)
        Where ``api_key`` and ``read_api_key`` came from (an option, or an environment variable
        such as :data:`API_KEY_ENV`), as messages name them; the keys themselves are printed
        only when made here.
    workers : int
        Server processes on the port, 1 to :data:`MAX_WORKERS`; more than one needs ``database``
        (:func:`check_workers`). The processes are uvicorn's workers: this process supervises them
        (a worker that dies is started again; one that cannot start stops the server with its
        error), stops them on SIGINT or SIGTERM and then ends as one process would (SIGINT raises
        ``KeyboardInterrupt``), and they stop when it is killed.
    """
    workers = check_workers(workers, database)
    if not 0 <= int(port) <= 65535:
        msg = f"--port={port} is outside the allowed range 0–65535 (0: a free port, printed)"
        raise LimitError(msg)
    generated = api_key is None
    key = secrets.token_hex(32) if generated else api_key
    check_keys(key, read_api_key, options=key_sources)
    if database is not None:  # before the server's imports, so an unreachable database is told within seconds
        prepare_database(check_database_uri(database))
    import uvicorn

    location = resolve_location(directory)
    with _bind(host, int(port)) as sock:
        port = sock.getsockname()[1]
        settings = {"directory": str(location), "api_key": key, "read_api_key": read_api_key, "database": database}
        if workers == 1:
            app = build_server_app(**settings)
        else:  # made ready here once, so a database that cannot be used is one error, not one per worker
            settings["catalog_identity"] = prepare_facility(database, Path(location))
        uri = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        if database is not None:
            location = f"{mask_database_uri(database)} (arrays in {Path(location) / 'data'})"
        key_text = f"TILED_API_KEY={key}" if generated else f"TILED_API_KEY set to {_given(key_sources[0])}"
        echo(f"serving catalog {location} at {uri}; clients use --catalog {uri} with {key_text} (Ctrl-C stops)")
        if read_api_key is not None:
            echo(f"viewers read, and cannot write, with TILED_API_KEY set to {_given(key_sources[1])}")
        if workers == 1:
            config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
            uvicorn.Server(config).run(sockets=[sock])
        else:
            echo(f"{workers} worker processes answer on port {port}, each request in one of them")
            _run_workers(sock, host, port, workers, settings)


def check_workers(workers: int, database: str | None) -> int:
    """``workers`` if a server may run that many processes, else :class:`LimitError` saying why.

    Examples
    --------
    >>> check_workers(4, "postgresql://lab@db.example/catalog")
    4
    >>> check_workers(2, None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    autolab.errors.LimitError: --workers=2 needs --database: a catalog folder's event tables (SQLite) take one writing process at a time; ...
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
        msg = f"--workers={workers!r} is outside the allowed range 1–{MAX_WORKERS}"
        raise LimitError(msg)
    if workers > 1 and database is None:
        msg = (f"--workers={workers} needs --database: a catalog folder's event tables (SQLite) take one writing process "
               "at a time; serve a folder with --workers 1")
        raise LimitError(msg)
    return workers


def _run_workers(sock, host: str, port: int, workers: int, settings: dict) -> None:
    """Serve on ``sock`` from ``workers`` uvicorn worker processes, each building its app with :func:`worker_app`.

    uvicorn's supervisor (``uvicorn.supervisors.Multiprocess``) starts them, starts again one that
    dies, and stops them all on SIGINT or SIGTERM; the signal is then raised again here, so the
    command ends as a single server process would. Other signals keep their usual effect (the
    supervisor would otherwise restart its workers on SIGHUP, or add and remove workers on SIGTTIN
    and SIGTTOU). The settings reach the workers through the environment they inherit
    (:data:`_WORKER_SETTINGS_ENV`, keys included: a process's environment is readable only by its
    own user and root), not through their command lines.
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess
    from uvicorn.supervisors.multiprocess import SIGNALS

    class Supervisor(Multiprocess):
        """uvicorn's supervisor, noting the signal that stopped it (none: a worker could not start)."""

        stopped_by: int | None = None

        def handle_int(self) -> None:
            self.stopped_by = signal.SIGINT
            super().handle_int()

        def handle_term(self) -> None:
            self.stopped_by = signal.SIGTERM
            super().handle_term()

    before = {sig: signal.getsignal(sig) for sig in SIGNALS}
    os.environ[_WORKER_SETTINGS_ENV] = json.dumps({**settings, "supervisor_pid": os.getpid()})
    try:
        # A worker answers uvicorn's health check from a thread of its own, also while it imports
        # tiled and builds its app (seconds); 30 s leaves a busy machine room.
        config = uvicorn.Config(f"{__name__}:worker_app", factory=True, host=host, port=port, workers=workers,
                                log_level="warning", access_log=False, timeout_worker_healthcheck=30)
        supervisor = Supervisor(config, sockets=[sock])
        for sig in set(SIGNALS) - {signal.SIGINT, signal.SIGTERM}:
            signal.signal(sig, before[sig])
        supervisor.run()
    finally:
        os.environ.pop(_WORKER_SETTINGS_ENV, None)
        for sig, handler in before.items():
            signal.signal(sig, handler)
    if supervisor.stopped_by is None:
        msg = "a worker process could not start (its error is printed above); the server stopped"
        raise CatalogError(msg)
    signal.raise_signal(supervisor.stopped_by)


def worker_app():
    """The app of one worker process of :func:`serve` (uvicorn calls this factory in each worker).

    The worker asks Linux to send it SIGTERM when its supervisor dies, so a killed server leaves
    no worker serving on its own. An app that cannot be built is one line on stderr and uvicorn's
    start-up failure exit code, on which the supervisor stops rather than start the worker again.
    """
    import sys

    from uvicorn.config import STARTUP_FAILURE

    settings = json.loads(os.environ.pop(_WORKER_SETTINGS_ENV))
    _stop_with(settings.pop("supervisor_pid"))
    try:
        return build_server_app(**settings)
    except Exception as exc:
        print(f"autolab serve: worker {os.getpid()}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        sys.exit(STARTUP_FAILURE)


def _stop_with(supervisor_pid: int) -> None:
    """SIGTERM this process when its parent exits (Linux ``PR_SET_PDEATHSIG``); exit now if the supervisor is already gone."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the supervisor's own shutdown stops its workers
        return
    if os.getppid() != supervisor_pid:
        os._exit(0)


def _given(source: str) -> str:
    return f"the key given with {source}" if source.startswith("--") else f"the key in {source}"


#: Table autolab adds to a PostgreSQL catalog: one row, the catalog's identity (``autolab_catalog_id``).
IDENTITY_TABLE = "autolab_catalog"
#: Seconds to wait for PostgreSQL to answer before the URI is reported unreachable.
CONNECT_TIMEOUT_S = 5.0


def mask_database_uri(uri: str) -> str:
    """``uri`` with its password (if any) shown as ``***``, as it may be printed.

    Examples
    --------
    >>> mask_database_uri("postgresql://lab:secret@db.example:5432/catalog")
    'postgresql://lab:***@db.example:5432/catalog'
    >>> mask_database_uri("postgresql://lab@127.0.0.1:5432/catalog")
    'postgresql://lab@127.0.0.1:5432/catalog'
    """
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{netloc}"))


def check_database_uri(uri: str) -> str:
    """Return ``uri`` if it is a ``postgresql://`` URI naming a database, else raise :class:`LimitError`."""
    from urllib.parse import urlsplit

    parts = urlsplit(uri or "")
    if parts.scheme not in ("postgresql", "postgres") or not parts.path.strip("/"):
        msg = (
            f"--database={mask_database_uri(uri)!r} is not a PostgreSQL URI; "
            "give postgresql://USER[:PASSWORD]@HOST:PORT/DATABASE"
        )
        raise LimitError(msg)
    return "postgresql" + uri[len(parts.scheme):]


def prepare_database(uri: str, *, timeout: float = CONNECT_TIMEOUT_S) -> tuple[bool, str]:
    """Connect to the PostgreSQL database ``uri``; return (whether tiled's schema is there, the catalog identity).

    The identity is kept in the one-row table :data:`IDENTITY_TABLE` of the database itself (made
    on first use), so it stays with the runs whichever folder holds the arrays.

    Raises
    ------
    CatalogError
        If the database cannot be reached within ``timeout`` seconds, refuses the user, or does
        not exist; one line naming the URI with its password masked.
    """
    import uuid

    async def _prepare(connection) -> tuple[bool, str]:
        initialised = await connection.fetchval("SELECT to_regclass('public.alembic_version') IS NOT NULL")
        await connection.execute(f"CREATE TABLE IF NOT EXISTS {IDENTITY_TABLE} (catalog_id text PRIMARY KEY)")
        await connection.execute(
            f"INSERT INTO {IDENTITY_TABLE} SELECT $1 WHERE NOT EXISTS (SELECT 1 FROM {IDENTITY_TABLE})", str(uuid.uuid4())
        )
        identity = await connection.fetchval(f"SELECT catalog_id FROM {IDENTITY_TABLE} LIMIT 1")
        return bool(initialised), str(identity)

    try:
        return _on_database(uri, _prepare, timeout)
    except _DatabaseFailure as failure:
        msg = f"--database={mask_database_uri(uri)}: cannot connect to PostgreSQL ({failure}); check its host, port, user and database name"
        raise CatalogError(msg) from None


class _DatabaseFailure(Exception):
    """Why :func:`_on_database` failed, in one line (the caller names what it was doing)."""


def _on_database(uri: str, work, timeout: float):
    """``await work(connection)`` on a new asyncpg connection to ``uri``, closed afterwards; its result.

    Raises :class:`_DatabaseFailure` with one line of why: the server's first line, or "no answer
    within … s" when connecting and the work take longer than ``timeout``.
    """
    import asyncio

    import asyncpg

    async def _run():
        connection = await asyncpg.connect(uri, timeout=timeout)
        try:
            return await work(connection)
        finally:
            await connection.close()

    try:
        return asyncio.run(asyncio.wait_for(_run(), timeout + 1))
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, TimeoutError):
            reason = f"no answer within {timeout:g} s"
        raise _DatabaseFailure(reason) from None


#: Key of the PostgreSQL advisory lock under which servers of one database create event tables.
TABLE_CREATION_LOCK = 0x6175746F6C6162  # "autolab"


def serialize_table_creation() -> None:
    """Make tiled create event tables in PostgreSQL one process at a time (idempotent, this process).

    tiled (0.2) creates a stream's SQL table with ``CREATE TABLE IF NOT EXISTS``, an index named
    ``dataset_and_partition_index`` (one name for every table) and a sequence, each "if not
    exists". PostgreSQL does not make "if not exists" safe between sessions: when two server
    processes create the same new table, or their first tables, at once, one fails on a unique
    constraint of PostgreSQL's own catalog and the client gets HTTP 500. Here tiled's
    ``SQLAdapter.init_storage`` runs under a PostgreSQL advisory lock (:data:`TABLE_CREATION_LOCK`,
    held on a connection of its own until tiled has committed), so the worker processes of one
    server (``--workers``), and servers sharing one database, take turns for it; appending rows
    does not take the lock.

    Every event table names one asset, the database itself, in the catalog's ``assets`` table
    (unique ``data_uri``). tiled registers it when it stores the node, a select then an insert in
    the node's own transaction, after the lock is gone: two processes storing their first tables
    at once both find no row, and the second insert fails on ``ix_assets_data_uri`` (HTTP 500).
    So, still under the lock, the asset row is inserted "on conflict do nothing" and committed;
    tiled's select then finds it. This needs the catalog and the event tables in one database,
    as :func:`database_adapter` serves them; :func:`keep_database_asset` keeps the row there.
    """
    from contextlib import closing

    from tiled.adapters.sql import SQLAdapter

    original = SQLAdapter.__dict__["init_storage"].__func__
    if getattr(original, "serialized_by_autolab", False):
        return

    def init_storage(cls, storage, data_source, path_parts=None):
        if getattr(storage, "dialect", None) != "postgresql":
            return original(cls, storage, data_source, path_parts)
        with closing(storage.connect()) as connection:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT pg_advisory_lock({TABLE_CREATION_LOCK})")
            try:
                data_source = original(cls, storage, data_source, path_parts)
                with connection.cursor() as cursor:
                    for asset in data_source.assets:
                        cursor.execute(
                            "INSERT INTO assets (data_uri, is_directory) VALUES ($1, $2) ON CONFLICT (data_uri) DO NOTHING",
                            (asset.data_uri, asset.is_directory),
                        )
                connection.commit()
                return data_source
            except BaseException:
                connection.rollback()  # so that the unlock below runs, and the error raised is the first one
                raise
            finally:
                with connection.cursor() as cursor:
                    cursor.execute(f"SELECT pg_advisory_unlock({TABLE_CREATION_LOCK})")

    init_storage.serialized_by_autolab = True
    init_storage.__doc__ = original.__doc__
    SQLAdapter.init_storage = classmethod(init_storage)


def prepare_facility(uri: str, directory: Path) -> str:
    """Make the PostgreSQL database ``uri`` and the array folder ``directory``/data ready; return the catalog identity.

    tiled's schema is created when the database has none yet (:func:`prepare_database` keeps the
    identity in the database).

    Raises
    ------
    LimitError
        If ``uri`` is not a ``postgresql://`` URI.
    CatalogError
        If the database cannot be reached, its schema cannot be made, or the folder cannot be created.
    """
    from .location import first_line, initialize_catalog_database

    uri = check_database_uri(uri)
    initialised, identity = prepare_database(uri)
    arrays = Path(resolve_location(directory)) / "data"
    try:
        arrays.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"cannot create the array folder {arrays}: {exc.strerror}"
        raise CatalogError(msg) from exc
    if not initialised:
        try:
            initialize_catalog_database(uri)
        except CatalogError as exc:
            msg = f"--database={mask_database_uri(uri)}: cannot create tiled's catalog schema ({first_line(exc.__cause__)})"
            raise CatalogError(msg) from None
    keep_database_asset(uri)
    return identity


#: A trigger on tiled's ``assets`` table that skips deleting the row of a PostgreSQL database (the
#: asset every event table names); it is made, or made again, each time a server prepares the database.
KEEP_DATABASE_ASSET_SQL = """
CREATE OR REPLACE FUNCTION autolab_keep_database_asset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.data_uri LIKE 'postgresql://%' THEN
        RETURN NULL;
    END IF;
    RETURN OLD;
END $$;
DROP TRIGGER IF EXISTS autolab_keep_database_asset ON assets;
CREATE TRIGGER autolab_keep_database_asset BEFORE DELETE ON assets
    FOR EACH ROW EXECUTE FUNCTION autolab_keep_database_asset();
"""


def keep_database_asset(uri: str, *, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Keep the database's own row in tiled's ``assets`` table once it is there, whatever is deleted.

    Every event table names one asset, the database itself. tiled deletes an asset with the last
    node that names it, in the deleting request's transaction, while a node being stored in
    another server process may already have looked the asset up (:func:`serialize_table_creation`
    commits it before tiled stores the node): that node then names a row that is gone, and its
    request fails on the foreign key ``data_source_asset_association_asset_id_fkey`` (HTTP 500).
    Every writer's storage check creates a table and deletes it, so on a database without runs
    several writers starting at once meet this. A ``BEFORE DELETE`` trigger
    (:data:`KEEP_DATABASE_ASSET_SQL`) skips that row instead; the database's asset names no file,
    so keeping it keeps nothing on disk, and tiled only drops the tables the deleted nodes held.
    Run under the advisory lock of table creation, so servers starting at once take turns.

    Raises
    ------
    CatalogError
        If the database cannot be reached or the trigger cannot be made; one line naming the URI
        with its password masked.
    """
    async def _keep(connection) -> None:
        await connection.execute(f"SELECT pg_advisory_lock({TABLE_CREATION_LOCK})")
        try:
            async with connection.transaction():
                await connection.execute(KEEP_DATABASE_ASSET_SQL)
        finally:
            await connection.execute(f"SELECT pg_advisory_unlock({TABLE_CREATION_LOCK})")

    try:
        _on_database(uri, _keep, timeout)
    except _DatabaseFailure as failure:
        msg = f"--database={mask_database_uri(uri)}: cannot keep the database's asset in tiled's catalog ({failure})"
        raise CatalogError(msg) from None


def database_adapter(uri: str, directory: Path, *, identity: str | None = None):
    """tiled's catalog adapter over the PostgreSQL database ``uri``, arrays under ``directory``/data.

    The database holds tiled's catalog (nodes, metadata, data sources, assets) and, as tiled's
    SQL storage, the runs' event tables. The root metadata carries the catalog's identity. Without
    ``identity`` the database and folder are first made ready (:func:`prepare_facility`, which
    raises its errors); with it they are taken as ready.
    """
    import logging

    from tiled.catalog import from_uri

    from .location import CATALOG_ID_KEY, ROOT_SPECS, frames_directory

    logging.getLogger("tiled.server.app").setLevel(logging.WARNING)
    if identity is None:
        identity = prepare_facility(uri, directory)
    uri = check_database_uri(uri)
    arrays = Path(resolve_location(directory)) / "data"
    return from_uri(
        uri,
        writable_storage=[str(arrays), uri],
        readable_storage=[str(frames_directory(directory))],
        specs=ROOT_SPECS,
        metadata={CATALOG_ID_KEY: identity},
    )
