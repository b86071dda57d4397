"""Where a catalog lives and how it is opened: embedded (SQLite + files in one folder) or served.

An embedded catalog is one folder::

    catalog.db            tiled's catalog (nodes, metadata, data sources, assets)
    tables.db             the event tables (SQLite)
    data/                 arrays (zarr), one folder per run
    frames/               detector frames (HDF5, external assets), one folder per day
    journal/              journals of runs not yet confirmed in the catalog
    autolab-catalog.json  the folder's absolute location when it was last opened, and the
                          catalog's identity (a UUID)

tiled stores the location of every array and of ``tables.db`` in ``catalog.db`` as absolute
URIs. Every location is therefore resolved to an absolute path before tiled sees it, and when a
folder is opened somewhere else than ``autolab-catalog.json`` says (it was moved or copied), the
stored locations are rewritten to the folder's new place first, so a moved catalog reads as
before.

The identity stays with a moved folder; a copy (the folder it was copied from still holds the
same identity) gets a new one. The root node's metadata carries it (``autolab_catalog_id``), so a
client of ``autolab serve`` knows which catalog it writes to, whatever address the server has
(see :func:`catalog_identity`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sqlite3
import uuid
from pathlib import Path

from ..errors import CatalogError

logger = logging.getLogger(__name__)

#: Environment variable naming the default catalog (a directory or a tiled server URI).
CATALOG_ENV = "AUTOLAB_CATALOG"
#: Spec of the root node, so tiled clients present it as a catalog of Bluesky runs.
ROOT_SPECS = [{"name": "CatalogOfBlueskyRuns", "version": "3.0"}]
#: tiled's catalog database in a catalog folder (nodes, metadata, data sources, assets).
DATABASE_FILE = "catalog.db"
#: File in a catalog folder that records the folder's absolute location.
LOCATION_FILE = "autolab-catalog.json"
#: Key of the root node's metadata that holds the identity of a catalog autolab made.
CATALOG_ID_KEY = "autolab_catalog_id"
#: Host name of the in-process tiled app (``Context.from_app``): not a server.
_IN_PROCESS_HOST = "local-tiled-app"
# An array asset: file://localhost<old folder>/data/<run uid>/… or a frame file …/frames/<day>/<uid>.h5
_ARRAY_URI = re.compile(r"^file://localhost(?P<root>/.*?)/(?P<rest>(?:data/[0-9a-fA-F-]{36}|frames/\d{4}-\d{2}-\d{2})/.*)$")
#: Folder of an embedded catalog that holds the detectors' frame files.
FRAMES_FOLDER = "frames"


def default_location() -> str:
    """The catalog location used when none is given.

    In order: ``AUTOLAB_CATALOG``; the ``[catalog] location`` of the ``AUTOLAB_CONFIG`` file (a
    relative path there is taken from the file's folder), which the IPython session and the queue
    worker read too; ``$XDG_DATA_HOME/autolab/catalog`` (``~/.local/share/autolab/catalog``).

    Raises
    ------
    CatalogError
        If ``AUTOLAB_CONFIG`` names a file that cannot be read as TOML.
    """
    env = os.environ.get(CATALOG_ENV)
    if env:
        return env
    config = os.environ.get("AUTOLAB_CONFIG")
    if config:
        import tomllib

        try:
            with open(config, "rb") as handle:
                configured = tomllib.load(handle).get("catalog", {}).get("location")
        except (OSError, tomllib.TOMLDecodeError) as exc:
            msg = f"AUTOLAB_CONFIG={config!r} cannot be read: {exc}"
            raise CatalogError(msg) from exc
        if configured:
            configured = str(configured)
            return configured if is_remote(configured) else str(Path(config).parent / Path(configured).expanduser())
    return str(data_home() / "catalog")


def data_home() -> Path:
    """autolab's per-user data directory: ``$XDG_DATA_HOME/autolab`` or ``~/.local/share/autolab``."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "autolab"


def is_remote(location: str | os.PathLike) -> bool:
    """True if ``location`` is a tiled server URI rather than a directory."""
    return str(location).startswith(("http://", "https://"))


def resolve_location(location: str | os.PathLike | None = None) -> str:
    """The catalog location as used everywhere: a server URI as given, a folder as an absolute path.

    ``None`` means :func:`default_location`. ``~`` is expanded and symbolic links are resolved, so
    one folder has one name whichever working directory or link it is reached from.

    Examples
    --------
    >>> import os
    >>> resolve_location("my-catalog") == os.path.join(os.path.realpath(os.getcwd()), "my-catalog")
    True
    >>> resolve_location("http://127.0.0.1:8000")
    'http://127.0.0.1:8000'
    """
    location = str(location) if location is not None else default_location()
    if is_remote(location):
        return location.rstrip("/")
    return str(Path(location).expanduser().resolve())


def open_catalog(location: str | os.PathLike | None = None, *, api_key: str | None = None, create: bool = True):
    """Open the catalog at ``location`` and return its tiled client.

    Parameters
    ----------
    location : str or path, optional
        A directory for the embedded SQLite + files catalog (relative paths are taken from the
        current directory and stored as absolute), or a tiled server URI (``autolab serve``).
    api_key : str, optional
        API key for a tiled server (default: ``TILED_API_KEY``).
    create : bool
        Create an embedded catalog that does not exist yet. With ``False``, a missing folder is a
        :class:`~autolab.errors.CatalogError` naming its absolute path (reading commands use this,
        so a mistyped path is not silently a new, empty catalog).

    Returns
    -------
    client : bluesky_tiled_plugins.CatalogOfBlueskyRuns
        Index it by run uid (``client[uid]``), search it with ``tiled.queries``.
    """
    location = resolve_location(location)
    if is_remote(location):
        return _open_remote(location, api_key)
    check_embedded(Path(location), create=create)  # before tiled's imports: a mistyped path is one line at once
    from tiled.client import from_context

    from .in_process import in_process_context

    return from_context(in_process_context(Path(location), create=create))


def _open_remote(uri: str, api_key: str | None):
    from tiled.client import Context, from_context

    key = api_key or os.environ.get("TILED_API_KEY")
    context = None
    try:
        context, path_parts = Context.from_any_uri(uri, api_key=key)
        client = from_context(context, node_path_parts=path_parts)
    except Exception as exc:
        if context is not None:  # a refused client closes its connections
            context.close()
        refused = getattr(getattr(exc, "response", None), "status_code", None) == 401
        if refused or "requires API key" in str(exc):
            how = "the API key was refused" if key else "no API key was given"
            msg = f"the tiled server at {uri} needs an API key and {how}; set TILED_API_KEY to the key `autolab serve` printed"
        else:
            msg = f"cannot reach the tiled server at {uri}: {exc}"
        raise CatalogError(msg) from exc
    return client


def server_address(client) -> str | None:
    """The address of the tiled server behind ``client`` (``http://host:port``); None for an in-process catalog."""
    api_uri = str(client.context.api_uri)
    if client.context.api_uri.host == _IN_PROCESS_HOST:
        return None
    return api_uri.split("/api/", 1)[0].rstrip("/")


def catalog_identity(client) -> str | None:
    """Which catalog the server behind ``client`` holds, as a folder name; None in-process or unknown.

    ``catalog-<uuid>`` for a catalog autolab made (``autolab serve``; the UUID is the root
    metadata's ``autolab_catalog_id``). Any other tiled server gets ``oldest-run-<uid>``, from the
    first node it stored, which stays the same for as long as that node is kept; an empty one has
    no identity yet. Journals of a server are kept in a folder by this name, so a run is replayed
    only into the catalog it was written for, not into whatever catalog later has that address.
    """
    if server_address(client) is None:
        return None
    identity = client.metadata.get(CATALOG_ID_KEY)
    if identity:
        return f"catalog-{identity}"
    try:
        oldest = client.sort(("", 1)).keys().first()
    except (IndexError, StopIteration, KeyError):  # nothing stored yet
        return None
    return f"oldest-run-{oldest}" if oldest else None


_STORAGE_CHECK_TRIES = 3


def check_table_storage(client) -> None:
    """Raise :class:`CatalogError` in one line if the tiled server behind ``client`` cannot take runs from it.

    Two things are checked at once: that the client's key may write (a viewer's read-only key is
    refused with HTTP 401 or 403), and that the server can store event tables. Only a connection
    the server dropped unanswered is tried again (up to three tries, each table with a new name,
    every one deleted afterwards); any answer the server gives is final.
    Runs keep their events in tables, which tiled writes only to SQL storage; a plain ``tiled
    serve catalog --write DIR`` has file storage alone and answers every table with HTTP 500 (after
    its client has retried for up to 45 s). The check creates a one-column table beside the runs
    and deletes it again; its column is named like the table, so concurrent checks never share a
    SQL table (tiled drops a SQL table that a delete leaves empty). A server that refuses the try
    for another reason (a proxy's 502–504) is not judged here.
    """
    address = server_address(client)
    if address is None:
        return
    from dataclasses import asdict

    import httpx
    import pyarrow
    from tiled.structures.data_source import DataSource
    from tiled.structures.table import TableStructure
    from tiled.utils import safe_json_dump

    def source(name: str) -> DataSource:
        # A column named like the table gives each check a SQL table of its own: tiled keeps the
        # tables of one schema in one SQL table and drops it when a delete leaves it empty, so checks
        # sharing a schema would race to drop it under a server of several processes.
        return DataSource(
            structure=TableStructure.from_schema(pyarrow.schema([(name.replace("-", "_"), pyarrow.int64())])),
            structure_family="table",
            mimetype="application/x-tiled-sql-table",
        )

    http = client.context.http_client
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    tried: list[str] = []
    dropped: list[str] = []
    response = None
    try:
        while response is None:
            # A connection the server dropped (its keep-alive running out as the request went) is tried
            # again on a new one, with a new name: the server may have made the first table.
            tried.append(f"autolab-table-storage-check-{uuid.uuid4().hex}")
            body = {
                "id": tried[-1], "ancestors": list(client.path_parts), "metadata": {}, "structure_family": "table", "specs": [],
                "data_sources": [asdict(source(tried[-1]))], "access_tags": None,
            }
            try:
                response = http.post(client.uri, headers=headers, content=safe_json_dump(body))
            except httpx.HTTPError as exc:
                if isinstance(exc, (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)):
                    dropped.append(tried[-1])  # the server may have made this one
                if tried[-1] not in dropped or len(tried) == _STORAGE_CHECK_TRIES:
                    msg = f"cannot reach the tiled server at {address}: {exc}"
                    raise CatalogError(msg) from exc
                logger.debug("table storage check at %s: %s; trying again", address, exc)
    finally:
        made = [tried[-1]] if response is not None and response.is_success else []
        _delete_check_tables(http, client.uri, address, made=made, maybe=dropped)
    if response.is_success:
        return
    if response.status_code in (401, 403):
        msg = (
            f"the tiled server at {address} refused a write (HTTP {response.status_code}): the API key in TILED_API_KEY "
            "can only read there; writing needs the key `autolab serve` printed (or its AUTOLAB_SERVE_API_KEY)"
        )
        raise CatalogError(msg)
    if response.status_code in (500, 415):  # tiled's RuntimeError "only available storage types are …"; no SQL adapter
        msg = (
            f"the tiled server at {address} cannot store event tables (creating one answered HTTP {response.status_code}); "
            "start it with SQL storage for them, `tiled serve catalog … --write sqlite:////full/path/to/tables.db`, "
            "or serve the catalog folder with `autolab serve`"
        )
        raise CatalogError(msg)
    logger.debug("table storage check at %s answered HTTP %s; not judged", address, response.status_code)


def _delete_check_tables(http, uri: str, address: str, *, made: list[str], maybe: list[str]) -> None:
    """Delete the storage check's tables: those ``made``, and those a dropped try ``maybe`` made (absent is fine)."""
    import httpx

    for key in [*made, *maybe]:
        try:
            deleted = http.delete(f"{uri.rstrip('/')}/{key}", params={"recursive": False, "external_only": False})
            problem = None if deleted.is_success or (deleted.status_code == 404 and key in maybe) else f"HTTP {deleted.status_code}"
        except httpx.HTTPError as exc:
            problem = str(exc)
        if problem:
            logger.warning("could not delete the empty table %s that checked the storage of %s: %s", key, address, problem)


def embedded_adapter(directory: Path, *, create: bool = True):
    """tiled's catalog adapter over the embedded catalog folder ``directory`` (absolute).

    The one place that says how an embedded catalog is laid out: :func:`open_catalog` serves it
    in-process and :mod:`autolab.catalog.serve` over HTTP, so both views of a folder agree.
    """
    from tiled.catalog import from_uri

    # tiled's app logger announces its version at INFO on every start; keep output clean.
    logging.getLogger("tiled.server.app").setLevel(logging.WARNING)
    directory = Path(resolve_location(directory))
    database = directory / DATABASE_FILE
    check_embedded(directory, create=create)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"cannot create the catalog directory {directory}: {exc.strerror}"
        raise CatalogError(msg) from exc
    if database.exists() or not _create_catalog(directory, database):
        relocate(directory)  # a catalog made before, here or in a folder it was moved from
    identity = catalog_id(directory)
    adapter = from_uri(
        f"sqlite:///{database}",
        writable_storage=[str(directory / "data"), tables_uri(directory)],
        readable_storage=[str(frames_directory(directory))],
        specs=ROOT_SPECS,
        metadata={CATALOG_ID_KEY: identity} if identity else None,
    )
    return adapter


def check_embedded(directory: Path, *, create: bool = True) -> None:
    """Raise :class:`CatalogError` in one line if ``directory`` (absolute) cannot be an embedded catalog.

    A path that is a file is refused; with ``create=False`` so is a folder without ``catalog.db``
    (a mistyped path is not silently a new, empty catalog).
    """
    if directory.exists() and not directory.is_dir():
        msg = f"catalog path {directory} exists and is not a directory"
        raise CatalogError(msg)
    if not create and not (directory / DATABASE_FILE).exists():
        what = "has no catalog (no catalog.db)" if directory.exists() else "does not exist"
        msg = (
            f"catalog {directory} {what}; check the path, or create one by storing a run there "
            f"(`autolab measure … --catalog {directory}`)"
        )
        raise CatalogError(msg)


def _create_catalog(directory: Path, database: Path) -> bool:
    """Record a new catalog's location and identity and create its tables; False if another process did.

    Done in the write turn of the catalog's writers (``journal/write.lock``), so sessions that
    start at once on a folder with no catalog yet make one catalog, with one identity. The tables
    are made in ``catalog.db.creating`` and renamed to ``catalog.db`` once complete (schema
    stamped, write-ahead logging on, every connection closed): a session that finds
    ``catalog.db`` opens a whole catalog, and a creation cut short leaves nothing it would open.
    """
    from .writer import _WriteTurn

    journal = journal_directory(directory)
    journal.mkdir(exist_ok=True)
    turn = _WriteTurn(journal / "write.lock")
    try:
        with turn:
            if database.exists():
                return False
            partial = database.with_name(database.name + ".creating")
            for leftover in (partial, *(partial.with_name(partial.name + end) for end in ("-wal", "-shm", "-journal"))):
                leftover.unlink(missing_ok=True)
            _record_location(directory)
            initialize_catalog_database(f"sqlite:///{partial}")
            _write_ahead_logging(partial, directory / "tables.db")
            os.replace(partial, database)
    finally:
        turn.close()
    return True


def initialize_catalog_database(uri: str) -> None:
    """Create tiled's catalog tables in the database ``uri`` and stamp their schema revision.

    What ``tiled catalog init --if-not-exists`` does, in this process: tiled's own
    ``initialize_database`` and an alembic ``stamp`` of the head revision with tiled's alembic
    configuration, run on a thread of their own (both start an event loop, and the caller may be
    inside one, as in IPython). ``from_uri(..., init_if_not_exists=True)`` runs that command in a
    new Python interpreter instead, which imports tiled again: about 4 s on two cores, paid by
    every new catalog. A database that is already initialised is left as it is.

    Raises
    ------
    CatalogError
        One line: where (the password masked) and the first line of the database's error.
    """
    import threading

    error: list[BaseException] = []

    def initialize() -> None:
        import asyncio

        from alembic import command
        from alembic.config import Config
        from sqlalchemy.ext.asyncio import create_async_engine
        from tiled.alembic_utils import UninitializedDatabase, check_database, temp_alembic_ini
        from tiled.catalog.alembic_constants import ALEMBIC_DIR, ALEMBIC_INI_TEMPLATE_PATH
        from tiled.catalog.core import ALL_REVISIONS, REQUIRED_REVISION, initialize_database
        from tiled.utils import ensure_specified_sql_driver

        database = ensure_specified_sql_driver(uri)

        async def create_tables() -> bool:
            engine = create_async_engine(database)
            try:
                await check_database(engine, REQUIRED_REVISION, ALL_REVISIONS)
            except UninitializedDatabase:
                await initialize_database(engine)
                return True
            finally:
                await engine.dispose()
            return False

        try:
            if asyncio.run(create_tables()):
                with temp_alembic_ini(ALEMBIC_INI_TEMPLATE_PATH, ALEMBIC_DIR, database) as alembic_ini:
                    config = Config(alembic_ini)
                    config.set_main_option("path_separator", "os")  # the setting alembic asks tiled's ini for
                    command.stamp(config, "head")
        except BaseException as exc:  # handed to the caller's thread
            error.append(exc)

    thread = threading.Thread(target=initialize, name="autolab-catalog-init")
    thread.start()
    thread.join()
    if error:
        from sqlalchemy.engine import make_url

        try:
            where = make_url(uri).render_as_string(hide_password=True)
        except Exception:  # not a URI SQLAlchemy reads: say nothing of it rather than show a password
            where = "the catalog database"
        msg = f"cannot create tiled's catalog tables in {where}: {first_line(error[0])}"
        raise CatalogError(msg) from error[0]


def first_line(error: BaseException) -> str:
    """The first non-blank line of ``error``'s message (a database error's says what failed), else its type."""
    return next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)


