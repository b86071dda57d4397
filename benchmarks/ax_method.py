"""Ax's default generation strategy as a benchmark method, beside autolab's own optimiser.

``AxMethod(bounds, direction, seed)`` has the benchmark's one-point interface (``suggest()`` →
parameters, ``ingest(point, value)``) over Ax 1.x's ``Client``: ``configure_experiment`` with one
``RangeParameterConfig`` per bound (log scaling where the bound is ``(low, high, "log")``),
``configure_optimization`` on a single metric ``f`` (``-f`` to minimise), ``get_next_trials`` and
``complete_trial``. Nothing else is set: the generation strategy is Ax's default (a centre point and
Sobol trials, then BoTorch's modular GP with qLogNoisyExpectedImprovement), and values go in without a standard error,
so Ax infers the noise level itself. ``random_seed`` seeds the Client.

bluesky-adaptive's ``AxOptimizer`` wraps the same Client calls (with ``"_id"`` keys on the points);
this class calls the Client directly, so the benchmark depends on Ax alone (with Ax 1.3.1 both gave
the same first 9 suggestions for one seed on Hartmann-3).

PyTorch runs on one intra-op thread per process unless ``torch_threads`` says otherwise (``None``
leaves torch's default, one per core): the benchmark runs seeds in parallel processes, and on a
2-core machine under load two torch threads per process spin against each other (Hartmann-3,
seed 0, 30 evaluations, the same load: a median model-phase suggest of 1.0 s on one thread, 6.3 s
on torch's default two; the suggestions agree to the fourth decimal of the best value).

Ax needs PyTorch, which autolab does not install: ``scripts/bench-venv`` makes ``.venv-bench`` with
the ``bench`` extra. This module imports without Ax; :func:`ax_available` says whether Ax is there.
"""

from __future__ import annotations

import functools
import logging
import warnings


@functools.cache
def ax_available() -> bool:
    """Whether ax-platform (and so BoTorch and PyTorch) can be imported here."""
    try:
        _import_ax()
    except ImportError:
        return False
    return True


def _import_ax():
    """Import Ax's Client API with its log output (INFO lines on stderr, one at import) switched off."""
    logging.disable(logging.INFO)  # Ax logs at INFO while it is being imported
    try:
        from ax import Client, RangeParameterConfig
        from ax.utils.common.logger import set_ax_logger_levels
    finally:
        logging.disable(logging.NOTSET)
    set_ax_logger_levels(logging.ERROR)
    return Client, RangeParameterConfig


class AxMethod:
    """One Ax experiment with Ax's default generation strategy, suggesting one point at a time."""

    metric = "f"

    def __init__(self, bounds: dict[str, tuple], direction: str, seed: int, torch_threads: int | None = 1):
        if direction not in ("maximize", "minimize"):
            msg = f"direction must be 'maximize' or 'minimize', not {direction!r}"
            raise ValueError(msg)
        client_cls, range_config = _import_ax()
        if torch_threads is not None:
            import torch

            torch.set_num_threads(torch_threads)
        self.names = list(bounds)
        self.client = client_cls(random_seed=seed)
        parameters = [
            range_config(name=name, parameter_type="float", bounds=(float(b[0]), float(b[1])), scaling="log" if len(b) == 3 else "linear")
            for name, b in bounds.items()
        ]
        self.client.configure_experiment(parameters=parameters, name="autolab-benchmark")
        self.client.configure_optimization(objective=self.metric if direction == "maximize" else f"-{self.metric}")
        self._pending: dict[int, dict[str, float]] = {}

    def suggest(self) -> dict[str, float]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # BoTorch/GPyTorch numerical and input-scaling warnings
            ((index, parameters),) = self.client.get_next_trials(max_trials=1).items()
        point = {name: float(parameters[name]) for name in self.names}
        self._pending[index] = point
        return dict(point)

    def ingest(self, point: dict, value: float) -> None:
        """Complete the trial ``point`` came from (or attach it as a new trial if Ax did not suggest it)."""
        params = {name: float(point[name]) for name in self.names}
        index = next((i for i, p in self._pending.items() if p == params), None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if index is None:
                index = self.client.attach_trial(parameters=params)
            else:
                del self._pending[index]
            self.client.complete_trial(trial_index=index, raw_data={self.metric: float(value)})
