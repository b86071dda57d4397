"""BoTorch's priors as a MAP fit (autolab.optimize.priors, GPOptimizer's default; the ablation's ``gp-max-likelihood`` fits without them)."""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
import pytest
from scipy.stats import lognorm, norm
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

from autolab.optimize import GPOptimizer
from autolab.optimize.gp import default_kernel
from autolab.optimize.priors import dimension_scaled_prior, length_scale_mode, log_posterior, map_optimizer


@pytest.mark.parametrize("dim", [1, 3, 6])
@pytest.mark.parametrize("signal", [1, 0], ids=["free-signal-variance", "fixed-signal-variance"])
def test_the_prior_is_botorchs_log_normal_density_with_its_jacobian(dim, signal):
    """−log p(θ) differs from scipy's log-normal densities (an independent reader) by one constant,
    its gradient from central differences by < 1e-6, and its mode is e^(μ − σ²) — 0.50 for six
    inputs, the value BoTorch starts its length scales from — not the median e^μ = 10.1. θ holds
    the signal variance first (no prior on it) or, fixed as in BoTorch's model, not at all. As
    densities of ln θ (``of_log``, what a sampler in ln θ draws from) they are normal densities."""
    mu = math.sqrt(2) + math.log(dim) / 2
    rng = np.random.default_rng(dim)
    offsets, log_offsets = [], []
    for _ in range(5):
        theta = rng.uniform(-4, 4, dim + 1 + signal)
        value, grad = dimension_scaled_prior(theta, dim, signal_variance=bool(signal))
        scipy_value = -(np.sum(lognorm.logpdf(np.exp(theta[signal:signal + dim]), s=math.sqrt(3), scale=math.exp(mu)))
                        + lognorm.logpdf(math.exp(theta[-1]), s=1.0, scale=math.exp(-4.0)))
        offsets.append(value - scipy_value)
        steps = np.eye(theta.size) * 1e-6
        numeric = [(dimension_scaled_prior(theta + h, dim, signal_variance=bool(signal))[0]
                    - dimension_scaled_prior(theta - h, dim, signal_variance=bool(signal))[0]) / 2e-6 for h in steps]
        np.testing.assert_allclose(grad, numeric, atol=1e-6)
        if signal:
            assert grad[0] == 0.0  # no prior on the signal variance
        # Of the logarithms: normal densities of ln ℓ and ln σ²_ε (scipy's norm), the Jacobian gone.
        log_value, log_grad = dimension_scaled_prior(theta, dim, signal_variance=bool(signal), of_log=True)
        log_offsets.append(log_value + np.sum(norm.logpdf(theta[signal:signal + dim], mu, math.sqrt(3))) + norm.logpdf(theta[-1], -4.0, 1.0))
        np.testing.assert_allclose(log_grad[signal:signal + dim], (theta[signal:signal + dim] - mu) / 3.0, atol=1e-12)
    assert np.ptp(offsets) < 1e-9
    assert np.ptp(log_offsets) < 1e-9
    mode = length_scale_mode(dim)
    assert mode == pytest.approx(math.exp(mu - 3.0))
    near = np.log(mode) + np.array([-1e-3, 0.0, 1e-3])
    values = [dimension_scaled_prior(np.r_[0.0, np.full(dim, t), -5.0], dim)[0] for t in near]
    assert values[1] < values[0]
    assert values[1] < values[2]
    if dim == 6:
        assert mode == pytest.approx(0.50, abs=0.005)


def test_a_theta_of_the_wrong_length_is_refused_with_the_counts():
    with pytest.raises(ValueError, match="theta has 4 entries; the default kernel of 3 inputs with its signal variance has 5"):
        dimension_scaled_prior(np.zeros(4), 3)
    with pytest.raises(ValueError, match="theta has 5 entries; the default kernel of 3 inputs with its signal variance fixed has 4"):
        dimension_scaled_prior(np.zeros(5), 3, signal_variance=False)


