"""The ophyd devices and their twins: limits, dynamics, read/describe."""

from __future__ import annotations

import re

import numpy as np
import pytest
from ophyd.status import wait as wait_status

from autolab import sim
from autolab.devices import SimClock, SimHeater, SimSyringePump, make_twin_reactor, washout_fraction
from autolab.errors import AutolabError, LimitError


def test_heater_above_safety_limit_raises_and_keeps_setpoint():
    heater = SimHeater(name="h", clock=SimClock(), rng=np.random.default_rng(0), label="growth oven")
    with pytest.raises(LimitError, match=re.escape("h setpoint=410 is outside the growth oven's allowed range 20–350 °C")):
        heater.set(410)
    assert heater.setpoint.get() == 25.0


def test_limit_error_is_both_value_error_and_autolab_error():
    assert issubclass(LimitError, ValueError)
    assert issubclass(LimitError, AutolabError)


def test_heater_status_finishes_only_after_ramp_and_settle_time():
    clock = SimClock()
    heater = SimHeater(name="h", clock=clock, rng=np.random.default_rng(0))
    heater.ramp_rate_c_per_min.put(60.0)
    heater.settle_time_s.put(10.0)
    status = heater.set(85.0)
    wait_status(status, timeout=1)
    # 60 °C at 60 °C/min is 60 s of ramp, then 10 s of settling.
    assert clock.now() == pytest.approx(70.0)
    assert heater.settled
    assert abs(heater.readback.get() - 85.0) < float(heater.settle_tolerance_c.get())


def test_heater_readback_ramps_in_scaled_time():
    clock = SimClock(time_scale=0.01)  # 100× real time
    heater = SimHeater(name="h", clock=clock, rng=np.random.default_rng(0))
    heater.ramp_rate_c_per_min.put(600.0)  # 10 °C/s: 100 °C takes 10 s simulated, 0.1 s real
    t_set = clock.now()
    status = heater.set(125.0)
    # The readback follows the ramp at the clock's time of reading, whatever the machine's load:
    # bracket the read between two clock readings (5σ of the 0.1 °C sensor noise either side).
    t_before = clock.now()
    first = heater.readback.get()
    t_after = clock.now()
    low = min(125.0, 25.0 + 10.0 * (t_before - t_set)) - 0.5
    high = 25.0 + 10.0 * (t_after - t_set) + 0.5 if t_after - t_set < 10.0 else 125.0 + 2.0 + 0.5
    assert low <= first <= high
    wait_status(status, timeout=5)
    assert clock.now() - t_set >= 10.0  # the status waited for the simulated ramp
    assert heater.readback.get() == pytest.approx(125.0, abs=1.0)


def test_pump_runs_dry_and_refuses_to_start_empty():
    clock = SimClock()
    pump = SimSyringePump(name="p", clock=clock, rng=np.random.default_rng(0), label="Cd precursor pump")
    pump.syringe_volume_ul.put(100.0)
    wait_status(pump.set(60.0), timeout=1)  # 1 µL/s
    clock.finish_at(clock.now() + 200.0, lambda: None)  # let 200 s pass
    assert pump.remaining_volume_ul.get() == 0.0
    assert pump.dispensed_volume_ul.get() == 100.0
    assert pump.flow_rate.get() == 0.0  # ran dry: no flow
    with pytest.raises(LimitError, match="syringe is empty"):
        pump.set(60.0)
    pump.refill()
    assert pump.remaining_volume_ul.get() == 100.0


def test_pump_flow_outside_limits_names_field_and_range():
    pump = SimSyringePump(name="p", clock=SimClock(), rng=np.random.default_rng(0), label="Se precursor pump")
    with pytest.raises(LimitError, match=re.escape("p flow rate=20000 is outside the Se precursor pump's allowed range 10–12000 µL/min")):
        pump.set(20000)


def test_residence_time_converts_to_flow_rates_and_back(reactor):
    flows = reactor.flow_rates_for(14.0)
    total = flows["cd_pump"] + flows["se_pump"]
    # 250 µL oven / 14 s = 17.86 µL/s = 1071.4 µL/min, split 1:1.
    assert total == pytest.approx(250.0 / 14.0 * 60.0)
    assert flows["cd_pump"] == pytest.approx(flows["se_pump"])
    assert reactor.residence_time_for(total) == pytest.approx(14.0)
    chamber_ul = reactor.nucleation_chamber_volume_ul.get()
    assert reactor.nucleation_time_for(14.0) == pytest.approx(14.0 * chamber_ul / 250.0)
    # the twin's chamber holds the chemistry's fitted fraction of the oven volume
    assert chamber_ul / 250.0 == pytest.approx(sim.DEFAULT_PARAMETERS.chamber_to_oven_volume_ratio, rel=1e-3)


