"""The reactor over Channel Access: a real twin IOC process on 127.0.0.1, the EPICS device classes, the device file and faults.

One IOC (``autolab.ioc.control.start``, a caproto process on a free port, stopped by PID) serves
the whole module at 250× real time; each fault lasts a second or two of wall-clock time.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from bluesky import RunEngine
from bluesky.preprocessors import plan_mutator
from ophyd import Component as Cpt
from ophyd import EpicsSignalRO

from autolab.analysis.reduction import absorbance
from autolab.campaign import autonomous_campaign
from autolab.campaign.plan import keeping_summary
from autolab.catalog import find_runs
from autolab.devices import make_twin_reactor
from autolab.devices.devicefile import DeviceFileError, load_reactor
from autolab.devices.epics import EpicsSyringePump
from autolab.errors import LimitError, ReactorFault
from autolab.ioc import control
from autolab.plans import measure_point, phase_map, safe_state, take_background, take_dark, take_reference
from autolab.runtime import open_session

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("epics")]

TIME_SCALE = 0.004
POINT = (250.0, 240.0, 14.0)


@pytest.fixture(scope="module")
def ioc(tmp_path_factory):
    """The twin IOC, started as a process for the module and stopped by its PID."""
    directory = tmp_path_factory.mktemp("ioc")
    state = control.start(directory, prefix="TEST:", time_scale=TIME_SCALE)
    yield state
    control.stop(directory)
    assert not control.alive(state.pid)


@pytest.fixture(scope="module")
def epics_reactor(ioc):
    return load_reactor(ioc.devices_file)


@pytest.fixture
def fault(ioc):
    def inject(kind, **kwargs):
        return control.inject_fault(kind, directory=ioc.directory, **kwargs)

    return inject


def _run(RE, plan):
    docs = []
    RE(plan, lambda name, doc: docs.append((name, doc)))
    return docs


def _events(docs, stream="primary"):
    descriptors = {d["uid"] for n, d in docs if n == "descriptor" and d.get("name") == stream}
    return [d for n, d in docs if n == "event" and d["descriptor"] in descriptors]


def test_ioc_serves_on_loopback_and_its_status_answers(ioc):
    info = control.status(ioc.directory)
    assert info["running"]
    assert info["answering"]
    assert info["beam_current_ma"] == pytest.approx(200.0, rel=1e-3)
    listening = subprocess.run(["ss", "-Hlnt", f"sport = :{ioc.port}"], capture_output=True, text=True, check=False).stdout
    if listening:  # ss is there: every listening socket of the port is on loopback
        assert all(line.split()[3].startswith("127.0.0.1:") for line in listening.splitlines())


def test_the_ioc_log_holds_no_beacon_tracebacks(tmp_path):
    """No CA repeater listens on the loopback's 5065, so every beacon fails after the first; caproto
    logs a traceback each time (a dozen in two minutes). The IOC's log says it once, in one line."""
    state = control.start(tmp_path / "ioc", prefix="BEACON:", time_scale=TIME_SCALE)
    try:
        time.sleep(3.0)  # beacons at 0.02, 0.04, 0.08 … s: several fail within a second or two
    finally:
        control.stop(state.directory)
    log = (tmp_path / "ioc" / "ioc.log").read_text()
    assert log.count("Failed to send beacon") <= 1, log
    assert "Traceback" not in log, log


def test_epics_point_has_the_twins_record_layout(ioc, epics_reactor):
    docs = _run(RunEngine(), measure_point(epics_reactor, *POINT))
    twin_docs = _run(RunEngine(), measure_point(make_twin_reactor(seed=0), *POINT))
    (event,), (twin_event,) = _events(docs), _events(twin_docs)
    assert set(event["data"]) == set(twin_event["data"])
    keys = next(d for n, d in docs if n == "descriptor")["data_keys"]
    twin_keys = next(d for n, d in twin_docs if n == "descriptor")["data_keys"]
    for key in ("reactor_spectrometer_absorbance", "reactor_saxs_intensity", "reactor_saxs_q_nm_inv",
                "reactor_growth_oven_readback", "reactor_cd_pump_flow_rate"):
        assert {f: keys[key].get(f) for f in ("units", "dims", "shape")} == {f: twin_keys[key].get(f) for f in ("units", "dims", "shape")}
    config = next(d for n, d in docs if n == "descriptor")["configuration"]
    assert set(config) == set(next(d for n, d in twin_docs if n == "descriptor")["configuration"])
    data = event["data"]
    assert data["reactor_growth_oven_readback"] == pytest.approx(240.0, abs=1.0)
    assert data["reactor_nucleation_heater_readback"] == pytest.approx(250.0, abs=1.0)
    assert data["reactor_cd_pump_flow_rate"] == pytest.approx(epics_reactor.flow_rates_for(14.0)["cd_pump"], rel=1e-9)
    assert data["reactor_flush_flushed_volumes"] >= 3.0
    # The IOC runs the twin's physics: the same first-exciton peak as the in-process twin.
    wavelength = np.asarray(data["reactor_spectrometer_wavelength_nm"])
    window = (wavelength > 380) & (wavelength < 600)

    def peak(absorbance):
        return wavelength[window][np.nanargmax(np.asarray(absorbance)[window])]

    assert abs(peak(data["reactor_spectrometer_absorbance"]) - peak(twin_event["data"]["reactor_spectrometer_absorbance"])) <= 10
    # Low-q I(q) as the in-process twin's: 30 % allows for Poisson noise and the flow cell's washout state.
    low_q = np.nanmean(np.asarray(data["reactor_saxs_intensity"])[:20])
    assert low_q == pytest.approx(np.nanmean(np.asarray(twin_event["data"]["reactor_saxs_intensity"])[:20]), rel=0.3)


