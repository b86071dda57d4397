"""One device file chooses the hardware: a YAML naming each device, its class and its PV prefix.

The format (``autolab ioc start`` writes one for the twin IOC)::

    channel_access:            # optional: put in this process's environment before connecting
      EPICS_CA_ADDR_LIST: 127.0.0.1:5064
      EPICS_CA_AUTO_ADDR_LIST: 'NO'
    time_scale: 1.0            # optional: real seconds per instrument second (the twin IOC's is < 1)
    connect_timeout_s: 5.0     # optional
    reactor:                   # optional: the reactor's name and measured geometry
      name: reactor
      growth_oven_volume_ul: 250.0
    devices:
      cd_pump: {class: EpicsSyringePump, prefix: 'AUTOLAB:CdPump:'}
      ...                      # se_pump, nucleation_heater, growth_oven, spectrometer, saxs, beam_monitor, diode

A class is a name in :mod:`autolab.devices.epics` or ``package.module:Class``; any other key of a
device (``timeout_s``, ``settle_limit_s``, …) is passed to its class. :func:`load_reactor` checks
the file, connects to every PV within ``connect_timeout_s`` and checks each PV's units before it
returns; each problem is one :class:`DeviceFileError` line naming the device and the PV.
"""

from __future__ import annotations

import importlib
import inspect
import os
import time
from pathlib import Path
from typing import Any

from ophyd import FormattedComponent as FCpt
from ophyd.signal import EpicsSignalBase

from ..errors import AutolabError
from . import epics
from .reactor import FlowReactor

#: Geometry keys the ``reactor:`` table may set (µL, or a fraction for ``cd_volume_fraction``).
GEOMETRY_KEYS = ("nucleation_chamber_volume_ul", "growth_oven_volume_ul", "transfer_volume_ul", "cd_volume_fraction",
                 "max_residence_time_s", "standby_flow_ul_min")
#: Labels of the reactor's devices, as the twin has them.
_LABELS = {"cd_pump": "Cd precursor pump", "se_pump": "Se precursor pump", "nucleation_heater": "nucleation heater",
           "growth_oven": "growth oven"}


class DeviceFileError(ValueError, AutolabError):
    """The device file cannot be read, names something unknown, or its hardware does not answer as it should."""


def read_device_file(path: str | os.PathLike) -> dict[str, Any]:
    """Parse and check ``path``; return its content with each device's class resolved.

    Raises
    ------
    DeviceFileError
        Naming the file, the device and the field.
    """
    import yaml

    path = Path(path).expanduser()
    where = f"device file {path}"
    try:
        content = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        msg = f"{where} cannot be read: {str(exc).splitlines()[0]}"
        raise DeviceFileError(msg) from None
    if not isinstance(content, dict) or not isinstance(content.get("devices"), dict):
        msg = f"{where} has no 'devices:' table (device name → class and prefix)"
        raise DeviceFileError(msg)
    unknown = sorted(set(content) - {"channel_access", "time_scale", "connect_timeout_s", "reactor", "devices"})
    if unknown:
        msg = f"{where}: unknown key {unknown[0]!r}; allowed: channel_access, time_scale, connect_timeout_s, reactor, devices"
        raise DeviceFileError(msg)
    for key in ("time_scale", "connect_timeout_s"):
        if key in content:
            _positive(where, key, content[key])
    devices = {}
    for name, spec in content["devices"].items():
        if name not in epics.EpicsFlowReactor.DEVICES:
            msg = f"{where}: unknown device {name!r}; the reactor has {', '.join(epics.EpicsFlowReactor.DEVICES)}"
            raise DeviceFileError(msg)
        if not isinstance(spec, dict) or not isinstance(spec.get("prefix"), str) or "class" not in spec:
            msg = f"{where}: device {name!r} needs 'class' and 'prefix' (a string), got {spec!r}"
            raise DeviceFileError(msg)
        cls = _resolve_class(where, name, spec["class"])
        devices[name] = {**spec, "class": cls}
    missing = [name for name in epics.EpicsFlowReactor.DEVICES if name not in devices]
    if missing:
        msg = f"{where}: device {missing[0]!r} is missing; the reactor needs {', '.join(epics.EpicsFlowReactor.DEVICES)}"
        raise DeviceFileError(msg)
    reactor = content.get("reactor") or {}
    for key, value in reactor.items():
        if key == "name":
            continue
        if key not in GEOMETRY_KEYS:
            msg = f"{where}: reactor key {key!r} is unknown; allowed: name, {', '.join(GEOMETRY_KEYS)}"
            raise DeviceFileError(msg)
        if key != "standby_flow_ul_min":
            _positive(where, f"reactor {key}", value)
    return {**content, "devices": devices, "reactor": reactor, "path": str(path.resolve())}


