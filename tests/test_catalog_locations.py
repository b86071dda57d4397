"""Catalog locations: relative paths stored as absolute, moved folders, missing catalogs."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys

import h5py
import numpy as np
import pytest

from autolab.catalog import frames_directory, journal_directory, open_catalog, resolve_location
from autolab.catalog.location import LOCATION_FILE
from autolab.errors import CatalogError
from autolab.plans import measure_point, take_background
from autolab.runtime import open_session

READ_BACK = """
import hashlib, json, sys
import numpy as np
from autolab.catalog import load_point, open_catalog
client = open_catalog(sys.argv[1], create=False)
point = load_point(client[sys.argv[2]])
frames = {uid: np.asarray(client[uid]["primary"]["reactor_saxs_image"].read()) for uid in sys.argv[2:]}
print(json.dumps({"absorbance": point.absorbance.shape[0], "intensity": point.intensity.shape[0],
                  "flow": point.readings["cd_pump_flow_rate"], "t": point.conditions["residence_time_s"],
                  "frames": {uid: [list(a.shape), str(a.dtype), hashlib.sha256(a.tobytes()).hexdigest()] for uid, a in frames.items()}}))
"""

pytestmark = pytest.mark.xdist_group("catalog_locations")  # one module catalog for all its tests


def read_back(location, uid, *frame_uids, cwd) -> dict:
    """Read one point's arrays and table values, and the frames of ``uid`` and ``frame_uids``, in a fresh process started in ``cwd``."""
    result = subprocess.run(
        [sys.executable, "-c", READ_BACK, str(location), uid, *frame_uids], capture_output=True, text=True, timeout=180, cwd=cwd,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def frame_digest(frame) -> list:
    """What :data:`READ_BACK` prints of a frame: its shape, dtype and a hash of its bytes."""
    frame = np.asarray(frame)[np.newaxis]  # a run of one event holds one frame
    return [list(frame.shape), str(frame.dtype), hashlib.sha256(frame.tobytes()).hexdigest()]


@pytest.fixture(scope="module")
def relative_catalog(tmp_path_factory):
    """A catalog made as ``open_session("my-catalog")`` from its parent folder: a background run, then one point that keeps its frame.

    ``session.frames`` are the frames the detector produced, by run uid.
    """
    parent = tmp_path_factory.mktemp("cwd")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(parent)
        session = open_session("my-catalog", analyze=False)
        saxs = session.reactor.saxs
        (background,) = session.RE(take_background(saxs))
        session.frames = {background: saxs.image.get().copy()}
        saxs.image.kind = "normal"
        (uid,) = session.RE(measure_point(session.reactor, 280, 280, 14.0))
        session.frames[uid] = saxs.image.get().copy()
        session.close()
    return parent / "my-catalog", uid, session


@pytest.mark.slow
def test_relative_catalog_reads_by_absolute_path_from_another_directory(relative_catalog, tmp_path):
    path, uid, session = relative_catalog
    assert session.location == str(path.resolve())
    assert session.writer.journal_dir == path.resolve() / "journal"
    background = next(key for key in session.frames if key != uid)
    assert read_back(path.resolve(), uid, background, cwd=tmp_path) == {
        "absorbance": 401, "intensity": 250, "flow": pytest.approx(535.714, rel=1e-4), "t": 14.0,
        "frames": {key: frame_digest(frame) for key, frame in session.frames.items()},
    }


@pytest.mark.slow
def test_frames_read_back_from_their_hdf5_files_by_a_relative_path(relative_catalog):
    """The frames are external HDF5 files under frames/; a fresh process elsewhere reads them as the detector produced them."""
    path, uid, session = relative_catalog
    elsewhere = path.parent.parent
    relative = path.relative_to(elsewhere)
    assert read_back(relative, uid, cwd=elsewhere)["frames"] == {uid: frame_digest(session.frames[uid])}
    files = sorted((path / "frames").glob("*/*.h5"))
    assert len(files) == 2  # one file per run, each holding the frame of its one event
    by_content = {}
    for file in files:
        with h5py.File(file, "r") as handle:  # independently of tiled
            data = handle["/entry/data/data"][()]
        assert data.shape == (1, 256, 240)
        assert data.dtype == np.int32
        by_content[hashlib.sha256(data.tobytes()).hexdigest()] = data[0]
    for frame in session.frames.values():
        np.testing.assert_array_equal(by_content[hashlib.sha256(np.asarray(frame)[np.newaxis].tobytes()).hexdigest()], frame)
    events = open_catalog(path)[uid]["primary"]
    assert "reactor_saxs_image" in events  # a node of the stream, with the detector's named dimensions
    assert events.read()["reactor_saxs_image"].dims == ("time", "pixel_row", "pixel_column")


def test_a_served_catalog_has_no_frame_folder_for_its_clients(tmp_path):
    """A client of a tiled server cannot write beside the catalog: its frames stay inline in the events."""
    assert frames_directory(tmp_path / "cat") == tmp_path.resolve() / "cat" / "frames"
    assert frames_directory("http://127.0.0.1:8000") is None


@pytest.mark.slow
def test_moved_catalog_reads_its_arrays_and_tables(relative_catalog, tmp_path):
    path, uid, session = relative_catalog
    copy = tmp_path / "copy"
    shutil.copytree(path, copy)
    moved = tmp_path / "elsewhere" / "renamed-catalog"
    moved.parent.mkdir()
    shutil.move(copy, moved)
    read = read_back(moved, uid, cwd=tmp_path)
    assert read == {"absorbance": 401, "intensity": 250, "flow": pytest.approx(535.714, rel=1e-4), "t": 14.0, "frames": read["frames"]}
    assert read["frames"] == {uid: frame_digest(session.frames[uid])}  # the frame file moved with the folder
    with sqlite3.connect(moved / "catalog.db") as connection:
        uris = [row[0] for row in connection.execute("SELECT data_uri FROM assets")]
    point_arrays = [uri for uri in uris if f"/data/{uid}/" in uri]
    arrays = sorted(uri.rsplit("/", 1)[-1] for uri in point_arrays)
    assert arrays == [  # the point's arrays, the raw spectrometer counts among them (its frame is a file under frames/)
        "reactor_saxs_intensity", "reactor_saxs_intensity_sigma", "reactor_saxs_q_nm_inv", "reactor_spectrometer_absorbance",
        "reactor_spectrometer_counts", "reactor_spectrometer_saturated", "reactor_spectrometer_wavelength_nm",
    ]
    frame_files = [uri for uri in uris if "/frames/" in uri]
    background_arrays = [uri for uri in uris if "/data/" in uri and uri not in point_arrays]
    # the background run's I(q) arrays, a frame file for each run, and the table storage
    assert len(frame_files) == 2
    assert all(uri.endswith(".h5") for uri in frame_files)
    assert len(uris) == len(arrays) + len(background_arrays) + len(frame_files) + 1
    assert all(str(moved) in uri for uri in uris), uris
    marker = json.loads((moved / LOCATION_FILE).read_text())
    assert marker["location"] == str(moved)
    assert marker["catalog_id"] != json.loads((path / LOCATION_FILE).read_text())["catalog_id"]  # a copy is another catalog


@pytest.mark.slow
def test_catalog_with_table_storage_relative_to_the_old_cwd_opens(relative_catalog, tmp_path):
    """Catalogs written before locations were absolute recorded ``sqlite://localhost/my-catalog/tables.db``."""
    path, uid, _ = relative_catalog
    legacy = tmp_path / "legacy" / "my-catalog"
    shutil.copytree(path, legacy)
    (legacy / LOCATION_FILE).unlink()
    with sqlite3.connect(legacy / "catalog.db") as connection:
        connection.execute("UPDATE assets SET data_uri = 'sqlite://localhost/my-catalog/tables.db' WHERE data_uri LIKE 'sqlite:%'")
    assert read_back(legacy, uid, cwd=tmp_path)["flow"] == pytest.approx(535.714, rel=1e-4)


def test_missing_catalog_is_a_catalog_error_naming_the_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CatalogError, match=f"catalog {tmp_path.resolve() / 'typo'} does not exist"):
        open_catalog("typo", create=False)
    assert not (tmp_path / "typo").exists()