def _starts(docs, plan_name):
    return [d for n, d in docs if n == "start" and d["plan_name"] == plan_name]


def test_calibrations_over_epics_are_runs_that_later_points_reduce_with(ioc, epics_reactor):
    RE = RunEngine(call_returns_result=False)
    spectrometer, saxs = epics_reactor.spectrometer, epics_reactor.saxs
    docs = _run(RE, measure_point(epics_reactor, *POINT))
    # connected, the detectors reduce with the calibration the IOC's twin started with, as a fresh twin does
    assert _starts(docs, "measure_point")[0]["calibration_runs"] == {"dark": None, "reference": None, "background": None}
    dark_docs = _run(RE, take_dark(spectrometer))
    reference_docs = _run(RE, take_reference(spectrometer))
    background_docs = _run(RE, take_background(saxs, content="solvent"))
    uids = {kind: _starts(d, f"take_{kind}")[0]["uid"] for kind, d in
            (("dark", dark_docs), ("reference", reference_docs), ("background", background_docs))}
    assert str(spectrometer.shutter.get()) == "open"  # each plan sets the detector back for samples
    assert str(spectrometer.cell_content.get()) == str(saxs.cell_content.get()) == "sample"
    dark, reference, background = (_events(d)[0]["data"] for d in (dark_docs, reference_docs, background_docs))
    assert np.median(dark["reactor_spectrometer_counts"]) < 0.2 * np.median(reference["reactor_spectrometer_counts"])
    assert np.shape(background["reactor_saxs_image"]) == (256, 240)
    # the twin's keys, in the calibration runs too
    twin = make_twin_reactor(seed=0)
    twin_RE = RunEngine(call_returns_result=False)
    for plan, twin_plan, epics_docs in ((take_dark(spectrometer), take_dark(twin.spectrometer), dark_docs),
                                        (take_background(saxs), take_background(twin.saxs), background_docs)):
        plan.close()
        assert set(_events(epics_docs)[0]["data"]) == set(_events(_run(twin_RE, twin_plan))[0]["data"])

    docs = _run(RE, measure_point(epics_reactor, *POINT))
    assert _starts(docs, "measure_point")[0]["calibration_runs"] == uids
    config = next(d for n, d in docs if n == "descriptor")["configuration"]
    assert config["reactor_spectrometer"]["data"]["reactor_spectrometer_dark_run_uid"] == uids["dark"]
    assert config["reactor_saxs"]["data"]["reactor_saxs_background_run_uid"] == uids["background"]
    data = _events(docs)[0]["data"]
    # the client reduced the raw counts with the dark and reference of those runs
    expected = absorbance(data["reactor_spectrometer_counts"], dark["reactor_spectrometer_counts"],
                          reference["reactor_spectrometer_counts"],
                          saturated=np.asarray(data["reactor_spectrometer_saturated"], bool)
                          | np.asarray(reference["reactor_spectrometer_saturated"], bool))
    np.testing.assert_allclose(data["reactor_spectrometer_absorbance"], expected, equal_nan=True)
    # the solvent background subtracted: the sample's I(q) at high q is near 0 (the twin's solvent scatters 0.02 cm⁻¹)
    intensity = np.asarray(data["reactor_saxs_intensity"])
    assert abs(np.nanmedian(intensity[-50:])) < 0.02
    assert np.nanmean(intensity[:20]) > 0.01


def test_saxs_options_of_a_device_file_are_checked_in_one_line(ioc, tmp_path):
    from autolab.devices.epics import EpicsSAXSDetector

    with pytest.raises(LimitError, match=re.escape("saxs poni_file='nowhere.poni' is not a file; give the path of a PONI file")):
        EpicsSAXSDetector("TEST:SAXS:", name="saxs", poni_file="nowhere.poni")
    with pytest.raises(LimitError, match=re.escape("saxs thickness_cm=-1 is not allowed: it must be a finite number > 0")):
        EpicsSAXSDetector("TEST:SAXS:", name="saxs", thickness_cm=-1)


def test_heater_set_to_its_readback_finishes_after_the_dwell(epics_reactor):
    heater = epics_reactor.nucleation_heater
    target = float(heater.setpoint.get())
    started = time.monotonic()
    heater.set(target).wait(10)
    dwell_wall = float(heater.settle_time_s.get()) * TIME_SCALE
    assert dwell_wall <= time.monotonic() - started < dwell_wall + 2.0


