"""Priors on the GP's hyperparameters: a maximum-a-posteriori fit instead of maximum likelihood.

:func:`dimension_scaled_prior` is BoTorch's default pair of priors (Hvarfner, Hellsten and Nardi
2024, "Vanilla Bayesian optimization performs great in high dimensions", ICML; BoTorch's
``get_covar_module_with_dim_scaled_prior`` and ``get_gaussian_likelihood_with_lognormal_prior``):
each length scale on the unit cube ℓ ~ LogNormal(√2 + ln(d)/2, √3), so the prior's typical length
grows with the number of inputs d, and the noise variance of the standardised outputs
σ²_ε ~ LogNormal(−4, 1). :func:`map_optimizer` hands it to scikit-learn's
``GaussianProcessRegressor`` as its ``optimizer``. ``GPOptimizer`` fits any kernel of the default's
shape this way unless given ``map_fit=False`` (maximum likelihood: the benchmark's ablation variant
``gp-max-likelihood``, docs/optimize.md).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize

#: The log-normal's scale (σ of ln ℓ) for every length scale, and its location without the ln(d)/2 term.
LENGTH_SCALE_SIGMA = math.sqrt(3.0)
LENGTH_SCALE_MU0 = math.sqrt(2.0)
#: The noise variance's log-normal (μ, σ of ln σ²_ε), on standardised outputs.
NOISE_MU, NOISE_SIGMA = -4.0, 1.0


def length_scale_mode(dim: int) -> float:
    """The length scale the prior favours most, e^(μ − σ²): 0.35 for three inputs, 0.50 for six."""
    return math.exp(LENGTH_SCALE_MU0 + 0.5 * math.log(dim) - LENGTH_SCALE_SIGMA**2)


def has_free_signal_variance(kernel) -> bool:
    """Whether a kernel shaped as the default learns its signal variance (θ's first entry), or holds it fixed as BoTorch's model does."""
    return not kernel.k1.k1.hyperparameter_constant_value.fixed


def _neg_log_lognormal(log_x: np.ndarray, mu: float, sigma: float, of_log: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """−log LogNormal(x; μ, σ) up to a constant, and its derivative, in ln x.

    (ln x − μ)²/2σ² + ln x: the last term is the density's Jacobian, which puts the mode at
    e^(μ − σ²) rather than at the median e^μ (for six inputs 0.50 rather than 10.1). A prior
    written as a normal on ln x alone would pull every length scale to the median. With
    ``of_log`` it is that normal: −log of the density of ln x itself, which is what a sampler
    that moves in ln x draws from.
    """
    jacobian = 0.0 if of_log else 1.0
    return (log_x - mu) ** 2 / (2.0 * sigma**2) + jacobian * log_x, (log_x - mu) / sigma**2 + jacobian


def dimension_scaled_prior(theta: np.ndarray, dim: int, *, signal_variance: bool = True, of_log: bool = False) -> tuple[float, np.ndarray]:
    """−log p(θ) up to a constant, and its gradient, for the default kernel's θ.

    ``theta`` is scikit-learn's ``kernel.theta`` for ``ConstantKernel × Matern(d length scales) +
    WhiteKernel``: ln of the signal variance (no prior), then the d length scales, then the
    noise variance; with ``signal_variance=False`` (the signal variance fixed, as BoTorch's model
    has none) the d length scales and the noise variance. The priors are densities of the
    length scales and the noise variance themselves, as BoTorch's MAP fit uses them; with
    ``of_log`` densities of their logarithms (:func:`_neg_log_lognormal`), for a sampler in ln θ.
    """
    theta = np.asarray(theta, dtype=float)
    first = int(signal_variance)
    if theta.shape != (dim + 1 + first,):
        layout = "with its signal variance" if signal_variance else "with its signal variance fixed"
        msg = f"theta has {theta.size} entries; the default kernel of {dim} inputs {layout} has {dim + 1 + first}"
        raise ValueError(msg)
    grad = np.zeros_like(theta)
    mu = LENGTH_SCALE_MU0 + 0.5 * math.log(dim)
    ls_value, grad[first:first + dim] = _neg_log_lognormal(theta[first:first + dim], mu, LENGTH_SCALE_SIGMA, of_log)
    noise_value, grad[-1] = _neg_log_lognormal(theta[-1], NOISE_MU, NOISE_SIGMA, of_log)
    return float(np.sum(ls_value) + noise_value), grad


def map_optimizer(dim: int, *, signal_variance: bool = True):
    """An ``optimizer`` for ``GaussianProcessRegressor``: L-BFGS-B on −log marginal likelihood − log prior.

    ``signal_variance``: whether the kernel's θ holds its signal variance (:func:`dimension_scaled_prior`).
    Returns the MAP θ and the value there (−log posterior up to a constant), as scikit-learn
    expects of a callable optimizer; its restarts compare those values.
    """

    def optimizer(obj_func, initial_theta, bounds):
        def neg_log_posterior(theta):
            value, grad = obj_func(theta, eval_gradient=True)
            prior, prior_grad = dimension_scaled_prior(theta, dim, signal_variance=signal_variance)
            return value + prior, grad + prior_grad

        res = minimize(neg_log_posterior, initial_theta, jac=True, method="L-BFGS-B", bounds=bounds)
        return res.x, float(res.fun)

    return optimizer


def log_posterior(gp, dim: int) -> float:
    """A fitted regressor's log marginal likelihood plus the log prior at its θ (up to a constant): what a MAP fit maximises.

    The likelihood is computed afresh: after a fit with a callable optimizer scikit-learn stores
    the optimizer's own value (here the log posterior) as ``log_marginal_likelihood_value_``.
    """
    theta = gp.kernel_.theta
    prior = dimension_scaled_prior(theta, dim, signal_variance=has_free_signal_variance(gp.kernel_))[0]
    return float(gp.log_marginal_likelihood(theta)) - prior
