"""Plans: limits checked before any message, metadata in the start document, grids."""

from __future__ import annotations

import re

import pytest
from bluesky import plan_stubs as bps
from bluesky.simulators import RunEngineSimulator, check_limits

from autolab.errors import LimitError
from autolab.plans import measure_point, phase_map, set_conditions, wait_steady


def messages_until_error(plan):
    """Pull messages from ``plan`` with no RunEngine; assert none came before it raised."""
    messages = []
    try:
        for msg in plan:
            messages.append(msg)
    finally:
        assert messages == [], f"plan yielded {messages} before failing"
    return messages


def test_check_limits_accepts_in_range_set_conditions(RE, reactor):
    check_limits(set_conditions(reactor, 280, 270, 14.0))


def test_check_limits_catches_a_hand_made_out_of_range_move(RE, reactor):
    """bluesky's own check_limits uses the devices' check_value()."""
    with pytest.raises(LimitError, match="outside the growth oven's allowed range 20–350 °C"):
        check_limits(bps.mv(reactor.growth_oven, 400))
    with pytest.raises(LimitError, match="outside the Cd precursor pump's allowed range"):
        check_limits(bps.mv(reactor.cd_pump, 1e6))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((410, 280, 14.0), "nucleation_temperature_c=410 is outside the nucleation heater's allowed range 20–350 °C"),
        ((280, -5, 14.0), "growth_temperature_c=-5 is outside the growth oven's allowed range 20–350 °C"),
        ((280, 280, -1.0), "residence_time_s=-1.0 is outside the pumps' allowed range 0.625–600 s"),
        ((280, 280, 0.1), "residence_time_s=0.1 is outside the pumps' allowed range 0.625–600 s"),
        ((280, 280, float("nan")), "residence_time_s=nan is not a number; allowed range is 0.625–600 s"),
        ((280, 280, True), "residence_time_s=True is not a number; allowed range is 0.625–600 s"),  # a queue item's True is not 1 s
    ],
)
def test_out_of_range_plan_fails_before_any_message(reactor, args, message):
    for plan in (set_conditions(reactor, *args), measure_point(reactor, *args)):
        with pytest.raises(LimitError, match=re.escape(message)):
            messages_until_error(plan)
        assert reactor.nucleation_heater.setpoint.get() == 25.0
        assert reactor.cd_pump.flow_rate_setpoint.get() == 0.0


def test_phase_map_checks_every_point_before_moving(reactor):
    plan = phase_map(reactor, [260, 280], [260, 360], [4.5])
    with pytest.raises(LimitError, match="growth_temperature_c=360"):
        messages_until_error(plan)
    assert reactor.nucleation_heater.setpoint.get() == 25.0


def test_empty_syringe_stops_plan_before_moving(reactor):
    reactor.cd_pump.syringe_volume_ul.put(100.0)
    with pytest.raises(LimitError, match=r"Cd precursor pump \(reactor_cd_pump\) has 100 µL left but 1 point\(s\) need about \d+ µL"):
        messages_until_error(measure_point(reactor, 280, 280, 14.0))


def test_phase_map_too_large_for_syringes_is_refused(reactor):
    reactor.se_pump.syringe_volume_ul.put(2000.0)
    with pytest.raises(LimitError, match=r"Se precursor pump \(reactor_se_pump\) has 2000 µL left but 12 point\(s\) need"):
        messages_until_error(phase_map(reactor, [260, 280, 300], [260, 280], [4.5, 14.0]))


def test_bad_flush_volumes_named(reactor):
    with pytest.raises(LimitError, match=re.escape("flush_volumes=0 is outside the allowed range 0–100 reactor volumes")):
        list(wait_steady(reactor, flush_volumes=0))


def test_measure_point_messages_are_one_run(reactor):
    sim = RunEngineSimulator()
    record = sim.simulate_plan(measure_point(reactor, 280, 270, 14.0, md={"sample": "test"}))
    commands = [m.command for m in record]
    assert commands.count("open_run") == 1
    assert commands.count("close_run") == 1
    assert commands.index("open_run") < commands.index("set") < commands.index("trigger")
    open_run = next(m for m in record if m.command == "open_run")
    assert open_run.kwargs["conditions"] == {
        "nucleation_temperature_c": 280.0,
        "growth_temperature_c": 270.0,
        "residence_time_s": 14.0,
    }
    assert open_run.kwargs["sample"] == "test"
    assert open_run.kwargs["plan_name"] == "measure_point"
    sets = {m.obj.name: m.args[0] for m in record if m.command == "set"}
    assert sets["reactor_nucleation_heater"] == 280.0
    assert sets["reactor_growth_oven"] == 270.0
    assert sets["reactor_cd_pump"] == pytest.approx(250 / 14 * 60 / 2)