def test_flush_time_counts_whole_reactor_volumes(reactor):
    # 3 volumes of (chamber + 250 + 30) µL at 250/4.5 µL/s
    volume_ul = reactor.nucleation_chamber_volume_ul.get() + 250.0 + 30.0
    assert reactor.flush_time_s(4.5) == pytest.approx(3 * volume_ul / (250.0 / 4.5))


def test_washout_reaches_99_percent_after_three_volumes():
    assert washout_fraction(0.0) == 0.0
    assert washout_fraction(1.0) == pytest.approx(0.5768, abs=1e-3)
    assert washout_fraction(3.0) > 0.99
    values = [washout_fraction(v) for v in np.linspace(0, 5, 50)]
    assert np.all(np.diff(values) >= 0)


def test_describe_gives_shapes_and_units(reactor):
    desc = reactor.describe()
    assert desc["reactor_spectrometer_absorbance"]["shape"] == [401]
    assert desc["reactor_spectrometer_absorbance"]["units"] == "AU"
    assert desc["reactor_spectrometer_wavelength_nm"]["units"] == "nm"
    assert desc["reactor_saxs_intensity"]["shape"] == [250]
    assert desc["reactor_saxs_q_nm_inv"]["units"] == "1/nm"
    assert desc["reactor_nucleation_heater_readback"]["units"] == "degC"
    assert desc["reactor_cd_pump_flow_rate"]["units"] == "uL/min"
    assert set(reactor.read()) == set(desc)
    config = reactor.describe_configuration()
    assert config["reactor_growth_oven_volume_ul"]["units"] == "uL"


def test_flow_cell_shows_old_product_until_flushed(reactor):
    """The reactor starts primed with solvent (what the reference and the SAXS background are taken
    on); right after a change the flow cell still holds what was there before, until flushed."""
    def run_at(temperature_c):
        wait_status(reactor.nucleation_heater.set(temperature_c), timeout=1)
        wait_status(reactor.growth_oven.set(temperature_c), timeout=1)
        flows = reactor.flow_rates_for(14.0)
        wait_status(reactor.cd_pump.set(flows["cd_pump"]), timeout=1)
        wait_status(reactor.se_pump.set(flows["se_pump"]), timeout=1)
        early = reactor.sample_at_flow_cell()
        wait_status(reactor.flush.trigger(), timeout=1)
        assert reactor.flushed_volumes() >= 3.0
        return early, reactor.sample_at_flow_cell()

    solvent = reactor.sample_at_flow_cell()
    assert (solvent.precursor0_mm, solvent.cd_precursor_mm, solvent.units_in_nc_mm) == (0.0, 0.0, 0.0)
    early, hot = run_at(280)
    assert early.precursor0_mm < 1.0  # mostly the solvent
    assert hot.precursor0_mm > 9.9  # 99.4 % new after three volumes
    assert hot.yield_fraction > 0.5  # steady product at 280 °C / 14 s
    assert hot.cd_precursor_mm * hot.mesophase_order < 1e-6  # no ordered precursor left to scatter
    early, cold = run_at(25)
    assert early.yield_fraction > 0.5  # mostly the 280 °C product
    assert cold.precursor_mm > 9.0  # unreacted precursor at room temperature
    assert cold.mesophase_order > 0.9


def test_flush_without_flow_fails_with_clear_reason(reactor):
    status = reactor.flush.trigger()
    with pytest.raises(Exception, match="pumps are stopped"):
        wait_status(status, timeout=1)


def test_twin_needs_a_clock_and_rng():
    with pytest.raises(TypeError, match="needs clock= and rng="):
        SimHeater(name="h")


def test_negative_time_scale_is_rejected():
    with pytest.raises(ValueError, match=re.escape("time_scale=-1.0 must be ≥ 0")):
        make_twin_reactor(time_scale=-1)


def test_standby_flow_is_a_configuration_signal_in_every_descriptor(reactor):
    config = reactor.describe_configuration()["reactor_standby_flow_ul_min"]
    assert config["units"] == "uL/min"
    assert reactor.standby_flow_rates() == {"cd_pump": 12.5, "se_pump": 12.5}
    # 25 µL/min is the growth oven's volume over the longest allowed residence time
    assert reactor.standby_flow_ul_min.get() == pytest.approx(250.0 / reactor.max_residence_time_s.get() * 60.0)