def load_reactor(path: str | os.PathLike, *, connect_timeout_s: float | None = None) -> FlowReactor:
    """Build the reactor the device file describes, connect every PV and check its units.

    Parameters
    ----------
    path : str or path
        The device file.
    connect_timeout_s : float, optional
        Seconds to wait for all PVs (default the file's ``connect_timeout_s``, else 5).

    Raises
    ------
    DeviceFileError
        One line naming the device and the PV that is missing or has the wrong units; nothing has
        been written to any PV then.
    """
    spec = read_device_file(path)
    where = f"device file {spec['path']}"
    for key, value in (spec.get("channel_access") or {}).items():
        if not str(key).startswith("EPICS_"):
            msg = f"{where}: channel_access key {key!r} is not an EPICS_* variable"
            raise DeviceFileError(msg)
        os.environ[str(key)] = str(value)
    attrs = {}
    folder = Path(spec["path"]).parent
    for name, device in spec["devices"].items():
        options = {k: v for k, v in device.items() if k not in ("class", "prefix")}
        for key in PATH_OPTIONS & set(options):  # relative to the device file, wherever the command runs
            if options[key] is None:
                continue
            if not isinstance(options[key], str):
                msg = f"{where}: {name}: {key}={options[key]!r} must be the path of a file"
                raise DeviceFileError(msg)
            options[key] = str(folder / Path(options[key]).expanduser())
            if not Path(options[key]).is_file():
                msg = f"{where}: {name}: {key}={options[key]!r} is not a file"
                raise DeviceFileError(msg)
            if key == "poni_file":
                _check_poni_file(options[key], where=f"{where}: {name}: {key}={options[key]!r}")
        taken = _options_taken(device["class"])
        unfit = sorted(set(options) - {"label", "kind"} - set(taken))
        if unfit:  # before any device is built: building one starts its PV search
            allowed = ", ".join(taken) or "none"
            msg = f"{where}: {name}: option {unfit[0]!r} is not one its class {device['class'].__name__} takes; options: {allowed}"
            raise DeviceFileError(msg)
        if name in _LABELS:
            options.setdefault("label", _LABELS[name])
        if name in ("beam_monitor", "diode"):
            options.setdefault("kind", "omitted")
        attrs[name] = FCpt(device["class"], f"{{{name}_prefix}}", **options)
    cls = type("EpicsFlowReactor", (epics.EpicsFlowReactor,), attrs)
    reactor_spec = spec["reactor"]
    _disconnect_at_exit()  # before the devices are built: a constructor that fails has already started the PV search
    try:
        reactor = cls(name=str(reactor_spec.get("name", "reactor")), prefixes={n: d["prefix"] for n, d in spec["devices"].items()},
                      time_scale=float(spec.get("time_scale", 1.0)))
    except TypeError as exc:
        msg = f"{where}: a device's options do not fit its class: {exc}"
        raise DeviceFileError(msg) from None
    check_connection(reactor, where=where, timeout_s=float(connect_timeout_s or spec.get("connect_timeout_s", 5.0)))
    for key, value in reactor_spec.items():
        if key == "standby_flow_ul_min":
            reactor.set_standby_flow(value, field=f"{where}: reactor standby_flow_ul_min")
        elif key != "name":
            getattr(reactor, key).put(float(value))
    return reactor


def _check_poni_file(path: str, *, where: str) -> None:
    """:class:`DeviceFileError` if pyFAI cannot read the PONI file at ``path`` (before any PV search starts)."""
    from autolab.analysis.reduction import check_poni

    try:
        check_poni(Path(path).read_text())
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"{where} cannot be read: {exc}"
        raise DeviceFileError(msg) from None
    except ValueError as exc:
        msg = f"{where}: {exc}"
        raise DeviceFileError(msg) from None


#: Device options that name a file: a relative path is taken from the device file's folder.
PATH_OPTIONS = frozenset({"poni_file", "mask_file"})


