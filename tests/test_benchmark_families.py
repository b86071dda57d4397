"""The optimiser benchmark's problem families (benchmarks/families.py) are what their docstring says."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from families import FAMILIES, instance
from optimizer import paired_comparison

#: The share of the domain scoring ≥ 0.90 the module docstring states for seeds 0–5 (min, max).
STATED_SHARE = {"window-decoy-2": (0.029, 0.048), "window-decoy-3": (0.0026, 0.0053), "hartmann3-odd": (0.011, 0.012),
                "log-ridge-3": (0.0004, 0.0046), "hartmann6-odd": (0.0, 0.0001)}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_an_instance_is_drawn_from_its_seed_with_its_optimum_located(family):
    a, b, other = instance(family, 3), instance(family, 3), instance(family, 4)
    assert a.bounds == b.bounds
    assert a.f_opt == b.f_opt
    names = list(a.bounds)
    lows, highs = np.array([v[0] for v in a.bounds.values()]), np.array([v[1] for v in a.bounds.values()])
    sample = np.random.default_rng(0).random((2000, len(names)))
    values = np.array([a.f(dict(zip(names, lows + u * (highs - lows), strict=True))) for u in sample])
    assert values.max() <= a.f_opt + 1e-9  # no random point beats the located optimum
    assert a.score(a.f_opt) == 1.0
    assert a.score(a.f_median) == 0.0
    assert (a.f_opt, a.bounds) != (other.f_opt, other.bounds)  # another seed is another problem
    assert a.noise_sd == pytest.approx(FAMILIES[family]["noise"] * (a.f_opt - a.f_median))


@pytest.mark.parametrize("family", sorted(STATED_SHARE))
def test_the_share_of_the_domain_near_the_optimum_is_as_stated(family):
    low, high = STATED_SHARE[family]
    inst = instance(family, 0)
    names = list(inst.bounds)
    lows, highs = np.array([v[0] for v in inst.bounds.values()]), np.array([v[1] for v in inst.bounds.values()])
    sample = np.random.default_rng(0).random((20000, len(names)))
    share = np.mean([inst.score(inst.f(dict(zip(names, lows + u * (highs - lows), strict=True)))) >= 0.9 for u in sample])
    assert low * 0.8 <= share <= high * 1.2 + 1e-4


def test_the_paired_comparison_counts_seeds_and_brackets_the_median_difference():
    rng = np.random.default_rng(1)
    a = rng.uniform(0.9, 1.0, 24)
    same = paired_comparison(a, a)
    assert (same["wins"], same["losses"], same["median_difference"], same["ci_low"], same["ci_high"]) == (0, 0, 0.0, 0.0, 0.0)
    shifted = paired_comparison(a, a - 0.01)  # every resample's medians differ by exactly the shift
    assert (shifted["wins"], shifted["losses"]) == (24, 0)
    assert shifted["median_difference"] == pytest.approx(0.01)
    assert shifted["ci_low"] == pytest.approx(0.01)
    assert shifted["ci_high"] == pytest.approx(0.01)
    # Two draws of one distribution: the interval holds 0; a shift of five spreads: it does not.
    b = rng.uniform(0.9, 1.0, 24)
    alike = paired_comparison(a, b)
    assert alike["ci_low"] < 0.0 < alike["ci_high"]
    assert alike["wins"] + alike["losses"] <= 24
    apart = paired_comparison(a + 0.5, b)
    assert apart["ci_low"] > 0.3
    with pytest.raises(ValueError, match=r"equally long.*\(24,\) and \(23,\)"):
        paired_comparison(a, b[:-1])


def test_the_twin_campaign_is_scored_at_the_noise_free_value_of_its_best_measured_point():
    """benchmarks/cost.py, like optimizer.py: a lucky draw does not count as reaching the target —
    the point measured best is scored at its noise-free value, and the clock stops at the first
    point where that value reaches the target."""
    from cost import best_true, reach

    run = {"values": [None, 0.5, 0.97, 0.9, 0.99], "true": [0.1, 0.55, 0.91, 0.96, 0.98], "clock_s": [3600.0, 7200.0, 10800.0, 14400.0, 18000.0]}
    assert np.isnan(best_true(run)[0])
    assert best_true(run)[1:] == [0.55, 0.91, 0.91, 0.98]  # the 0.97 draw is a 0.91 point
    assert reach(run, 1.0, 0.95) == (5.0, 5.0)  # not at the third point, whose measured 0.97 was luck
    assert reach(run, 1.0, 0.90) == (3.0, 3.0)
    assert reach(run, 1.0, 0.99) == (np.inf, np.inf)


def test_the_cost_benchmark_pairs_the_seeds_and_never_counts_a_missed_target_as_quicker():
    """benchmarks/cost.py's seed-by-seed table: a run that never reaches the target counts budget + 1
    points and the longer of its seed's two whole-budget times, so a cost-aware run whose shorter
    budget ends without the target is not counted quicker than a plain run that reaches it late."""
    from cost import paired_rows

    def row(total, hours, points, final):
        return {"total_hours": total, "targets": {"0.98": {"hours": hours, "points": points}}, "final_score": final}

    # seeds 0-2: the cost-aware runs miss the target within 3.5 h; the plain runs reach it at 4.5 h of 5.
    plain = row([5.0, 5.0, 5.0, 5.0], [4.5, 4.5, 4.5, 1.0], [24.0, 24.0, 24.0, 5.0], [0.99, 0.98, 0.98, 0.99])
    aware = row([3.5, 3.5, 3.5, 3.5], [np.inf, np.inf, np.inf, 1.0], [np.inf, np.inf, np.inf, 5.0], [0.97, 0.97, 0.97, 0.99])
    paired = paired_rows(plain, aware, 0.98, 25)
    assert list(paired) == ["total_hours", "hours_to_0.98", "points_to_0.98", "final_score"]
    assert paired["total_hours"]["median_difference"] == pytest.approx(-1.5)
    assert paired["total_hours"]["ci_low"] == paired["total_hours"]["ci_high"] == pytest.approx(-1.5)
    hours = paired["hours_to_0.98"]  # aware counts 5.0 (the plain run's longer budget), not its own 3.5
    assert (hours["wins"], hours["losses"]) == (3, 0)  # "wins": seeds where the cost-aware value is larger
    assert hours["median_difference"] == pytest.approx(5.0 - 4.5)
    assert np.all(np.isfinite([hours["ci_low"], hours["ci_high"]]))
    points = paired["points_to_0.98"]  # 26 against 24
    assert (points["wins"], points["losses"], points["median_difference"]) == (3, 0, pytest.approx(2.0))
    assert paired["final_score"]["median_difference"] == pytest.approx(0.97 - 0.985)


@pytest.mark.parametrize("method", ["gp-ei-plain", "random", "sobol"])
def test_the_baselines_without_a_constraint_draw_their_design_and_model_points_anywhere(method):
    """Unconstrained, the baselines run a whole (short) campaign: their first design point is the
    first draw, and some points lie where the twin's constraint would not allow them."""
    from optimizer import TWIN_BOUNDS, make_method, twin_feasible

    runner = make_method(method, TWIN_BOUNDS, "maximize", 3, 14)
    points = []
    for _ in range(14):
        point = runner.suggest()
        points.append(point)
        runner.ingest(point, point["growth_temperature_c"] - point["nucleation_temperature_c"])
    assert not all(twin_feasible(p) for p in points)


