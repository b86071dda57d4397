"""The journaled catalog writer: no finished point is lost, even when the process is killed.

:class:`CatalogWriter` is a RunEngine callback that

1. appends every document to a per-run journal file (JSON lines) on the RunEngine thread —
   cheap, and on disk before the RunEngine moves on, so a crash loses at most the document being
   written — and
2. hands the document to ``bluesky_tiled_plugins.TiledWriter`` on a background thread, with
   ``batch_size=1`` so each event reaches tiled as soon as it is made.

When a run's stop document has been written to tiled its journal is deleted. A run with a
document that did not reach tiled (the server was down, or a request timed out unanswered) is
checked against its journal once its stop gets through, and written again, whole, if the catalog
holds less. A journal left behind by a crash, or by a rewrite that failed too, is replayed into
the catalog the next time a writer opens it, so every finished point — and whatever the
interrupted point had produced — ends up in the catalog. A run is taken as stored only if the
catalog holds its stop, a stream for each of its descriptors and, stream by stream, as many
events as the journal; otherwise it is written again over what is there.

Several writers may share one catalog and its journal folder (a queue worker, the agent, a
worker still closing while the next one starts). Each holds an exclusive lock (``flock``) on the
journals of its runs until they are in tiled; the operating system drops the locks of a process
that dies, so a writer replays exactly the journals whose writer is gone. The writers of one
embedded catalog take turns for the event tables (``flock`` on ``write.lock`` in the journal
folder, held while a stream's table is created and while rows are appended to it): their
connections (SQLite through ADBC) fail at once with "database is locked" rather than wait for
another process's write. Everything else — the run's and streams' nodes, the arrays, the
metadata — goes into ``catalog.db``, whose connections wait for another writer's transaction
(SQLite's busy timeout), and into array files of the run's own, so writers in several processes
store those at the same time. A journal's replay and a run's repair hold the turn throughout.

A server's address may serve another catalog later (tiled's default port 8000 is everyone's).
The journals of a server are therefore kept per catalog, in a subfolder of the address's folder
named by :func:`~autolab.catalog.location.catalog_identity`, and a writer replays only its own
catalog's. Journals left directly in the address's folder (written while the server's catalog
was still empty, so without an identity) are replayed only into a catalog that already holds
their run's start. Journals for other catalogs are kept, and one log line says so.

Before any of that, a writer on a server checks that its key may write there and that the server
can store event tables (:func:`~autolab.catalog.location.check_table_storage`), so a viewer's
read-only key, or a plain ``tiled serve`` without SQL storage, is one error line at once rather
than an HTTP error for every document.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import queue
import shutil
import threading
from pathlib import Path
from typing import Any

from event_model import NumpyEncoder

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: journals are not shared between live writers
    fcntl = None

from ..errors import CatalogError
from .location import CATALOG_ID_KEY, catalog_identity, check_table_storage, first_line, server_address

logger = logging.getLogger(__name__)


class CatalogWriter:
    """RunEngine callback that writes every run to the catalog without losing finished points.

    Parameters
    ----------
    client : tiled client
        From :func:`open_catalog`.
    journal_dir : path
        Directory for the per-run journals (see :func:`journal_directory`). For a server, the
        journals go to its subfolder for the server's catalog (:attr:`journal_dir`).

    Raises
    ------
    CatalogError
        If the client's key may not write to its server (a read-only key), or the server cannot
        store event tables (a plain ``tiled serve`` without SQL storage); nothing is written then,
        and journals already there are kept.

    Examples
    --------
    >>> writer = CatalogWriter(open_catalog(path), journal_directory(path))  # doctest: +SKIP
    >>> RE.subscribe(writer)  # doctest: +SKIP
    >>> writer.flush()  # wait until tiled holds every finished run  # doctest: +SKIP
    """

    def __init__(self, client, journal_dir: str | os.PathLike):
        self.client = client
        #: The address of the client's tiled server; None for an in-process (embedded) catalog.
        self.server = server_address(client)
        if self.server is not None:
            check_table_storage(client)
        base = Path(journal_dir).expanduser().resolve()
        identity = catalog_identity(client)
        #: The server address's journal folder (None in-process): the catalogs it served have subfolders.
        self.address_dir = base if self.server is not None else None
        #: Where this writer keeps its journals.
        self.journal_dir = base / identity if identity else base
        self.journal_dir.mkdir(parents=True, exist_ok=True)
        # Embedded: the writers of this catalog folder take turns for the event tables (see the module).
        self._write_turn = _WriteTurn(self.journal_dir / "write.lock" if self.server is None else None)
        try:
            self._start(client)
        except BaseException:
            self._write_turn.close()  # a writer that did not start holds no file open
            raise

    def _start(self, client) -> None:
        """Everything after the write turn: the tiled writer, the replay of waiting journals, the thread."""
        self._tiled_writer = named_dims_writer(client, table_turn=self._write_turn)
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._journals: dict[str, Any] = {}
        #: Journals of finished runs, still locked until tiled holds their stop document.
        self._held: dict[str, Any] = {}
        self._descriptor_run: dict[str, str] = {}
        self.errors: list[str] = []
        #: Runs with a document that did not reach tiled: written again from their journals at their stop.
        self._failed_runs: set[str] = set()
        self.replayed = self._replay_journals()
        self._thread = threading.Thread(target=self._work, name="autolab-catalog-writer", daemon=True)
        self._thread.start()

    # --- RunEngine thread ----------------------------------------------------------------
    def __call__(self, name: str, doc: dict) -> None:
        with self._lock:  # the RunEngine's thread and analysis threads both write
            self._write(name, doc)

    def _write(self, name: str, doc: dict) -> None:
        run_uid = self._run_uid(name, doc)
        line = json.dumps({"name": name, "doc": doc}, cls=NumpyEncoder)
        if run_uid is not None:
            handle = self._journals.get(run_uid)
            if handle is None:
                handle = self._journals[run_uid] = open(self.journal_dir / f"{run_uid}.jsonl", "a")
                _lock(handle)
            handle.write(line + "\n")
            handle.flush()
            if name == "stop":
                os.fsync(handle.fileno())
                self._held[run_uid] = self._journals.pop(run_uid)
        self._queue.put((name, doc, run_uid))

    def _run_uid(self, name: str, doc: dict) -> str | None:
        if name == "start":
            return doc["uid"]
        if name == "stop":
            return doc["run_start"]
        if name == "descriptor":
            self._descriptor_run[doc["uid"]] = doc["run_start"]
            return doc["run_start"]
        if name in ("event", "event_page", "stream_datum"):  # a stream_datum (a frame in a file) names its descriptor
            return self._descriptor_run.get(doc["descriptor"])
        return doc.get("run_start")

    @property
    def runs_waiting(self) -> int:
        """Finished runs (their stop document received) that the catalog does not hold whole yet."""
        return len(self._held)

    def flush(self, timeout: float | None = 60.0) -> None:
        """Block until every document received so far is in the catalog.

        Raises
        ------
        CatalogError
            If the writer is still busy after ``timeout`` seconds.
        """
        done = threading.Event()
        self._queue.put((None, done, None))
        if not done.wait(timeout):
            msg = f"the catalog writer is still busy after {timeout} s; journals in {self.journal_dir} keep the data"
            raise CatalogError(msg)

    def close(self, timeout: float | None = 60.0) -> None:
        """Flush (up to ``timeout`` s, :meth:`flush`) and stop the background thread.

        Raises
        ------
        CatalogError
            If the writer is still busy after ``timeout`` seconds; what it holds stays in the
            journals, and the next writer on the catalog replays it.
        """
        self.flush(timeout)
        self._queue.put(None)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._write_turn.close()

    # --- writer thread -------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            name, doc, run_uid = item
            if name is None:
                doc.set()
                continue
            try:
                self._tiled_writer(name, doc)  # it takes the write turn for the event tables' writes (named_dims_writer)
            except Exception as exc:  # keep the journal: the run is written again at its stop, or replayed on the next open
                message = f"writing {name} of run {run_uid} to the catalog failed: {exc!r}"
                logger.error(message, exc_info=logger.isEnabledFor(logging.DEBUG))
                self.errors.append(message)
                if run_uid is not None:
                    self._failed_runs.add(run_uid)
                if name == "stop":
                    self._release(run_uid)
                continue
            if name == "stop" and run_uid in self._failed_runs:  # tiled holds it incomplete (or not at all)
                self._failed_runs.discard(run_uid)
                self._repair(run_uid)
                self._release(run_uid)
                continue
            if name == "stop" and run_uid is not None:
                (self.journal_dir / f"{run_uid}.jsonl").unlink(missing_ok=True)
                self._release(run_uid)

    def _repair(self, run_uid: str) -> None:
        """Check a run with a failed document against its journal, now that its stop got through; write it again if it is short.

        If that fails too, the journal is kept: the next writer on the catalog replays it.
        """
        path = self.journal_dir / f"{run_uid}.jsonl"
        try:
            docs, problem = _journal_documents(path.read_text(errors="replace"))
            if not docs or docs[0]["name"] != "start":
                msg = f"its journal cannot be read whole ({problem or 'no start document'})"
                raise CatalogError(msg)
            with self._write_turn:
                rewritten = self._replace(path, run_uid, docs)
        except Exception as exc:
            message = (f"run {run_uid} may be incomplete in the catalog and writing it again failed ({exc!r}); "
                       f"its journal {path} is kept and replayed by the next writer")
            logger.error(message, exc_info=logger.isEnabledFor(logging.DEBUG))
            self.errors.append(message)
        else:
            if rewritten:
                logger.warning("run %s had a document that did not reach the catalog; it was written again, whole, from its journal", run_uid)
            else:  # the request failed on its way back: tiled had stored the document
                logger.info("run %s: a write reported as failed had reached the catalog, which holds the run whole", run_uid)

    def _release(self, run_uid: str | None) -> None:
        """Close a finished run's journal, dropping its lock."""
        with self._lock:
            handle = self._held.pop(run_uid, None)
        if handle is not None:
            handle.close()

    def _replay_journals(self) -> list[str]:
        """Write runs left in journals by an earlier crash into the catalog; return their uids.

        This writer's own folder is replayed whole. On a server, the journals left directly in the
        address's folder (no catalog identity) are replayed if the catalog holds their run's start;
        those it does not hold and those in other catalogs' subfolders are kept, with one log line.
        """
        unidentified = self.address_dir is not None and self.journal_dir == self.address_dir
        replayed, kept = self._replay_folder(self.journal_dir, only_held=unidentified)
        if self.address_dir is not None:
            if not unidentified:
                more, kept = self._replay_folder(self.address_dir, only_held=True)
                replayed += more
            kept += [path for path in self.address_dir.glob("*/*.jsonl") if path.parent != self.journal_dir]
            if kept:
                logger.warning(
                    "%d journal(s) in %s hold runs written for another catalog served at %s before; "
                    "they are kept, and each is replayed only into its own catalog",
                    len(kept), self.address_dir, self.server,
                )
        return replayed

    def _replay_folder(self, folder: Path, *, only_held: bool) -> tuple[list[str], list[Path]]:
        """Replay the unlocked journals in ``folder`` (with ``only_held``, those whose run the catalog has).

        Returns the uids replayed and the journals left because the catalog does not hold their run.
        A journal whose run cannot be written now (the catalog or the writer fails on it) stays,
        with one error line (also in :attr:`errors`), and the other journals are replayed.
        """
        replayed, kept = [], []
        for path, handle in _unheld_journals(sorted(folder.glob("*.jsonl"))):
            docs, problem = _journal_documents(handle.read())
            if problem is not None:
                logger.warning("journal %s: %s%s", path, problem, "" if docs is not None else "; left alone")
            if docs is None:
                continue
            try:
                if only_held and not self._holds(docs):
                    kept.append(path)
                    continue
                uid = self._replay(path, docs)
            except Exception as exc:  # a journal the catalog cannot take now must not stop this writer, nor every later one
                message = (f"journal {path} could not be written into the catalog ({type(exc).__name__}: {first_line(exc)}); "
                           "it is kept, and the next writer on this catalog tries again")
                logger.error(message, exc_info=logger.isEnabledFor(logging.DEBUG))
                self.errors.append(message)
                continue
            if uid is not None:
                replayed.append(uid)
        return replayed, kept

    def _holds(self, docs: list[dict]) -> bool:
        """True if the catalog holds the run whose journal is ``docs`` (its start was written there)."""
        if not docs or docs[0]["name"] != "start":
            return True  # _replay leaves it alone with a warning
        return docs[0]["doc"]["uid"] in self.client

    def _replay(self, path: Path, docs: list[dict]) -> str | None:
        """Write one left journal's run into the catalog and delete the journal; its uid, or None.

        An empty journal (its writer was killed between creating it and writing the start
        document) holds nothing and is deleted.
        """
        if not docs:
            logger.info("journal %s holds no whole document (its writer stopped before the run's start reached it); deleted", path)
            path.unlink()
            return None
        if docs[0]["name"] != "start":
            logger.warning("journal %s does not begin with a start document; left alone", path)
            return None
        uid = docs[0]["doc"]["uid"]
        with self._write_turn:
            return self._replace(path, uid, docs)

    def _replace(self, path: Path, uid: str, docs: list[dict]) -> str | None:
        """Write ``docs`` as run ``uid``, over an incomplete copy in the catalog; delete the journal."""
        if uid in self.client:
            if _stored_whole(self.client[uid], docs):  # its writer stopped after tiled had it all
                path.unlink()
                return None
            self.client[uid].delete(recursive=True, external_only=False)
            # A writer killed while tiled made one of the run's arrays can leave array files that no
            # node names, and tiled cannot make the array over them; in an embedded catalog they sit
            # beside the journal (a server replaces them itself: autolab.catalog.uncommitted).
            leftover = self.journal_dir.parent / "data" / uid
            if self.server is None and leftover.is_dir():
                shutil.rmtree(leftover)
        writer = named_dims_writer(self.client)
        for entry in docs:
            writer(entry["name"], entry["doc"])
        path.unlink()
        return uid