def _options_taken(cls) -> list[str]:
    """The keyword options a device class (and its bases above ophyd's) declares in its own ``__init__``."""
    taken = set()
    for klass in cls.__mro__:
        if klass.__module__.split(".")[0] == "ophyd" or klass is object:
            break
        init = klass.__dict__.get("__init__")
        if init is not None:
            taken |= {p.name for p in inspect.signature(init).parameters.values()
                      if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in ("self", "prefix", "name", "time_scale", "label")}
    return sorted(taken)


def check_connection(reactor: FlowReactor, *, where: str, timeout_s: float) -> None:
    """Wait up to ``timeout_s`` for every PV of ``reactor``; then check each PV's units against the interface's.

    Raises
    ------
    DeviceFileError
        Naming the first device and PV that did not connect (and how many others did not), or the
        first PV whose units differ from the ones autolab works in.
    """
    signals = [(walk.dotted_name, walk.item) for walk in reactor.walk_signals(include_lazy=True)
               if isinstance(walk.item, EpicsSignalBase)]
    deadline = time.monotonic() + timeout_s
    missing = []
    for dotted, signal in signals:
        try:
            signal.wait_for_connection(timeout=max(deadline - time.monotonic(), 0.01))
        except TimeoutError:
            missing.append((dotted, signal))
    if missing:
        dotted, signal = missing[0]
        device = dotted.split(".")[0]
        more = f" ({len(missing) - 1} more PVs of the file did not connect either)" if len(missing) > 1 else ""
        msg = f"{where}: {device}: PV {signal.pvname} did not connect within {timeout_s:g} s{more}; is its IOC running and EPICS_CA_ADDR_LIST right?"
        raise DeviceFileError(msg)
    for dotted, signal in signals:
        device, _, attr = dotted.rpartition(".")
        interface = _interface_of(type(getattr(reactor, device.split(".")[0]))) if device else None
        component = getattr(interface, attr, None) if interface is not None else None
        expected = getattr(component, "kwargs", {}).get("units") if component is not None else None
        actual = (signal.metadata or {}).get("units")
        if expected and actual and _unit(actual) != _unit(expected):
            msg = f"{where}: {device}: PV {signal.pvname} is in {actual!r}, but {attr} must be in {expected!r}"
            raise DeviceFileError(msg)


_DISCONNECT_REGISTERED = []


def _disconnect_at_exit() -> None:
    """Close the Channel Access circuits before the interpreter stops its thread pools (once per process).

    Otherwise a monitor update arriving during shutdown finds caproto's callback pool closed and
    prints a traceback after a command has finished. ``threading._register_atexit`` callbacks run
    last-registered first, so this one runs before ``concurrent.futures`` shuts its pools.
    """
    if _DISCONNECT_REGISTERED:
        return
    import threading

    from ophyd import cl

    def disconnect():
        if cl.name == "caproto":
            from caproto.threading.pyepics_compat import PV

            PV.default_context().disconnect()

    getattr(threading, "_register_atexit", __import__("atexit").register)(disconnect)
    _DISCONNECT_REGISTERED.append(True)


def _unit(text: str) -> str:
    """A unit in one spelling: Channel Access units hold 8 characters, so ``ph/s`` stands for photons/s."""
    return str(text).replace("µ", "u").replace("°C", "degC").replace(" ", "").replace("photons/", "ph/")


def _interface_of(cls: type) -> type | None:
    """The autolab interface a device class implements (the first base defined outside :mod:`autolab.devices.epics`)."""
    for base in cls.__mro__:
        if base.__module__.startswith("autolab.devices.") and base.__module__ != epics.__name__:
            return base
    return None


def _resolve_class(where: str, device: str, name: Any) -> type:
    interface = epics.EpicsFlowReactor.DEVICES[device]
    text = str(name)
    if ":" in text:
        module, _, attr = text.partition(":")
        try:
            cls = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            msg = f"{where}: {device} class {text!r} cannot be imported: {exc}"
            raise DeviceFileError(msg) from None
    else:
        cls = getattr(epics, text, None)
    if not isinstance(cls, type) or not issubclass(cls, interface):
        known = sorted(n for n, obj in vars(epics).items() if isinstance(obj, type) and issubclass(obj, interface)
                       and obj.__module__ == epics.__name__)
        msg = f"{where}: {device} class {text!r} is unknown; use {' or '.join(known)} or package.module:Class (a {interface.__name__})"
        raise DeviceFileError(msg)
    return cls


def _positive(where: str, key: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not number > 0:
        msg = f"{where}: {key}={value!r} must be a number > 0"
        raise DeviceFileError(msg)
    return number
