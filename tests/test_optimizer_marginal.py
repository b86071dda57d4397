"""Hyperparameter marginalisation (``GPOptimizer._marginal_samples``, the ablation's ``gp-marginal-…`` variants)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.special import logsumexp
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

from autolab.optimize import GPOptimizer
from autolab.optimize.acquisition import log_augmentation, log_expected_improvement
from autolab.optimize.gp import _noise_sd


class _Marginal(GPOptimizer):
    _marginal_samples = 4


def test_the_slice_sampler_draws_the_length_scale_posterior_of_a_one_hyperparameter_model():
    """One free hyperparameter (the length scale; signal variance and noise fixed) on ten points:
    the exact posterior of ln ℓ under a flat prior within the kernel's bounds, integrated on a grid
    of 4000 points from the regressor's own likelihood, against 400 draws of the sampler — mean
    within 0.1 and standard deviation within 25 %, and every draw within the bounds."""
    rng = np.random.default_rng(4)
    x = rng.random((10, 1))
    y = np.sin(5 * x[:, 0]) + 0.05 * rng.normal(size=10)
    kernel = ConstantKernel(1.0, "fixed") * Matern(0.3, (1e-2, 1e2), nu=2.5) + WhiteKernel(1e-2, "fixed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gp = GaussianProcessRegressor(kernel, normalize_y=True, random_state=0).fit(x, y)
    grid = np.linspace(math.log(1e-2), math.log(1e2), 4000)
    log_like = np.array([gp.log_marginal_likelihood(np.array([t])) for t in grid])
    weights = np.exp(log_like - log_like.max())
    weights /= weights.sum()
    exact_mean = float(np.sum(weights * grid))
    exact_sd = math.sqrt(float(np.sum(weights * (grid - exact_mean) ** 2)))

    opt = GPOptimizer({"a": (0.0, 1.0)}, {"y": "maximize"}, seed=2)
    opt._marginal_samples = 400
    draws = np.array([model.kernel_.theta[0] for model in opt._hyperparameter_samples(gp)])
    assert draws.size == 400
    assert np.all((draws >= math.log(1e-2)) & (draws <= math.log(1e2)))
    assert np.mean(draws) == pytest.approx(exact_mean, abs=0.1)
    assert np.std(draws) == pytest.approx(exact_sd, rel=0.25)


def test_a_marginalised_suggestion_carries_the_mean_of_the_samples_acquisitions_and_repeats_itself():
    """Each model step averages the augmented log-EI over the drawn models: the acquisition value
    recorded with a suggestion is log of the mean of the samples' EI (each with its own noise's
    augmented factor) at the suggested point, recomputed here from the models the step drew. The
    samples differ, and the same seed gives the same suggestions."""

    def f(s):
        return -((s["a"] - 0.3) ** 2) - 0.5 * (s["b"] - 0.7) ** 2

    def run():
        drawn = []

        class Recording(_Marginal):
            def _hyperparameter_samples(self, gp):
                models = super()._hyperparameter_samples(gp)
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
                models = drawn[-1]
                x = np.array([trial["x"]])
                per_model = []
                for model in models:
                    mu, sd = model.predict(x, return_std=True)
                    per_model.append(log_expected_improvement(mu, sd, best)[0] + log_augmentation(sd, _noise_sd(model))[0])
                # abs: L-BFGS-B may end a hair outside the cube, and the point is clipped after
                assert trial["acquisition"] == pytest.approx(float(logsumexp(per_model) - math.log(len(models))), abs=1e-6)
        return points, drawn

    points, drawn = run()
    assert len(drawn) == 12 - 5  # every model step after the five design points
    assert all(len(models) == 4 for models in drawn)
    thetas = np.array([m.kernel_.theta for m in drawn[-1]])
    assert np.ptp(thetas, axis=0).max() > 0.01
    assert run()[0] == points