def test_measure_point_on_the_twin_reads_steady_product(RE, reactor):
    docs = []
    RE.subscribe(lambda name, doc: docs.append((name, doc)))
    (uid,) = RE(measure_point(reactor, 280, 280, 14.0))
    events = [doc for name, doc in docs if name == "event"]
    assert len(events) == 1
    data = events[0]["data"]
    assert data["reactor_flush_flushed_volumes"] >= 3.0
    assert abs(data["reactor_nucleation_heater_readback"] - 280) < 1.0
    assert len(data["reactor_spectrometer_absorbance"]) == 401
    assert len(data["reactor_saxs_intensity"]) == 250
    stop = next(doc for name, doc in docs if name == "stop")
    assert stop["exit_status"] == "success"
    assert stop["run_start"] == uid


def test_a_twin_run_says_whether_its_point_lies_outside_the_twins_validity_domain(RE, reactor):
    """docs/sim.md: a measure_point run of the twin carries extrapolated / extrapolated_because in its
    start document (Palencia's region: 1.5–14 s, growth ≤ nucleation save up to 230 °C)."""
    starts = []
    RE.subscribe(lambda name, doc: starts.append(doc), "start")
    RE(phase_map(reactor, [280], [270, 300], [14.0, 20.0]))
    seen = {(s["growth_temperature_c"], s["residence_time_s"]): (s["extrapolated"], s["extrapolated_because"]) for s in starts}
    assert seen == {
        (270, 14.0): (False, []),
        (270, 20.0): (True, ["residence_time_s=20 s is outside 1.5–14 s"]),
        (300, 14.0): (True, ["growth_temperature_c=300 °C is above nucleation_temperature_c=280 °C and above 230 °C"]),
        (300, 20.0): (True, ["residence_time_s=20 s is outside 1.5–14 s",
                             "growth_temperature_c=300 °C is above nucleation_temperature_c=280 °C and above 230 °C"]),
    }


def test_phase_map_order_metadata_and_stops_pumps(RE, reactor):
    starts = []
    RE.subscribe(lambda name, doc: starts.append(doc), "start")
    uids = RE(phase_map(reactor, [280, 260], [260, 280], [4.5], growth_not_above_nucleation=True, md={"who": "t"}))
    assert len(uids) == 3  # (260, 280) is skipped: growth above nucleation
    seen = [(s["nucleation_temperature_c"], s["growth_temperature_c"]) for s in starts]
    assert seen == [(280, 260), (280, 280), (260, 260)]
    assert {s["phase_map_uid"] for s in starts} == {starts[0]["phase_map_uid"]}
    assert [s["point_index"] for s in starts] == [0, 1, 2]
    assert all(s["who"] == "t" and s["grid_shape"] == [2, 2, 1] for s in starts)
    assert reactor.cd_pump.flow_rate.get() == 0.0
    assert reactor.se_pump.flow_rate.get() == 0.0


def test_empty_grid_axis_is_named(reactor):
    with pytest.raises(LimitError, match="residence_times_s is empty"):
        list(phase_map(reactor, [260], [260], []))


def test_queue_descriptions_carry_this_reactors_limits(reactor):
    """queueserver validates items against min/max built from the reactor (autolab.queue_plans)."""
    from bluesky_queueserver.manager.profile_ops import existing_plans_and_devices_from_nspace, validate_plan

    import autolab.plans as plans
    from autolab.queue_plans import limited_plans

    reactor.nucleation_heater.safety_limit_c.put(300.0)  # a smaller heater than the twin's default
    from autolab.campaign import autonomous_campaign

    names = ("measure_point", "phase_map", "set_conditions", "safe_state")
    found = {**{n: getattr(plans, n) for n in names}, "autonomous_campaign": autonomous_campaign}
    namespace = {"reactor": reactor, **limited_plans(found, reactor.limits())}
    allowed_plans, allowed_devices, _, _ = existing_plans_and_devices_from_nspace(nspace=namespace)

    def check(name, *args, **kwargs):
        return validate_plan({"name": name, "args": ["reactor", *args], "kwargs": kwargs},
                             allowed_plans=allowed_plans, allowed_devices=allowed_devices)

    assert check("measure_point", 290, 280, 14.0) == (True, "")
    ok, msg = check("measure_point", 310, 280, 14.0)
    assert not ok
    assert "key='nucleation_temperature_c', value='310': Value 310 is out of range [20, 300]" in msg
    ok, msg = check("phase_map", [260, 280], [280], [14.0, 700.0])
    assert not ok
    assert "key='residence_times_s'" in msg
    assert check("set_conditions", 250, 250, 5.0)[0]
    assert not check("safe_state", safe_temperature_c=301)[0]  # both heaters must reach it
    assert check("autonomous_campaign", bounds={"residence_time_s": [1.5, 20, "log"]}, fixed={"growth_temperature_c": 250})[0]
    assert not check("autonomous_campaign", fixed={"growth_temp": 250})[0]
    assert plans.measure_point is not namespace["measure_point"]  # the library's plans stay undecorated