def test_out_of_range_setpoint_moves_nothing(epics_reactor):
    heater = epics_reactor.growth_oven
    before = float(heater.setpoint.get())
    with pytest.raises(LimitError, match=re.escape("setpoint=900 is outside the growth oven's allowed range 20–350 °C")):
        heater.set(900)
    time.sleep(0.1)
    assert float(heater.setpoint.get()) == before
    with pytest.raises(LimitError, match="outside the Cd precursor pump's allowed range 10–12000"):
        epics_reactor.cd_pump.set(5.0)


def test_heater_that_does_not_settle_fails_its_status(epics_reactor, fault):
    heater = epics_reactor.growth_oven
    heater.settle_limit_s = 200.0  # instrument seconds: 0.8 s of wall-clock time
    fault("no-settle", offset_c=5.0)
    try:
        deadline = time.monotonic() + 5  # the IOC applies the offset at its next poll
        while time.monotonic() < deadline and float(heater.readback.get()) - float(heater.setpoint.get()) < 3.0:
            time.sleep(0.02)
        status = heater.set(float(heater.setpoint.get()) + 1.0)
        with pytest.raises(ReactorFault, match=r"growth oven \(reactor_growth_oven\) did not settle within 200 s"):
            status.wait(10)
    finally:
        fault("no-settle", offset_c=0.0)
        heater.settle_limit_s = None


def test_a_heater_that_does_not_settle_never_passes_through_its_setpoint_on_a_ramp(epics_reactor, fault):
    # A slow ramp and no dwell: one readback inside the tolerance band on the way up would settle
    # the move, so the faulty readback must stay the offset away while ramping as well.
    heater = epics_reactor.growth_oven
    ramp, dwell = float(heater.ramp_rate_c_per_min.get()), float(heater.settle_time_s.get())
    heater.settle_limit_s = 200.0  # instrument seconds: 0.8 s of wall-clock time
    heater.ramp_rate_c_per_min.put(6.0)  # 0.1 °C/s: 20 s (20 polls) inside a ±1 °C band
    heater.settle_time_s.put(0.0)
    fault("no-settle", offset_c=8.0)
    seen = []
    token = heater.readback.subscribe(lambda value, timestamp, **_: seen.append((timestamp, float(value))), run=False)
    try:
        target = float(heater.setpoint.get()) + 12.0
        with pytest.raises(ReactorFault, match=r"did not settle within 200 s"):
            heater.set(target).wait(10)
        put_at = heater.setpoint.timestamp  # the IOC's stamp of the new setpoint; readbacks before it are the old move's
        after = [v for stamp, v in seen if stamp > put_at]
        assert len(after) > 20
        assert min(abs(v - target) for v in after) >= 8.0
        assert min(after) < target - 8.0  # below while ramping up
        assert max(after) > target + 8.0  # above once there
    finally:
        heater.readback.unsubscribe(token)
        fault("no-settle", offset_c=0.0)
        heater.ramp_rate_c_per_min.put(ramp)
        heater.settle_time_s.put(dwell)
        heater.settle_limit_s = None


def test_detector_timeout_fails_the_acquisition(epics_reactor, fault):
    saxs = epics_reactor.saxs
    saxs.timeout_s = 0.5
    fault("detector-timeout", seconds=1.5)
    try:
        with pytest.raises(ReactorFault, match=r"cam1:Acquire did not finish its acquisition within 0.5 s \(detector timeout\)"):
            saxs.trigger().wait(5)
    finally:
        saxs.timeout_s = None
        time.sleep(1.6)
    saxs.trigger().wait(10)  # the detector answers again once the fault is over


def _fault_before_first_trigger(plan, inject, suspenders):
    """``plan`` with the fault injected just before its first ``trigger``, held until a suspender has tripped.

    A wall-clock timer can land after the point has finished on a loaded machine, where bluesky's
    RunEngine cannot take the suspension (``TransitionError: suspending → idle``); placing the
    fault inside the plan makes the test exercise the suspension it is about.
    """
    injected = False

    def before_trigger(msg):
        nonlocal injected
        if msg.command != "trigger" or injected:
            return None, None
        injected = True

        def fault_then_trigger():
            inject()
            deadline = time.monotonic() + 10
            while not any(suspender.tripped for suspender in suspenders) and time.monotonic() < deadline:
                time.sleep(0.01)
            return (yield msg)

        return fault_then_trigger(), None

    return plan_mutator(plan, before_trigger)


@pytest.mark.parametrize(("kind", "reason"), [("beam-dump", "beam dumped"), ("heater-alarm", "growth oven (reactor_growth_oven) in alarm"),
                                              ("pump-stall", "Cd precursor pump (reactor_cd_pump) stalled")])
