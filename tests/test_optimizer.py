"""GPOptimizer: bluesky-adaptive protocols, reproducibility, batches, failures, Pareto sets."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from bluesky_adaptive.protocols import Checkpointable, Optimizer, SupportsStoppingCriteria, TrialFaultAware

from autolab.errors import LimitError
from autolab.optimize import GPOptimizer, default_initial_points
from autolab.optimize.acquisition import log_augmentation, log_h


def branin(x1, x2):
    a, b, c, r, s, t = 1.0, 5.1 / (4 * np.pi**2), 5 / np.pi, 6.0, 10.0, 1 / (8 * np.pi)
    return a * (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * np.cos(x1) + s


def run(opt, func, n):
    for _ in range(n):
        (s,) = opt.suggest(1)
        opt.ingest([{**s, "f": func(s)}])


def test_implements_the_bluesky_adaptive_protocols():
    opt = GPOptimizer({"x": (0, 1)}, {"f": "maximize"})
    for protocol in (Optimizer, TrialFaultAware, Checkpointable, SupportsStoppingCriteria):
        assert isinstance(opt, protocol)


@pytest.mark.slow
def test_finds_the_branin_minimum_within_30_experiments():
    """Branin's minimum is 0.397887; reach 90 % of the way from the initial design within 30."""
    opt = GPOptimizer({"x1": (-5, 10), "x2": (0, 15)}, {"f": "minimize"}, seed=0)
    run(opt, lambda s: branin(s["x1"], s["x2"]), 30)
    best = opt.get_best_points()[0][2]["f"]
    assert best < 0.397887 + 0.1


def test_log_h_is_finite_and_accurate_far_in_the_tail():
    z = np.array([-40.0, -10.0, -1.0, 0.0, 2.0])
    moderate = z[2:]
    direct = np.log(np.exp(-0.5 * moderate**2) / np.sqrt(2 * np.pi) + moderate * 0.5 * (1 + np.vectorize(math.erf)(moderate / np.sqrt(2))))
    values = log_h(z)
    assert np.all(np.isfinite(values))
    np.testing.assert_allclose(values[2:], direct, rtol=1e-10)
    # asymptote: h(z) ≈ φ(z)/z² for z → −∞
    assert values[0] == pytest.approx(-0.5 * 40.0**2 - 0.5 * np.log(2 * np.pi) - 2 * np.log(40.0), abs=1e-2)


def test_the_augmented_ei_factor_vanishes_where_the_noise_dominates_and_is_one_far_from_the_data():
    noise = 0.1
    sigma = np.array([noise, 2 * noise, 10 * noise, 1e3 * noise])  # predictive sd of a measurement ≥ the noise's
    np.testing.assert_allclose(np.exp(log_augmentation(sigma[1:], noise)), [0.5, 0.9, 0.999])
    assert log_augmentation(sigma[:1], noise)[0] == pytest.approx(math.log(1e-9), abs=0.01)  # a point known to the noise
    np.testing.assert_array_equal(log_augmentation(sigma, 0.0), 0.0)  # no noise learned: log EI unchanged


def test_the_effective_best_is_the_posterior_mean_of_the_measured_point_surest_to_be_high():
    """Huang et al.'s effective best (the ablation's ``gp-effective-best``): at the measured point
    that maximises μ − s, s the latent sd — here computed independently from the kernel without its
    WhiteKernel — and below the best measured value when that value is a lucky draw."""
    from sklearn.gaussian_process import GaussianProcessRegressor

    from autolab.optimize.gp import _noise_sd, default_kernel

    rng = np.random.default_rng(0)
    x = rng.random((20, 1))
    y = np.sin(6 * x[:, 0]) + rng.normal(0, 0.2, 20)
    gp = GaussianProcessRegressor(kernel=default_kernel(1), normalize_y=True, random_state=0).fit(x, y)
    noise_sd = _noise_sd(gp)
    assert 0.1 < noise_sd < 0.4  # the noise it learned, in the outputs' units
    latent = GaussianProcessRegressor(kernel=gp.kernel_.k1, normalize_y=True, optimizer=None, alpha=gp.kernel_.k2.noise_level).fit(x, y)
    mu, s = latent.predict(x, return_std=True)
    expected = mu[np.argmax(mu - s)]
    assert GPOptimizer._incumbent(gp, x, noise_sd) == pytest.approx(expected, rel=1e-6)
    assert expected < y.max()


class _TrustRegion(GPOptimizer):
    """GPOptimizer searching a TuRBO trust region (the ablation's ``gp-trust-region``)."""

    _trust_region = True


