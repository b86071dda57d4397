"""GPOptimizer's loop with BoTorch's model and acquisition in its model steps: a diagnostic method.

Ax's default generation strategy differs from the design these diagnostics run on (the former
default of :class:`autolab.optimize.GPOptimizer`, :func:`optimizer.former_initial_points`:
max(5, 3d + 1) Sobol points, at most 40 % of the budget but at least max(5, 2d + 1), where Ax
has a centre point and four Sobol points) and from GPOptimizer in its model (BoTorch's
``SingleTaskGP``: an RBF kernel without an output scale, the dimension-scaled length-scale prior
and a log-normal noise prior, outcomes standardised, where GPOptimizer fits a Matern kernel with
an output scale under the same priors), its acquisition (``qLogNoisyExpectedImprovement`` over the measured
points) and how it maximises it (``optimize_acqf``: 1024 raw samples, 20 L-BFGS-B restarts). This
method keeps everything of GPOptimizer but its model steps, which it hands to BoTorch's model and
acquisition as Ax sets them up, without Ax's outcome transforms (Ax winsorises outcomes below the
lower Tukey fence before standardising them); the benchmark's ``gp-botorch-step…`` methods
(``benchmarks/optimizer.py``, ``BOTORCH_STEP_METHODS``) run it on GPOptimizer's former design or on five
points, with or without Ax's centre point first and Ax's winsorisation, to separate these parts.

Like Ax, it needs PyTorch (``scripts/bench-venv`` makes ``.venv-bench``); :func:`botorch_available`
says whether BoTorch can be imported here. PyTorch runs one intra-op thread per process, as in
:mod:`ax_method`.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

from autolab.optimize import GPOptimizer


@functools.cache
def botorch_available() -> bool:
    """Whether BoTorch (and so PyTorch) can be imported here."""
    try:
        import botorch  # noqa: F401
    except ImportError:
        return False
    return True


def winsorized(y: np.ndarray) -> np.ndarray:
    """``y`` (maximised) with the values below the lower Tukey fence q1 − 1.5·IQR raised to it.

    Ax's ``Winsorize`` transform for a single maximised objective (``_get_tukey_cutoffs`` in Ax
    1.3.1's ``adapter/transforms/winsorize.py``: q1 with ``method="lower"``, q3 with ``"higher"``).
    """
    q1 = np.percentile(y, 25, method="lower")
    q3 = np.percentile(y, 75, method="higher")
    return np.maximum(y, q1 - 1.5 * (q3 - q1))


class CentreFirst:
    """Mixin for a GPOptimizer: with ``_ax_centre`` set, the first trial is the centre of the domain, as Ax's first.

    The Sobol design then continues at its second draw, as these diagnostics always did; they
    construct the optimiser with GPOptimizer's own centre point off (``centre_first=False``).
    """

    _ax_centre = False

    def _next_point(self):
        if self._ax_centre and not self.trials_:
            return np.full(self.space.dim, 0.5), None, None
        return super()._next_point()


class BoTorchStepOptimizer(CentreFirst, GPOptimizer):
    """GPOptimizer whose model steps are BoTorch's: ``SingleTaskGP`` fitted by ``fit_gpytorch_mll``,
    ``qLogNoisyExpectedImprovement`` over the measured points, maximised by ``optimize_acqf``.

    ``_ax_centre`` (:class:`CentreFirst`): the first trial is the centre of the domain, as Ax's
    first; ``_winsorize``: the outcomes go to the model through :func:`winsorized`, as Ax's do.

    Single objective, no constraints, failures or pending points: the benchmark's families need
    nothing more. Torch's generator is seeded from the optimiser's own at every model step, so a
    seed gives one run whichever runs the process made before.
    """

    _winsorize = False

    def _model_point(self, complete) -> tuple[np.ndarray, float]:
        import torch
        from botorch.acquisition.logei import qLogNoisyExpectedImprovement
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import SingleTaskGP
        from botorch.optim import optimize_acqf
        from gpytorch.mlls import ExactMarginalLogLikelihood

        torch.set_num_threads(1)  # one per benchmark process, as ax_method
        # Seeded at every step: the fit's retries, the acquisition's QMC sampler and the raw samples all
        # draw from torch's global generator, which a benchmark process shares between its runs.
        torch.manual_seed(int(self.rng_.integers(2**31 - 1)))
        x = torch.tensor(np.array([t["x"] for t in complete]), dtype=torch.float64)
        targets = winsorized(self._targets(complete)) if self._winsorize else self._targets(complete)
        y = torch.tensor(targets.reshape(-1, 1), dtype=torch.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # BoTorch's input-scaling and fitting warnings
            model = SingleTaskGP(x, y)  # outcomes standardised, BoTorch's default priors
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
            acquisition = qLogNoisyExpectedImprovement(model, X_baseline=x, prune_baseline=True)
            bounds = torch.tensor([[0.0] * x.shape[1], [1.0] * x.shape[1]], dtype=torch.float64)
            candidate, value = optimize_acqf(acquisition, bounds=bounds, q=1, num_restarts=20, raw_samples=1024)
        return candidate.detach().numpy()[0], float(value)

