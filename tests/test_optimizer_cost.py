"""The cost of moving the reactor: the cost model's numbers, cost-aware suggestions, batch order, checkpoints."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from autolab.errors import LimitError
from autolab.optimize import GPOptimizer
from autolab.optimize.cost import ReactorCostModel, cost_cooling_alpha, order_time_s, quickest_order
from tests.optimizer_steps import run_batches

from .test_campaign import LIMITS, WINDOW, uvvis_only

TWIN = {"nucleation_temperature_c": (240.0, 350.0), "growth_temperature_c": (200.0, 350.0), "residence_time_s": (1.5, 20.0, "log")}
#: The centre of TWIN, the design's first point (the residence time's geometric mean: its scale is logarithmic).
CENTRE = {"nucleation_temperature_c": 295.0, "growth_temperature_c": 275.0, "residence_time_s": math.sqrt(1.5 * 20.0)}


def slow_ovens(**fixed) -> ReactorCostModel:
    """Heaters at 30 and 10 °C/min settling 60 and 300 s; 3 flush volumes of a reactor 1.2 × the oven; 30 s reading."""
    return ReactorCostModel(
        {"nucleation_temperature_c": 30.0, "growth_temperature_c": 10.0},
        {"nucleation_temperature_c": 60.0, "growth_temperature_c": 300.0},
        flush_volumes=3.0, reactor_to_oven_volume_ratio=1.2, measurement_s=30.0, fixed=fixed,
    )


def twin_value(p):
    growth, nucleation = (p["growth_temperature_c"] - 280) / 40, (p["nucleation_temperature_c"] - 300) / 40
    return -(growth**2) - nucleation**2 - math.log(p["residence_time_s"] / 8) ** 2


def strip(point):
    return {k: v for k, v in point.items() if k != "_id"}


def test_the_cost_model_by_hand():
    model = slow_ovens()
    start = {"nucleation_temperature_c": 300.0, "growth_temperature_c": 220.0, "residence_time_s": 10.0}
    # Growth oven 220 → 280 °C: 60 °C at 10 °C/min is 360 s, then 300 s settling; the nucleation heater does not move.
    end = {"nucleation_temperature_c": 300.0, "growth_temperature_c": 280.0, "residence_time_s": 10.0}
    assert float(model.move_time_s(start, end)) == pytest.approx(360.0 + 300.0)
    # Then 3 volumes × 1.2 × 10 s of flush and 30 s of reading.
    assert model.time_s(start, end).tolist() == pytest.approx([660.0 + 36.0 + 30.0])
    # The heaters ramp together: the slower one counts (nucleation 300 → 240 °C: 120 s + 60 s < 660 s).
    both = {**end, "nucleation_temperature_c": 240.0}
    assert float(model.move_time_s(start, both)) == pytest.approx(660.0)
    # A new flow alone costs no ramp and no settling, only its flush: seconds, not minutes.
    flow = {**start, "residence_time_s": 2.0}
    assert float(model.move_time_s(start, flow)) == 0.0
    assert float(model.time_s(start, flow)[0]) == pytest.approx(3 * 1.2 * 2.0 + 30.0)
    # Vectorised over candidates; no start (nothing known yet) means no move.
    grid = {"nucleation_temperature_c": np.array([300.0, 330.0]), "growth_temperature_c": np.array([230.0, 220.0]), "residence_time_s": 10.0}
    assert model.move_time_s(start, grid).tolist() == pytest.approx([60.0 + 300.0, 60.0 + 60.0])
    assert model.move_time_s(None, grid).tolist() == [0.0, 0.0]
    # A fixed condition fills in for a name the optimiser does not vary.
    held = slow_ovens(growth_temperature_c=250.0)
    assert float(held.time_s({"nucleation_temperature_c": 300.0, "residence_time_s": 5.0},
                             {"nucleation_temperature_c": 330.0, "residence_time_s": 5.0})[0]) == pytest.approx(60 + 60 + 18 + 30)


def test_the_cost_model_of_the_twin_reactor_reads_its_heaters_and_volumes(reactor):
    model = ReactorCostModel.from_reactor(reactor)
    assert model.ramp_rates_c_per_min == {"nucleation_temperature_c": 120.0, "growth_temperature_c": 30.0}
    assert model.settle_times_s == {"nucleation_temperature_c": 10.0, "growth_temperature_c": 10.0}
    assert model.flush_volumes == 3.0
    assert model.reactor_to_oven_volume_ratio == pytest.approx(reactor.reactor_volume_ul / 250.0)
    # The flush term is the reactor's own flush time.
    point = {"nucleation_temperature_c": 280.0, "growth_temperature_c": 280.0, "residence_time_s": 14.0}
    assert float(model.point_time_s(point)) == pytest.approx(reactor.flush_time_s(14.0) + 30.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ramp_rates_c_per_min": {"growth_temperature_c": 0.0}},
         "ramp_rates_c_per_min['growth_temperature_c']=0.0 is outside the allowed range: a finite number > 0"),
        ({"settle_times_s": {"growth_temperature_c": -5}},
         "settle_times_s['growth_temperature_c']=-5 is outside the allowed range: a finite number ≥ 0"),
        ({"measurement_s": float("nan")}, "measurement_s=nan is outside the allowed range: a finite number ≥ 0"),
        ({"settle_times_s": {}}, "settle_times_s names [] but ramp_rates_c_per_min names ['growth_temperature_c']"),
    ],
)
def test_bad_cost_model_numbers_are_named(kwargs, message):
    args = {"ramp_rates_c_per_min": {"growth_temperature_c": 10.0}, "settle_times_s": {"growth_temperature_c": 60.0}, **kwargs}
    with pytest.raises(LimitError) as info:
        ReactorCostModel(**args)
    assert message in str(info.value)


def test_cost_cooling_weight_falls_from_one_to_zero_over_the_budget():
    assert [cost_cooling_alpha(25, used, 7) for used in (0, 7, 16, 25, 30)] == [1.0, 1.0, 0.5, 0.0, 0.0]
    assert cost_cooling_alpha(5, 3, 7) == 0.0  # no model points at all


def test_the_cost_model_needs_a_budget_and_a_log_scale_acquisition():
    with pytest.raises(ValueError, match="cost_model needs max_trials"):
        GPOptimizer(TWIN, {"y": "maximize"}, cost_model=slow_ovens())
    with pytest.raises(ValueError, match=r"^cost-aware suggestions \(cost_model\) weigh log-EI values: acquisition='ucb' cannot be cost-aware"):
        GPOptimizer(TWIN, {"y": "maximize"}, cost_model=slow_ovens(), max_trials=20, acquisition="ucb")
    with pytest.raises(ValueError, match="must be a ReactorCostModel"):
        GPOptimizer(TWIN, {"y": "maximize"}, cost_model=lambda a, b: 1.0, max_trials=20)


@pytest.mark.parametrize("last", [100.0, 0.0])
def test_of_two_equally_good_regions_the_nearer_is_suggested(last):
    """Data symmetric about t = 50 tie EI between mirror points; the cost of the ramp decides."""
    model = ReactorCostModel({"t": 10.0}, {"t": 60.0}, flush_volumes=0.0, measurement_s=30.0)
    ts = [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
    order = ts if last == 100.0 else ts[::-1]  # the last point measured is where the reactor is
    opt = GPOptimizer({"t": (0.0, 100.0)}, {"y": "maximize"}, seed=0, n_initial=6, max_trials=20, cost_model=model)
    opt.ingest([{"t": t, "y": 1.0 if t in (20.0, 80.0) else 0.0} for t in order])
    (s,) = opt.suggest(1)
    assert (s["t"] > 50) is (last == 100.0), s


def test_where_the_temperatures_hardly_matter_the_growth_oven_stays_where_it_is():
    """The outcome depends on the residence time only, so the next point's expected improvement
    hardly depends on the temperatures: the cost-aware choice keeps the slow growth oven at the last
    point's setpoint (no ramp, no 300 s of settling) and changes the flow; the plain choice moves both
    heaters (its candidates never repeat a temperature exactly)."""
    def flow_only(p):
        return -math.log(p["residence_time_s"] / 8.0) ** 2

    rng = np.random.default_rng(5)
    known = [{"nucleation_temperature_c": float(a), "growth_temperature_c": float(b), "residence_time_s": float(t)}
             for a, b, t in zip(rng.uniform(240, 350, 8), rng.uniform(200, 350, 8), np.geomspace(1.5, 20, 8), strict=True)]
    suggested = {}
    for cost_model in (slow_ovens(), None):
        opt = GPOptimizer(TWIN, {"y": "maximize"}, seed=0, n_initial=8, max_trials=30, cost_model=cost_model)
        opt.ingest([{**p, "y": flow_only(p)} for p in known])
        (suggested[cost_model is not None],) = opt.suggest(1)
    last = known[-1]
    assert suggested[True]["growth_temperature_c"] == last["growth_temperature_c"], (suggested[True], last)
    assert suggested[True]["residence_time_s"] != last["residence_time_s"]
    assert all(suggested[False][name] != last[name] for name in ("nucleation_temperature_c", "growth_temperature_c"))


def test_a_batch_comes_in_the_order_that_takes_least_time():
    opt = GPOptimizer(TWIN, {"y": "maximize"}, seed=3, n_initial=5, max_trials=30, cost_model=slow_ovens())
    design = opt.suggest(5)
    opt.ingest([{"_id": s["_id"], "y": twin_value(s)} for s in design])
    for _ in range(2):
        start = list(opt.trials_.values())[-1]["params"]
        suggested = opt.suggest(4)
        batch = [strip(s) for s in suggested]
        best = min(order_time_s(opt.cost_model, start, list(p)) for p in itertools.permutations(batch))
        assert order_time_s(opt.cost_model, start, batch) == pytest.approx(best)
        assert list(opt.trials_.values())[-1]["params"] == batch[-1]  # the next batch starts where this one ends
        opt.ingest([{"_id": s["_id"], "y": twin_value(s)} for s in suggested])


def test_a_first_batch_keeps_the_designs_centre_first_and_orders_the_rest_from_it():
    """No point is known before the first batch: the centre (the design's first point) is run
    first, as without a cost model, and the batch's other design points in the order quickest from it."""
    plain = GPOptimizer(TWIN, {"y": "maximize"}, seed=2, max_trials=25)
    aware = GPOptimizer(TWIN, {"y": "maximize"}, seed=2, max_trials=25, cost_model=slow_ovens())
    first = strip(plain.suggest(4)[0])
    batch = [strip(s) for s in aware.suggest(4)]
    assert batch[0] == first == pytest.approx(CENTRE)
    best = min(order_time_s(aware.cost_model, batch[0], list(p)) for p in itertools.permutations(batch[1:]))
    assert order_time_s(aware.cost_model, batch[0], batch[1:]) == pytest.approx(best)


def test_quickest_order_is_exact_up_to_six_points_and_greedy_above():
    rng = np.random.default_rng(0)
    model = slow_ovens()

    def points(n):
        return [{"nucleation_temperature_c": float(a), "growth_temperature_c": float(b), "residence_time_s": 5.0}
                for a, b in zip(rng.uniform(240, 350, n), rng.uniform(200, 350, n), strict=True)]

    start = {"nucleation_temperature_c": 300.0, "growth_temperature_c": 250.0}
    for n in (2, 4, 6):
        batch = points(n)
        best = min(order_time_s(model, start, list(p)) for p in itertools.permutations(batch))
        assert order_time_s(model, start, [batch[i] for i in quickest_order(model, start, batch)]) == pytest.approx(best)
    batch = points(9)
    order = quickest_order(model, start, batch)
    assert sorted(order) == list(range(9))
    assert order_time_s(model, start, [batch[i] for i in order]) < order_time_s(model, start, batch)


def test_the_design_is_the_same_points_in_an_order_that_saves_ramps():
    plain = GPOptimizer(TWIN, {"y": "maximize"}, seed=1, max_trials=25)
    aware = GPOptimizer(TWIN, {"y": "maximize"}, seed=1, max_trials=25, cost_model=slow_ovens())
    a = [strip(plain.suggest(1)[0]) for _ in range(plain.initial_points)]
    b = [strip(aware.suggest(1)[0]) for _ in range(aware.initial_points)]
    key = sorted(tuple(p.values()) for p in a)
    assert sorted(tuple(p.values()) for p in b) == key
    assert order_time_s(aware.cost_model, None, b) < order_time_s(aware.cost_model, None, a)
    # A resumed optimiser (its points registered again) continues with the design's unused points.
    again = GPOptimizer(TWIN, {"y": "maximize"}, seed=1, max_trials=25, cost_model=slow_ovens())
    again.register_suggestions(b[:4])
    assert [strip(again.suggest(1)[0]) for _ in range(len(b) - 4)] == b[4:]


def test_checkpoint_and_restore_are_identical_with_a_cost_model(tmp_path):
    a = GPOptimizer(TWIN, {"y": "maximize"}, seed=2, max_trials=30, cost_model=slow_ovens(), checkpoint_path=tmp_path / "opt.json")
    b = GPOptimizer(TWIN, {"y": "maximize"}, seed=2, max_trials=30, cost_model=slow_ovens())
    assert run_batches(a, twin_value, 5) == run_batches(b, twin_value, 5)
    a.checkpoint()
    restored = GPOptimizer.restore(tmp_path / "opt.json")
    assert restored.cost_model == a.cost_model
    assert run_batches(restored, twin_value, 2) == run_batches(a, twin_value, 2)


def test_without_a_cost_model_nothing_changes():
    a = GPOptimizer(TWIN, {"y": "maximize"}, seed=6, max_trials=20)
    b = GPOptimizer(TWIN, {"y": "maximize"}, seed=6, max_trials=20, cost_model=None)
    for n in (3, 3, 2, 4):
        sa, sb = a.suggest(n), b.suggest(n)
        assert sa == sb
        assert [s["_id"] for s in sa] == list(a.trials_)[-n:]  # the batch keeps the order it was chosen in
        a.ingest([{"_id": s["_id"], "y": twin_value(s)} for s in sa])
        b.ingest([{"_id": s["_id"], "y": twin_value(s)} for s in sb])
    assert a.state_dict()["cost_model"] is None


def test_a_cost_aware_campaign_orders_its_batch_and_stores_the_setting():
    from autolab.campaign import Campaign

    campaign = Campaign(LIMITS, "msc437", WINDOW, budget=8, batch_size=4, initial_design=4, seed=0, manager=uvvis_only(),
                        cost_model=slow_ovens())
    assert campaign.settings_metadata()["cost_aware"] is True
    batch = [{k: s[k] for k in WINDOW} for s in campaign.suggest()]
    assert batch[0] == pytest.approx(CENTRE)  # the centre first
    best = min(order_time_s(campaign.optimizer.cost_model, batch[0], list(p)) for p in itertools.permutations(batch[1:]))
    assert order_time_s(campaign.optimizer.cost_model, batch[0], batch[1:]) == pytest.approx(best)
    with pytest.raises(LimitError, match="cost_model apply to the default optimiser"):
        Campaign(LIMITS, "msc437", WINDOW, budget=8, manager=uvvis_only(), cost_model=slow_ovens(), optimizer=campaign.optimizer)


def test_the_campaign_plan_runs_cost_aware_on_the_reactors_own_timing(RE, reactor):
    from autolab.campaign import autonomous_campaign

    from .test_campaign import collect, run_to_summary, starts

    docs = collect(RE)
    reactor.growth_oven.ramp_rate_c_per_min.put(10.0)
    summary = run_to_summary(RE, autonomous_campaign(reactor, "msc437", WINDOW, budget=4, batch_size=2, initial_design=2, seed=0,
                                                     cost_aware=True))
    assert summary["n_runs"] == 4
    (start,) = [d for d in starts(docs, "autonomous_campaign") if d["campaign_role"] == "start"]
    assert start["campaign_settings"]["cost_aware"] is True
    model = ReactorCostModel.from_reactor(reactor)
    assert model.ramp_rates_c_per_min["growth_temperature_c"] == 10.0
    points = [{k: p[k] for k in WINDOW} for p in starts(docs, "measure_point")]
    # The model's batch runs in the quicker of its two orders, from the point before it.
    assert order_time_s(model, points[1], points[2:]) <= order_time_s(model, points[1], points[:1:-1]) + 1e-9


def test_cost_aware_suggestions_keep_a_constraint_whose_far_side_is_better():
    """Growth ≤ nucleation (Palencia's region) holds for the design and every cost-aware batch.

    The objective peaks at growth 330 °C / nucleation 260 °C, outside the region (without the
    constraint, 13 of these 18 suggestions lie outside it).
    """
    def outside(p):
        return -((p["growth_temperature_c"] - 330) / 40) ** 2 - ((p["nucleation_temperature_c"] - 260) / 40) ** 2

    opt = GPOptimizer(TWIN, {"y": "maximize"}, seed=4, max_trials=20, cost_model=slow_ovens(),
                      constraints=["growth_temperature_c <= nucleation_temperature_c"])
    batches = run_batches(opt, outside, steps=6, size=3)
    points = [strip(s) for batch in batches for s in batch]
    assert len(points) == 18
    assert all(p["growth_temperature_c"] <= p["nucleation_temperature_c"] + 1e-9 for p in points), points
    # With this seed the last batch lies near the boundary, where the feasible optimum is (growth = nucleation ≈ 295 °C).
    last = points[-3:]
    assert max(abs(p["growth_temperature_c"] - p["nucleation_temperature_c"]) for p in last) < 30.0, last