def frames_directory(location: str | os.PathLike | None = None) -> Path | None:
    """Where a session's detectors write their frame files: an embedded catalog's ``frames/`` folder.

    None for a catalog on a tiled server: its client has no folder beside it, and frames go into
    the events inline. The catalog reads the files as external assets (its ``readable_storage``),
    in process and under ``autolab serve`` alike.
    """
    location = resolve_location(location)
    return None if is_remote(location) else Path(location) / FRAMES_FOLDER


def _write_ahead_logging(*databases: Path) -> None:
    """Put a new catalog's SQLite files in write-ahead-log mode (a setting stored in each file).

    In SQLite's default (rollback-journal) mode a reader that meets a write in progress fails
    with "database is locked"; in WAL mode readers never wait for the writer — a campaign's
    report, ``autolab runs`` in another terminal, and the writer thread storing a later analysis
    all go on at once. WAL needs a local file system: a catalog many hosts share belongs on a
    tiled server (``autolab serve``). ``tables.db`` is created here, empty, if tiled has not yet.
    """
    for path in databases:
        try:
            connection = sqlite3.connect(path, timeout=30)
            try:
                connection.execute("PRAGMA journal_mode=WAL")
            finally:
                connection.close()
        except sqlite3.Error as exc:  # stays in rollback mode: slower for concurrent readers, not wrong
            logger.warning("could not switch %s to write-ahead logging: %s", path, exc)