@pytest.mark.parametrize("method", ["gp", "gp-ei-plain", "random", "sobol"])
def test_the_constrained_twin_problem_holds_every_method_to_palencias_region(method):
    """``twin-msc437-palencia``: every suggestion, design and model steps alike, has the growth
    oven no hotter than the chamber (on a cheap stand-in objective peaked outside that region)."""
    from optimizer import TWIN_BOUNDS, make_method, twin_feasible

    runner = make_method(method, TWIN_BOUNDS, "maximize", 3, 14, constrained=True)
    for _ in range(14):
        point = runner.suggest()
        params = {k: v for k, v in point.items() if not k.startswith("_")}
        assert twin_feasible(params), params
        runner.ingest(point, params["growth_temperature_c"] - params["nucleation_temperature_c"])


def test_a_method_without_the_constraint_is_refused_on_the_constrained_twin():
    from optimizer import TWIN_BOUNDS, make_method

    with pytest.raises(ValueError, match=r"'gp-on-the-edge' does not take the twin's constraint"):
        make_method("gp-on-the-edge", TWIN_BOUNDS, "maximize", 0, 25, constrained=True)


def test_the_five_point_design_variant_models_from_the_sixth_point_on():
    """``gp-design-5``: five design points, the centre and four Sobol points (Ax's default design), then model steps (which
    carry an acquisition value), where the defaults would still draw design points."""
    from optimizer import make_method

    bounds = {f"x{i}": (0.0, 1.0) for i in range(6)}
    runner = make_method("gp-design-5", bounds, "maximize", 0, 30)
    defaults = make_method("gp", bounds, "maximize", 0, 30)
    assert (runner.opt.initial_points, defaults.opt.initial_points) == (5, 7)
    previous = make_method("gp-previous-defaults", bounds, "maximize", 0, 30).opt
    assert (previous.initial_points, previous.centre_first, previous.map_fit) == (13, False, False)
    assert make_method("gp-design-40pct", bounds, "maximize", 0, 30).opt.initial_points == 13
    for _ in range(6):
        point = runner.suggest()
        runner.ingest(point, -sum((point[n] - 0.3) ** 2 for n in bounds))
    assert runner.opt.acquisition_value(point["_id"]) is not None
    assert [runner.opt.acquisition_value(t) for t in list(runner.opt.trials_)[:5]] == [None] * 5