def test_the_trust_region_shrinks_after_steps_without_improvement_and_grows_after_three():
    """TuRBO's rule as docs/optimize.md states it: side 0.8 after the design, halved after max(4, d)
    steps without an improvement, doubled after three improvements in a row up to 1.6, started
    again at 0.8 below 0.5⁷; centred on the incumbent."""
    opt = _TrustRegion({"a": (0.0, 1.0), "b": (0.0, 1.0)}, {"f": "maximize"}, seed=0, max_trials=30, n_initial=5)
    x = np.full((40, 2), 0.5)
    x[2] = (0.5, 0.4)
    design = [0.0, 0.0, 1.0, 0.0, 0.0]

    def side(y):
        low, high = opt._trust_region_bounds(x[: len(y)], np.array(y, dtype=float), kernel=None)
        return high - low, (low + high) / 2

    assert side(design)[0] == pytest.approx([0.8, 0.8])
    assert side(design + [0.5] * 3)[0] == pytest.approx([0.8, 0.8])
    widths, centre = side(design + [0.5] * 4)
    assert widths == pytest.approx([0.4, 0.4])
    assert centre == pytest.approx([0.5, 0.4])
    assert side(design + [0.5] * 8)[0] == pytest.approx([0.2, 0.2])
    widths, centre = side(design + [0.5] * 4 + [2.0, 3.0, 4.0])
    assert widths == pytest.approx([0.8, 0.8])  # 0.4 doubled …
    assert centre == pytest.approx([0.5, 0.5])  # … around the new incumbent
    # Nine improvements reach the cap of 1.6 (clipped to the cube); four misses then halve it to 0.8.
    assert side(design + list(range(2, 11)) + [0.0] * 4)[0] == pytest.approx([0.8, 0.8])
    assert side(design + [0.5] * 24)[0] == pytest.approx([0.0125, 0.0125])  # six halvings
    assert side(design + [0.5] * 28)[0] == pytest.approx([0.8, 0.8])  # the seventh falls below 0.5⁷: start again



class _NarrowRegion(_TrustRegion):
    """The trust-region variant held to a fixed small box away from the optimum, to see that the model step obeys it."""

    def _trust_region_bounds(self, x_obs, y_obs, kernel):
        return np.array([0.70, 0.10]), np.array([0.75, 0.15])


@pytest.mark.parametrize(("cls", "inside"), [(_NarrowRegion, True), (GPOptimizer, False)])
def test_model_steps_of_the_trust_region_variant_stay_in_its_box(cls, inside):
    """Every model step of the variant lies in the box its trust region gives; the defaults' steps
    go to the optimum at (0.3, 0.7), outside it. The five-start refinement (``gp-acq-starts-5``)
    runs the same steps with more starts."""
    for starts in (1, 5):
        opt = type("Variant", (cls,), {"_acquisition_starts": starts, "_acquisition_maxiter": 50})(
            {"a": (0.0, 1.0), "b": (0.0, 1.0)}, {"f": "maximize"}, seed=0, max_trials=12, n_initial=5)
        run(opt, lambda s: -((s["a"] - 0.3) ** 2) - (s["b"] - 0.7) ** 2, 12)
        steps = np.array([t["x"] for t in opt.trials_.values()])[5:]
        in_box = np.all((steps >= [0.70, 0.10]) & (steps <= [0.75, 0.15]), axis=1)
        assert np.all(in_box) if inside else not np.any(in_box)


class _PlainLogEI(GPOptimizer):
    """GPOptimizer without the augmented-EI factor (the ablation's ``gp-plain-log-ei``)."""

    _augmented_ei = False


def _remeasurements(cls, seed: int, steps: int = 25) -> int:
    """Model steps within 0.02 (unit square) of an earlier point on a noisy peak (σ = 5 % of its height)."""
    noise = np.random.default_rng(seed)
    opt = cls({"x": (0.0, 1.0), "y": (0.0, 1.0)}, {"f": "maximize"}, seed=seed, max_trials=steps)
    run(opt, lambda s: math.exp(-((s["x"] - 0.3) ** 2 + (s["y"] - 0.6) ** 2) / (2 * 0.2**2)) + noise.normal(0, 0.05), steps)
    points = np.array([[t["params"]["x"], t["params"]["y"]] for t in opt.trials_.values()])
    return sum(np.min(np.linalg.norm(points[:i] - points[i], axis=1)) < 0.02 for i in range(opt.initial_points, steps))


def test_the_augmented_factor_reads_the_noise_in_the_outputs_units():
    """The model is scale-free (standardised outputs), so the factor must be: σ_ε and σ in one unit.
    Outputs 1000× larger give the same suggestions."""

    def points(scale: float) -> np.ndarray:
        noise = np.random.default_rng(4)
        opt = GPOptimizer({"x": (0.0, 1.0), "y": (0.0, 1.0)}, {"f": "maximize"}, seed=4, n_initial=5)
        run(opt, lambda s: scale * (math.exp(-((s["x"] - 0.3) ** 2 + (s["y"] - 0.6) ** 2) / 0.08) + noise.normal(0, 0.05)), 12)
        return np.array([[t["params"]["x"], t["params"]["y"]] for t in opt.trials_.values()])

    np.testing.assert_allclose(points(1000.0), points(1.0), atol=1e-3)


