"""Input warping (autolab.optimize.warping, the ablation's ``gp-input-warping``)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import beta as beta_distribution
from scipy.stats import qmc
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

from autolab.optimize import GPOptimizer
from autolab.optimize.gp import _length_scales
from autolab.optimize.warping import WarpedMatern, kumaraswamy_cdf


def _kernel(dim, **warp):
    matern = WarpedMatern([0.3] * dim, (1e-2, 1e2), 2.5, warp_a=[1.0] * dim, warp_b=[1.0] * dim, **warp)
    return ConstantKernel(1.0, (1e-3, 1e3)) * matern + WhiteKernel(1e-3, (1e-6, 1.0))


def test_the_warp_is_the_kumaraswamy_cdf():
    """Against scipy's beta distribution (an independent reader): Kumaraswamy(a, 1) is Beta(a, 1)
    and Kumaraswamy(1, b) is Beta(1, b); a = b = 1 is the identity."""
    x = np.linspace(0.01, 0.99, 50)[:, None]
    np.testing.assert_allclose(kumaraswamy_cdf(x, np.array([1.0]), np.array([1.0])), x, atol=1e-12)
    np.testing.assert_allclose(kumaraswamy_cdf(x, np.array([0.4]), np.array([1.0]))[:, 0], beta_distribution(0.4, 1).cdf(x[:, 0]), atol=1e-12)
    np.testing.assert_allclose(kumaraswamy_cdf(x, np.array([1.0]), np.array([2.5]))[:, 0], beta_distribution(1, 2.5).cdf(x[:, 0]), atol=1e-12)


def test_with_identity_warps_the_kernel_is_scikit_learns_matern():
    rng = np.random.default_rng(1)
    x, y = rng.random((7, 3)), rng.random((4, 3))
    plain = Matern([0.3, 0.5, 2.0], nu=2.5)
    warped = WarpedMatern([0.3, 0.5, 2.0], nu=2.5, warp_a=[1.0] * 3, warp_b=[1.0] * 3)
    np.testing.assert_allclose(warped(x, y), plain(x, y), atol=1e-9)


@pytest.mark.parametrize("shared", [False, True], ids=["one-warp-per-input", "one-shared-warp"])
def test_the_likelihood_gradient_matches_central_differences(shared):
    """Every hyperparameter's derivative of the log marginal likelihood — the length scales
    (Matern's own), the warps (the kernel's central differences) — against central differences
    of the likelihood itself, at a random θ."""
    rng = np.random.default_rng(2)
    x = rng.random((12, 2))
    y = np.sin(8 * x[:, 0] ** 0.3) + x[:, 1]
    kernel = _kernel(2)
    if shared:
        kernel = ConstantKernel(1.0) * WarpedMatern([0.3, 0.3], (1e-2, 1e2), 2.5, warp_a=1.0, warp_b=1.0) + WhiteKernel(1e-3)
    gp = GaussianProcessRegressor(kernel, normalize_y=True, optimizer=None).fit(x, y)
    theta = kernel.theta + rng.normal(0.0, 0.3, kernel.theta.size)
    _, gradient = gp.log_marginal_likelihood(theta, eval_gradient=True)
    numeric = [(gp.log_marginal_likelihood(theta + h) - gp.log_marginal_likelihood(theta - h)) / 2e-6 for h in np.eye(theta.size) * 1e-6]
    np.testing.assert_allclose(gradient, numeric, atol=1e-5)
    assert theta.size == (6 if shared else 8)  # signal, 2 length scales, a, b (one or two each), noise


def test_a_function_of_the_fourth_root_is_fitted_with_a_warp_that_stretches_the_low_end():
    """y = sin(3π·x^¼) oscillates fast near 0 and slowly near 1: the learned warp has a < 1 (it
    stretches the low end, as x^¼ does), b near 1, and from 16 points it predicts 400 held-out points
    with less than half the unwarped Matern's root-mean-square error (0.03 against 0.23)."""
    x = qmc.Sobol(1, seed=0).random(16)
    y = np.sin(3 * np.pi * x[:, 0] ** 0.25)
    test_x = np.linspace(0.001, 0.999, 400)[:, None]
    test_y = np.sin(3 * np.pi * test_x[:, 0] ** 0.25)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warped = GaussianProcessRegressor(_kernel(1), normalize_y=True, n_restarts_optimizer=2, random_state=0).fit(x, y)
        plain = GaussianProcessRegressor(
            ConstantKernel(1.0, (1e-3, 1e3)) * Matern([0.3], (1e-2, 1e2), nu=2.5) + WhiteKernel(1e-3, (1e-6, 1.0)),
            normalize_y=True, n_restarts_optimizer=2, random_state=0,
        ).fit(x, y)
    a, b = float(np.atleast_1d(warped.kernel_.k1.k2.warp_a)[0]), float(np.atleast_1d(warped.kernel_.k1.k2.warp_b)[0])
    assert a < 0.6
    assert 0.5 < b < 2.0
    warped_error = np.sqrt(np.mean((warped.predict(test_x) - test_y) ** 2))
    plain_error = np.sqrt(np.mean((plain.predict(test_x) - test_y) ** 2))
    assert warped_error < 0.5 * plain_error


def test_an_optimiser_on_the_warped_kernel_reads_its_length_scales_and_repeats_itself():
    """``GPOptimizer(kernel=…)`` with the warped kernel: the learned kernel keeps its warps, the
    optimiser reads one length scale per input from it (so the edge move and the augmented-EI
    factor stay on), and the same seed gives the same suggestions."""

    def run():
        opt = GPOptimizer({"a": (0.0, 1.0), "b": (0.0, 1.0)}, {"y": "maximize"}, seed=4, max_trials=12, kernel=_kernel(2))
        points = []
        for _ in range(12):
            (s,) = opt.suggest(1)
            opt.ingest([{"_id": s["_id"], "y": -((s["a"] ** 0.5 - 0.3) ** 2) - (s["b"] - 0.6) ** 2}])
            points.append((s["a"], s["b"]))
        return opt, points

    opt, points = run()
    assert isinstance(opt.kernel_.k1.k2, WarpedMatern)
    assert np.size(opt.kernel_.k1.k2.warp_a) == 2
    assert _length_scales(opt.kernel_, 2) is not None
    assert run()[1] == points