@pytest.mark.parametrize(
    ("method", "nu", "signal_fixed", "prior"),
    [
        ("gp", 2.5, False, True),
        ("gp-max-likelihood", 2.5, False, False),
        ("gp-unit-signal-prior", 2.5, True, True),
        ("gp-botorch-model", np.inf, True, True),
        ("gp-botorch-model-no-factor", np.inf, True, True),
        ("gp-botorch-model-plain", np.inf, True, True),
        ("gp-input-warping", 2.5, False, False),
        ("gp-marginal-8-prior", 2.5, False, True),
    ],
)
def test_the_model_variants_fit_the_kernel_they_name(method, nu, signal_fixed, prior):
    """Each model variant's learned kernel after nine noise-free outcomes in three inputs:
    BoTorch's model is an RBF (Matern ν = ∞) with the signal variance held at 1; the warped
    variant keeps one warp per input; where BoTorch's priors are fitted the learned noise variance
    stays above 10⁻⁴, near the prior's mode, where maximum likelihood takes it towards its 10⁻⁶ floor."""
    from optimizer import make_method

    from autolab.optimize.warping import WarpedMatern

    bounds = {f"x{i}": (0.0, 1.0) for i in range(3)}
    runner = make_method(method, bounds, "maximize", 0, 12)
    for _ in range(9):
        point = runner.suggest()
        runner.ingest(point, -((point["x0"] - 0.3) ** 2) - 0.5 * (point["x1"] - 0.6) ** 2)
    kernel = runner.opt.kernel_
    assert kernel.k1.k2.nu == nu
    assert (kernel.k1.k1.constant_value == 1.0 and kernel.k1.k1.hyperparameter_constant_value.fixed) == signal_fixed
    assert isinstance(kernel.k1.k2, WarpedMatern) == (method == "gp-input-warping")
    if method == "gp-input-warping":
        assert np.size(kernel.k1.k2.warp_a) == np.size(kernel.k1.k2.warp_b) == 3
    assert (kernel.k2.noise_level > 1e-4) == prior