@pytest.mark.slow
def test_a_noisy_campaign_measures_its_incumbent_again_less_often_with_the_augmented_factor():
    """Log EI on a noisy peak keeps returning to the incumbent, whose value only the noise still
    blurs; the augmented factor (Huang et al. 2006) spends those steps elsewhere. Of 2 × 19 model
    steps (25 trials after a design of 6), 15 fall within 0.02 of an earlier point with it and 23
    without."""
    with_factor = sum(_remeasurements(GPOptimizer, seed) for seed in (0, 1))
    without = sum(_remeasurements(_PlainLogEI, seed) for seed in (0, 1))
    assert with_factor <= 17
    assert without >= 20
    assert without - with_factor >= 5


def test_same_seed_same_suggestions_and_restore_continues_identically(tmp_path):
    def make():
        return GPOptimizer({"T": (250.0, 320.0), "t": (1.5, 20.0, "log")}, {"f": "maximize"}, seed=7,
                           checkpoint_path=tmp_path / "opt.json")

    func = lambda s: -((s["T"] - 290) / 30) ** 2 - (math.log(s["t"] / 8.0)) ** 2  # noqa: E731
    a, b = make(), make()
    run(a, func, 8)
    run(b, func, 8)
    assert a.suggest(2) == b.suggest(2)
    a.checkpoint()
    restored = GPOptimizer.restore(tmp_path / "opt.json")
    assert restored.suggest(1) == a.suggest(1)


def test_batch_points_are_distinct_and_pending_ones_are_avoided():
    opt = GPOptimizer({"x": (0, 1), "y": (0, 1)}, {"f": "maximize"}, seed=0, n_initial=5)
    run(opt, lambda s: -(s["x"] - 0.5) ** 2 - (s["y"] - 0.5) ** 2, 6)
    batch = opt.suggest(3)
    xs = np.array([[s["x"], s["y"]] for s in batch])
    assert len({s["_id"] for s in batch}) == 3
    distances = [np.linalg.norm(xs[i] - xs[j]) for i in range(3) for j in range(i)]
    assert min(distances) > 1e-3


def test_failed_trials_are_not_suggested_again():
    opt = GPOptimizer({"x": (0, 1)}, {"f": "maximize"}, seed=0, n_initial=3)
    run(opt, lambda s: -((s["x"] - 0.8) ** 2), 4)
    (s,) = opt.suggest(1)
    opt.register_failures([s])
    run(opt, lambda s: -((s["x"] - 0.8) ** 2), 3)
    others = [t["params"]["x"] for tid, t in opt.trials_.items() if tid != s["_id"]]
    assert all(abs(x - s["x"]) > 0.01 for x in others)
    (nan_trial,) = opt.suggest(1)
    opt.ingest([{**nan_trial, "f": float("nan")}])
    assert opt.trials_[nan_trial["_id"]]["status"] == "failed"


def test_external_points_are_accepted_and_bounds_are_checked():
    opt = GPOptimizer({"x": (0, 1)}, {"f": "maximize"})
    opt.ingest([{"x": 0.25, "f": 1.0}])
    assert opt.get_best_points()[0][1] == {"x": 0.25}
    with pytest.raises(LimitError, match=re.escape("x=2.0 is outside the allowed range 0–1")):
        opt.ingest([{"x": 2.0, "f": 1.0}])


def test_two_objectives_give_a_pareto_set():
    opt = GPOptimizer({"x": (0, 1)}, {"a": "maximize", "b": "maximize"}, seed=0)
    opt.ingest([{"x": x, "a": x, "b": 1 - x} for x in (0.1, 0.5, 0.9)] + [{"x": 0.3, "a": 0.2, "b": 0.2}])
    front = {round(p["x"], 2) for _, p, _ in opt.get_best_points()}
    assert front == {0.1, 0.5, 0.9}
    assert len(opt.suggest(1)) == 1


def test_target_objective_aims_at_a_value():
    opt = GPOptimizer({"x": (0, 1)}, {"d": "maximize"}, target=3.0)
    opt.ingest([{"x": x, "d": 2 + 2 * x} for x in (0.1, 0.4, 0.9)])
    assert opt.get_best_points()[0][1]["x"] == 0.4