def _stored_whole(run, docs: list[dict]) -> bool:
    """True if the catalog's ``run`` holds everything its journal ``docs`` hold.

    A stop document in the catalog is not enough: a write that failed (or timed out unanswered)
    before it may have left a stream out, an event out of a stream, or, retried, put one in
    twice. So each descriptor's stream must be there, its event tables must hold as many rows as
    the journal has events, and each of its arrays as many entries. Anything else is rewritten
    from the journal.
    """
    if not run.metadata.get("stop"):
        return False
    streams: dict[str, str] = {}  # descriptor uid -> stream name
    events: dict[str, int] = {}  # stream name -> events in the journal
    for entry in docs:
        name, doc = entry["name"], entry["doc"]
        if name == "descriptor":
            streams[doc["uid"]] = doc.get("name", "primary")
            events.setdefault(streams[doc["uid"]], 0)
        elif name in ("event", "event_page") and doc.get("descriptor") in streams:
            events[streams[doc["descriptor"]]] += 1 if name == "event" else len(doc.get("seq_num", ()))
    for stream, count in events.items():
        if stream not in run:  # its descriptor did not reach the catalog
            return False
        node = run[stream]
        nodes = getattr(node, "base", node)  # a bluesky stream is a composite: its tables and arrays are its parts
        tables = 0
        for key in nodes:
            part = nodes[key]
            if part.structure_family == "table":  # "internal" (or internal_0, internal_1, … for many columns)
                tables += 1
                rows = len(part.read())
            elif part.structure_family == "array":
                rows = part.structure().shape[0]
            else:
                continue
            if rows != count:
                return False
        if count and not tables:  # every event has a row (its seq_num and time) in a table
            return False
    return True


