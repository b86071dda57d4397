"""``autolab serve``: a real tiled server process, written by ``autolab measure``, read by a third process."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import h5py
import pytest
import xarray

from autolab.catalog import open_catalog

from .conftest import run_python

API_KEY = "autolabtestkey123"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_line(proc: subprocess.Popen, timeout: float = 120) -> str:
    """The first line the server prints (it prints once it is about to listen), then wait until it answers."""
    deadline = time.monotonic() + timeout
    line = proc.stdout.readline()
    assert line, f"server exited: {proc.stderr.read()[-2000:]}"
    port = int(line.split("http://127.0.0.1:")[1].split(";")[0])
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return line
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        time.sleep(0.2)
    pytest.fail("the server did not start listening in time")


@pytest.fixture
def server(tmp_path):
    """``autolab serve`` on a free port over a new catalog folder; stopped by PID with SIGTERM."""
    port = free_port()
    folder = tmp_path / "served"
    proc = subprocess.Popen(
        [sys.executable, "-m", "autolab", "serve", "--catalog", str(folder), "--port", str(port), "--api-key", API_KEY],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = wait_for_line(proc)
        yield f"http://127.0.0.1:{port}", folder, line, proc
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()


def autolab(*args, key: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TILED_API_KEY"}
    if key is not None:
        env["TILED_API_KEY"] = key
    return subprocess.run([sys.executable, "-m", "autolab", *args], capture_output=True, text=True, env=env, timeout=timeout, check=False)


@pytest.mark.slow
def test_measure_through_the_server_reads_back_from_a_third_process(server):
    uri, folder, line, proc = server
    assert line.strip() == (
        f"serving catalog {folder} at {uri}; clients use --catalog {uri} with TILED_API_KEY set to the key given "
        "with --api-key (Ctrl-C stops)"
    )
    measured = autolab(
        "measure", "--nucleation-temperature-c", "280", "--growth-temperature-c", "280", "--residence-time-s", "14",
        "--catalog", uri, "--json", key=API_KEY,
    )
    assert measured.returncode == 0, measured.stderr[-2000:]
    uid = json.loads(measured.stdout.strip().splitlines()[-1])["uid"]
    code = textwrap.dedent(
        f"""
        import json
        from tiled.client import from_uri
        from tiled.queries import Key
        client = from_uri({uri!r}, api_key={API_KEY!r})
        run = client[{uid!r}]
        data = run.primary.read()
        print(json.dumps({{
            "plan": run.metadata["start"]["plan_name"],
            "exit": run.metadata["stop"]["exit_status"],
            "dims": list(data["reactor_spectrometer_absorbance"].dims),
            "a437": float(data["reactor_spectrometer_absorbance"].values[0, 137]),
            "q": data["reactor_saxs_q_nm_inv"].shape[1],
            "documents": [name for name, doc in run.documents()],
            "measure_points": len(client.search(Key("start.plan_name") == "measure_point")),
        }}))
        run.primary.export({str(folder.parent / "served.nc")!r})
        run.primary.export({str(folder.parent / "served.h5")!r})
        run.primary.export({str(folder.parent / "served.csv")!r})
        """
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-2000:]
    read = json.loads(result.stdout.strip().splitlines()[-1])
    assert read["plan"] == "measure_point"
    assert read["exit"] == "success"
    assert read["dims"] == ["time", "wavelength_nm"]
    assert read["a437"] > 0
    assert read["q"] == 250
    assert read["documents"] == ["start", "descriptor", "event", "stop"]
    assert read["measure_points"] == 1
    with xarray.open_dataset(folder.parent / "served.nc", engine="h5netcdf") as exported:
        assert float(exported["reactor_spectrometer_absorbance"].sel(wavelength_nm=437.0).values[0]) == read["a437"]
    with h5py.File(folder.parent / "served.h5") as exported:  # tiled's HDF5: one dataset per data key
        absorbance = next(exported[name] for name in _h5_names(exported) if name.endswith("reactor_spectrometer_absorbance"))
        assert float(absorbance[0, 137]) == read["a437"]
    with open(folder.parent / "served.csv", newline="") as handle:  # tiled's CSV: one row per event, scalar readings
        (row,) = list(csv.DictReader(handle))
    assert float(row["reactor_nucleation_heater_readback"]) == pytest.approx(280, abs=2)
    # The folder behind the server reads the same run directly.
    direct = open_catalog(folder, create=False)[uid]
    assert float(direct.primary.read()["reactor_spectrometer_absorbance"].values[0, 137]) == read["a437"]
    # SIGTERM stops the server cleanly (uvicorn shuts down, then ends by the signal it caught).
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=30) == -signal.SIGTERM
    assert "Traceback" not in proc.stderr.read()


@pytest.mark.slow
def test_server_refuses_a_wrong_or_missing_key_in_one_line(server):
    uri, *_ = server
    wrong = autolab("runs", "--catalog", uri, key="wrongkey")
    assert wrong.returncode == 2
    assert wrong.stderr.strip().splitlines() == [
        f"autolab: error: the tiled server at {uri} needs an API key and the API key was refused; "
        "set TILED_API_KEY to the key `autolab serve` printed"
    ]
    missing = autolab("runs", "--catalog", uri)
    assert missing.returncode == 2
    assert "needs an API key and no API key was given" in missing.stderr


def test_serve_without_a_key_prints_a_new_one(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "autolab", "serve", "--catalog", str(tmp_path / "c"), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    key = line.split("TILED_API_KEY=")[1].split()[0]
    assert len(key) == 64
    assert key.isalnum()


def test_serve_refuses_a_bad_key_and_a_busy_port(tmp_path):
    bad = autolab("serve", "--catalog", str(tmp_path / "c"), "--api-key", "not a key!", timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "autolab: error: --api-key='not a key!' is not a valid API key; use letters and digits only (or leave it out to get one)"
    )
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = autolab("serve", "--catalog", str(tmp_path / "c"), "--port", str(port), "--api-key", API_KEY, timeout=120)
    assert taken.returncode == 2
    assert taken.stderr.strip().startswith(f"autolab: error: --port={port}: cannot listen on 127.0.0.1:{port}")
    elsewhere = autolab("serve", "--catalog", str(tmp_path / "c"), "--host", "192.0.2.1", "--api-key", API_KEY, timeout=120)
    assert elsewhere.returncode == 2  # 192.0.2.1 (TEST-NET-1) is no address of this machine
    assert elsewhere.stderr.strip().startswith("autolab: error: --host=192.0.2.1: not an address of this machine")


def _h5_names(group) -> list[str]:
    names = []
    group.visit(names.append)
    return names