def test_stopping_criterion_is_the_budget():
    opt = GPOptimizer({"x": (0, 1)}, {"f": "maximize"}, max_trials=2)
    assert opt.should_stop() == (False, None)
    run(opt, lambda s: s["x"], 2)
    assert opt.should_stop() == (True, "budget of 2 trials used")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"parameters": {"x": (1, 0)}}, "parameter 'x': bounds (1.0, 0.0) must be finite with low < high"),
        ({"parameters": {"t": (0, 10, "log")}}, "parameter 't': a log-scaled parameter needs low > 0, got 0.0"),
        ({"objectives": {"f": "up"}}, "objective 'f': direction 'up' must be 'maximize' or 'minimize'"),
        ({"exploration": 1.0}, "exploration=1.0 must be a fraction of the model steps in 0 ≤ ε < 1"),
        ({"exploration": "often"}, "exploration=nan must be a fraction of the model steps in 0 ≤ ε < 1"),
    ],
)
def test_bad_construction_is_named(kwargs, message):
    args = {"parameters": {"x": (0, 1)}, "objectives": {"f": "maximize"}} | kwargs
    with pytest.raises(ValueError, match=re.escape(message)):
        GPOptimizer(args.pop("parameters"), args.pop("objectives"), **args)


def test_a_range_of_a_decade_or_more_is_searched_on_a_log_scale_unless_given_as_linear():
    opt = GPOptimizer({"r": (1.0, 20.0), "T": (240.0, 350.0), "x": (0.0, 5.0), "q": (1.0, 20.0, "linear")}, {"f": "maximize"})
    assert [(p.name, p.log) for p in opt.space.parameters] == [("r", True), ("T", False), ("x", False), ("q", False)]
    # The checkpoint stores the scale chosen, and the geometric mean of 1 and 20 is the middle of r's range.
    assert opt.state_dict()["parameters"]["r"] == [1.0, 20.0, "log"]
    assert opt.space.to_unit({"r": math.sqrt(20.0), "T": 240.0, "x": 0.0, "q": 1.0})[0] == pytest.approx(0.5)


def test_exploring_steps_follow_the_seed_and_survive_a_checkpoint(tmp_path):
    func = lambda s: math.exp(-(((s["x"] - 0.8) / 0.05) ** 2)) + 0.6 * math.exp(-(((s["x"] - 0.2) / 0.3) ** 2))  # noqa: E731

    def make(exploration):
        return GPOptimizer({"x": (0.0, 1.0)}, {"f": "maximize"}, seed=3, exploration=exploration, checkpoint_path=tmp_path / "e.json")

    greedy, exploring, again = make(0.0), make(0.5), make(0.5)
    for opt in (greedy, exploring, again):
        run(opt, func, 12)
    assert [t["x"] for t in exploring.trials_.values()] == [t["x"] for t in again.trials_.values()]
    assert [t["x"] for t in exploring.trials_.values()] != [t["x"] for t in greedy.trials_.values()]
    exploring.checkpoint()
    restored = GPOptimizer.restore(tmp_path / "e.json")
    assert restored.exploration == 0.5
    assert restored.suggest(2) == exploring.suggest(2)


def test_log_scaled_edges_round_trip_inside_the_bounds():
    """exp(log(20)) is 20.000000000000004: the corner of the cube must still map inside (1.5, 20)."""
    from autolab.optimize.space import ParameterSpace

    space = ParameterSpace({"t": (1.5, 20.0, "log"), "T": (240.0, 350.0)})
    for corner in ([1.0, 1.0], [0.0, 0.0], [1.0 - 1e-17, 1e-17]):
        values = space.from_unit(np.array(corner))
        assert 1.5 <= values["t"] <= 20.0
        assert 240.0 <= values["T"] <= 350.0
        np.testing.assert_allclose(space.to_unit(values), np.clip(corner, 0, 1), atol=1e-12)


@pytest.mark.parametrize(
    ("dim", "budget", "points"),
    [(3, None, 10), (3, 25, 6), (3, 30, 7), (3, 20, 5), (3, 6, 5), (1, 3, 5), (2, 30, 7), (6, None, 19), (6, 30, 7), (6, 40, 10),
     (6, 100, 19), (8, 20, 9)],
)
def test_the_default_design_is_3d_plus_1_points_at_most_a_quarter_of_the_budget_and_never_below_d_plus_1(dim, budget, points):
    assert default_initial_points(dim, budget) == points
    parameters = {f"x{i}": (0.0, 1.0) for i in range(dim)}
    assert GPOptimizer(parameters, {"y": "maximize"}, max_trials=budget).initial_points == points
    assert GPOptimizer(parameters, {"y": "maximize"}, max_trials=budget, n_initial=4).initial_points == 4


