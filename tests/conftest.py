"""Shared fixtures: a RunEngine, the twin reactor, and real on-disk tiled catalogs."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from bluesky import RunEngine

from autolab.catalog import CatalogWriter, journal_directory, open_catalog
from autolab.devices import make_twin_reactor


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