def test_standby_flow_is_set_only_to_zero_or_a_flow_each_pump_can_give(reactor):
    from autolab.devices import configure_reactor

    allowed = "0 (stop the pumps while the heaters move) or 20–24000 µL/min"
    assert reactor.standby_flow_range() == (20.0, 24000.0)
    assert reactor.set_standby_flow("0") == 0.0
    assert reactor.standby_flow_rates() == {"cd_pump": 0.0, "se_pump": 0.0}
    for value, message in [
        (5, f"--standby-flow-ul-min=5 is outside the allowed standby flows: {allowed}"),
        (30000, f"--standby-flow-ul-min=30000 is outside the allowed standby flows: {allowed}"),
        ("-1", f"--standby-flow-ul-min=-1 is outside the allowed standby flows: {allowed}"),
        ("fast", f"--standby-flow-ul-min='fast' is not a number; allowed: {allowed}"),
    ]:
        with pytest.raises(LimitError, match=f"^{re.escape(message)}$"):
            reactor.set_standby_flow(value, field="--standby-flow-ul-min")
    assert reactor.standby_flow_ul_min.get() == 0.0  # a refused value leaves the setting as it was
    # The config file's [reactor] table sets it on any reactor; other keys are the builder's.
    configure_reactor(reactor, {"standby_flow_ul_min": 40, "seed": 3, "factory": "x:y"})
    assert reactor.standby_flow_rates() == {"cd_pump": 20.0, "se_pump": 20.0}
    with pytest.raises(LimitError, match=re.escape(f"[reactor] standby_flow_ul_min=10 is outside the allowed standby flows: {allowed}")):
        configure_reactor(reactor, {"standby_flow_ul_min": 10})
    # The range follows the pumps' split: 30 % of the flow through a 10 µL/min pump needs 33.3 µL/min in all.
    reactor.cd_volume_fraction.put(0.3)
    assert reactor.standby_flow_range() == (pytest.approx(10 / 0.3), pytest.approx(12000 / 0.7))


def test_reagent_need_adds_the_standby_flow_over_the_ramp_and_full_syringes_are_named(reactor):
    point = reactor.check_conditions(300, 320, 2.0)
    ramp_s = (320 - 25) / 30.0 * 60.0 + 10.0  # the growth oven is the slower heater: 30 °C/min, 10 s settle
    reactor.standby_flow_ul_min.put(0.0)
    stopped = reactor.reagent_need_ul([point], measurement_s=30.0)["cd_pump"]
    reactor.standby_flow_ul_min.put(25.0)
    idling = reactor.reagent_need_ul([point], measurement_s=30.0)["cd_pump"]
    assert idling - stopped == pytest.approx(12.5 * ramp_s / 60.0)
    assert stopped == pytest.approx(reactor.flow_rates_for(2.0)["cd_pump"] * (reactor.flush_time_s(2.0) + 30.0) / 60.0)
    reactor.cd_pump.syringe_volume_ul.put(1000.0)
    message = (
        f"Cd precursor pump (reactor_cd_pump) has a full syringe of 1000 µL but 1 point(s) need about {idling:.0f} µL; "
        "use a larger syringe or a longer residence time"
    )
    with pytest.raises(LimitError, match=re.escape(message)):
        reactor.check_reagents([point], full_syringes=True)


def test_a_poni_text_pyfai_cannot_read_is_refused_on_put_and_the_geometry_kept(reactor):
    """In a script a wrong geometry fails where it is given, not as a failed status in the first point's acquisition."""
    from autolab.errors import LimitError

    good = reactor.saxs.poni.get()
    assert "Distance" in good
    unreadable = "reactor_saxs_poni: the PONI geometry cannot be read: could not convert string to float: 'half a metre'"
    with pytest.raises(LimitError, match=re.escape(unreadable)):
        reactor.saxs.poni.put("Distance: half a metre\nWavelength: 1e-10\n")
    with pytest.raises(LimitError, match=re.escape("reactor_saxs_poni: the PONI geometry needs a Distance > 0 and a Wavelength > 0 (m)")):
        reactor.saxs.poni.set("Distance: 0.5\n")
    for text, reason in (("Distance: 0.5\nWavelength: -1e-10\n", "got Distance=0.5, Wavelength=-1e-10"),
                         ("Distance: nan\nWavelength: 1e-10\n", "got Distance=nan"),
                         ("Detector: Nonsense\nDistance: 0.5\nWavelength: 1e-10\n",
                          "Detector 'Nonsense' is neither a detector pyFAI knows (e.g. Pilatus1M, Eiger4M) nor a detector file")):
        with pytest.raises(LimitError, match=re.escape(reason)):  # pyFAI's own error lists 300 detectors
            reactor.saxs.poni.put(text)
    assert reactor.saxs.poni.get() == good
    reactor.saxs.poni.put("")  # no geometry yet is allowed (an EPICS detector before its PONI file is given)
    assert reactor.saxs.poni.get() == ""