def test_a_checkpoint_keeps_the_design_size_it_started_with_when_the_default_rule_differs(tmp_path):
    """A state written before the design was capped by the budget (no ``initial_points``) had
    max(5, 3·d + 1); one written under the 40 % cap keeps its 13 points for six inputs."""
    parameters = {f"x{i}": (0.0, 1.0) for i in range(6)}
    opt = GPOptimizer(parameters, {"y": "maximize"}, seed=0, max_trials=30)
    assert opt.initial_points == 7
    state = opt.state_dict()
    assert state["initial_points"] == 7
    assert GPOptimizer.from_state(state).initial_points == 7
    assert GPOptimizer.from_state(state).state_dict()["n_initial"] is None  # the default stays the default
    capped = {**state, "initial_points": 13}
    assert GPOptimizer.from_state(capped).initial_points == 13
    older = {k: v for k, v in state.items() if k != "initial_points"}
    assert GPOptimizer.from_state(older).initial_points == 19


def test_the_design_starts_at_the_centre_of_the_domain_then_draws_sobol_points_and_resumes_past_them():
    """The first suggestion is the centre on the unit cube (a log-scaled input's geometric middle);
    a checkpoint continues the design; constraints that exclude the centre leave it out; and a
    campaign made before the centre came first, resumed during its design (its Sobol points
    registered without their indices), goes on with the next Sobol draw rather than one it measured."""
    from autolab.optimize.design import feasible_sobol

    parameters = {"t": (200.0, 300.0), "r": (1.0, 100.0, "log")}
    opt = GPOptimizer(parameters, {"y": "maximize"}, seed=3, max_trials=30)
    first, second = opt.suggest(2)
    assert (first["t"], first["r"]) == pytest.approx((250.0, 10.0))
    sobol = feasible_sobol(2, 3, 4)[1]
    assert opt.space.to_unit({k: second[k] for k in parameters}) == pytest.approx(sobol[0])
    restored = GPOptimizer.from_state(opt.state_dict())
    assert restored.suggest(1)[0]["t"] == pytest.approx(opt.suggest(1)[0]["t"])

    off_centre = GPOptimizer(parameters, {"y": "maximize"}, seed=3, constraints=["t <= 240"]).suggest(1)[0]
    assert off_centre["t"] <= 240.0

    older = {**GPOptimizer(parameters, {"y": "maximize"}, seed=3, max_trials=30).state_dict()}
    del older["centre_first"], older["hyperparameter_prior"]
    before = GPOptimizer.from_state(older)

    def unit(opt):
        (s,) = opt.suggest(1)
        return opt.space.to_unit({k: s[k] for k in parameters})

    assert unit(before) == pytest.approx(sobol[0])
    assert unit(GPOptimizer(parameters, {"y": "maximize"}, seed=3, max_trials=30, centre_first=False)) == pytest.approx(sobol[0])
    for name in ("centre_first", "map_fit"):
        with pytest.raises(ValueError, match=f"^{name}='no' must be True or False$"):
            GPOptimizer(parameters, {"y": "maximize"}, **{name: "no"})
    resumed = GPOptimizer(parameters, {"y": "maximize"}, seed=3, max_trials=30)  # the centre first, now the default
    resumed.register_suggestions([before.space.from_unit(sobol[0]), before.space.from_unit(sobol[1])])
    assert unit(resumed) == pytest.approx(sobol[2])


def test_the_default_fit_is_map_under_botorchs_priors_and_an_old_state_keeps_maximum_likelihood():
    """Six inputs, one without effect, 14 points: maximum likelihood sends length scales to their
    bound (100), inputs with an effect among them; the priors keep every one below it. A state
    written before the MAP fit was the default goes on fitting by maximum likelihood."""
    rng = np.random.default_rng(0)
    parameters = {f"x{i}": (0.0, 1.0) for i in range(6)}

    def fitted(opt):
        for _ in range(14):
            (s,) = opt.suggest(1)
            x = np.array([s[f"x{i}"] for i in range(6)])
            opt.ingest([{"_id": s["_id"], "y": float(-np.sum((x[:5] - 0.4) ** 2) + rng.normal(0, 1e-3))}])
        return opt.kernel_

    kernel = fitted(GPOptimizer(parameters, {"y": "maximize"}, seed=0, max_trials=30))
    assert np.all(kernel.k1.k2.length_scale < 90)
    older = GPOptimizer(parameters, {"y": "maximize"}, seed=0, max_trials=30).state_dict()
    del older["hyperparameter_prior"]
    kernel = fitted(GPOptimizer.from_state(older))
    assert np.sum(kernel.k1.k2.length_scale > 99) >= 2
    # map_fit=False asks for maximum likelihood in so many words, and a checkpoint keeps it.
    chosen = GPOptimizer(parameters, {"y": "maximize"}, seed=0, max_trials=30, map_fit=False)
    assert GPOptimizer.from_state(chosen.state_dict()).state_dict()["hyperparameter_prior"] is False
    assert np.sum(fitted(chosen).k1.k2.length_scale > 99) >= 2


