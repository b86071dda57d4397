"""Start, check and stop the twin IOC process; inject its faults; write the device file that points at it.

``autolab ioc start`` runs :mod:`autolab.ioc.server` as its own process group on 127.0.0.1 and a
free port, records it in ``<ioc dir>/ioc.json`` (``$AUTOLAB_IOC_DIR`` or ``<autolab data
dir>/ioc``) and writes a device file (:mod:`autolab.devices.devicefile`) naming every device,
its EPICS class and its prefix. ``autolab ioc stop`` stops it by PID.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from ..catalog.location import data_home
from ..errors import AutolabError
from ..processes import alive
from .server import DEFAULT_PREFIX, DEVICE_SUFFIXES

#: Each device's EPICS class in :mod:`autolab.devices.epics`, as the device file names it.
DEVICE_CLASSES = {
    "cd_pump": "EpicsSyringePump",
    "se_pump": "EpicsSyringePump",
    "nucleation_heater": "EpicsHeater",
    "growth_oven": "EpicsHeater",
    "spectrometer": "EpicsSpectrometer",
    "saxs": "EpicsSAXSDetector",
    "beam_monitor": "EpicsBeamMonitor",
    "diode": "EpicsTransmissionDiode",
}

#: Faults ``autolab ioc fault`` injects: kind → (PV suffix after the device's prefix, the devices
#: that have it, the first being the default).
FAULTS = {
    "beam-dump": ("Sim:Dump", ("beam_monitor",)),
    "heater-alarm": ("Sim:Alarm", ("growth_oven", "nucleation_heater")),
    "pump-stall": ("Sim:Stall", ("cd_pump", "se_pump")),
    "no-settle": ("Sim:Offset", ("growth_oven", "nucleation_heater")),
    "detector-timeout": ("Sim:Hang", ("saxs", "spectrometer")),
    "disconnect": (None, ()),
}


@dataclass
class IOCState:
    """What ``autolab ioc start`` started (stored as ``ioc.json`` in the IOC directory)."""

    directory: str
    pid: int
    port: int
    prefix: str
    seed: int
    time_scale: float
    devices_file: str
    started: float

    def environment(self) -> dict[str, str]:
        """The Channel Access settings a client needs to reach this IOC (and nothing else)."""
        return {
            "EPICS_CA_ADDR_LIST": f"127.0.0.1:{self.port}",
            "EPICS_CA_AUTO_ADDR_LIST": "NO",
            "EPICS_CA_SERVER_PORT": str(self.port),
        }

    def env_lines(self) -> str:
        """Shell lines that point Channel Access clients (caproto, pyepics, caget) at this IOC."""
        return "\n".join(f"export {key}={value}" for key, value in self.environment().items())


def default_directory() -> Path:
    """Where the IOC keeps its files: ``$AUTOLAB_IOC_DIR`` or ``<autolab data dir>/ioc``."""
    return Path(os.environ.get("AUTOLAB_IOC_DIR") or data_home() / "ioc")


def free_ca_port() -> int:
    """A port on 127.0.0.1 free for both TCP and UDP now (an IOC serves CA on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    msg = "no free port on 127.0.0.1 for the IOC"
    raise AutolabError(msg)


def load_state(directory: str | Path | None = None) -> IOCState | None:
    """The recorded IOC state, or None if no IOC was started from ``directory``."""
    path = Path(directory or default_directory()) / "ioc.json"
    if not path.exists():
        return None
    return IOCState(**json.loads(path.read_text()))


def start(
    directory: str | Path | None = None,
    *,
    prefix: str = DEFAULT_PREFIX,
    devices_out: str | Path | None = None,
    seed: int = 0,
    time_scale: float = 0.01,
    port: int | None = None,
    timeout: float = 60.0,
) -> IOCState:
    """Start the twin IOC in the background; return its recorded state.

    Parameters
    ----------
    directory : str or path, optional
        IOC directory for ``ioc.json`` and ``ioc.log`` (default :func:`default_directory`).
    prefix : str
        Prefix of every PV (``AUTOLAB:`` serves ``AUTOLAB:CdPump:Rate``, …).
    devices_out : str or path, optional
        Where to write the device file (default ``<directory>/devices.yml``).
    seed : int
        Seed of the twin's noise.
    time_scale : float
        Real seconds per simulated second (> 0; 0.01 runs the twin a hundred times faster than real time).
    port : int, optional
        Channel Access port (default: a free one).
    timeout : float
        Seconds to wait for the IOC to answer.

    Raises
    ------
    AutolabError
        If an IOC recorded in ``directory`` still runs, or the IOC does not answer in time.
    """
    check_prefix(prefix)
    if not time_scale > 0:
        msg = f"--time-scale={time_scale!r} must be > 0 (real seconds per simulated second)"
        raise AutolabError(msg)
    directory = Path(directory or default_directory()).resolve()
    existing = load_state(directory)
    if existing is not None and alive(existing.pid):
        msg = f"an IOC is already running from {directory} (PID {existing.pid}, port {existing.port}); `autolab ioc stop` first"
        raise AutolabError(msg)
    directory.mkdir(parents=True, exist_ok=True)
    port = port or free_ca_port()
    devices_out = Path(devices_out or directory / "devices.yml").expanduser().resolve()
    env = {**os.environ, "EPICS_CA_SERVER_PORT": str(port), "EPICS_CAS_SERVER_PORT": str(port),
           "EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1", "EPICS_CAS_BEACON_ADDR_LIST": "127.0.0.1",
           "EPICS_CAS_AUTO_BEACON_ADDR_LIST": "NO", "PYTHONUNBUFFERED": "1", "CAPROTO_SERVER_HIGH_LOAD_TIMEOUT_SEC": "0.001"}
    with open(directory / "ioc.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "autolab.ioc.server", "--prefix", prefix, "--seed", str(seed), "--time-scale", repr(float(time_scale))],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
    _reap_when_done(process)
    state = IOCState(str(directory), process.pid, port, prefix, seed, float(time_scale), str(devices_out), time.time())
    (directory / "ioc.json").write_text(json.dumps(asdict(state), indent=2))
    try:
        _wait_until_serving(state, process, timeout)
    except BaseException:
        stop(directory)
        raise
    write_device_file(state, devices_out)
    return state


def _reap_when_done(process: subprocess.Popen) -> None:
    """Wait for ``process`` in a daemon thread, so that it leaves no zombie when it ends while this process runs."""
    threading.Thread(target=process.wait, daemon=True, name=f"autolab-reap-{process.pid}").start()


def check_prefix(prefix: str) -> str:
    """Raise :class:`AutolabError` unless ``prefix`` is usable in PV names (printable, no spaces, ≤ 40 characters)."""
    if not prefix or len(prefix) > 40 or any(ch.isspace() or not ch.isprintable() or ch in "\"'$\\" for ch in prefix):
        msg = f"--prefix={prefix!r} is not a PV prefix; use 1–40 printable characters without spaces, quotes, $ or \\ (e.g. AUTOLAB:)"
        raise AutolabError(msg)
    return prefix


@contextmanager
def ca_environment(state: IOCState):
    """Point this process's Channel Access clients at ``state``'s IOC for the duration of the block."""
    saved = {key: os.environ.get(key) for key in state.environment()}
    os.environ.update(state.environment())
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _probe_pv(state: IOCState) -> str:
    return f"{state.prefix}{DEVICE_SUFFIXES['beam_monitor']}Current_RBV"


def _wait_until_serving(state: IOCState, process: subprocess.Popen, timeout: float) -> None:
    from caproto.sync.client import read

    deadline = time.monotonic() + timeout
    with ca_environment(state):
        while time.monotonic() < deadline:
            if process.poll() is not None:
                msg = f"the IOC exited with code {process.returncode} at start; see {Path(state.directory) / 'ioc.log'}"
                raise AutolabError(msg)
            try:
                read(_probe_pv(state), timeout=0.5, repeater=False)
            except Exception:  # not answering yet: a timeout or a refused connection
                time.sleep(0.1)
                continue
            return
    msg = f"the IOC (PID {state.pid}) did not answer on 127.0.0.1:{state.port} within {timeout:g} s; see {Path(state.directory) / 'ioc.log'}"
    raise AutolabError(msg)


def write_device_file(state: IOCState, path: str | Path) -> Path:
    """Write the device file that points autolab at ``state``'s IOC; return its path."""
    import yaml

    from ..devices import make_twin_reactor

    twin = make_twin_reactor()  # the IOC's twin has these volumes; a client reactor must use the same
    geometry = {key: float(getattr(twin, key).get()) for key in
                ("nucleation_chamber_volume_ul", "growth_oven_volume_ul", "transfer_volume_ul", "cd_volume_fraction")}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    devices = {name: {"class": DEVICE_CLASSES[name], "prefix": state.prefix + suffix} for name, suffix in DEVICE_SUFFIXES.items()}
    devices["saxs"].update(saxs_reduction_files(twin.saxs, path.parent))
    content = {
        "channel_access": state.environment(),
        "time_scale": state.time_scale,
        "connect_timeout_s": 10.0,
        "reactor": {"name": "reactor", **geometry},
        "devices": devices,
    }
    header = f"# autolab device file: the twin IOC started by `autolab ioc start` (PID {state.pid}, 127.0.0.1:{state.port}).\n"
    path.write_text(header + yaml.safe_dump(content, sort_keys=False))
    return path


def saxs_reduction_files(saxs, directory: Path) -> dict:
    """Write the twin SAXS detector's geometry (``saxs.poni``) and beamstop mask (``saxs_mask.npy``) into
    ``directory``; return the device-file options that name them, with the thickness and calibration factor."""
    import numpy as np

    poni, mask = directory / "saxs.poni", directory / "saxs_mask.npy"
    poni.write_text(saxs.poni.get())
    np.save(mask, np.asarray(saxs.mask.get(), dtype=bool))
    return {"poni_file": str(poni), "mask_file": str(mask), "thickness_cm": float(saxs.thickness_cm.get()),
            "calibration_factor": float(saxs.calibration_factor.get())}


def stop(directory: str | Path | None = None, *, grace: float = 5.0) -> IOCState | None:
    """Stop the recorded IOC by PID (SIGTERM to its group, SIGKILL after ``grace`` s); None if none was recorded."""
    directory = Path(directory or default_directory())
    state = load_state(directory)
    if state is None:
        return None
    try:
        os.killpg(state.pid, signal.SIGCONT)  # a paused ('disconnect' fault) IOC must run to handle SIGTERM
        os.killpg(state.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and alive(state.pid):
        time.sleep(0.05)
    try:
        os.killpg(state.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    (directory / "ioc.json").unlink(missing_ok=True)
    return state


def status(directory: str | Path | None = None, *, timeout: float = 2.0) -> dict:
    """Whether the recorded IOC runs and answers, with its port, prefix and device file."""
    state = load_state(directory)
    if state is None:
        return {"running": False, "directory": str(Path(directory or default_directory()))}
    out = {"running": alive(state.pid), **asdict(state)}
    out["answering"] = False
    if out["running"]:
        from caproto.sync.client import read

        with ca_environment(state):
            try:
                out["beam_current_ma"] = float(read(_probe_pv(state), timeout=timeout, repeater=False).data[0])
                out["answering"] = True
            except Exception as exc:  # a paused or wedged IOC
                out["error"] = f"{type(exc).__name__}: {exc}"
    return out


def running_state(directory: str | Path | None = None) -> IOCState:
    """The recorded IOC, which must be running; else :class:`AutolabError` naming the fix."""
    directory = Path(directory or default_directory())
    state = load_state(directory)
    if state is None or not alive(state.pid):
        msg = f"no IOC is running from {directory}; start one with `autolab ioc start`"
        raise AutolabError(msg)
    return state


def inject_fault(kind: str, *, device: str | None = None, seconds: float = 5.0, offset_c: float = 5.0,
                 directory: str | Path | None = None) -> str:
    """Inject a fault into the running IOC; return a sentence saying what was done.

    Parameters
    ----------
    kind : str
        One of :data:`FAULTS`: ``beam-dump``, ``heater-alarm``, ``pump-stall``, ``detector-timeout``
        (each for ``seconds``), ``no-settle`` (the heater's readback stays at least ``offset_c`` from
        its setpoint, ramping or not; 0 heals it) or ``disconnect`` (the IOC process is paused for ``seconds`` and
        answers nothing meanwhile).
    device : str, optional
        The device (default: the kind's usual one, e.g. ``growth_oven`` for ``heater-alarm``).
    """
    if kind not in FAULTS:
        msg = f"fault kind={kind!r} is unknown; choose one of {', '.join(FAULTS)}"
        raise AutolabError(msg)
    if not seconds >= 0:
        msg = f"--seconds={seconds!r} must be ≥ 0"
        raise AutolabError(msg)
    state = running_state(directory)
    if kind == "disconnect":
        resume = f"import os, signal, time; time.sleep({float(seconds)!r}); os.killpg({state.pid}, signal.SIGCONT)"
        _reap_when_done(subprocess.Popen([sys.executable, "-c", resume], start_new_session=True,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        os.killpg(state.pid, signal.SIGSTOP)
        return f"IOC PID {state.pid} paused for {seconds:g} s (answers nothing until then)"
    suffix, allowed = FAULTS[kind]
    device = device or allowed[0]
    if device not in allowed:
        msg = f"--device={device!r} cannot have a {kind} fault; choose one of {', '.join(allowed)}"
        raise AutolabError(msg)
    value = float(offset_c) if kind == "no-settle" else float(seconds)
    pv = f"{state.prefix}{DEVICE_SUFFIXES[device]}{suffix}"
    from caproto.sync.client import write

    with ca_environment(state):
        write(pv, value, notify=True, timeout=5.0, repeater=False)
    if kind == "no-settle":
        return f"{pv} = {value:g} °C: {device}'s readback stays at least {value:g} °C from its setpoint" if value else f"{pv} = 0: {device} healed"
    return f"{pv} = {value:g} s: {kind} on {device} for {value:g} s"