def tables_uri(directory: Path) -> str:
    """The SQL storage of an embedded catalog's event tables, as given to tiled."""
    return f"sqlite:///{directory / 'tables.db'}"


def relocate(directory: Path) -> int:
    """Point the stored array and table locations of the catalog in ``directory`` at ``directory``.

    A no-op when ``autolab-catalog.json`` already names ``directory``. Otherwise (the folder was
    moved or copied, or it predates the file) every asset URI of ``catalog.db`` that points into
    another catalog folder — arrays under ``…/data/<run uid>/``, frame files under
    ``…/frames/<day>/`` and the ``tables.db`` storage,
    which older catalogs recorded relative to the working directory — is rewritten, and the file
    is updated.

    Returns
    -------
    int
        The number of asset URIs rewritten.
    """
    directory = Path(resolve_location(directory))
    marker = read_marker(directory)
    recorded = marker.get("location")
    if recorded == str(directory):
        return 0
    from tiled.utils import ensure_uri

    new_tables = ensure_uri(tables_uri(directory))
    changed = 0
    try:
        with sqlite3.connect(directory / DATABASE_FILE, timeout=30) as connection:
            rows = connection.execute("SELECT id, data_uri FROM assets").fetchall()
            for asset_id, uri in rows:
                new = _relocated_uri(uri, directory, new_tables)
                if new != uri:
                    connection.execute("UPDATE assets SET data_uri = ? WHERE id = ?", (new, asset_id))
                    changed += 1
    except sqlite3.Error as exc:
        msg = f"cannot update the stored locations of the catalog {directory}: {exc}"
        raise CatalogError(msg) from exc
    identity = marker.get("catalog_id")
    if identity and isinstance(recorded, str) and read_marker(Path(recorded)).get("catalog_id") == identity:
        identity = None  # the folder it was copied from is still there: this copy is another catalog
    _record_location(directory, identity)
    return changed