class _OnTheEdge(GPOptimizer):
    """GPOptimizer without the move off the bounds of unresolved inputs (the ablation's ``gp-on-the-edge``)."""

    _edge_correction = False


class _NoTolerance(GPOptimizer):
    """GPOptimizer whose move off the edge may cost the acquisition any factor."""

    _edge_tolerance = math.inf


def _z_of_model_steps(cls, trend: float) -> tuple[list[float], float]:
    """Model-step values of ``z`` on a peak in (x, y) times (1 + trend·z), and the learned length scale of z."""
    opt = cls({"x": (0.0, 1.0), "y": (0.0, 1.0), "z": (0.0, 1.0)}, {"f": "maximize"}, seed=0, max_trials=25)
    run(opt, lambda s: math.exp(-((s["x"] - 0.3) ** 2 + (s["y"] - 0.6) ** 2) / (2 * 0.15**2)) * (1.0 + trend * s["z"]), 25)
    trials = list(opt.trials_.values())[opt.initial_points:]
    return [t["params"]["z"] for t in trials], opt.summary()["length_scales"]["z"]


@pytest.mark.slow
def test_an_input_the_model_has_not_resolved_is_not_pinned_to_its_bounds_but_a_learned_trend_keeps_its_edge():
    """Boundary over-exploration: along an input without effect (its length scale runs to the bound
    of 100) the acquisition peaks at 0 or 1, where the posterior variance is largest. Suggestions
    there move to a random value when that costs the acquisition less than a factor 2."""
    on_bounds = lambda zs: sum(z <= 0.01 or z >= 0.99 for z in zs)  # noqa: E731
    kept, scale = _z_of_model_steps(_OnTheEdge, trend=0.0)
    assert scale > 10.0
    assert on_bounds(kept) >= 10, kept  # 13 of 15 model steps on a bound of z without the move
    moved, _ = _z_of_model_steps(GPOptimizer, trend=0.0)
    assert on_bounds(moved) <= 9, moved  # 7 of 15 with it
    # Without the augmented-EI factor the move keeps 3 of 15 on a bound (12 without the move). The
    # factor, log(1 − σ_ε/σ), is steep where σ is near the noise — next to the data, where a model
    # step exploits — and there the slightly larger variance at the bound weighs more than a factor 2.
    alone, _ = _z_of_model_steps(_PlainLogEI, trend=0.0)
    assert on_bounds(alone) <= 4, alone
    # A trend towards z = 1 that the model has learned keeps its edge although z is still
    # unresolved (length scale ≥ 1): the edge's acquisition is more than twice a random value's,
    # and the campaign ends at z = 1 — 4 of its last 5 steps, none without the tolerance.
    with_trend, scale = _z_of_model_steps(GPOptimizer, trend=0.5)
    assert scale >= 1.0
    assert sum(z >= 0.99 for z in with_trend[-5:]) >= 3, with_trend
    without_tolerance, _ = _z_of_model_steps(_NoTolerance, trend=0.5)
    assert sum(z >= 0.99 for z in without_tolerance[-5:]) <= 1, without_tolerance


def test_a_kernel_of_another_shape_suggests_and_summarises_without_length_scales():
    """Length scales (summary, the edge move) are read only from a kernel shaped as the default;
    another kernel's model steps run without the move and its summary leaves them out."""
    from sklearn.gaussian_process.kernels import RBF, Matern, WhiteKernel

    mixed = 1.0 * RBF([0.3, 0.3]) + 1.0 * Matern([0.3, 0.3], nu=1.5) + WhiteKernel(1e-3)
    opt = GPOptimizer({"x": (0.0, 1.0), "z": (0.0, 1.0)}, {"f": "maximize"}, seed=2, kernel=mixed, n_initial=5)
    run(opt, lambda s: math.exp(-(((s["x"] - 0.4) / 0.2) ** 2)), 8)
    summary = opt.summary()
    assert summary["n_complete"] == 8
    assert "length_scales" not in summary
    assert "noise_level" not in summary
    default = GPOptimizer({"x": (0.0, 1.0), "z": (0.0, 1.0)}, {"f": "maximize"}, seed=2, n_initial=5)
    run(default, lambda s: math.exp(-(((s["x"] - 0.4) / 0.2) ** 2)), 8)
    assert set(default.summary()["length_scales"]) == {"x", "z"}
    assert default.summary()["noise_level"] > 0


