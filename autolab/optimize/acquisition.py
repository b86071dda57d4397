"""Acquisition functions on a GP posterior (mean ``mu``, standard deviation ``sigma``), maximised.

:class:`~autolab.optimize.GPOptimizer` takes one as its ``acquisition`` argument: an object with
``__call__(mu, sigma, best)`` returning the values to maximise, a ``name`` (stored in the
optimiser's state) and ``log_scale`` (True when the values are logarithms, so a probability of
feasibility is added as its log rather than multiplied). :data:`ACQUISITIONS` names the built-in
ones; any object of that shape works.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import erfcx, log_ndtr

from ..errors import LimitError

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


def log_h(z: np.ndarray) -> np.ndarray:
    """log(φ(z) + zΦ(z)), accurate for very negative z (via the scaled complementary error function).

    For z < 0, φ(z) + zΦ(z) = φ(z)·(1 + z·m(z)) with the Mills ratio m(z) = √(π/2)·erfcx(−z/√2);
    for z ≥ 0 the direct form is stable.
    """
    z = np.asarray(z, dtype=float)
    log_phi = -0.5 * z**2 - _LOG_SQRT_2PI
    out = np.empty_like(z)
    neg = z < 0
    mills = np.sqrt(np.pi / 2.0) * erfcx(-z[neg] / np.sqrt(2.0))
    out[neg] = log_phi[neg] + np.log(np.maximum(1.0 + z[neg] * mills, 1e-300))
    pos = ~neg
    out[pos] = np.log(np.exp(log_phi[pos]) + z[pos] * np.exp(log_ndtr(z[pos])))
    return out


def log_expected_improvement(mu, sigma, best, xi: float = 0.0) -> np.ndarray:
    """log EI for maximisation: log σ + log h((μ − best − ξ)/σ) (Ament et al. 2023, "LogEI")."""
    sigma = np.maximum(np.asarray(sigma, dtype=float), 1e-12)
    return np.log(sigma) + log_h((np.asarray(mu) - best - xi) / sigma)


def log_augmentation(sigma, noise_sd) -> np.ndarray:
    """log(1 − σ_ε/σ): the augmented-EI factor (Huang, Allen, Notz and Zeng 2006, "Global optimization
    of stochastic black-box systems via sequential kriging meta-models", J. Global Optim. 34, 441).

    ``sigma`` is the predictive standard deviation of a measurement — the latent function's
    posterior variance plus the noise variance σ_ε², as scikit-learn's GP with a ``WhiteKernel``
    predicts it — so 1 − σ_ε/σ is Huang's 1 − σ_ε/√(s² + σ_ε²). It goes to 0 where the model already
    knows the latent value to well within the noise, such as next to a point measured many times
    (σ is held above σ_ε by a relative 10⁻⁹, so the log stays above about −21), and to 1 far from
    the data; added to log EI it keeps noisy campaigns from measuring next to their incumbent
    again and again. Zero noise leaves log EI unchanged.
    """
    sigma = np.asarray(sigma, dtype=float)
    noise_sd = float(noise_sd)
    if noise_sd <= 0.0:
        return np.zeros_like(sigma)
    return np.log(1.0 - noise_sd / np.maximum(sigma, noise_sd * (1.0 + 1e-9)))


def upper_confidence_bound(mu, sigma, beta: float = 2.0) -> np.ndarray:
    """μ + β·σ."""
    return np.asarray(mu) + beta * np.asarray(sigma)


@dataclass(frozen=True)
class LogExpectedImprovement:
    """log EI over the best value seen (:func:`log_expected_improvement`)."""

    xi: float = 0.0
    name: str = "log_ei"
    log_scale: bool = True

    def __call__(self, mu, sigma, best) -> np.ndarray:
        return log_expected_improvement(mu, sigma, best, self.xi)


@dataclass(frozen=True)
class UpperConfidenceBound:
    """μ + β·σ (:func:`upper_confidence_bound`); ``best`` is not used."""

    beta: float = 2.0
    name: str = "ucb"
    log_scale: bool = False

    def __call__(self, mu, sigma, best) -> np.ndarray:
        return upper_confidence_bound(mu, sigma, self.beta)


#: The built-in acquisitions by name (the names campaigns store and the CLI offers).
ACQUISITIONS = {"log_ei": LogExpectedImprovement(), "ucb": UpperConfidenceBound()}


def resolve_acquisition(acquisition):
    """The acquisition object for a name in :data:`ACQUISITIONS`, or ``acquisition`` itself if callable.

    Raises
    ------
    LimitError
        Naming the value and the built-in names (a ``ValueError``).
    """
    if isinstance(acquisition, str):
        if acquisition in ACQUISITIONS:
            return ACQUISITIONS[acquisition]
    elif callable(acquisition):
        return acquisition
    msg = f"acquisition={acquisition!r} must be one of {', '.join(repr(n) for n in ACQUISITIONS)} or an acquisition object"
    raise LimitError(msg)
