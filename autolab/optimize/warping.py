"""Input warping: a Matern kernel on inputs passed through a learned Kumaraswamy CDF per input.

Snoek, Swersky, Zemel and Adams 2014, "Input warping for Bayesian optimization of non-stationary
functions" (ICML): each input x ∈ [0, 1] of the unit cube is mapped to w(x) = 1 − (1 − x^a)^b
before a stationary kernel sees it, with a and b learned beside the length scales. a = b = 1 is
the identity; a < 1 stretches the low end of the input (as a log scale does), b < 1 the high end,
and both together a sigmoid-like warp squeeze or stretch its middle. BoTorch's ``Warp`` input
transform is the same map. :class:`WarpedMatern` is a scikit-learn kernel, so
``GPOptimizer(kernel=…)`` takes it in place of the default kernel's Matern; the benchmark's
ablation variant ``gp-input-warping`` does (docs/optimize.md, "Measured").
"""

from __future__ import annotations

import numpy as np
from sklearn.gaussian_process.kernels import Hyperparameter, Matern

#: Inputs are held this far inside (0, 1) before warping: the CDF's derivative in a and b is
#: singular at the ends.
_EDGE = 1e-6
#: Step in ln a and ln b of the central differences of the kernel's gradient.
_STEP = 1e-5


def kumaraswamy_cdf(x: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 − (1 − x^a)^b per column of ``x`` (in [0, 1]), with one (a, b) per column."""
    x = np.clip(np.asarray(x, dtype=float), _EDGE, 1.0 - _EDGE)
    return 1.0 - (1.0 - x**a) ** b


class WarpedMatern(Matern):
    """``Matern`` on Kumaraswamy-warped inputs (see the module docstring); one (a, b) per input.

    Parameters
    ----------
    length_scale, length_scale_bounds, nu
        As scikit-learn's ``Matern``, on the warped inputs.
    warp_a, warp_b : array-like
        The warps' exponents, one per input (1: no warp), learned in ``warp_bounds``.
    warp_bounds : pair of float or "fixed"
        Bounds of every a and b (default 1/4–4).

    The gradient in ln ℓ is ``Matern``'s own; in ln a and ln b it is a central difference of the
    kernel matrix, 4·d more kernel evaluations per likelihood gradient.
    """

    def __init__(self, length_scale=1.0, length_scale_bounds=(1e-5, 1e5), nu=2.5, warp_a=1.0, warp_b=1.0, warp_bounds=(0.25, 4.0)):
        super().__init__(length_scale=length_scale, length_scale_bounds=length_scale_bounds, nu=nu)
        self.warp_a = warp_a
        self.warp_b = warp_b
        self.warp_bounds = warp_bounds

    @property
    def hyperparameter_warp_a(self):
        return Hyperparameter("warp_a", "numeric", self.warp_bounds, np.size(self.warp_a))

    @property
    def hyperparameter_warp_b(self):
        return Hyperparameter("warp_b", "numeric", self.warp_bounds, np.size(self.warp_b))

    @property
    def requires_vector_input(self):
        return True

    def is_stationary(self):
        """A warp makes the kernel depend on where two inputs lie, not only on their difference."""
        return False

    def _exponents(self, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """a and b, one of each per input (a shared exponent repeated), as new arrays."""
        return tuple(np.broadcast_to(np.asarray(v, dtype=float), (dim,)).copy() for v in (self.warp_a, self.warp_b))

    def _warp(self, x, a=None, b=None):
        x = np.atleast_2d(x)
        if a is None:
            a, b = self._exponents(x.shape[1])
        return kumaraswamy_cdf(x, a, b)

    def __call__(self, X, Y=None, eval_gradient=False):
        X = np.atleast_2d(X)
        warped_y = None if Y is None else self._warp(Y)
        if not eval_gradient:
            return super().__call__(self._warp(X), warped_y)
        if Y is not None:
            msg = "the gradient is only evaluated for Y=None (the kernel of X with itself)"
            raise ValueError(msg)
        K, gradient = super().__call__(self._warp(X), eval_gradient=True)
        parts = [gradient]
        a, b = self._exponents(X.shape[1])
        for which, hyperparameter in enumerate((self.hyperparameter_warp_a, self.hyperparameter_warp_b)):
            if hyperparameter.fixed:
                continue
            columns = []
            for i in range(hyperparameter.n_elements):  # one shared exponent moves every input's
                index = slice(None) if hyperparameter.n_elements == 1 else i
                up, down = [a.copy(), b.copy()], [a.copy(), b.copy()]
                up[which][index] *= np.exp(_STEP)
                down[which][index] *= np.exp(-_STEP)
                columns.append((super().__call__(self._warp(X, *up)) - super().__call__(self._warp(X, *down))) / (2.0 * _STEP))
            parts.append(np.stack(columns, axis=2))
        return K, np.concatenate(parts, axis=2)

    def __repr__(self):
        return (f"{super().__repr__()[:-1]}, warp_a=[{', '.join(f'{v:.3g}' for v in np.atleast_1d(self.warp_a))}], "
                f"warp_b=[{', '.join(f'{v:.3g}' for v in np.atleast_1d(self.warp_b))}])")