def test_the_map_fit_holds_an_input_without_effect_off_the_bound_that_maximum_likelihood_runs_to():
    """15 points in three inputs, the third without effect: maximum likelihood sends its length
    scale to the bound (100 on the unit cube) and the noise to its floor (1e-6); the MAP fit keeps
    it finite but still the longest, with a noise near the prior's, and it has the higher
    posterior while maximum likelihood has the higher likelihood. (The bounds are the default
    kernel's; scikit-learn's fit without restarts is deterministic.)"""
    rng = np.random.default_rng(0)
    x = rng.random((15, 3))
    y = np.sin(6 * x[:, 0]) + 0.5 * x[:, 1] + 0.01 * rng.normal(size=15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = GaussianProcessRegressor(default_kernel(3), normalize_y=True, random_state=0).fit(x, y)
        mapped = GaussianProcessRegressor(default_kernel(3), normalize_y=True, optimizer=map_optimizer(3), random_state=0).fit(x, y)
    ml_scales, map_scales = ml.kernel_.k1.k2.length_scale, mapped.kernel_.k1.k2.length_scale
    assert ml_scales[2] == pytest.approx(100.0)
    assert ml.kernel_.k2.noise_level == pytest.approx(1e-6)
    assert 1.0 < map_scales[2] < 30.0
    assert np.argmax(map_scales) == 2
    assert map_scales[0] < 1.0
    assert 1e-4 < mapped.kernel_.k2.noise_level < 0.1
    for fitted in (ml, mapped):  # the prior is counted once, whichever way the model was fitted
        theta = fitted.kernel_.theta
        assert log_posterior(fitted, 3) == pytest.approx(fitted.log_marginal_likelihood(theta) - dimension_scaled_prior(theta, 3)[0])
    assert log_posterior(mapped, 3) > log_posterior(ml, 3)
    assert ml.log_marginal_likelihood(ml.kernel_.theta) > mapped.log_marginal_likelihood(mapped.kernel_.theta)


_WithPrior = functools.partial(GPOptimizer, map_fit=True)
_MaxLikelihood = functools.partial(GPOptimizer, map_fit=False)


def test_an_optimiser_with_the_prior_learns_finite_length_scales_and_repeats_itself():
    """The switch reaches the campaign's fit: after 14 outcomes on a function of one input of
    three, no learned length scale sits on the 100 bound (maximum likelihood puts both idle
    inputs there), and the same seed gives the same suggestions."""

    def run(cls):
        opt = cls({"a": (0.0, 1.0), "b": (0.0, 1.0), "c": (0.0, 1.0)}, {"y": "maximize"}, seed=3, max_trials=20)
        points = []
        for _ in range(14):
            (s,) = opt.suggest(1)
            opt.ingest([{"_id": s["_id"], "y": -((s["a"] - 0.3) ** 2)}])
            points.append((s["a"], s["b"], s["c"]))
        return opt.kernel_.k1.k2.length_scale, points

    scales, points = run(_WithPrior)
    default_scales, _ = run(_MaxLikelihood)
    assert np.sum(np.isclose(default_scales, 100.0)) == 2
    assert np.all(scales < 50.0)
    assert run(_WithPrior)[1] == points


def test_with_a_kernel_of_another_layout_the_prior_steps_aside():
    """A kernel shaped as the default but with one shared length scale has 3 hyperparameters, not
    d + 2: the switch leaves it to maximum likelihood instead of failing inside the fit."""
    kernel = ConstantKernel(1.0) * Matern(length_scale=0.3, nu=2.5) + WhiteKernel(1e-3)
    opt = _WithPrior({"a": (0.0, 1.0), "b": (0.0, 1.0)}, {"y": "maximize"}, seed=1, kernel=kernel, n_initial=5)
    for _ in range(8):
        (s,) = opt.suggest(1)
        opt.ingest([{"_id": s["_id"], "y": -((s["a"] - 0.3) ** 2) - (s["b"] - 0.6) ** 2}])
    assert opt.kernel_.theta.size == 3
    assert len(opt.predict([{"a": 0.3, "b": 0.6}])[0]) == 1


def test_the_prior_reaches_a_kernel_whose_signal_variance_is_fixed():
    """BoTorch's layout — the signal variance fixed at 1, one length scale per input — is fitted
    under the prior: the idle inputs' length scales stay off the 100 bound that maximum likelihood
    runs them to, the signal variance stays 1 and the noise stays off its floor."""
    kernel = ConstantKernel(1.0, "fixed") * Matern(length_scale=[0.3] * 3, length_scale_bounds=(1e-2, 1e2), nu=2.5) + WhiteKernel(1e-3, (1e-6, 1.0))

    def run(cls):
        opt = cls({"a": (0.0, 1.0), "b": (0.0, 1.0), "c": (0.0, 1.0)}, {"y": "maximize"}, seed=3, max_trials=20, kernel=kernel)
        for _ in range(14):
            (s,) = opt.suggest(1)
            opt.ingest([{"_id": s["_id"], "y": -((s["a"] - 0.3) ** 2)}])
        return opt.kernel_

    fitted, ml = run(_WithPrior), run(_MaxLikelihood)
    assert fitted.theta.size == 4
    assert fitted.k1.k1.constant_value == 1.0
    assert np.all(fitted.k1.k2.length_scale < 50.0)
    assert fitted.k2.noise_level > 1e-4
    assert np.sum(np.isclose(ml.k1.k2.length_scale, 100.0)) >= 1
