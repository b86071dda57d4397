"""Hyperparameter marginalisation (``GPOptimizer._marginal_samples``, the ablation's ``gp-marginal-…`` variants)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

from autolab.optimize import GPOptimizer


class _Marginal(GPOptimizer):
    _marginal_samples = 4


def _fitted(kernel, n=10, seed=4):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 1))
    y = np.sin(5 * x[:, 0]) + 0.05 * rng.normal(size=n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GaussianProcessRegressor(kernel, normalize_y=True, random_state=0).fit(x, y), x, y


def _grid_moments(log_density, axes):
    """Posterior means and standard deviations of each coordinate from a density on a grid."""
    mesh = np.meshgrid(*axes, indexing="ij")
    values = np.vectorize(lambda *t: log_density(np.array(t)))(*mesh)
    weights = np.exp(values - values.max())
    weights /= weights.sum()
    means = [float(np.sum(weights * m)) for m in mesh]
    sds = [math.sqrt(float(np.sum(weights * (m - mean) ** 2))) for m, mean in zip(mesh, means, strict=True)]
    return np.array(means), np.array(sds)


def test_the_slice_sampler_draws_the_length_scale_posterior_of_a_one_hyperparameter_model():
    """One free hyperparameter (the length scale; signal variance and noise fixed) on ten points:
    the exact posterior of ln ℓ under a flat prior within the kernel's bounds, integrated on a grid
    of 4000 points from the regressor's own likelihood, against 400 draws of the sampler — mean
    within 0.1 and standard deviation within 25 %, and every draw within the bounds."""
    gp, x, y = _fitted(ConstantKernel(1.0, "fixed") * Matern(0.3, (1e-2, 1e2), nu=2.5) + WhiteKernel(1e-2, "fixed"))
    (exact_mean,), (exact_sd,) = _grid_moments(lambda t: gp.log_marginal_likelihood(t), [np.linspace(math.log(1e-2), math.log(1e2), 4000)])
    opt = GPOptimizer({"a": (0.0, 1.0)}, {"y": "maximize"}, seed=2)
    opt._marginal_samples = 400
    draws = np.array([model.kernel_.theta[0] for model in opt._hyperparameter_samples(gp, x, y)])
    assert draws.size == 400
    assert np.all((draws >= math.log(1e-2)) & (draws <= math.log(1e2)))
    assert np.mean(draws) == pytest.approx(exact_mean, abs=0.1)
    assert np.std(draws) == pytest.approx(exact_sd, rel=0.25)


def test_under_botorchs_priors_the_sampler_draws_the_posterior_of_the_logarithms():
    """Two free hyperparameters (length scale and noise; the signal variance fixed, BoTorch's
    layout) under BoTorch's priors: the posterior of (ln ℓ, ln σ²_ε) — the likelihood times the
    log-normal priors written as densities of the logarithms, the normal densities of scipy's
    ``norm`` — integrated on a 120 × 120 grid, against 400 draws that move in both coordinates at
    once: means within 0.15, standard deviations within 30 %."""
    kernel = ConstantKernel(1.0, "fixed") * Matern(0.3, (1e-2, 1e2), nu=2.5) + WhiteKernel(1e-2, (1e-6, 1.0))
    gp, x, y = _fitted(kernel, n=8, seed=6)
    mu = math.sqrt(2.0)  # BoTorch's location for one input: √2 + ln(1)/2

    def log_posterior(t):
        return gp.log_marginal_likelihood(t) + norm.logpdf(t[0], mu, math.sqrt(3.0)) + norm.logpdf(t[1], -4.0, 1.0)

    axes = [np.linspace(math.log(1e-2), math.log(1e2), 120), np.linspace(math.log(1e-6), 0.0, 120)]
    exact_means, exact_sds = _grid_moments(log_posterior, axes)

    class WithPrior(GPOptimizer):
        _marginal_samples = 400

    opt = WithPrior({"a": (0.0, 1.0)}, {"y": "maximize"}, seed=3, map_fit=True)
    draws = np.array([model.kernel_.theta for model in opt._hyperparameter_samples(gp, x, y)])
    assert draws.shape == (400, 2)
    np.testing.assert_allclose(draws.mean(axis=0), exact_means, atol=0.15)
    np.testing.assert_allclose(draws.std(axis=0), exact_sds, rtol=0.3)


def test_the_draws_come_from_the_outcomes_and_the_models_carry_the_pending_points():
    """With a pending suggestion, the likelihood the sampler draws from is the outcomes' alone (its
    regressor holds the completed trials), and each drawn model also holds the pending point at
    the value the kriging believer gives it."""
    seen = []

    class Recording(_Marginal):
        def _hyperparameter_samples(self, gp, x_train, y_train):
            models = super()._hyperparameter_samples(gp, x_train, y_train)
            seen.append((len(gp.X_train_), [len(m.X_train_) for m in models]))
            return models

    opt = Recording({"a": (0.0, 1.0), "b": (0.0, 1.0)}, {"y": "maximize"}, seed=5, n_initial=5)
    for _ in range(6):
        (s,) = opt.suggest(1)
        opt.ingest([{"_id": s["_id"], "y": -((s["a"] - 0.3) ** 2) - (s["b"] - 0.7) ** 2}])
    seen.clear()
    opt.suggest(2)  # the second point is chosen with the first pending
    assert seen == [(6, [6] * 4), (6, [7] * 4)]


def test_a_marginalised_suggestion_carries_the_mean_of_the_samples_expected_improvements_and_repeats_itself():
    """Each model step averages the augmented EI over the drawn models: the acquisition value
    recorded with a suggestion is log of the mean over the drawn models of EI·(1 − σ_ε/σ) at the
    suggested point — EI computed here from scipy's normal distribution, σ_ε from each model's
    learned noise. The drawn hyperparameters differ, and the same seed gives the same suggestions."""

    def f(s):
        return -((s["a"] - 0.3) ** 2) - 0.5 * (s["b"] - 0.7) ** 2

    def run():
        drawn = []

        class Recording(_Marginal):
            def _hyperparameter_samples(self, gp, x_train, y_train):
                models = super()._hyperparameter_samples(gp, x_train, y_train)
                drawn.append(models)
                return models

        opt = Recording({"a": (0.0, 1.0), "b": (0.0, 1.0)}, {"y": "maximize"}, seed=5, max_trials=14)
        points = []
        for _ in range(12):
            (s,) = opt.suggest(1)
            points.append((s["a"], s["b"]))
            best = max((t["outcomes"]["y"] for t in opt.trials_.values() if t["status"] == "complete"), default=None)
            trial = opt.trials_[s["_id"]]
            opt.ingest([{"_id": s["_id"], "y": f(s)}])
            if trial["acquisition"] is not None:
                improvement = []
                for model in drawn[-1]:
                    mu, sd = (v[0] for v in model.predict(np.array([trial["x"]]), return_std=True))
                    z = (mu - best) / sd
                    noise_sd = math.sqrt(model.kernel_.k2.noise_level) * float(np.atleast_1d(model._y_train_std)[0])
                    improvement.append(((mu - best) * norm.cdf(z) + sd * norm.pdf(z)) * (1.0 - noise_sd / sd))
                # abs: L-BFGS-B may end a hair outside the cube, and the point is clipped after
                assert trial["acquisition"] == pytest.approx(math.log(np.mean(improvement)), abs=1e-6)
        return points, drawn

    points, drawn = run()
    assert len(drawn) == 12 - 5  # every model step after the five design points
    assert all(len(models) == 4 for models in drawn)
    thetas = np.array([m.kernel_.theta for m in drawn[-1]])
    assert np.all(np.ptp(thetas, axis=0) > 0.01)  # every hyperparameter moves between draws
    assert run()[0] == points