def test_suspender_pauses_the_point_and_it_is_measured_once(epics_reactor, fault, kind, reason, capsys):
    RE = RunEngine(call_returns_result=False)
    suspenders = epics_reactor.suspenders()
    for suspender in suspenders:
        RE.install_suspender(suspender)
    started = time.monotonic()
    try:
        docs = _run(RE, _fault_before_first_trigger(measure_point(epics_reactor, *POINT), lambda: fault(kind, seconds=1.0), suspenders))
    finally:
        RE.clear_suspenders()
    assert time.monotonic() - started > 1.0  # it waited out the fault
    assert len(_events(docs)) == 1  # one point, never duplicated
    out = capsys.readouterr().out
    assert out.count("Suspending....") == 1
    assert reason in out
    data = _events(docs)[0]["data"]
    assert np.nanmean(np.asarray(data["reactor_saxs_intensity"])[:20]) > 0.01  # measured with beam (a dumped beam gives 0)
    assert data["reactor_cd_pump_flow_rate"] == pytest.approx(epics_reactor.flow_rates_for(14.0)["cd_pump"])


def test_safe_state_stops_pumps_and_sends_heaters_to_standby_over_ca(epics_reactor):
    RunEngine()(safe_state(epics_reactor))  # the heaters are sent without waiting: give their puts a moment
    deadline = time.monotonic() + 5
    heaters = (epics_reactor.nucleation_heater, epics_reactor.growth_oven)
    while time.monotonic() < deadline and any(float(heater.setpoint.get()) != 25.0 for heater in heaters):
        time.sleep(0.05)
    assert float(epics_reactor.cd_pump.flow_rate.get()) == 0.0
    assert float(epics_reactor.se_pump.flow_rate.get()) == 0.0
    assert int(epics_reactor.cd_pump.run.get()) == 0
    assert float(epics_reactor.nucleation_heater.setpoint.get()) == 25.0
    assert float(epics_reactor.growth_oven.setpoint.get()) == 25.0


def _pause_in_point(plan, number):
    """``plan`` with an immediate pause (as a second Ctrl-C makes) before the first ``trigger`` of its ``number``-th point."""
    from bluesky.utils import Msg

    opened = 0
    paused = False

    def pause_first(msg):
        nonlocal opened, paused
        if msg.command == "open_run" and msg.kwargs.get("plan_name") == "measure_point":
            opened += 1
        if msg.command != "trigger" or opened != number or paused:
            return None, None
        paused = True

        def pause_then():
            yield Msg("pause", None, defer=False)
            return (yield msg)

        return pause_then(), None

    return plan_mutator(plan, pause_first)


def test_aborted_campaign_reaches_the_safe_state_over_ca_and_keeps_its_finished_point(ioc, catalog_dir, epics_reactor):
    """RE.abort() in a campaign's second point: the point is marked abort, the first stays, and over CA the pumps stop and the heaters go to 25 °C."""
    from bluesky.utils import RunEngineInterrupted

    _refill(ioc)
    session = open_session(catalog_dir, devices=ioc.devices_file, progress=False, deferred=False)
    try:
        with pytest.raises(RunEngineInterrupted):
            session.RE(_pause_in_point(autonomous_campaign(session.reactor, **{**CAMPAIGN, "seed": 2}), 2))
        session.RE.abort(reason="test")
    finally:
        session.close()
    (first, second) = find_runs(session.catalog, plan_name="measure_point")[-2:]
    assert first.metadata["start"]["campaign_id"] == second.metadata["start"]["campaign_id"]
    assert [first.metadata["stop"]["exit_status"], second.metadata["stop"]["exit_status"]] == ["success", "abort"]
    # read back through a second client, the IOC's own PVs
    heaters = (epics_reactor.nucleation_heater, epics_reactor.growth_oven)
    deadline = time.monotonic() + 5  # the heaters' puts are sent without waiting
    while time.monotonic() < deadline and any(float(heater.setpoint.get()) != 25.0 for heater in heaters):
        time.sleep(0.05)
    assert float(epics_reactor.cd_pump.flow_rate.get()) == 0.0
    assert float(epics_reactor.se_pump.flow_rate.get()) == 0.0
    assert [float(heater.setpoint.get()) for heater in heaters] == [25.0, 25.0]