@pytest.mark.parametrize(
    "command", [["runs"], ["show", "abcdef"], ["analyze", "abcdef"], ["export", "abcdef"], ["campaign", "--resume", "abcdef"]]
)
def test_reading_commands_refuse_a_missing_catalog_in_one_line(tmp_path, command):
    result = subprocess.run(
        [sys.executable, "-m", "autolab", *command, "--catalog", "typo/path"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"autolab: error: catalog {tmp_path.resolve() / 'typo' / 'path'} does not exist; check the path, or create one by "
        f"storing a run there (`autolab measure … --catalog {tmp_path.resolve() / 'typo' / 'path'}`)"
    ]
    assert not (tmp_path / "typo").exists()


def test_a_missing_catalog_is_refused_before_tiled_s_server_is_imported(tmp_path):
    """The check comes first: a mistyped path costs no import of tiled's app (seconds in every command)."""
    code = (
        "import sys\n"
        "from autolab.catalog import open_catalog\n"
        "from autolab.errors import CatalogError\n"
        "try:\n"
        "    open_catalog('typo', create=False)\n"
        "except CatalogError as exc:\n"
        "    print('refused:', exc)\n"
        "print(sorted(m for m in ('tiled.server.app', 'tiled.catalog', 'tiled.client') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path, check=True)
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"refused: catalog {tmp_path.resolve() / 'typo'} does not exist")
    assert lines[1] == "[]"


def test_locations_resolve_to_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert resolve_location("link/cat") == str(tmp_path.resolve() / "real" / "cat")
    assert journal_directory("cat") == tmp_path.resolve() / "cat" / "journal"
    assert resolve_location("http://127.0.0.1:8000/") == "http://127.0.0.1:8000"
    monkeypatch.setenv("AUTOLAB_CATALOG", "from-env")
    assert resolve_location(None) == str(tmp_path.resolve() / "from-env")



def test_the_config_files_catalog_is_every_commands_default(tmp_path, monkeypatch):
    """AUTOLAB_CONFIG's [catalog] location is the default of the CLI, the session and the queue alike."""
    from autolab.catalog import default_location
    from autolab.errors import CatalogError

    config = tmp_path / "etc" / "autolab.toml"
    config.parent.mkdir()
    config.write_text('[catalog]\nlocation = "lab-catalog"\n')
    monkeypatch.delenv("AUTOLAB_CATALOG", raising=False)
    monkeypatch.setenv("AUTOLAB_CONFIG", str(config))
    monkeypatch.chdir(tmp_path)
    assert default_location() == str(tmp_path / "etc" / "lab-catalog")  # relative to the file, not the cwd
    config.write_text('[catalog]\nlocation = "http://127.0.0.1:8000"\n')
    assert default_location() == "http://127.0.0.1:8000"
    monkeypatch.setenv("AUTOLAB_CATALOG", "elsewhere")
    assert default_location() == "elsewhere"
    monkeypatch.delenv("AUTOLAB_CATALOG")
    config.write_text("[catalog\n")
    with pytest.raises(CatalogError, match=r"AUTOLAB_CONFIG=.*autolab.toml' cannot be read"):
        default_location()


@pytest.mark.slow
def test_autolab_serve_reads_the_frame_files_of_its_folder(relative_catalog, tmp_path):
    """A catalog served by ``autolab serve`` reads the frames that a session on its folder wrote (frames/ is readable storage)."""
    from tiled.client import from_uri

    from tests.test_catalog_serve import API_KEY, served

    path, _, session = relative_catalog
    folder = tmp_path / "served"
    shutil.copytree(path, folder)
    with served(folder, "--api-key", API_KEY, env={**os.environ, "XDG_DATA_HOME": str(tmp_path / "home")}, cwd=tmp_path) as (uri, _, _):
        client = from_uri(uri, api_key=API_KEY)
        for key, frame in session.frames.items():
            stored = np.asarray(client[key]["primary"]["reactor_saxs_image"].read())
            assert stored.shape == (1, 256, 240)
            np.testing.assert_array_equal(stored[0], frame)
        client.context.close()


@pytest.mark.slow
def test_a_new_catalog_is_created_in_process_with_the_schema_tileds_own_init_makes(tmp_path, monkeypatch):
    """The catalog tables come from tiled's functions in this process, and tiled's CLI agrees they are its own."""

    def no_second_interpreter(*args, **kwargs):
        msg = f"a new catalog started a process: {args[0]}"
        raise AssertionError(msg)

    monkeypatch.setattr(subprocess, "run", no_second_interpreter)
    client = open_catalog(tmp_path / "new")
    assert len(client) == 0
    monkeypatch.undo()

    reference = tmp_path / "reference.db"
    made_by_tiled = [sys.executable, "-m", "tiled", "catalog", "init"]
    subprocess.run([*made_by_tiled, f"sqlite:///{reference}"], check=True, capture_output=True)
    again = subprocess.run([*made_by_tiled, f"sqlite:///{tmp_path / 'new' / 'catalog.db'}"], capture_output=True, text=True)
    assert again.returncode != 0
    assert "already initialized" in again.stderr

    def schema(path) -> tuple[list, list]:
        with sqlite3.connect(path) as db:
            tables = sorted(sql for (sql,) in db.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL"))
            revision = db.execute("SELECT version_num FROM alembic_version").fetchall()
        return tables, revision

    assert schema(tmp_path / "new" / "catalog.db") == schema(reference)
    assert schema(reference)[1]  # tiled stamped a revision, and the new catalog carries the same one


@pytest.mark.slow
def test_a_new_catalog_is_made_in_the_writers_turn_so_sessions_starting_at_once_make_one(tmp_path):
    """While a writer holds the catalog's write turn, a session on the new folder waits for it; then one identity results."""
    import fcntl
    import time

    folder = tmp_path / "new"
    (folder / "journal").mkdir(parents=True)
    opener = "\n".join([
        "import sys, json",
        "from autolab.catalog import open_catalog",
        "from autolab.catalog.location import catalog_id",
        "import tiled.alembic_utils, tiled.catalog.adapter, tiled.client, tiled.server.app  # what opening imports",
        "print('imported', flush=True)",
        "client = open_catalog(sys.argv[1])",
        "print(json.dumps([len(client), catalog_id(sys.argv[1])]), flush=True)",
    ])
    sessions = []
    try:
        with open(folder / "journal" / "write.lock", "a") as turn:
            fcntl.flock(turn.fileno(), fcntl.LOCK_EX)
            sessions = [subprocess.Popen([sys.executable, "-c", opener, str(folder)], stdout=subprocess.PIPE, text=True) for _ in range(2)]
            assert [session.stdout.readline().strip() for session in sessions] == ["imported", "imported"]
            time.sleep(3.0)  # opening a new catalog takes well under a second once tiled is imported
            assert [session.poll() for session in sessions] == [None, None]  # both wait for the turn
            assert not (folder / "catalog.db").exists()
        results = [json.loads(session.communicate(timeout=120)[0]) for session in sessions]
    finally:
        for session in sessions:
            session.kill()
            session.wait()
    assert [session.returncode for session in sessions] == [0, 0]
    assert results[0] == results[1] == [0, json.loads((folder / LOCATION_FILE).read_text())["catalog_id"]]


def test_a_catalog_appears_only_once_complete_and_a_creation_cut_short_is_made_again(tmp_path, monkeypatch):
    """catalog.db does not exist while its tables are made; a leftover half-made file is replaced."""
    from autolab.catalog import location

    folder = tmp_path / "new"
    folder.mkdir()
    (folder / "catalog.db.creating").write_bytes(b"a creation killed half-way")
    seen = []
    make = location.initialize_catalog_database

    def watched(uri):
        make(uri)
        seen.append((folder / "catalog.db").exists())  # the tables are made: is the catalog visible yet?

    monkeypatch.setattr(location, "initialize_catalog_database", watched)
    assert len(open_catalog(folder)) == 0
    assert seen == [False]
    names = {path.name for path in folder.iterdir()}
    assert {"autolab-catalog.json", "catalog.db", "journal", "tables.db"} <= names
    assert not [name for name in names if ".creating" in name]
    with sqlite3.connect(folder / "catalog.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
