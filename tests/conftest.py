"""Shared fixtures: a RunEngine, the twin reactor, and real on-disk tiled catalogs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from bluesky import RunEngine

from autolab.catalog import CatalogWriter, journal_directory, open_catalog
from autolab.devices import make_twin_reactor


def pytest_configure(config: pytest.Config) -> None:
    """Under ``--dist loadgroup``, refuse to start if pytest-xdist cannot group the ``xdist_group`` tests.

    scripts/test relies on the grouping: a module's expensive fixture (a queue, a PostgreSQL
    server, a load test) is made once, on one worker. pytest-xdist marks an item's group by
    rewriting its ``_nodeid``; where pytest no longer reads that field (pytest 9.2,
    pytest-xdist#1386) the groups' tests are spread over the workers without a word, and each
    worker builds the fixture again. This probes that rewrite on a bare node.
    """
    if hasattr(config, "workerinput") or config.getoption("dist", default="no") != "loadgroup":
        return
    from _pytest.nodes import Node

    probe = object.__new__(Node)
    probe._nodeid = "probe@group"
    try:
        grouped = probe.nodeid == "probe@group"
    except AttributeError:
        grouped = False
    if not grouped:
        msg = (f"pytest {pytest.__version__} ignores pytest-xdist's group marks (pytest-xdist#1386), so --dist loadgroup "
               "would not group; install the test extra's pytest: pip install -e '.[test]'")
        raise pytest.UsageError(msg)


@pytest.fixture
def RE():
    """A RunEngine that returns run uids (no catalog subscribed)."""
    engine = RunEngine({}, call_returns_result=False)
    yield engine
    if engine.state != "idle":
        engine.halt()


@pytest.fixture
def reactor():
    """A twin reactor on a virtual clock with seeded noise."""
    return make_twin_reactor(rng=np.random.default_rng(1234))


@pytest.fixture(scope="session")
def catalog_dir(tmp_path_factory):
    """One on-disk catalog shared by the session (creating one costs several seconds)."""
    path = tmp_path_factory.mktemp("catalog")
    open_catalog(path)
    return path


@pytest.fixture
def writer(catalog_dir):
    """A CatalogWriter on the shared catalog; flushed and closed after the test."""
    w = CatalogWriter(open_catalog(catalog_dir), journal_directory(catalog_dir))
    yield w
    w.close()


def run_python(code: str, *, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (a separate process, as a second user would)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, check=False)


def exited(pid: int) -> bool:
    """Whether process ``pid`` has exited: gone, or a zombie (``Z`` in ``/proc/PID/stat``) that init has not reaped yet.

    Read from ``/proc`` directly, not through :func:`autolab.processes.alive`, which `autolab queue
    stop` relies on; a container's first process may reap an orphan seconds later.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")