def test_the_defaults_start_at_the_centre_and_the_no_centre_variant_with_its_sobol_design():
    from optimizer import make_method

    bounds = {"a": (0.0, 10.0), "b": (-3.0, -1.0), "c": (1.0, 2.0)}
    runner, without = make_method("gp", bounds, "maximize", 0, 30), make_method("gp-no-centre", bounds, "maximize", 0, 30)
    first = runner.suggest()
    assert {n: first[n] for n in bounds} == pytest.approx({"a": 5.0, "b": -2.0, "c": 1.5})
    runner.ingest(first, 1.0)
    second = runner.suggest()
    # the design's second point is the first Sobol draw, the no-centre variant's first point
    sobol_first = without.suggest()
    assert {n: second[n] for n in bounds} == pytest.approx({n: sobol_first[n] for n in bounds})
    assert {n: second[n] for n in bounds} != pytest.approx({"a": 5.0, "b": -2.0, "c": 1.5})


def test_the_ax_like_step_winsorizes_below_the_lower_tukey_fence_as_ax_does():
    """Eight values: q1 is the 2nd smallest (``method="lower"``: 1), q3 the 7th (``"higher"``: 6),
    so the fence is 1 − 1.5·5 = −6.5; only the outlier below it moves, up to the fence."""
    from botorch_step import winsorized

    y = np.array([-100.0, 1, 2, 3, 4, 5, 6, 7])
    assert winsorized(y).tolist() == [-6.5, 1, 2, 3, 4, 5, 6, 7]
    assert winsorized(np.array([5.0, -3, 4])).tolist() == [5.0, -3, 4]  # fence −3 − 1.5·8 = −15: nothing below it


def test_the_botorch_step_methods_name_the_venv_they_need_where_botorch_is_missing():
    from botorch_step import botorch_available
    from optimizer import BOTORCH_STEP_METHODS, make_method

    if botorch_available():
        pytest.skip("BoTorch is importable here (.venv-bench)")
    for method in BOTORCH_STEP_METHODS:
        with pytest.raises(ValueError, match=rf"method '{method}' needs BoTorch: run it with .venv-bench/bin/python"):
            make_method(method, {"x": (0.0, 1.0)}, "maximize", 0, 30)


def test_kept_runs_are_written_as_they_end_and_read_instead_of_run_again(tmp_path):
    """``--keep-runs DIR``: a long table (Ax takes minutes per seed) can be stopped and resumed."""
    from optimizer import run_family, run_jobs

    jobs = [("window-decoy-2", "random", 0), ("window-decoy-2", "random", 1)]
    # A run that raises does not take the finished ones with it: they are on disk as they end.
    with pytest.raises(KeyError, match="no-such-family"):
        run_jobs([jobs[0], ("no-such-family", "random", 0)], 1, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["window-decoy-2--random--0.json"]
    first = run_jobs(jobs, 1, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["window-decoy-2--random--0.json", "window-decoy-2--random--1.json"]
    assert first[jobs[0]]["scores"] == run_family(*jobs[0])["scores"]
    # A kept run is read, not run: mark one file; remove the other, which is then run again.
    marked = {"scores": [0.123], "suggest_s": [0.0]}
    (tmp_path / "window-decoy-2--random--0.json").write_text(json.dumps(marked))
    (tmp_path / "window-decoy-2--random--1.json").unlink()
    again = run_jobs(jobs, 1, tmp_path)
    assert again[jobs[0]] == marked
    assert again[jobs[1]]["scores"] == first[jobs[1]]["scores"]
    assert (tmp_path / "window-decoy-2--random--1.json").exists()


def test_the_cost_benchmark_refuses_targets_outside_a_fraction_of_the_grid_best():
    """benchmarks/cost.py --targets and --tolerance: one line naming the value and the range, before any campaign runs."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "cost.py"
    for option, value, says in (("--targets", "0.95,2", "--targets=0.95,2: each must be in (0, 1.2]"),
                                ("--targets", "high", "--targets=high: not comma-separated numbers"),
                                ("--targets", "0.951,0.954", "--targets=0.951,0.954: each must be a different whole percentage"),
                                ("--tolerance", "0.9", "--tolerance=0.9: must be a finite number > 1"),
                                ("--tolerance", "nan", "--tolerance=nan: must be a finite number > 1")):
        refused = subprocess.run([sys.executable, str(script), option, value], capture_output=True, text=True, timeout=120, check=False)
        assert refused.returncode == 2
        assert says in refused.stderr
        assert "Traceback" not in refused.stderr