def test_an_optimiser_with_a_kernel_of_its_own_is_restored_with_it_and_refused_without(tmp_path):
    """A checkpoint of an optimiser made with ``kernel=`` continues identically when the same
    kernel is passed to ``restore``; without it, or with another kernel (or with one for a state made
    with the default kernel), the restore is refused with one line naming the kernel, not an
    IndexError from inside scikit-learn."""
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    def kernel():
        return ConstantKernel(1.0) * Matern(length_scale=0.3, nu=1.5) + WhiteKernel(1e-3)

    opt = GPOptimizer({"T": (250.0, 320.0), "t": (1.5, 20.0, "log")}, {"f": "maximize"}, seed=7, kernel=kernel(),
                      checkpoint_path=tmp_path / "opt.json")
    run(opt, lambda s: -((s["T"] - 290) / 30) ** 2 - (math.log(s["t"] / 8.0)) ** 2, 8)
    opt.checkpoint()
    restored = GPOptimizer.restore(tmp_path / "opt.json", kernel=kernel())
    assert restored.suggest(1) == opt.suggest(1)
    named = re.escape("made with kernel=1**2 * Matern(length_scale=0.3, nu=1.5) + WhiteKernel(noise_level=0.001); pass the same kernel")
    with pytest.raises(ValueError, match=named):
        GPOptimizer.restore(tmp_path / "opt.json")
    smoother = ConstantKernel(1.0) * Matern(length_scale=0.3, nu=2.5) + WhiteKernel(1e-3)
    with pytest.raises(ValueError, match=r"is not the kernel this optimiser was made with: kernel=1\*\*2 \* Matern\(length_scale=0.3, nu=1.5\)"):
        GPOptimizer.restore(tmp_path / "opt.json", kernel=smoother)
    default_made = GPOptimizer({"x": (0.0, 1.0)}, {"f": "maximize"}, seed=1)
    with pytest.raises(ValueError, match="not the kernel this optimiser was made with: the default kernel; restore it without kernel="):
        GPOptimizer.from_state(default_made.state_dict(), kernel=smoother)


def test_a_kernel_differing_only_in_its_bounds_is_refused_on_restore_naming_them(tmp_path):
    """scikit-learn's repr leaves the bounds out: a kernel with a floor on its noise restored an optimiser it did not make."""
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    def kernel(noise_floor):
        return ConstantKernel(1.0) * Matern(length_scale=0.3, nu=1.5) + WhiteKernel(1e-3, (noise_floor, 1.0))

    opt = GPOptimizer({"x": (0.0, 1.0)}, {"f": "maximize"}, seed=3, kernel=kernel(1e-6))
    assert repr(kernel(1e-6)) == repr(kernel(0.1))
    with pytest.raises(ValueError, match=re.escape("(its parameters differ: k2__noise_level_bounds (0.1, 1.0) here, (1e-06, 1.0) stored)")):
        GPOptimizer.from_state(opt.state_dict(), kernel=kernel(0.1))
    assert GPOptimizer.from_state(opt.state_dict(), kernel=kernel(1e-6)).suggest(1) == opt.suggest(1)


def test_an_acquisition_object_survives_a_checkpoint_with_its_settings(tmp_path):
    """UCB(β = 0.1) came back as UCB(β = 2) and suggested elsewhere; an object of the caller's could not be restored at all."""
    from autolab.optimize.acquisition import LogExpectedImprovement, UpperConfidenceBound

    for acquisition in (UpperConfidenceBound(beta=0.1), LogExpectedImprovement(xi=0.5)):
        opt = GPOptimizer({"T": (250.0, 320.0), "t": (1.5, 20.0, "log")}, {"f": "maximize"}, seed=7, acquisition=acquisition,
                          checkpoint_path=tmp_path / "opt.json")
        run(opt, lambda s: -((s["T"] - 290) / 30) ** 2 - (math.log(s["t"] / 8.0)) ** 2, 8)
        opt.checkpoint()
        restored = GPOptimizer.restore(tmp_path / "opt.json")
        assert restored.acquisition == acquisition
        assert restored.suggest(3) == opt.suggest(3)

    class PosteriorMean:
        name, log_scale = "mean", False

        def __call__(self, mu, sigma, best):
            return mu

    mine = GPOptimizer({"x": (0.0, 1.0)}, {"f": "maximize"}, seed=1, acquisition=PosteriorMean())
    with pytest.raises(ValueError, match=re.escape("made with an acquisition object of its own named 'mean'; pass the same object")):
        GPOptimizer.from_state(mine.state_dict())
    assert isinstance(GPOptimizer.from_state(mine.state_dict(), acquisition=PosteriorMean()).acquisition, PosteriorMean)
    with pytest.raises(ValueError, match="is named 'ucb', but this optimiser was made with acquisition 'mean'"):
        GPOptimizer.from_state(mine.state_dict(), acquisition="ucb")
    cautious = GPOptimizer({"x": (0.0, 1.0)}, {"f": "maximize"}, seed=1, acquisition=UpperConfidenceBound(beta=0.1))
    with pytest.raises(ValueError, match=re.escape("acquisition='ucb' has other settings than this optimiser was made with")):
        GPOptimizer.from_state(cautious.state_dict(), acquisition="ucb")  # β = 2 would replace the stored 0.1