def test_cli_measure_with_the_device_file_measures_over_ca_and_prints_the_export_lines_it_needs(ioc, tmp_path):
    """`autolab measure --devices FILE` in a shell holding the lines `autolab ioc start` prints: one point over CA, in the catalog."""
    import json
    import os

    lines = ioc.env_lines().splitlines()
    assert all(line.startswith("export EPICS_CA_") for line in lines)
    exported = dict(line.removeprefix("export ").split("=", 1) for line in lines)
    assert exported["EPICS_CA_AUTO_ADDR_LIST"] == "NO"
    assert exported["EPICS_CA_ADDR_LIST"] == f"127.0.0.1:{ioc.port}"
    assert exported["EPICS_CA_SERVER_PORT"] == str(ioc.port)
    _refill(ioc)
    env = {**os.environ, **exported}
    env.pop("AUTOLAB_DEVICES", None)
    result = subprocess.run(
        [sys.executable, "-m", "autolab", "measure", "--nucleation-temperature-c", str(POINT[0]), "--growth-temperature-c", str(POINT[1]),
         "--residence-time-s", str(POINT[2]), "--devices", str(ioc.devices_file), "--catalog", "cat", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    uid = json.loads(result.stdout)["uid"]
    from autolab.catalog import open_catalog

    run = open_catalog(tmp_path / "cat")[uid]
    assert run.metadata["stop"]["exit_status"] == "success"
    assert run["primary"].metadata["data_keys"]["reactor_growth_oven_readback"]["source"] == f"PV:{ioc.prefix}GrowthOven:Temperature_RBV"


def test_disconnected_ioc_fails_the_put_then_recovers(epics_reactor, fault):
    epics_reactor.cd_pump.put_timeout_s = 1.0
    fault("disconnect", seconds=2.5)
    started = time.monotonic()
    # A read of the pump's limits or the put of its rate times out: either fails the move, within seconds.
    with pytest.raises((ReactorFault, TimeoutError), match=r"TEST:CdPump:(Rate did not complete the put|\w+' within)"):
        epics_reactor.cd_pump.set(100.0).wait(15)
    assert time.monotonic() - started < 12
    time.sleep(max(0.0, 3.0 - (time.monotonic() - started)))
    epics_reactor.cd_pump.put_timeout_s = 5.0
    epics_reactor.cd_pump.set(0.0).wait(15)
    assert float(epics_reactor.cd_pump.flow_rate.get()) == 0.0


class WrongUnitsPump(EpicsSyringePump):
    """A pump class whose flow readback points at a volume PV (µL), to test the units check."""

    flow_rate = Cpt(EpicsSignalRO, "Infused_RBV", kind="hinted")


def _edited_device_file(ioc, tmp_path, old, new):
    path = tmp_path / "devices.yml"
    text = Path(ioc.devices_file).read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


def test_unknown_class_is_one_line_naming_the_device(ioc, tmp_path):
    path = _edited_device_file(ioc, tmp_path, "class: EpicsHeater", "class: EpicsHeatr")
    with pytest.raises(DeviceFileError, match=r"nucleation_heater class 'EpicsHeatr' is unknown; use EpicsHeater or"):
        load_reactor(path)


def test_missing_pv_is_one_line_naming_the_device_and_pv(ioc, tmp_path):
    path = _edited_device_file(ioc, tmp_path, "prefix: 'TEST:UVVis:'", "prefix: 'TEST:UVVisX:'")
    with pytest.raises(DeviceFileError, match=r"spectrometer: PV TEST:UVVisX:\w+ did not connect within 5 s \(\d+ more"):
        load_reactor(path, connect_timeout_s=5.0)


def test_wrong_units_are_one_line_naming_the_pv(ioc, tmp_path):
    path = _edited_device_file(ioc, tmp_path, "class: EpicsSyringePump", "class: tests.test_epics:WrongUnitsPump")
    with pytest.raises(DeviceFileError, match=re.escape("cd_pump: PV TEST:CdPump:Infused_RBV is in 'uL', but flow_rate must be in 'uL/min'")):
        load_reactor(path)


def test_cli_fault_and_status(ioc):
    def autolab(*args):
        return subprocess.run([sys.executable, "-m", "autolab", *args], capture_output=True, text=True, timeout=120, check=False)

    bad = autolab("ioc", "fault", "pump-stall", "--device", "growth_oven", "--dir", ioc.directory)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "autolab: error: --device='growth_oven' cannot have a pump-stall fault; choose one of cd_pump, se_pump"
    status = autolab("ioc", "status", "--dir", ioc.directory)
    assert status.returncode == 0, status.stderr
    assert f"IOC PID {ioc.pid} on 127.0.0.1:{ioc.port}, prefix TEST:: answering (beam 200.0 mA)" in status.stdout


def _refill(ioc):
    from caproto.sync.client import write

    with control.ca_environment(ioc):
        for pump in ("CdPump", "SePump"):
            write(f"{ioc.prefix}{pump}:Sim:Refill", 1, notify=True, timeout=5, repeater=False)


CAMPAIGN = {"objective": "msc437", "budget": 3, "initial_design": 2, "seed": 0, "fixed": {"residence_time_s": 20.0}}


def test_campaign_over_epics_lands_in_the_catalog(ioc, catalog_dir):
    _refill(ioc)
    session = open_session(catalog_dir, devices=ioc.devices_file, progress=False, deferred=False)
    assert type(session.reactor).__name__ == "EpicsFlowReactor"
    assert len(session.RE.suspenders) == 5  # beam, two heater alarms, two pump stalls
    session.RE(autonomous_campaign(session.reactor, **CAMPAIGN))
    session.close()
    campaign_id = find_runs(session.catalog, plan_name="measure_point")[-1].metadata["start"]["campaign_id"]
    points = find_runs(session.catalog, plan_name="measure_point", campaign_id=campaign_id)
    assert len(points) == 3
    assert {r.metadata["stop"]["exit_status"] for r in points} == {"success"}
    stream = points[0]["primary"].read()
    assert stream["reactor_spectrometer_absorbance"].dims[-1] == "wavelength_nm"
    growth_c = points[0].metadata["start"]["conditions"]["growth_temperature_c"]
    assert float(stream["reactor_growth_oven_readback"][0]) == pytest.approx(growth_c, abs=1.0)
    analysis = find_runs(session.catalog, campaign_id=campaign_id, plan_name="analysis")
    assert len(analysis) == 3  # the live analysis read every point over EPICS


@contextlib.contextmanager
def _oven_that_does_not_settle(ioc, catalog_dir, fault):
    """A session over CA whose growth oven stays 8 °C off its setpoint until the block ends (then fixed, and closed)."""
    _refill(ioc)
    session = open_session(catalog_dir, devices=ioc.devices_file, progress=False, deferred=False)
    session.reactor.growth_oven.settle_limit_s = 300.0  # instrument seconds: 1.2 s of wall-clock time
    fault("no-settle", device="growth_oven", offset_c=8.0)
    try:
        yield session
    finally:
        fault("no-settle", device="growth_oven", offset_c=0.0)
        session.close()


def _failing_campaign(ioc, catalog_dir, fault, **options):
    """A 3-point campaign over CA with the growth oven 8 °C off its setpoint: every point fails to settle."""
    result = {}
    with _oven_that_does_not_settle(ioc, catalog_dir, fault) as session:
        session.RE(keeping_summary(autonomous_campaign(session.reactor, **{**CAMPAIGN, "seed": 1}, **options), result))
    summary = result["summary"]
    runs = find_runs(session.catalog, plan_name="measure_point", campaign_id=summary["campaign_id"])
    return summary, runs


def test_fault_mid_campaign_fails_each_point_on_record_and_the_campaign_goes_on(ioc, catalog_dir, fault):
    summary, runs = _failing_campaign(ioc, catalog_dir, fault)
    # every point was tried, stored as a failed run with its reason, and is a failed trial
    assert summary["stop_reason"] == "budget spent"
    assert [r.metadata["stop"]["exit_status"] for r in runs] == ["fail", "fail", "fail"]
    assert all("did not settle within 300 s" in r.metadata["stop"]["reason"] for r in runs)
    failed = summary["failed_points"]
    assert [f["number"] for f in failed] == [1, 2, 3]
    assert all(f["reason"].startswith(f"point {f['number']} failed: ") and "did not settle" in f["reason"] for f in failed)
    assert summary["n_runs"] == 0
    assert summary["best_value"] is None


def test_fault_mid_campaign_with_stop_fails_the_point_on_record_and_leaves_the_reactor_safe(ioc, catalog_dir, fault, epics_reactor):
    summary, runs = _failing_campaign(ioc, catalog_dir, fault, on_point_failure="stop")
    (failed,) = runs
    assert failed.metadata["stop"]["exit_status"] == "fail"
    assert "did not settle within 300 s" in failed.metadata["stop"]["reason"]
    assert summary["stop_reason"].startswith("point 1 failed: ")
    assert "did not settle" in summary["stop_reason"]
    # the safe state, over Channel Access: pumps stopped, heaters sent to 25 °C
    time.sleep(0.2)
    assert float(epics_reactor.cd_pump.flow_rate.get()) == 0.0
    assert float(epics_reactor.se_pump.flow_rate.get()) == 0.0
    assert float(epics_reactor.growth_oven.setpoint.get()) == 25.0
    assert float(epics_reactor.nucleation_heater.setpoint.get()) == 25.0


def test_fault_mid_campaign_with_pause_pauses_and_a_resume_goes_on_once_it_is_fixed(ioc, catalog_dir, fault):
    from bluesky.utils import RunEngineInterrupted

    result = {}
    with _oven_that_does_not_settle(ioc, catalog_dir, fault) as session:
        with pytest.raises(RunEngineInterrupted):
            session.RE(keeping_summary(autonomous_campaign(session.reactor, **{**CAMPAIGN, "seed": 1}, on_point_failure="pause"), result))
        assert session.RE.state == "paused"
        fault("no-settle", device="growth_oven", offset_c=0.0)  # a person fixes the oven, then resumes
        session.RE.resume()
    summary = result["summary"]
    assert [f["number"] for f in summary["failed_points"]] == [1]
    assert summary["n_runs"] == 2
    runs = find_runs(session.catalog, plan_name="measure_point", campaign_id=summary["campaign_id"])
    assert [r.metadata["stop"]["exit_status"] for r in runs] == ["fail", "success", "success"]


def test_a_bad_on_point_failure_is_one_line_before_anything_moves(epics_reactor):
    RE = RunEngine({})
    with pytest.raises(LimitError, match=r"on_point_failure='retry' is not one of continue, pause, stop"):
        RE(autonomous_campaign(epics_reactor, **CAMPAIGN, on_point_failure="retry"))


#: Start-document keys only a twin in the session's process writes (docs/sim.md, "Validity domain").
TWIN_ONLY_KEYS = {"extrapolated", "extrapolated_because"}


def _record_layout(docs):
    """(start keys but the twin-only ones, primary data keys with units/dims/shape) of one point's documents."""
    start = next(d for n, d in docs if n == "start")
    keys = next(d for n, d in docs if n == "descriptor" and d["name"] == "primary")["data_keys"]
    return set(start) - TWIN_ONLY_KEYS, {k: (v.get("units"), tuple(v.get("dims") or ()), tuple(v.get("shape") or ())) for k, v in keys.items()}


def test_phase_map_over_epics_lands_in_the_catalog_with_the_twins_layout(ioc, catalog_dir):
    _refill(ioc)
    grid = ([250.0], [240.0, 230.0], [14.0])
    session = open_session(catalog_dir, devices=ioc.devices_file, progress=False, deferred=False)
    docs = []
    session.RE.subscribe(lambda name, doc: docs.append((name, doc)))
    try:
        session.RE(phase_map(session.reactor, *grid))
    finally:
        session.close()
    runs = find_runs(session.catalog, plan_name="measure_point", phase_map_uid=_starts(docs, "measure_point")[0]["phase_map_uid"])
    assert len(runs) == 2
    assert [r.metadata["start"]["point_index"] for r in runs] == [0, 1]
    assert {r.metadata["stop"]["exit_status"] for r in runs} == {"success"}
    assert [float(r["primary"].read()["reactor_growth_oven_readback"][0]) for r in runs] == pytest.approx([240.0, 230.0], abs=1.0)
    twin_docs = []
    RunEngine(call_returns_result=False)(phase_map(make_twin_reactor(seed=0), *grid), lambda n, d: twin_docs.append((n, d)))
    first = [(n, d) for n, d in docs if d.get("run_start", d.get("uid")) == runs[0].metadata["start"]["uid"]]
    twin_first = twin_docs[: next(i for i, (n, _) in enumerate(twin_docs) if n == "stop") + 1]
    assert _record_layout(first) == _record_layout(twin_first)
    assert TWIN_ONLY_KEYS <= set(twin_first[0][1])
    assert not TWIN_ONLY_KEYS & set(first[0][1])  # over EPICS the session does not know it drives a twin


def _campaign_with_a_fault_in_point_1(ioc, catalog_dir, on_point_1, after_point_1):
    """A 2-point campaign over CA; ``on_point_1(reactor)`` runs as point 1's run starts, ``after_point_1(reactor)`` as it stops."""
    _refill(ioc)
    session = open_session(catalog_dir, devices=ioc.devices_file, progress=False, deferred=False)
    reactor, seen = session.reactor, []

    def inject(name, doc):
        if name == "start" and doc["plan_name"] == "measure_point" and not seen:
            seen.append(doc["uid"])
            on_point_1(reactor)
        elif name == "stop" and seen and doc["run_start"] == seen[0]:
            after_point_1(reactor)

    session.RE.subscribe(inject)
    result = {}

    try:
        session.RE(keeping_summary(autonomous_campaign(reactor, **{**CAMPAIGN, "budget": 2, "seed": 2}, on_point_failure="continue"), result))
    finally:
        session.close()
    summary = result["summary"]
    runs = find_runs(session.catalog, plan_name="measure_point", campaign_id=summary["campaign_id"])
    return summary, runs, find_runs(session.catalog, plan_name="analysis", campaign_id=summary["campaign_id"])


def _one_failed_then_one_measured(summary, runs, analyses, reason):
    assert [r.metadata["stop"]["exit_status"] for r in runs] == ["fail", "success"]  # both on record, once each
    assert len({r.metadata["start"]["uid"] for r in runs}) == 2
    assert re.search(reason, runs[0].metadata["stop"]["reason"])
    assert [f["number"] for f in summary["failed_points"]] == [1]
    assert re.search(reason, summary["failed_points"][0]["reason"])
    assert summary["stop_reason"] == "budget spent"
    assert summary["n_runs"] == 1
    assert len(analyses) == 1  # the measured point was analysed; the failed one was not
    assert len(runs[1]["primary"].read()["time"]) == 1


def test_detector_timeout_mid_campaign_fails_the_point_on_record_and_the_campaign_goes_on(ioc, catalog_dir, fault):
    def hang(reactor):  # until point 1 has failed, however long its heaters take to settle
        reactor.saxs.timeout_s = 0.5
        fault("detector-timeout", device="saxs", seconds=120.0)

    def heal(reactor):
        fault("detector-timeout", device="saxs", seconds=0.0)
        reactor.saxs.timeout_s = None

    summary, runs, analyses = _campaign_with_a_fault_in_point_1(ioc, catalog_dir, hang, heal)
    _one_failed_then_one_measured(summary, runs, analyses, r"cam1:Acquire did not finish its acquisition within 0.5 s \(detector timeout\)")


def test_ioc_disconnect_mid_campaign_fails_the_point_on_record_and_the_campaign_goes_on(ioc, catalog_dir, fault):
    # Both pumps' puts time out (0.5 and 0.8 s): two failures of one point, which fail that point once.
    def pause(reactor):
        reactor.cd_pump.put_timeout_s = 0.5
        reactor.se_pump.put_timeout_s = 0.8
        fault("disconnect", seconds=2.0)

    def resume(reactor):
        for pump in (reactor.cd_pump, reactor.se_pump):
            pump.put_timeout_s = 5.0  # the next point's puts wait out the rest of the pause

    summary, runs, analyses = _campaign_with_a_fault_in_point_1(ioc, catalog_dir, pause, resume)
    # The run closes on whichever failure bluesky's wait sees first: on a busy machine both puts
    # have timed out by then. The point's reason names both, each once.
    _one_failed_then_one_measured(summary, runs, analyses, r"PV TEST:(CdPump:Rate did not complete the put of [\d.]+ within 0.5 s"
                                                           r"|SePump:Rate did not complete the put of [\d.]+ within 0.8 s)")
    reason = summary["failed_points"][0]["reason"]
    assert len(re.findall(r"PV TEST:CdPump:Rate did not complete the put of [\d.]+ within 0.5 s", reason)) == 1
    assert len(re.findall(r"PV TEST:SePump:Rate did not complete the put of [\d.]+ within 0.8 s", reason)) == 1


def test_queue_started_with_the_device_file_measures_over_channel_access(ioc, tmp_path):
    """`autolab queue start --devices FILE` with the IOC's `export EPICS_CA_…` lines: a queued point is measured over CA."""
    import os

    from bluesky_queueserver_api import BPlan

    from autolab.catalog import open_catalog
    from autolab.queue import load_state, manager_api

    _refill(ioc)
    env = {**os.environ, **ioc.environment()}
    env.pop("AUTOLAB_DEVICES", None)

    def autolab(*args):
        return subprocess.run([sys.executable, "-m", "autolab", *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=300, check=False)

    started = autolab("queue", "start", "--catalog", "cat", "--dir", "q", "--devices", str(ioc.devices_file))
    assert started.returncode == 0, started.stderr
    try:
        api = manager_api(load_state(tmp_path / "q"))
        api.item_add(BPlan("measure_point", "reactor", *POINT))
        api.queue_start()
        waited = autolab("queue", "wait", "--timeout-s", "300", "--dir", "q")
        assert waited.returncode == 0, waited.stdout + waited.stderr
        assert api.history_get()["items"][-1]["result"]["exit_status"] == "completed"
        deadline = time.monotonic() + 120  # the worker's catalog writer runs behind its RunEngine
        while time.monotonic() < deadline:
            runs = find_runs(open_catalog(tmp_path / "cat"), plan_name="measure_point")
            if runs and "stop" in runs[0].metadata:
                break
            time.sleep(1)
    finally:
        stopped = autolab("queue", "stop", "--dir", "q")
    assert stopped.returncode == 0, stopped.stderr
    (run,) = runs
    assert run.metadata["stop"]["exit_status"] == "success"
    assert run["primary"].metadata["data_keys"]["reactor_growth_oven_readback"]["source"] == f"PV:{ioc.prefix}GrowthOven:Temperature_RBV"
    assert float(run["primary"].read()["reactor_growth_oven_readback"][0]) == pytest.approx(POINT[1], abs=1.0)


def test_a_frame_over_channel_access_is_stored_in_an_hdf5_file_beside_the_catalog(ioc, catalog_dir):
    """The EPICS detector writes the frame it received (image1:ArrayData) to a file the catalog and h5py both read back."""
    import h5py

    from autolab.catalog import open_catalog

    _refill(ioc)
    session = open_session(catalog_dir, devices=ioc.devices_file, progress=False, deferred=False)
    saxs = session.reactor.saxs
    before = {r.metadata["start"]["uid"] for r in find_runs(session.catalog, plan_name="measure_point")}
    saxs.image.kind = "normal"
    try:
        session.RE(measure_point(session.reactor, *POINT))
        frame = np.asarray(saxs.image.get())
        session.writer.flush(timeout=120)
    finally:
        saxs.image.kind = "omitted"
        session.close()
    (run,) = [r for r in find_runs(open_catalog(catalog_dir), plan_name="measure_point") if r.metadata["start"]["uid"] not in before]
    assert frame.ndim == 2
    assert frame.dtype == np.int32
    assert frame.max() > 0
    stored = np.asarray(run["primary"]["reactor_saxs_image"].read())
    assert stored.shape == (1, *frame.shape)
    np.testing.assert_array_equal(stored[0], frame)
    newest = max(Path(catalog_dir).glob("frames/*/*.h5"), key=lambda path: path.stat().st_mtime)
    with h5py.File(newest, "r") as handle:
        np.testing.assert_array_equal(handle["/entry/data/data"][-1], frame)