def _relocated_uri(uri: str, directory: Path, new_tables: str) -> str:
    if uri.startswith("sqlite:") and uri.endswith("/tables.db"):
        return new_tables
    match = _ARRAY_URI.match(uri)
    if match and match["root"] != str(directory):
        return f"file://localhost{directory}/{match['rest']}"
    return uri


def read_marker(directory: Path) -> dict:
    """The folder's ``autolab-catalog.json`` (``location`` and ``catalog_id``); empty if it cannot be read."""
    try:
        marker = json.loads((directory / LOCATION_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return marker if isinstance(marker, dict) else {}


def _record_location(directory: Path, identity: str | None = None) -> None:
    """Record ``directory`` as the folder's location in ``autolab-catalog.json``, with ``identity`` (a new one if None)."""
    _write_marker(directory, str(directory), identity)


def _write_marker(directory: Path, location: str, identity: str | None) -> None:
    marker = {"location": location, "catalog_id": identity or str(uuid.uuid4())}
    # Written whole and renamed into place: a reader in another process never sees half a marker.
    temporary = directory / f".{LOCATION_FILE}.{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        temporary.write_text(json.dumps(marker) + "\n")
        os.replace(temporary, directory / LOCATION_FILE)
    except OSError as exc:  # a read-only copy still opens; it is relocated again next time
        logger.debug("cannot record the catalog location: %s", exc)
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


def catalog_id(directory: str | os.PathLike) -> str | None:
    """The identity (a UUID) of the embedded catalog in ``directory``; one is made if it has none yet.

    None when the folder has no ``autolab-catalog.json`` or cannot be given an identity (it is
    read-only). :func:`embedded_adapter` puts it in the root node's metadata.
    """
    directory = Path(resolve_location(directory))
    marker = read_marker(directory)
    if not marker.get("catalog_id") and isinstance(marker.get("location"), str):
        _write_marker(directory, marker["location"], None)  # a catalog made before identities
        marker = read_marker(directory)
    identity = marker.get("catalog_id")
    return str(identity) if identity else None


def serialization_registry():
    """tiled's serializers plus Bluesky's: a run's documents and a stream as files.

    With it, ``run.documents()`` of bluesky-tiled-plugins (``application/json-seq``) and
    ``run.primary.export("x.nc" | "x.h5" | "x.csv")`` (see
    :func:`~autolab.catalog.export.register_stream_serializers`) work on autolab's catalogs,
    embedded and served.
    """
    from bluesky_tiled_plugins.exporters import json_seq_exporter
    from tiled.media_type_registration import default_serialization_registry

    from .export import register_stream_serializers

    registry = default_serialization_registry
    if "application/json-seq" not in registry.media_types("BlueskyRun"):
        registry.register("BlueskyRun", "application/json-seq", json_seq_exporter)
    register_stream_serializers(registry)
    return registry


def journal_directory(location: str | os.PathLike | None = None) -> Path:
    """Where :class:`~autolab.catalog.CatalogWriter` keeps journals of runs not yet in the catalog.

    ``journal/`` inside an embedded catalog's folder; for a server, a folder per server address
    under autolab's per-user data directory, in which the writer keeps each catalog's journals in
    a subfolder named by :func:`catalog_identity` (a server's address may serve another catalog
    later).
    """
    location = resolve_location(location)
    if is_remote(location):
        safe = location.split("://", 1)[1].replace("/", "_").replace(":", "_")
        return (data_home() / "journal" / safe).resolve()
    return Path(location) / "journal"