def _journal_documents(text: str) -> tuple[list[dict] | None, str | None]:
    """The documents of a journal's ``text`` and what was wrong with it, if anything.

    ``(docs, None)`` for a whole journal. A writer killed while appending a document leaves the
    last line cut short (no newline after it); that document never reached tiled either, so it
    is dropped: ``(the documents before it, a note saying so)``. Any other line that is not a
    document ``{"name": …, "doc": {…}}`` (undecodable bytes included) is not what a writer
    writes: ``(None, the reason)``, and the journal is left alone.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    docs = []
    for number, line in enumerate(lines, 1):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as error:
            if number == len(lines) and not text.endswith("\n"):
                return docs, f"its last document was cut short ({error}); the {len(docs)} before it are replayed"
            return None, f"line {number} is not JSON ({error})"
        if not (isinstance(entry, dict) and isinstance(entry.get("name"), str) and isinstance(entry.get("doc"), dict)):
            return None, f"line {number} is not a {{name, doc}} document"
        docs.append(entry)
    return docs, None


class _WriteTurn:
    """A context manager holding an exclusive ``flock`` on ``path`` (none when ``path`` is None)."""

    def __init__(self, path: Path | None):
        self._handle = open(path, "a") if path is not None and fcntl is not None else None  # held for the writer's life

    def __enter__(self):
        if self._handle is not None:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if self._handle is not None:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
        return False

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _lock(handle, *, wait: bool = True) -> bool:
    """Lock a journal for this process (``flock``); False if another process holds it and ``wait`` is False."""
    if fcntl is None:  # pragma: no cover
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def _unheld_journals(paths):
    """Yield ``(path, handle)`` for each journal in ``paths`` that no live writer holds.

    The open ``handle`` holds this process's lock on the journal until the loop moves on; a
    journal whose writer finished it meanwhile, or that a live writer holds, is skipped.
    """
    for path in paths:
        try:
            handle = open(path, errors="replace")  # undecodable bytes become U+FFFD, and the line unreadable
        except FileNotFoundError:  # its writer finished it meanwhile
            continue
        with handle:  # closing the file drops the lock
            if _lock(handle, wait=False):
                yield path, handle


def waiting_journals(journal_dir: str | os.PathLike) -> list[Path]:
    """The journals in ``journal_dir`` (and its per-catalog subfolders) that no live writer holds.

    These are runs that did not reach the catalog: the next writer to open it replays them. A
    journal with no whole document holds no run and is not listed (the next writer deletes it),
    nor is one with a line no writer writes (every writer that opens the catalog names it in a
    log line and leaves it alone).
    """
    return [path for path, handle in _unheld_journals(sorted(Path(journal_dir).glob("**/*.jsonl")))
            if _journal_documents(handle.read())[0]]


def adopt_journals(source: str | os.PathLike, target: str | os.PathLike) -> list[Path]:
    """Move the run journals under ``source`` into ``target``, at the same relative paths; return where they went.

    A writer replays its own journal folder only (:class:`CatalogWriter`). The agent of an
    earlier autolab kept its journals in a folder of its own beside the catalog's
    (``journal-agent``); the agent moves what it left there into the catalog's folder before it
    opens its writer, so the writer replays those runs as it replays any other. A journal a live
    writer holds stays where it is, as does one whose name ``target`` already has (one log line
    each); ``source`` is removed once it holds nothing else.
    """
    source, target = Path(source), Path(target)
    if not source.is_dir():
        return []
    moved, left = [], []
    for path, _handle in _unheld_journals(sorted(source.glob("**/*.jsonl"))):
        destination = target / path.relative_to(source)
        if destination.exists():
            left.append(path)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        path.rename(destination)  # the open handle keeps its lock on the file, now at its new name
        moved.append(destination)
    held = [path for path in source.glob("**/*.jsonl") if path not in left]
    for path in left:
        logger.warning("journal %s is left where it is: %s already has a journal of that name", path, target / path.relative_to(source))
    for path in held:
        logger.warning("journal %s is left where it is: a live writer holds it", path)
    if moved:
        logger.warning("%d journal(s) of runs not yet in the catalog moved from %s to %s; they are replayed from there", len(moved), source, target)
    if not left and not held:
        for folder in sorted((d for d in source.glob("**/") if d.is_dir()), key=lambda d: len(d.parts), reverse=True):
            (folder / "write.lock").unlink(missing_ok=True)
            try:
                folder.rmdir()
            except OSError:  # something else is in it: it stays
                pass
    return moved


def named_dims_writer(client, *, table_turn=None):
    """A ``TiledWriter`` (``batch_size=1``) that names array dimensions as the descriptor does.

    ``table_turn``, a context manager, is held around each write to the event tables (creating
    a stream's table, appending its rows), and only there: the writers of one embedded catalog
    take turns for those (see the module), and store everything else at the same time.

    bluesky-tiled-plugins names the dimensions of arrays stored in a run ``dim_int_1``,
    ``dim_int_2``, … by their length. This writer takes the names from the descriptor's
    ``dims`` instead (``wavelength_nm``, ``q_nm_inv`` for autolab's detectors), so
    ``run.primary.read()`` shows them; arrays of one length share one name, the first one given.

    At a run's stop, TiledWriter declares the end of the stream of every node it wrote (one
    request per node, a third of a run's requests). Only a server with a streaming cache or
    webhooks acts on that; catalogs autolab serves — in process or with ``autolab serve`` — have
    neither, so this writer skips the declarations there and sends them to any other server.
    """
    return _named_dims_writer_class()(client, batch_size=1, close_streams=_may_stream(client), table_turn=table_turn)


def _may_stream(client) -> bool:
    """False for a catalog autolab serves (no streaming cache or webhooks); True for other servers."""
    return server_address(client) is not None and not client.metadata.get(CATALOG_ID_KEY)


@functools.cache
def _named_dims_writer_class():
    from bluesky_tiled_plugins import TiledWriter
    from bluesky_tiled_plugins.writing.tiled_writer import _RunWriter

    class _NamedDimsRunWriter(_RunWriter):
        close_streams = True
        table_turn = contextlib.nullcontext()

        def _close_stream_tree(self):
            if self.close_streams:
                super()._close_stream_tree()

        def _write_internal_data(self, data_cache, desc_node):
            return super()._write_internal_data(data_cache, _TableTurnStream(desc_node, self.table_turn))

        def descriptor(self, doc):
            names = self._int_dims_names[doc["name"]]
            for key in sorted(doc.get("data_keys", {})):
                spec = doc["data_keys"][key]
                dims, shape = spec.get("dims") or (), spec.get("shape") or ()
                if len(dims) == len(shape):
                    for size, dim in zip(shape, dims, strict=True):
                        if size is not None:
                            names.setdefault(size, dim)
            return super().descriptor(doc)

    class _NamedDimsTiledWriter(TiledWriter):
        def __init__(self, client, *, close_streams: bool = True, table_turn=None, **options):
            super().__init__(client, **options)
            self._close_streams = close_streams
            self._table_turn = table_turn

        def _factory(self, name, doc):
            run_writer = _NamedDimsRunWriter(
                self.client, batch_size=self._batch_size, max_array_size=self._max_array_size, ignore_errors=self.ignore_errors
            )
            run_writer.close_streams = self._close_streams
            if self._table_turn is not None:
                run_writer.table_turn = self._table_turn
            normalizer = self._normalizer(patches=self.patches, spec_to_mimetype=self.spec_to_mimetype)
            normalizer.subscribe(run_writer)
            return [normalizer], []

    return _NamedDimsTiledWriter


class _TableTurnStream:
    """A stream's tiled container whose event tables are made, and appended to, in ``turn``; all else passes through."""

    def __init__(self, node, turn):
        self._node, self._turn = node, turn

    def create_appendable_table(self, *args, **kwargs):
        with self._turn:
            return _TableTurnTable(self._node.create_appendable_table(*args, **kwargs), self._turn)

    def __getattr__(self, name):
        return getattr(self._node, name)


class _TableTurnTable:
    """An event table's tiled client whose ``append_partition`` runs in ``turn``; all else passes through."""

    def __init__(self, table, turn):
        self._table, self._turn = table, turn

    def append_partition(self, *args, **kwargs):
        with self._turn:
            return self._table.append_partition(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._table, name)
