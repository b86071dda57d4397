"""One in-process tiled app per embedded catalog folder in a process (autolab.catalog.in_process).

tiled keeps one SQLAlchemy engine per catalog database in a process; these tests look at tiled's
own record of them, and read what was written from a second process.
"""

from __future__ import annotations

import json
import os
import shutil
import threading

import pytest
from bluesky import RunEngine
from tiled.server import connection_pool

from autolab.catalog import CatalogWriter, journal_directory, open_catalog
from autolab.devices import make_twin_reactor
from autolab.errors import CatalogError
from autolab.plans import measure_point
from autolab.runtime import open_session
from tests.conftest import run_python


def engines_for(folder) -> int:
    """How many SQLAlchemy engines tiled holds in this process for the catalog in ``folder``."""
    database = str(folder / "catalog.db")
    return sum(database in str(settings.uri) for settings in connection_pool._connection_pools)


def portal_threads() -> int:
    return sum(thread.name.startswith("asyncio-portal") for thread in threading.enumerate())


def measure(client, folder, seed: int) -> str:
    writer = CatalogWriter(client, journal_directory(folder))
    RE = RunEngine({}, call_returns_result=False)
    RE.subscribe(writer)
    (uid,) = RE(measure_point(make_twin_reactor(seed=seed), 280, 270, 14.0))
    writer.close()
    return uid


def uids_read_by_another_process(folder) -> list[str]:
    done = run_python(
        "import json\nfrom autolab.catalog import open_catalog\n"
        f"print(json.dumps(sorted(open_catalog({str(folder)!r}, create=False))))"
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def run_engine_threads() -> int:
    return sum(thread.name == "bluesky-run-engine" and thread.is_alive() for thread in threading.enumerate())


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_sessions_one_after_another_share_one_app_and_one_engine(tmp_path):
    # A sweep worker runs campaigns one after another, each with a session of its own.
    folder = tmp_path / "catalog"
    uids, contexts, descriptors = [], [], []
    run_engines = run_engine_threads()
    for seed in (0, 1, 2):
        session = open_session(folder, seed=seed, analyze=False, progress=False)
        if seed == 0:
            portals = portal_threads()
        assert run_engine_threads() == run_engines + 1
        (uid,) = session.RE(measure_point(session.reactor, 280, 270, 14.0))
        session.close()
        assert session.RE.loop.is_closed()
        descriptors.append(open_descriptors())
        uids.append(uid)
        contexts.append(session.catalog.context)
    assert contexts[0] is contexts[1] is contexts[2]
    assert engines_for(folder) == 1
    assert portal_threads() == portals  # no app, and no event loop, per session
    assert run_engine_threads() == run_engines  # each session's RunEngine loop stopped at its close
    assert descriptors[2] <= descriptors[0], descriptors  # and its selector and self-pipe closed (they were 3 more per session)
    assert uids_read_by_another_process(folder) == sorted(uids)


def test_closing_one_clients_context_leaves_the_others_working(tmp_path):
    folder = tmp_path / "catalog"
    reader, writer_client = open_catalog(folder), open_catalog(folder)
    reader.context.close()  # what a client of a served catalog does when it is done
    assert reader.context.http_client.portal is not None  # the app still runs
    uid = measure(writer_client, folder, 0)
    assert reader[uid].metadata["stop"]["exit_status"] == "success"
    assert uids_read_by_another_process(folder) == [uid]


def test_a_catalog_made_again_in_the_same_folder_gets_an_app_and_engine_of_its_own(tmp_path):
    folder = tmp_path / "catalog"
    first = measure(open_catalog(folder), folder, 0)
    old = open_catalog(folder).context
    old_engine = connection_pool._connection_pools[old.database_settings]
    shutil.rmtree(folder)
    client = open_catalog(folder)
    assert client.context is not old
    assert old.http_client.portal is None  # the old app was shut down, and its engine went with it
    assert all(engine is not old_engine for engine in connection_pool._connection_pools.values())
    assert first not in client
    second = measure(client, folder, 1)
    assert engines_for(folder) == 1
    # The run went into the new catalog.db on disk, not through the old app's engine into the deleted file.
    assert uids_read_by_another_process(folder) == [second]


def test_a_folder_moved_away_and_back_reads_its_arrays_in_both_places(tmp_path):
    here, there = tmp_path / "catalog", tmp_path / "moved"
    uid = measure(open_catalog(here), here, 0)
    here.rename(there)
    assert open_catalog(there)[uid].primary.read()["reactor_spectrometer_absorbance"].shape[0] == 1
    there.rename(here)  # the same catalog.db file and identity, but its arrays are stored as in `moved`
    assert open_catalog(here)[uid].primary.read()["reactor_spectrometer_absorbance"].shape[0] == 1


def test_a_deleted_folder_is_refused_without_create_and_made_again_with_it(tmp_path):
    folder = tmp_path / "catalog"
    measure(open_catalog(folder), folder, 0)
    shutil.rmtree(folder)
    with pytest.raises(CatalogError, match="does not exist"):
        open_catalog(folder, create=False)
    assert list(open_catalog(folder)) == []


def test_threads_opening_a_new_folder_at_once_get_one_app(tmp_path):
    folder = tmp_path / "catalog"
    contexts = []
    threads = [threading.Thread(target=lambda: contexts.append(open_catalog(folder).context)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(contexts) == 4
    assert all(context is contexts[0] for context in contexts)
