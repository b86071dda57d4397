"""Parameter constraints: parsing, every suggestion honouring them, refusals, checkpoints, the campaign, the queue and the CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from autolab.errors import LimitError
from autolab.optimize import GPOptimizer, ParameterSpace
from autolab.optimize.constraints import ConstraintSet, LinearConstraint
from tests.optimizer_steps import run_batches

from .test_campaign import LIMITS, WINDOW, uvvis_only

TOY = {"x1": (0.0, 1.0), "x2": (0.0, 1.0)}
#: The toy's maximum (0.8, 0.8) lies outside this constraint, so the optimiser presses against it.
TOY_CONSTRAINT = "x2 <= x1 - 0.3"
GROWTH_BELOW_NUCLEATION = "growth_temperature_c <= nucleation_temperature_c"


def toy(p):
    return -((p["x1"] - 0.8) ** 2) - (p["x2"] - 0.8) ** 2


@pytest.mark.parametrize(
    ("text", "canonical", "coefficients", "bound"),
    [
        (GROWTH_BELOW_NUCLEATION, "growth_temperature_c - nucleation_temperature_c <= 0",
         (("growth_temperature_c", 1.0), ("nucleation_temperature_c", -1.0)), 0.0),
        ("growth_temperature_c - nucleation_temperature_c <= -10", "growth_temperature_c - nucleation_temperature_c <= -10",
         (("growth_temperature_c", 1.0), ("nucleation_temperature_c", -1.0)), -10.0),
        ("2*x1 + x2 >= 0.5", "2*x1 + x2 >= 0.5", (("x1", -2.0), ("x2", -1.0)), -0.5),
        ("0.5 >= x1", "x1 <= 0.5", (("x1", 1.0),), 0.5),
        ("x1/2 - (3 - x2)*2 >= 1 + x1", "0.5*x1 - 2*x2 <= -7", (("x1", 0.5), ("x2", -2.0)), -7.0),
        ("x2 ≤ x1 − 0.3", "x2 - x1 <= -0.3", (("x2", 1.0), ("x1", -1.0)), -0.3),
    ],
)
def test_constraints_parse_to_coefficients_and_a_canonical_form_that_parses_back(text, canonical, coefficients, bound):
    c = LinearConstraint.parse(text)
    assert c.coefficients == coefficients
    assert c.bound == pytest.approx(bound)
    assert str(c) == canonical
    again = LinearConstraint.parse(str(c))
    assert (again.coefficients, again.bound) == (c.coefficients, c.bound)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("x1 * x2 <= 1", "multiplies two parameters"),
        ("x1 < 0.5", "must compare with <= or >="),
        ("x1 <= x2 <= 0.5", "must be one inequality"),
        ("x1 <=", "is not an inequality"),
        ("__import__('os').system('true') <= 1", "contains \"__import__('os').system('true')\""),
        ("x1 ** 2 <= 1", "contains 'x1 ** 2'"),
        ("x1 / x2 <= 1", "divides by a parameter or by zero"),
        ("1 <= 2", "compares numbers only"),
        ("x1 - x1 <= 2", "compares numbers only"),
    ],
)
def test_malformed_constraints_are_one_line_naming_the_text_the_problem_and_the_parameters(text, problem):
    with pytest.raises(LimitError) as info:
        GPOptimizer(TOY, {"y": "maximize"}, constraints=[text])
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"constraint {text!r} ")
    assert problem in message
    assert message.endswith("; the parameters are x1, x2")


def test_an_unknown_name_is_refused_naming_it_and_the_parameters():
    with pytest.raises(LimitError) as info:
        GPOptimizer(TOY, {"y": "maximize"}, constraints=["x1 + x3 <= 1"])
    assert str(info.value) == "constraint 'x1 + x3 <= 1' names 'x3', not a parameter; the parameters are x1, x2"


def test_an_infeasible_set_is_refused_in_one_line_naming_the_constraints():
    with pytest.raises(LimitError) as info:
        GPOptimizer(TOY, {"y": "maximize"}, constraints=["x1 + x2 >= 1.5", "x1 <= 0.2"])
    message = str(info.value)
    assert "\n" not in message
    assert message == (
        "no point within the bounds (x1 0–1, x2 0–1) satisfies all of the constraints 'x1 + x2 >= 1.5'; 'x1 <= 0.2'; "
        "loosen a constraint or widen a bound"
    )
    with pytest.raises(LimitError, match=r"leave no room to search within the bounds \(.*\): the points they allow lie on a plane or a boundary"):
        GPOptimizer(TOY, {"y": "maximize"}, constraints=["x1 <= 0"])  # feasible, but only on an edge
    with pytest.raises(LimitError, match=r"leave no room to search .*: the points they allow lie on a plane or a boundary"):
        GPOptimizer(TOY, {"y": "maximize"}, constraints=["x1 <= 0.5", "x1 >= 0.5"])  # an equality: a plane inside the box
    GPOptimizer(TOY, {"y": "maximize"}, constraints=["x1 + x2 <= 5"])  # every point satisfies it: fine


def test_one_text_alone_is_one_constraint_and_anything_else_than_texts_is_refused_in_one_line():
    from autolab.campaign import Campaign

    assert GPOptimizer(TOY, {"y": "maximize"}, constraints=TOY_CONSTRAINT).constraints == ["x2 - x1 <= -0.3"]
    one = Campaign(LIMITS, "msc437", WINDOW, budget=6, manager=uvvis_only(), constraints=GROWTH_BELOW_NUCLEATION)
    assert one.settings_metadata()["constraints"] == [GROWTH_BELOW_NUCLEATION]
    for bad in (5, {"x1": 0.5}, {"x1 <= 0.5"}, b"x1 <= 0.5"):  # a set has no order; bytes are no text
        expected = (f"constraints={bad!r} must be a constraint text such as 'growth_temperature_c <= nucleation_temperature_c' "
                    "or a list of them")
        with pytest.raises(LimitError) as info:
            GPOptimizer(TOY, {"y": "maximize"}, constraints=bad)
        assert str(info.value) == expected
        with pytest.raises(LimitError) as info:
            Campaign(LIMITS, "msc437", WINDOW, budget=6, manager=uvvis_only(), constraints=bad)
        assert str(info.value) == expected


def test_feasibility_is_decided_in_the_parameters_own_units_log_scaled_ones_included():
    space = ParameterSpace({"t": (200.0, 300.0), "r": (1.0, 100.0, "log")})
    rules = ConstraintSet(["r <= 10"], space)
    # r = 10 is the middle of the log-scaled unit axis, not a tenth of it.
    assert rules.satisfied(np.array([[0.0, 0.49], [0.0, 0.5], [0.0, 0.51], [0.5, 0.1]])).tolist() == [True, True, False, True]
    assert [str(c) for c in rules.violated({"t": 250.0, "r": 20.0})] == ["r <= 10"]
    opt = GPOptimizer({"t": (200.0, 300.0), "r": (1.0, 100.0, "log")}, {"y": "maximize"}, seed=2, constraints=["r <= 10", "t + 5*r >= 240"])
    for _ in range(4):
        batch = opt.suggest(2)
        # the design's centre (t 250, r 10) lies on r <= 10, held to the constraints' 1e-9 relative tolerance
        assert all(s["r"] <= 10 * (1 + 1e-9) and s["t"] + 5 * s["r"] >= 240 for s in batch), batch
        opt.ingest([{"_id": s["_id"], "y": -((s["t"] - 260) ** 2) - (math.log(s["r"]) - 3) ** 2} for s in batch])


def test_every_suggestion_honours_the_constraint_design_model_and_batches_alike():
    opt = GPOptimizer(TOY, {"y": "maximize"}, seed=5, constraints=[TOY_CONSTRAINT], max_trials=30)
    seen, design = [], []
    while len(seen) < 30:
        batch = opt.suggest(1 if len(seen) < 18 else 3)
        for s in batch:
            assert s["x2"] <= s["x1"] - 0.3 + 1e-9, s
            design.append(opt.trials_[s["_id"]].get("design_index"))
        seen.extend(batch)
        opt.ingest([{"_id": s["_id"], "y": toy(s)} for s in batch])
    indices = [i for i in design if i is not None]
    assert len(indices) == opt.initial_points
    assert indices != list(range(len(indices)))  # infeasible Sobol draws were skipped
    assert indices == sorted(indices)
    (_, best, _), = opt.get_best_points()
    assert best["x2"] == pytest.approx(best["x1"] - 0.3, abs=0.05)  # pressed against the constraint
    assert (best["x1"], best["x2"]) == pytest.approx((0.95, 0.65), abs=0.05)  # the constrained maximum


def test_same_seed_same_suggestions_and_a_checkpoint_continues_identically(tmp_path):
    a = GPOptimizer(TOY, {"y": "maximize"}, seed=4, constraints=[TOY_CONSTRAINT], checkpoint_path=tmp_path / "opt.json")
    b = GPOptimizer(TOY, {"y": "maximize"}, seed=4, constraints=[LinearConstraint.parse(TOY_CONSTRAINT)])
    assert run_batches(a, toy, 4) == run_batches(b, toy, 4)
    a.checkpoint()
    restored = GPOptimizer.restore(tmp_path / "opt.json")
    assert restored.constraints == ["x2 - x1 <= -0.3"]
    assert json.loads((tmp_path / "opt.json").read_text())["constraints"] == ["x2 - x1 <= -0.3"]
    assert run_batches(restored, toy, 2) == run_batches(a, toy, 2)


def test_a_resumed_optimiser_continues_the_feasible_design_where_the_first_stopped():
    first = GPOptimizer(TOY, {"y": "maximize"}, seed=3, constraints=[TOY_CONSTRAINT], n_initial=8)
    design = first.suggest(8)
    again = GPOptimizer(TOY, {"y": "maximize"}, seed=3, constraints=[TOY_CONSTRAINT], n_initial=8)
    again.register_suggestions([{k: v for k, v in s.items() if k != "_id"} for s in design[:5]])  # what a resume does
    assert [(s["x1"], s["x2"]) for s in again.suggest(3)] == [(s["x1"], s["x2"]) for s in design[5:]]


def test_external_points_outside_the_constraints_are_accepted():
    opt = GPOptimizer(TOY, {"y": "maximize"}, seed=0, constraints=[TOY_CONSTRAINT])
    opt.ingest([{"x1": 0.1, "x2": 0.9, "y": toy({"x1": 0.1, "x2": 0.9})}])  # measured by hand, outside the constraint
    assert opt.get_best_points()[0][1] == {"x1": 0.1, "x2": 0.9}
    assert all(s["x2"] <= s["x1"] - 0.3 + 1e-9 for s in opt.suggest(3))


# --- the campaign -------------------------------------------------------------------------
def test_a_campaign_stores_its_constraints_and_refuses_bad_ones_before_anything_runs():
    from autolab.campaign import Campaign

    campaign = Campaign(LIMITS, "msc437", WINDOW, budget=9, seed=0, manager=uvvis_only(), constraints=[GROWTH_BELOW_NUCLEATION])
    assert campaign.settings_metadata()["constraints"] == [GROWTH_BELOW_NUCLEATION]
    assert all(s["growth_temperature_c"] <= s["nucleation_temperature_c"] for s in campaign.suggest(7))
    design = [{"nucleation_temperature_c": 250, "growth_temperature_c": 300, "residence_time_s": 5}]
    with pytest.raises(LimitError) as info:
        Campaign(LIMITS, "msc437", WINDOW, budget=4, initial_design=design, manager=uvvis_only(), constraints=[GROWTH_BELOW_NUCLEATION])
    assert str(info.value) == (
        "initial_design[0] (growth_temperature_c=300, nucleation_temperature_c=250) violates the constraint "
        "'growth_temperature_c <= nucleation_temperature_c'"
    )
    with pytest.raises(LimitError, match="names 'growth_temp', which is no condition of this campaign; the conditions are"):
        Campaign(LIMITS, "msc437", WINDOW, budget=4, manager=uvvis_only(), constraints=["growth_temp <= 250"])
    # A fixed condition in a constraint takes its value: here the constraint bounds the nucleation temperature.
    held = Campaign(LIMITS, "msc437", {"nucleation_temperature_c": [240, 350], "residence_time_s": [1.5, 20, "log"]}, budget=6,
                    fixed={"growth_temperature_c": 300}, manager=uvvis_only(), constraints=[GROWTH_BELOW_NUCLEATION])
    assert held.optimizer.constraints == ["nucleation_temperature_c >= 300"]
    assert all(s["nucleation_temperature_c"] >= 300 for s in held.suggest(5))
    with pytest.raises(LimitError, match=r"satisfies all of the constraints .* \(with growth_temperature_c=300 fixed\)"):
        Campaign(LIMITS, "msc437", {"nucleation_temperature_c": [240, 290], "residence_time_s": [1.5, 20]}, budget=6,
                 fixed={"growth_temperature_c": 300}, manager=uvvis_only(), constraints=[GROWTH_BELOW_NUCLEATION])


def test_the_queue_accepts_constraints_for_the_campaign_plan(reactor):
    from bluesky_queueserver.manager.profile_ops import existing_plans_and_devices_from_nspace, validate_plan

    from autolab.campaign import autonomous_campaign
    from autolab.queue_plans import limited_plans, parameter_descriptions

    namespace = {"reactor": reactor, **limited_plans({"autonomous_campaign": autonomous_campaign}, reactor.limits())}
    allowed_plans, allowed_devices, _, _ = existing_plans_and_devices_from_nspace(nspace=namespace)

    def check(**kwargs):
        return validate_plan({"name": "autonomous_campaign", "args": ["reactor"], "kwargs": kwargs},
                             allowed_plans=allowed_plans, allowed_devices=allowed_devices)

    assert check(constraints=[GROWTH_BELOW_NUCLEATION], cost_aware=True) == (True, "")
    assert not check(constraints=GROWTH_BELOW_NUCLEATION)[0]  # a list of texts, not one text
    # The campaign's own ranges and choices, refused when the item is added rather than when it runs.
    assert check(budget=6, batch_size=2, acquisition="ucb", on_point_failure="pause") == (True, "")
    for bad, words in (({"budget": 0}, "Value 0 is out of range [1, 1000]"), ({"batch_size": 50}, "Value 50 is out of range [1, 20]"),
                       ({"acquisition": "logei"}, "Input should be 'log_ei' or 'ucb'"),
                       ({"on_point_failure": "halt"}, "Input should be 'continue', 'pause' or 'stop'")):
        accepted, message = check(**bad)
        assert not accepted
        assert words in message
    described = {p["name"]: p for p in allowed_plans["autonomous_campaign"]["parameters"]}
    assert "growth_temperature_c <= nucleation_temperature_c" in described["constraints"]["description"]
    assert "cost_aware" in parameter_descriptions(autonomous_campaign)


def test_the_plan_refuses_a_bad_constraint_before_its_first_message(reactor):
    from autolab.campaign import autonomous_campaign

    plan = autonomous_campaign(reactor, "msc437", WINDOW, budget=3, constraints=["growth_temperature_c >= nucleation_temperature_c + 200"])
    with pytest.raises(LimitError, match="no point within the bounds"):
        next(plan)


@pytest.mark.parametrize("name", ["cost_aware", "refill_twin_syringes"])
def test_the_plan_refuses_a_switch_that_is_not_true_or_false_before_its_first_message(reactor, name):
    from autolab.campaign import autonomous_campaign

    plan = autonomous_campaign(reactor, "msc437", WINDOW, budget=3, **{name: "no"})  # "no" would count as true
    with pytest.raises(LimitError) as info:
        next(plan)
    assert str(info.value) == f"{name}='no' must be True or False"


def test_a_refused_campaign_in_a_session_raises_one_line_without_bluesky_logging_its_traceback(tmp_path, caplog):
    from autolab.campaign import autonomous_campaign
    from autolab.runtime import open_session

    session = open_session(str(tmp_path / "cat"), analyze=False, progress=False)
    try:
        with caplog.at_level("DEBUG", logger="bluesky"), pytest.raises(LimitError, match="must be a constraint text"):
            session.RE(autonomous_campaign(session.reactor, "msc437", WINDOW, budget=3, constraints=5))
    finally:
        session.close()
    assert not [r for r in caplog.records if r.name == "bluesky" and r.exc_info]  # no "Run aborted" record with a traceback


def test_cli_refuses_a_bad_constraint_in_one_line_and_writes_nothing(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "autolab", "campaign", "--constraint", "growth_temperature_c <= nucleation_temperature_c - 500",
         "--catalog", str(tmp_path / "never")],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "autolab: error: no point within the bounds (nucleation_temperature_c 20–350, growth_temperature_c 20–350, "
        "residence_time_s 0.625–600) satisfies all of the constraints 'growth_temperature_c <= nucleation_temperature_c - 500'; "
        "loosen a constraint or widen a bound"
    ]
    assert not (tmp_path / "never").exists()


@pytest.mark.slow
def test_cli_campaign_with_a_constraint_measures_only_points_that_satisfy_it(tmp_path):
    from autolab.catalog import find_runs, open_catalog

    catalog = tmp_path / "cat"
    result = subprocess.run(
        [sys.executable, "-m", "autolab", "campaign", "--budget", "4", "--initial-design", "2", "--seed", "1",
         "--bound", "nucleation_temperature_c=240:350", "--bound", "growth_temperature_c=200:350",
         "--bound", "residence_time_s=1.5:20:log", "--constraint", "growth_temperature_c <= nucleation_temperature_c - 30",
         "--catalog", str(catalog), "--json", "--report", str(tmp_path / "rep")],
        capture_output=True, text=True, timeout=400, check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    client = open_catalog(catalog)
    points = [r.metadata["start"] for r in find_runs(client, plan_name="measure_point", campaign_id=out["campaign_id"])]
    assert len(points) == 4
    assert sum(not p["design_point"] for p in points) == 2  # the model chose two of them
    for p in points:
        assert p["growth_temperature_c"] <= p["nucleation_temperature_c"] - 30 + 1e-9, p
    (start,) = [r.metadata["start"] for r in find_runs(client, plan_name="autonomous_campaign", campaign_id=out["campaign_id"])
                if r.metadata["start"]["campaign_role"] == "start"]
    assert start["campaign_settings"]["constraints"] == ["growth_temperature_c <= nucleation_temperature_c - 30"]
