"""The device file's checks that need no IOC: each bad file is one line naming the field, before any connection."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from autolab.devices.devicefile import DeviceFileError, read_device_file
from autolab.ioc.control import DEVICE_CLASSES
from autolab.ioc.server import DEVICE_SUFFIXES


def _devices(**override):
    devices = {name: f"{{class: {cls}, prefix: 'X:{DEVICE_SUFFIXES[name]}'}}" for name, cls in DEVICE_CLASSES.items()}
    devices.update(override)
    return "devices:\n" + "".join(f"  {name}: {spec}\n" for name, spec in devices.items())


@pytest.fixture
def write(tmp_path):
    def write(text):
        path = tmp_path / "devices.yml"
        path.write_text(text)
        return path

    write.path = tmp_path / "devices.yml"
    return write


def test_a_complete_file_resolves_each_class(write):
    spec = read_device_file(write("time_scale: 0.01\n" + _devices()))
    assert spec["devices"]["growth_oven"]["class"].__name__ == "EpicsHeater"
    assert spec["devices"]["saxs"]["prefix"] == "X:SAXS:"
    assert spec["time_scale"] == 0.01


@pytest.mark.parametrize(("text", "message"), [
    ("reactor: {}\n", "has no 'devices:' table"),
    (_devices(heater="{class: EpicsHeater, prefix: 'X:'}"), "unknown device 'heater'; the reactor has cd_pump, se_pump"),
    (_devices(saxs="{class: EpicsSpectrometer, prefix: 'X:'}"), "saxs class 'EpicsSpectrometer' is unknown; use EpicsSAXSDetector or"),
    (_devices(cd_pump="{class: nosuch.module:Pump, prefix: 'X:'}"), "cd_pump class 'nosuch.module:Pump' cannot be imported"),
    (_devices(diode="{class: EpicsTransmissionDiode}"), "device 'diode' needs 'class' and 'prefix'"),
    ("time_scale: 0\n" + _devices(), "time_scale=0 must be a number > 0"),
    ("reactor: {growth_oven_volume_ul: -5}\n" + _devices(), "reactor growth_oven_volume_ul=-5 must be a number > 0"),
    ("devices:\n  cd_pump: {class: EpicsSyringePump, prefix: 'X:'}\n", "device 'se_pump' is missing"),
    ("colour: blue\n" + _devices(), "unknown key 'colour'"),
])
def test_bad_file_is_one_line_naming_the_field(write, text, message):
    path = write(text)
    with pytest.raises(DeviceFileError, match=re.escape(f"device file {path}")) as info:
        read_device_file(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_cli_reports_a_bad_device_file_in_one_line_and_exit_2(write):
    path = write(_devices(growth_oven="{class: EpicsOven, prefix: 'X:'}"))
    result = subprocess.run(
        [sys.executable, "-m", "autolab", "measure", "--devices", str(path), "--nucleation-temperature-c", "250",
         "--growth-temperature-c", "240", "--residence-time-s", "14"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"autolab: error: device file {path}: growth_oven class 'EpicsOven' is unknown; use EpicsHeater or package.module:Class (a Heater)"
    ]


def _measure(path, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "autolab", "measure", "--devices", str(path), "--nucleation-temperature-c", "250",
         "--growth-temperature-c", "240", "--residence-time-s", "14"],
        capture_output=True, text=True, timeout=120, check=False, cwd=cwd,
    )


def test_an_option_its_class_does_not_take_is_one_line_naming_the_device_and_the_options(write):
    """A typo in a device's option: the device, the option and what its class takes, and no caproto
    thread traceback after the line (the PV search starts while the devices are built)."""
    result = _measure(write(_devices(growth_oven="{class: EpicsHeater, prefix: 'X:GrowthOven:', settle_limt_s: 1800}")))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"autolab: error: device file {write.path}: growth_oven: option 'settle_limt_s' is not one its class EpicsHeater takes; "
        "options: settle_limit_s"
    ]


@pytest.mark.parametrize(("override", "line"), [
    # timeout_s is the SAXS detector's option and not the beam monitor's: the monitor is named.
    ({"saxs": "{class: EpicsSAXSDetector, prefix: 'X:SAXS:', timeout_s: 30}",
      "beam_monitor": "{class: EpicsBeamMonitor, prefix: 'X:Beam:', timeout_s: 5}"},
     "beam_monitor: option 'timeout_s' is not one its class EpicsBeamMonitor takes; options: none"),
    ({"saxs": "{class: EpicsSAXSDetector, prefix: 'X:SAXS:', poni_file: 5}"}, "saxs: poni_file=5 must be the path of a file"),
])
def test_a_device_option_that_does_not_fit_names_its_device(write, override, line):
    result = _measure(write(_devices(**override)))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"autolab: error: device file {write.path}: {line}"]


def test_a_relative_poni_file_is_read_from_the_device_files_folder(write, tmp_path):
    """docs/epics.md's file names `poni_file: saxs.poni` beside it; a command run from elsewhere finds it
    (the check that it is a file runs when the device is built, before any PV connects)."""
    saxs = "{class: EpicsSAXSDetector, prefix: 'X:SAXS:', poni_file: saxs.poni}"
    path = write("connect_timeout_s: 0.2\n" + _devices(saxs=saxs))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    missing = _measure(path, cwd=elsewhere)
    assert missing.stderr.strip().splitlines() == [f"autolab: error: device file {path}: saxs: poni_file='{tmp_path / 'saxs.poni'}' is not a file"]
    (tmp_path / "saxs.poni").write_text("Distance: 0.5\n")  # a geometry pyFAI cannot use: refused before any PV search
    unusable = _measure(path, cwd=elsewhere)
    assert unusable.stderr.strip().splitlines() == [
        f"autolab: error: device file {path}: saxs: poni_file='{tmp_path / 'saxs.poni'}': the PONI geometry needs a "
        "Distance > 0 and a Wavelength > 0 (m); got Distance=0.5, Wavelength=None"]
    (tmp_path / "saxs.poni").write_text("Distance: 0.5\nWavelength: 1.5406e-10\n")
    found = _measure(path, cwd=elsewhere)  # now past the file checks: no IOC answers these PVs
    assert found.returncode == 2
    assert "is not a file" not in found.stderr
    assert "did not connect within 0.2 s" in found.stderr
    assert len(found.stderr.strip().splitlines()) == 1, found.stderr