def test_set_conditions_runs_the_pumps_at_standby_while_the_heaters_move(reactor):
    sim = RunEngineSimulator()
    msgs = sim.simulate_plan(set_conditions(reactor, 300, 320, 0.625))
    sets = [(m.obj.name, m.args[0]) for m in msgs if m.command == "set"]
    assert sets == [
        ("reactor_cd_pump", 12.5), ("reactor_se_pump", 12.5),  # 25 µL/min in all, split like a point
        ("reactor_nucleation_heater", 300), ("reactor_growth_oven", 320),
        ("reactor_cd_pump", pytest.approx(12000.0)), ("reactor_se_pump", pytest.approx(12000.0)),
    ]


def test_standby_flow_zero_stops_the_pumps_while_the_heaters_move(reactor):
    reactor.standby_flow_ul_min.put(0.0)
    msgs = RunEngineSimulator().simulate_plan(set_conditions(reactor, 300, 320, 14.0))
    assert [(m.obj.name, m.args[0]) for m in msgs if m.command == "set"][:2] == [("reactor_cd_pump", 0.0), ("reactor_se_pump", 0.0)]


def test_standby_flow_the_pumps_cannot_give_is_named_before_any_message(reactor):
    reactor.standby_flow_ul_min.put(5.0)
    message = "standby_flow_ul_min=5 gives the Cd precursor pump 2.5 µL/min, outside its allowed range 10–12000 µL/min"
    with pytest.raises(LimitError, match=re.escape(message)):
        messages_until_error(set_conditions(reactor, 300, 320, 14.0))


def test_a_fast_point_after_a_long_ramp_fits_one_syringe_and_the_twin_uses_what_was_counted(RE, reactor):
    """The reagent count follows set_conditions: standby flow through the 660 s ramp, then the point's flow.

    At the fastest residence time (0.625 s, 12 mL/min per pump) the old sequence — the previous
    point's flow kept through the ramp — needed more than a 50 mL syringe for one point.
    """
    RE(measure_point(reactor, 40, 40, 0.625))
    point = reactor.check_conditions(350, 350, 0.625)
    need = reactor.reagent_need_ul([point], measurement_s=0.0)
    ramp_s = (350 - 40) / 30.0 * 60.0 + 10.0  # growth oven: 30 °C/min, then 10 s settle
    run_ul = 12000.0 * reactor.flush_time_s(0.625) / 60.0
    assert need["cd_pump"] == pytest.approx(12.5 * ramp_s / 60.0 + run_ul)
    assert need["cd_pump"] < 0.1 * reactor.cd_pump.syringe_volume_ul.get()
    reactor.check_reagents([point], full_syringes=True)
    before = reactor.cd_pump.dispensed_volume_ul.get()
    RE(set_conditions(reactor, 350, 350, 0.625))
    RE(wait_steady(reactor))
    used = reactor.cd_pump.dispensed_volume_ul.get() - before
    # What the count leaves out is the twin's virtual clock running moves one after another: the
    # nucleation heater's 155 s ramp + 10 s settle before the oven's (at standby flow), and the two
    # pumps' 2 s responses before the flush starts counting (the Cd pump runs 4 s at 12 mL/min).
    extra_ul = 12.5 * ((350 - 40) / 120.0 * 60.0 + 10.0) / 60.0 + 12000.0 * 4.0 / 60.0
    assert used == pytest.approx(need["cd_pump"] + extra_ul, abs=5.0)