def test_beyond_50_outcomes_the_model_is_relearned_once_they_have_grown_by_10_percent():
    """After a fit at 50 outcomes the next comes at 55 (1.1 × 50 is 55.000000000000007 in floating point: it waited for 56)."""
    opt = GPOptimizer({"x": (0.0, 1.0)}, {"f": "maximize"}, seed=2, n_initial=5)
    fits = []
    for _ in range(57):
        (s,) = opt.suggest(1)
        opt.ingest([{**s, "f": math.sin(6 * s["x"])}])
        if opt.kernel_fit_n_ not in fits:
            fits.append(opt.kernel_fit_n_)
    opt.suggest(1)
    fits.append(opt.kernel_fit_n_)
    assert [n for n in dict.fromkeys(fits) if n >= 48] == [48, 49, 50, 55]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n_initial": 0}, "n_initial=0 is outside the allowed range 1–100000 points"),
    ({"n_initial": -3}, "n_initial=-3 is outside the allowed range 1–100000 points"),
    ({"n_initial": 2.5}, "n_initial=2.5 must be a whole number of points in 1–100000"),
    ({"max_trials": 0}, "max_trials=0 is outside the allowed range 1–100000 points"),
    ({"max_trials": -5}, "max_trials=-5 is outside the allowed range 1–100000 points"),
    ({"seed": -1}, "seed=-1 must be a whole number ≥ 0"),
    ({"target": "a"}, "target='a' must be a finite number"),
    ({"target": math.inf}, "target=inf must be a finite number"),
])
def test_a_design_budget_or_seed_out_of_range_is_refused_when_the_optimiser_is_made(kwargs, message):
    with pytest.raises(LimitError) as info:
        GPOptimizer({"x": (0.0, 1.0)}, {"y": "maximize"}, **kwargs)
    assert str(info.value) == message


def test_an_outcome_with_a_misspelt_or_non_numeric_objective_is_refused_and_nothing_is_recorded():
    opt = GPOptimizer({"x": (0.0, 1.0), "w": (0.0, 1.0)}, {"y": "maximize"}, seed=0)
    (first,) = opt.suggest(1)
    with pytest.raises(ValueError, match=r"^outcome 2 of 2 lacks the objective 'y' and holds 'z', which is not one; give 'y'"):
        opt.ingest([{"_id": first["_id"], "y": 1.0}, {"x": 0.2, "w": 0.3, "z": 1.0}])
    with pytest.raises(ValueError, match=r"^outcome 1 of 1: y='high' is not a number \(None or NaN for a failed trial\)$"):
        opt.ingest([{"_id": first["_id"], "y": "high"}])
    assert opt.trials_[first["_id"]]["status"] == "pending"
    assert len(opt.trials_) == 1
    opt.ingest([{"_id": first["_id"]}])  # nothing but the _id: a failed trial, as documented
    assert opt.trials_[first["_id"]]["status"] == "failed"


def test_a_checkpoint_into_a_missing_folder_names_the_path_given(tmp_path):
    opt = GPOptimizer({"x": (0.0, 1.0)}, {"y": "maximize"}, checkpoint_path=tmp_path / "nodir" / "opt.json")
    with pytest.raises(LimitError) as info:
        opt.checkpoint()
    assert str(info.value) == f"checkpoint_path={tmp_path / 'nodir' / 'opt.json'}: the folder {tmp_path / 'nodir'} does not exist"


def test_the_centre_is_the_first_point_only_of_an_optimiser_that_knows_no_trial_in_either_design_order():
    """In sequence order and in the order of a move-time model alike: an empty optimiser's first
    design point is the centre (index −1); one that already knows a trial (an external point
    ingested first) draws Sobol points."""
    from autolab.optimize.design import CENTRE_INDEX, next_design_point

    def quick(points):
        return np.zeros(len(points))

    external = [{"x": [0.9, 0.1], "status": "complete"}]
    for move_time_s in (None, quick):
        x, index = next_design_point([], dim=2, seed=1, initial_points=5, centre_first=True, move_time_s=move_time_s)
        assert (index, x.tolist()) == (CENTRE_INDEX, [0.5, 0.5])
        _, index = next_design_point(external, dim=2, seed=1, initial_points=5, centre_first=True, move_time_s=move_time_s)
        assert index >= 0
