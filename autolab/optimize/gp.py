"""Gaussian-process Bayesian optimiser following bluesky-adaptive's optimiser protocols.

``GPOptimizer`` implements ``bluesky_adaptive.protocols.Optimizer`` (``suggest``, ``ingest``,
``get_best_points``) plus ``TrialFaultAware``, ``CanRegisterSuggestions``, ``Checkpointable`` and
``SupportsStoppingCriteria``.

Model: scikit-learn's ``GaussianProcessRegressor`` on inputs mapped to the unit cube (log-scaled
parameters in log space; a positive range of a decade or more is log-scaled unless given as
linear), outputs standardised (``normalize_y``), hyperparameters as MAP estimates under BoTorch's
dimension-scaled priors (:mod:`autolab.optimize.priors`; maximum likelihood for a kernel the
priors do not fit), re-learned at every new outcome (beyond 50 outcomes, when they grew by 10 %)
from both the previous kernel and the default one, keeping the likelier (the higher posterior,
under the MAP fit). The design before the
model is the centre of the domain, then scrambled-Sobol points: ``max(5, 3·d + 1)`` points, at
most a quarter of the budget (``max_trials``) but never fewer than ``max(5, d + 1)``. The
kernel is an argument; the default,
:func:`default_kernel`, is ``ConstantKernel × Matern(ν = 5/2, one length scale per input) +
WhiteKernel``.

Acquisition (an argument, see :mod:`autolab.optimize.acquisition`; maximised over 1024
scrambled-Sobol candidates plus perturbations of the five best points, then refined by L-BFGS-B
from the best candidate): ``"log_ei"`` (default), ``"ucb"`` (β = 2), or, with ``target=…``, the
acquisition on −|f − target| ("hit a target value"). With a kernel shaped as the default, the
built-in log-EI carries the augmented-EI factor log(1 − σ_ε/σ) of Huang et al. 2006
(:func:`~autolab.optimize.acquisition.log_augmentation`; σ_ε the noise the GP learned, σ the
predictive standard deviation), so a noisy campaign does not keep measuring next to its
incumbent; another kernel or acquisition object runs without it. Optionally a fraction of the model steps
(``exploration=``, default 0) explore instead: they draw a Sobol candidate with probability ∝
posterior variance (ε-greedy). With a log-scale acquisition and a kernel shaped as the default, a
suggestion on a bound of an input the model has not resolved (length scale ≥ 1 on the unit cube)
takes a random value of that input when that costs the acquisition less than a factor 2
(:meth:`GPOptimizer._off_the_edge`). Batches are chosen jointly by the
kriging believer: each chosen point is added at the posterior mean before the next is chosen, and
pending suggestions count the same way. Two objectives: each suggestion scalarises the
objectives (normalised to [0, 1] in the "better" direction) with random augmented-Chebyshev weights
(ParEGO, Knowles 2006); ``get_best_points`` returns the Pareto set.

Failed trials (``register_failures`` or a NaN outcome) are never suggested again (candidates within
0.02 of one in the unit cube are dropped) and, once there are failures and successes, a GP
classifier's probability of success multiplies EI (an unknown-constraint model).

Known constraints (``constraints=``, linear inequalities between inputs,
:mod:`autolab.optimize.constraints`) hold for every suggestion, the Sobol design
(:mod:`autolab.optimize.design`) included. A cost model (``cost_model=``,
:mod:`autolab.optimize.cost`) weighs each suggestion against the reactor's time to move there.
"""

from __future__ import annotations

import itertools
import json
import math
import uuid
import warnings
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp
from scipy.stats import qmc
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessClassifier, GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Matern, Product, Sum, WhiteKernel

from ..errors import LimitError, check_count, check_flag, check_output_file, check_seed
from .acquisition import ACQUISITIONS, LogExpectedImprovement, log_augmentation, resolve_acquisition
from .constraints import ConstraintSet, unit_to_values
from .cost import COST_TOLERANCE, ReactorCostModel, cost_cooling_alpha, quickest_order
from .design import feasible_sobol, next_design_point
from .priors import dimension_scaled_prior, has_free_signal_variance, log_posterior, map_optimizer
from .space import ParameterSpace

_DIRECTIONS = ("maximize", "minimize")
#: The default fraction of model steps that explore (``GPOptimizer(exploration=…)``).
DEFAULT_EXPLORATION = 0.0
#: A cost-aware choice also weighs the best this many candidates with heaters held where they are.
HELD_CANDIDATES = 256


class _PosteriorSpread:
    """The exploring steps' score: log of the posterior standard deviation."""

    name = "posterior_sd"
    log_scale = True

    def __call__(self, mu, sigma, best):
        return np.log(np.maximum(sigma, 1e-12))


#: An input whose learned length scale on the unit cube is at least this is one the model has not
#: resolved yet: it sees less than one length scale of change over the input's whole range
#: (:meth:`GPOptimizer._off_the_edge`).
UNRESOLVED_LENGTH_SCALE = 1.0
#: A suggestion within this distance of a bound (unit cube) of an unresolved input is "on the edge".
EDGE_MARGIN = 0.01
#: The edge value of an unresolved input is replaced by a random one when the acquisition
#: there is within this factor of the edge's.
EDGE_TOLERANCE = 2.0


#: The slice sampler of :meth:`GPOptimizer._hyperparameter_samples`: updates before the first draw,
#: and the most unit steps its stepping out takes along a direction (Neal 2003's m).
SLICE_BURN_IN = 10
SLICE_STEPS = 20

#: The largest design or budget an optimiser takes, points (a GP over this many is already minutes per step).
MAX_TRIALS = 100_000

#: The largest share of a known budget the default design takes (:func:`default_initial_points`).
DESIGN_BUDGET_SHARE = 0.25


def checked_outcomes(point: Mapping, objectives, known: Sequence[str], where: str) -> dict[str, float | None]:
    """``{objective: float or None}`` of one outcome, or ValueError naming ``where``, the objective and the value.

    A missing objective is None (a failed trial) unless ``point`` holds a key that is neither
    ``_id``, a name in ``known`` nor an objective: that is taken for a misspelt objective.
    """
    out = {}
    for name in objectives:
        value = point.get(name)
        if value is None and name not in point:
            unknown = sorted(str(k) for k in point if k != "_id" and k not in known and k not in objectives)
            if unknown:
                msg = (f"{where} lacks the objective {name!r} and holds {', '.join(map(repr, unknown))}, which is not one; "
                       f"give {name!r} (None or NaN for a failed trial)")
                raise ValueError(msg)
        try:
            out[name] = None if value is None else float(value)
        except (TypeError, ValueError):
            msg = f"{where}: {name}={value!r} is not a number (None or NaN for a failed trial)"
            raise ValueError(msg) from None
    return out


def _finite_number(field: str, value) -> float:
    """``value`` as a finite float, or :class:`LimitError` naming ``field``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        msg = f"{field}={value!r} must be a finite number"
        raise LimitError(msg)
    return number


def _acquisition_settings(acquisition) -> dict | None:
    """A built-in acquisition's fields (``{"name": "ucb", "beta": 0.1, …}``); None for any other object."""
    import dataclasses

    builtin = {type(a) for a in ACQUISITIONS.values()}
    return dataclasses.asdict(acquisition) if type(acquisition) in builtin else None


def _restored_acquisition(state: Mapping[str, Any], given):
    """The acquisition a state was made with: ``given`` (checked against the stored name), or the built-in one with its stored settings."""
    name, settings = state["acquisition"], state.get("acquisition_settings")
    if given is not None:
        resolved = resolve_acquisition(given)
        if resolved.name != name:
            msg = f"acquisition={given!r} is named {resolved.name!r}, but this optimiser was made with acquisition {name!r}"
            raise ValueError(msg)
        if settings is not None and _acquisition_settings(resolved) != settings:
            msg = (f"acquisition={given!r} has other settings than this optimiser was made with ({settings}); restore it "
                   "without acquisition= to get those")
            raise ValueError(msg)
        return given
    if name in ACQUISITIONS and settings is not None:
        return type(ACQUISITIONS[name])(**settings)
    if name in ACQUISITIONS and "acquisition_settings" not in state:
        return name  # a state from before the settings were kept: the built-in's defaults
    msg = (f"this optimiser was made with an acquisition object of its own named {name!r}; pass the same object to restore "
           "it (GPOptimizer.restore(path, acquisition=…) or from_state(state, acquisition=…))")
    raise ValueError(msg)


def _hyperparameter_values(kernel) -> dict[str, Any]:
    """A kernel's hyperparameters by name in their own scale (JSON-ready), for ``kernel.set_params``."""
    params = kernel.get_params(deep=True)
    return {h.name: np.asarray(params[h.name], dtype=float).tolist() for h in kernel.hyperparameters}


def _kernel_settings(kernel) -> dict[str, str]:
    """A kernel's parameters with their bounds, as text: what ``repr`` leaves out (scikit-learn's ``repr`` omits the bounds)."""
    return {key: repr(value) for key, value in sorted(kernel.get_params(deep=True).items()) if not hasattr(value, "get_params")}


def _settings_difference(given: Mapping[str, str], stored: Mapping[str, str]) -> str:
    keys = [k for k in sorted(set(given) | set(stored)) if given.get(k) != stored.get(k)]
    return "; ".join(f"{k} {given.get(k)} here, {stored.get(k)} stored" for k in keys[:3])


def default_initial_points(dim: int, budget: int | None = None) -> int:
    """Design points before the model is used (the centre, then Sobol), for ``dim`` inputs and a ``budget``.

    ``max(5, 3·d + 1)``; with a budget, at most :data:`DESIGN_BUDGET_SHARE` (a quarter) of it,
    but never fewer than ``max(5, d + 1)``: seven points for two, three or six inputs and a
    budget of 30, six for two or three inputs and a budget of 25. The MAP fit under BoTorch's priors learns from few
    points, and the model steps are what find an optimum in six inputs: on Hartmann-6 a design
    of 13 points leaves 17 model steps, and the optimiser loses hits (docs/optimize.md,
    "Measured").
    """
    points = max(5, 3 * dim + 1)
    if budget is not None:
        points = max(5, dim + 1, min(points, math.floor(DESIGN_BUDGET_SHARE * budget)))
    return points


def default_kernel(dim: int):
    """``ConstantKernel × Matern(ν = 5/2, one length scale per input) + WhiteKernel`` on the unit cube.

    Length scales start at 0.3 (bounded 0.01–100), the signal variance at 1 (0.001–1000) and the
    noise variance at 0.001 (10⁻⁶–1), all relative to the standardised outputs.
    """
    return ConstantKernel(1.0, (1e-3, 1e3)) * Matern(length_scale=[0.3] * dim, length_scale_bounds=(1e-2, 1e2), nu=2.5) + WhiteKernel(
        1e-3, (1e-6, 1e0)
    )


def _default_shaped(kernel) -> bool:
    """Whether ``kernel`` is shaped as :func:`default_kernel`: ``ConstantKernel × (Matern or RBF) + WhiteKernel``."""
    return (
        isinstance(kernel, Sum) and isinstance(kernel.k1, Product) and isinstance(kernel.k1.k1, ConstantKernel)
        and isinstance(kernel.k1.k2, RBF) and isinstance(kernel.k2, WhiteKernel)  # Matern is an RBF in scikit-learn
    )


def _noise_sd(gp) -> float | None:
    """The noise standard deviation a fitted GP learned, in the outputs' units (None unless its kernel is shaped as the default)."""
    if not _default_shaped(gp.kernel_):
        return None
    return math.sqrt(gp.kernel_.k2.noise_level) * float(np.atleast_1d(gp._y_train_std)[0])


def _takes_the_prior(kernel, dim: int) -> bool:
    """Whether BoTorch's priors (:func:`~autolab.optimize.priors.dimension_scaled_prior`) fit ``kernel``'s θ.

    It is shaped as :func:`default_kernel` with one free length scale per input and a free noise
    variance; its signal variance is free or fixed (BoTorch's model has none).
    """
    if not _default_shaped(kernel) or np.size(kernel.k1.k2.length_scale) != dim:
        return False
    return kernel.theta.size == dim + 1 + int(has_free_signal_variance(kernel)) and not kernel.k2.hyperparameter_noise_level.fixed


def _length_scales(kernel, dim: int) -> np.ndarray | None:
    """The length scales of a kernel shaped as :func:`default_kernel`, one per input (None for another shape)."""
    if not _default_shaped(kernel):
        return None
    scales = np.atleast_1d(np.asarray(kernel.k1.k2.length_scale, dtype=float))
    return np.broadcast_to(scales, (dim,)).copy() if scales.size in (1, dim) else None


class GPOptimizer:
    """Bayesian optimiser on a GP surrogate (see the module docstring).

    Parameters
    ----------
    parameters : mapping
        ``{"name": (low, high)}`` or ``{"name": (low, high, "log" | "linear")}``; without a scale,
        a positive range of a decade or more is searched on a log scale
        (:func:`~autolab.optimize.space.default_scale`).
    objectives : mapping
        ``{"name": "maximize" | "minimize"}``; one or two objectives.
    seed : int
        Seeds every random choice: the same seed and data give the same suggestions.
    acquisition : {"log_ei", "ucb"} or acquisition object
        A name in :data:`~autolab.optimize.acquisition.ACQUISITIONS`, or an object with
        ``__call__(mu, sigma, best)``, ``name`` and ``log_scale``.
    kernel : sklearn kernel, optional
        The GP's kernel on the unit cube (default :func:`default_kernel`); its hyperparameters
        are learned from the data.
    target : float, optional
        Aim the (single) objective at this value instead of maximising or minimising it.
    n_initial : int, optional
        Design points before the model is used: the centre of the domain, then scrambled Sobol
        points; default ``max(5, 3·d + 1)``, at most a quarter of ``max_trials`` but never fewer
        than ``max(5, d + 1)`` (:func:`default_initial_points`).
    max_trials : int, optional
        ``should_stop`` says stop once this many trials have completed or failed.
    checkpoint_path : path, optional
        Where :meth:`checkpoint` writes the state (JSON); :meth:`restore` reads it back.
    constraints : str, LinearConstraint or a sequence of them, optional
        Linear inequalities between the parameters in their own units, e.g.
        ``"growth_temperature_c <= nucleation_temperature_c"`` (one text alone is one constraint;
        :mod:`autolab.optimize.constraints`). Every suggestion satisfies them, design included;
        external points outside them are accepted.
    cost_model : ReactorCostModel, optional
        Cost-aware suggestions (:mod:`autolab.optimize.cost`, needs ``max_trials`` and a
        log-scale acquisition): the quickest point to move to and measure among those whose EI is
        within a factor 1.1^α of the best (:data:`~autolab.optimize.cost.COST_TOLERANCE`; the
        candidates include the best :data:`HELD_CANDIDATES` with heaters held where they are),
        from the last trial known, α falling from 1 to 0 over the budget; batches and the design
        are ordered to take least time. Default off.
    exploration : float
        Fraction of the model steps (0 ≤ ε < 1, default 0) that explore: such a step draws one
        of the acquisition's Sobol candidates with probability ∝ posterior variance instead of
        maximising the acquisition (ε-greedy; De Ath et al. 2021, "Greed is good: exploration and
        exploitation trade-offs in Bayesian optimisation", ACM TELO 1, 1). It finds a narrow
        optimum beside a broad decoy more often and a narrow ridge's crest less often
        (docs/optimize.md, "Measured").
    centre_first : bool
        The design begins with the centre of the domain on the unit cube (default True, as Ax's
        does); False: Sobol points alone.
    map_fit : bool
        Hyperparameters are MAP estimates under BoTorch's dimension-scaled priors
        (:func:`~autolab.optimize.priors.dimension_scaled_prior`) when the kernel is shaped as the
        default (default True); False: maximum likelihood.

    Examples
    --------
    >>> opt = GPOptimizer({"x": (0.0, 1.0)}, {"y": "maximize"}, seed=1)
    >>> (s,) = opt.suggest(1)
    >>> opt.ingest([{"_id": s["_id"], "y": -(s["x"] - 0.3) ** 2}])
    >>> len(opt.get_best_points())
    1
    """

    def __init__(
        self,
        parameters: Mapping[str, tuple],
        objectives: Mapping[str, str],
        *,
        seed: int = 0,
        acquisition="log_ei",
        kernel=None,
        target: float | None = None,
        n_initial: int | None = None,
        max_trials: int | None = None,
        checkpoint_path: str | Path | None = None,
        constraints: Sequence | None = None,
        cost_model: ReactorCostModel | None = None,
        exploration: float = DEFAULT_EXPLORATION,
        centre_first: bool = True,
        map_fit: bool = True,
    ):
        # Checks the bounds, naming a bad one, and the constraints against them.
        self.constraint_set = ConstraintSet(constraints, ParameterSpace(parameters))
        if cost_model is not None:
            if not isinstance(cost_model, ReactorCostModel):
                msg = f"cost_model={cost_model!r} must be a ReactorCostModel (autolab.optimize.cost)"
                raise ValueError(msg)
            if max_trials is None:
                msg = "cost_model needs max_trials (the budget over which α cools)"
                raise ValueError(msg)
            if not resolve_acquisition(acquisition).log_scale:
                name = getattr(resolve_acquisition(acquisition), "name", acquisition)
                msg = (f"cost-aware suggestions (cost_model) weigh log-EI values: acquisition={name!r} cannot be cost-aware; "
                       "give acquisition='log_ei' or leave the costs out")
                raise LimitError(msg)
        self.cost_model = cost_model
        try:
            exploration = float(exploration)
        except (TypeError, ValueError):
            exploration = math.nan
        if not 0.0 <= exploration < 1.0:
            msg = f"exploration={exploration!r} must be a fraction of the model steps in 0 ≤ ε < 1"
            raise ValueError(msg)
        self.exploration = exploration
        #: Whether the design begins with the centre of the domain (on the unit cube), as Ax's does.
        self.centre_first = check_flag("centre_first", centre_first)
        #: Whether hyperparameters are MAP estimates under BoTorch's priors (:func:`~autolab.optimize.priors.dimension_scaled_prior`)
        #: rather than maximum likelihood (with a kernel the priors fit, :func:`_takes_the_prior`).
        self.map_fit = check_flag("map_fit", map_fit)
        if not objectives or len(objectives) > 2:
            msg = f"objectives={dict(objectives)!r}: give one or two objectives"
            raise ValueError(msg)
        for name, direction in objectives.items():
            if direction not in _DIRECTIONS:
                msg = f"objective {name!r}: direction {direction!r} must be 'maximize' or 'minimize'"
                raise ValueError(msg)
        resolve_acquisition(acquisition)  # checks the name
        if target is not None and len(objectives) != 1:
            msg = "target= needs exactly one objective"
            raise ValueError(msg)
        if target is not None:
            target = _finite_number("target", target)
        if n_initial is not None:
            n_initial = check_count("n_initial", n_initial, 1, MAX_TRIALS)
        if max_trials is not None:
            max_trials = check_count("max_trials", max_trials, 1, MAX_TRIALS)
        self.parameters = dict(parameters)
        self.objectives = dict(objectives)
        self.seed = check_seed("seed", seed)
        self.acquisition = acquisition
        self.kernel = kernel
        self.target = target
        self.n_initial = n_initial
        self.max_trials = max_trials
        self.constraints = self.constraint_set.texts()
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path is not None else None
        # Learned state (trailing underscore, as scikit-learn does): empty until data arrive.
        self.trials_: dict[str, dict[str, Any]] = {}
        self.rng_ = np.random.default_rng(self.seed)
        self.kernel_ = None
        self.kernel_fit_n_ = 0

    #: While there are at most this many outcomes, hyperparameters are re-learned at every new one;
    #: beyond, once the outcomes have grown by ``_refit_growth`` since the last fit.
    _refit_every_up_to = 50
    _refit_growth = 1.1
    #: While there are at most ``_refit_every_up_to`` outcomes, each re-learning also fits from the
    #: default kernel (cold) and keeps the higher likelihood (posterior, under the MAP fit); beyond, the warm fit alone is kept
    #: (the likelihood of many points is rarely multimodal, and a cold fit at 100 points costs
    #: ≈ 200 ms on 2 cores).
    _cold_restart = True
    #: Whether suggestions move off the bounds of unresolved inputs (:meth:`_off_the_edge`); off only for the ablation.
    _edge_correction = True
    #: The factor of the acquisition a move off the edge may cost (:data:`EDGE_TOLERANCE`; ``inf`` for none).
    _edge_tolerance = EDGE_TOLERANCE
    #: Whether log-EI carries the augmented-EI factor (:func:`~autolab.optimize.acquisition.log_augmentation`); off only for the ablation.
    _augmented_ei = True
    #: Whether a noisy model's incumbent is Huang's effective best (:meth:`_incumbent`); on only in the ablation's ``gp-effective-best``.
    _effective_best = False
    #: L-BFGS-B refinements of the acquisition, each from one of the best candidates, and their
    #: iterations (more of both only in the ablation's ``gp-acq-starts-5``).
    _acquisition_starts = 1
    _acquisition_maxiter = 20
    #: Whether the model steps search a TuRBO trust region around the incumbent
    #: (:meth:`_trust_region_bounds`); on only in the ablation's ``gp-trust-region``.
    _trust_region = False
    #: Hyperparameter draws the acquisition is averaged over (0: the one fitted kernel), by slice
    #: sampling from the likelihood, times BoTorch's priors with ``map_fit``
    #: (:meth:`_hyperparameter_samples`). Only with a kernel shaped as the default and a log-scale
    #: acquisition, and not in an exploring step; on only in the ablation's ``gp-marginal-…`` variants.
    _marginal_samples = 0

    @cached_property
    def space(self) -> ParameterSpace:
        """The parameters as a :class:`ParameterSpace` (unit-cube mapping)."""
        return ParameterSpace(self.parameters)

    @property
    def initial_points(self) -> int:
        """Space-filling points before the model is used: ``n_initial`` or :func:`default_initial_points` for the budget."""
        return self.n_initial if self.n_initial is not None else default_initial_points(self.space.dim, self.max_trials)

    # --- protocol: Optimizer ----------------------------------------------------------
    def suggest(self, num_points: int | None = None) -> list[dict[str, Any]]:
        """Suggest ``num_points`` distinct points (jointly, accounting for pending ones).

        With a cost model the batch comes in the order that takes least time (:meth:`order_suggestions`).
        """
        num_points = 1 if num_points is None else int(num_points)
        if num_points < 1:
            msg = f"num_points={num_points!r} must be ≥ 1"
            raise ValueError(msg)
        out = []
        for _ in range(num_points):
            x, value, design_index = self._next_point()
            trial_id = self._new_trial_id()
            params = self.space.from_unit(x)
            self.trials_[trial_id] = {"params": params, "x": x.tolist(), "status": "pending", "outcomes": None, "acquisition": value}
            if design_index is not None:
                self.trials_[trial_id]["design_index"] = design_index
            out.append({**params, "_id": trial_id})
        return self.order_suggestions(out) if self.cost_model is not None else out

    def order_suggestions(self, suggestions: Sequence[Mapping]) -> list[dict[str, Any]]:
        """Pending suggestions of this optimiser in the order that takes least time to run them.

        The order starts from the last trial known before them (:func:`~autolab.optimize.cost.quickest_order`);
        the trials are kept in that order, so the last one is the current state for the next
        suggestion. Before any trial is known there is no current state: the first suggestion (the
        design's centre) stays first and the rest follow in the order quickest from it. Without a
        cost model the order is kept.
        """
        suggestions = [dict(s) for s in suggestions]
        if self.cost_model is None or len(suggestions) < 2:
            return suggestions
        ids = [s["_id"] for s in suggestions]
        before = [tid for tid in self.trials_ if tid not in ids]
        params = [self.trials_[tid]["params"] for tid in ids]
        if before:
            order = quickest_order(self.cost_model, self.trials_[before[-1]]["params"], params)
        else:
            order = [0, *(1 + i for i in quickest_order(self.cost_model, params[0], params[1:]))]
        for i in order:  # re-insert the batch's trials in run order
            self.trials_[ids[i]] = self.trials_.pop(ids[i])
        return [suggestions[i] for i in order]

    def ingest(self, points: Sequence[Mapping]) -> None:
        """Record outcomes, shaped as bluesky-adaptive's protocol defines them.

        Parameters
        ----------
        points : sequence of mapping
            Each ``{"_id": …, <objective>: value, …}``. A suggested trial is found by its ``_id``,
            and its parameters are the suggested ones (parameters in the outcome are not needed).
            A point whose ``_id`` is absent or unknown is an external (manual) trial and must
            carry every parameter. A None or NaN objective marks the trial failed, and so does a
            missing one in an outcome holding nothing but ``_id`` and parameters.

        Raises
        ------
        ValueError
            If an external trial lacks a parameter, an objective is not a number, or an outcome
            lacks an objective and holds a key that is neither ``_id``, a parameter nor an
            objective (a misspelt objective); nothing is recorded then.
        LimitError
            If an external trial's parameter is outside its bounds.
        """
        resolved = []
        for index, point in enumerate(points, start=1):
            trial_id = point.get("_id")
            if trial_id is not None and trial_id in self.trials_:
                params = self.trials_[trial_id]["params"]
            else:
                missing = [name for name in self.space.names if name not in point]
                if missing:
                    which = "no _id" if trial_id is None else f"_id={trial_id!r}, which this optimiser did not suggest,"
                    msg = (
                        f"outcome {index} of {len(points)} has {which} and lacks {', '.join(repr(m) for m in missing)}; give the _id "
                        f"of a suggestion, or every parameter ({', '.join(self.space.names)}) for an external trial"
                    )
                    raise ValueError(msg)
                params = {name: float(point[name]) for name in self.space.names}
            outcomes = checked_outcomes(point, self.objectives, self.space.names, f"outcome {index} of {len(points)}")
            resolved.append((trial_id, params, self.space.to_unit(params), outcomes))
        for trial_id, params, x, outcomes in resolved:
            failed = any(v is None or not math.isfinite(v) for v in outcomes.values())
            if trial_id is None or trial_id not in self.trials_:
                trial_id = trial_id or self._new_trial_id()
                self.trials_[trial_id] = {"params": params, "x": x.tolist(), "acquisition": None}
            trial = self.trials_[trial_id]
            trial["status"] = "failed" if failed else "complete"
            trial["outcomes"] = None if failed else {k: float(v) for k, v in outcomes.items()}

    def get_best_points(self) -> list[tuple[str, dict, dict]]:
        """The best trial (one objective) or the Pareto set (two), as ``(_id, params, outcomes)``."""
        done = [(tid, t) for tid, t in self.trials_.items() if t["status"] == "complete"]
        if not done:
            return []
        scores = np.array([[self._signed(name, t["outcomes"][name]) for name in self.objectives] for _, t in done])
        if len(self.objectives) == 1:
            if self.target is not None:
                scores = -np.abs(np.array([[t["outcomes"][n] for n in self.objectives] for _, t in done]) - self.target)
            best = int(np.argmax(scores[:, 0]))
            tid, t = done[best]
            return [(tid, dict(t["params"]), dict(t["outcomes"]))]
        front = [
            i for i in range(len(done))
            if not any(np.all(scores[j] >= scores[i]) and np.any(scores[j] > scores[i]) for j in range(len(done)))
        ]
        return [(done[i][0], dict(done[i][1]["params"]), dict(done[i][1]["outcomes"])) for i in front]

    # --- protocol: CanRegisterSuggestions, TrialFaultAware, SupportsStoppingCriteria, Checkpointable ----
    def register_suggestions(self, suggestions: Sequence[Mapping]) -> list[dict[str, Any]]:
        """Make points chosen elsewhere (a given design, a resumed campaign) pending trials of this optimiser.

        Each suggestion carries every parameter; a given ``_id`` this optimiser does not know yet
        is kept (a resumed campaign keeps its trials' ids), otherwise a new one is drawn. The
        points count as pending for the next suggestions, and their outcomes are ingested by
        ``_id`` as for the optimiser's own suggestions.

        Raises
        ------
        ValueError
            If a suggestion lacks a parameter (nothing is registered then).
        LimitError
            If a parameter is outside its bounds.
        """
        resolved = []
        for index, suggestion in enumerate(suggestions, start=1):
            missing = [name for name in self.space.names if name not in suggestion]
            if missing:
                msg = (f"suggestion {index} of {len(suggestions)} lacks {', '.join(repr(m) for m in missing)}; "
                       f"give every parameter ({', '.join(self.space.names)})")
                raise ValueError(msg)
            params = {name: float(suggestion[name]) for name in self.space.names}
            resolved.append((suggestion.get("_id"), params, self.space.to_unit(params)))
        out = []
        for trial_id, params, x in resolved:
            if trial_id is None or trial_id in self.trials_:
                trial_id = self._new_trial_id()
            self.trials_[trial_id] = {"params": params, "x": x.tolist(), "status": "pending", "outcomes": None, "acquisition": None}
            out.append({**params, "_id": trial_id})
        return out

    def register_failures(self, suggestions: Sequence[Mapping]) -> None:
        """Mark these suggestions as failed: never suggested again, and avoided by the model."""
        for suggestion in suggestions:
            trial = self.trials_.get(suggestion.get("_id"))
            if trial is None:
                msg = f"unknown trial _id={suggestion.get('_id')!r}; only suggested trials can fail"
                raise KeyError(msg)
            trial["status"] = "failed"
            trial["outcomes"] = None

    def withdraw(self, trial_ids: Sequence[str]) -> None:
        """Forget pending suggestions that will not be measured (a campaign stopped inside a batch)."""
        for trial_id in trial_ids:
            if self.trials_.get(trial_id, {}).get("status") == "pending":
                del self.trials_[trial_id]

    def should_stop(self) -> tuple[bool, str | None]:
        """Stop once ``max_trials`` trials have finished (completed or failed)."""
        finished = sum(t["status"] in ("complete", "failed") for t in self.trials_.values())
        if self.max_trials is not None and finished >= self.max_trials:
            return True, f"budget of {self.max_trials} trials used"
        return False, None

    def checkpoint(self) -> None:
        """Write :meth:`state_dict` to ``checkpoint_path`` (atomically)."""
        if self.checkpoint_path is None:
            msg = "checkpoint_path was not given, so there is nowhere to checkpoint to"
            raise ValueError(msg)
        path = check_output_file("checkpoint_path", self.checkpoint_path)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state_dict()))
        tmp.replace(path)

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly where this optimiser is (JSON-ready)."""
        return {
            "parameters": {p.name: [p.low, p.high, "log" if p.log else "linear"] for p in self.space.parameters},
            "objectives": self.objectives,
            "seed": self.seed,
            "acquisition": resolve_acquisition(self.acquisition).name,
            # A built-in acquisition's settings (UCB's β, EI's ξ); None for an object of the caller's, passed again on restore.
            "acquisition_settings": _acquisition_settings(resolve_acquisition(self.acquisition)),
            "target": self.target,
            "n_initial": self.n_initial,
            "initial_points": self.initial_points,
            "exploration": self.exploration,
            "max_trials": self.max_trials,
            "constraints": list(self.constraints),
            "cost_model": None if self.cost_model is None else self.cost_model.to_dict(),
            "trials": self.trials_,
            "rng_state": self.rng_.bit_generator.state,
            "kernel": None if self.kernel is None else repr(self.kernel),
            "kernel_settings": None if self.kernel is None else _kernel_settings(self.kernel),
            "kernel_params": None if self.kernel_ is None else self.kernel_.theta.tolist(),
            # The same hyperparameters in their own scale: exp(log x) can move x by one ulp, and a flat acquisition shows it.
            "kernel_values": None if self.kernel_ is None else _hyperparameter_values(self.kernel_),
            "kernel_fit_n": self.kernel_fit_n_,
            "centre_first": self.centre_first,
            "hyperparameter_prior": self.map_fit,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], *, checkpoint_path: str | Path | None = None, kernel=None,
                   acquisition=None) -> GPOptimizer:
        """Rebuild an optimiser from :meth:`state_dict`; its next suggestions are identical.

        The design keeps the size the optimiser started with (``initial_points``), whatever
        :func:`default_initial_points` gives now; a state without ``initial_points`` is read as
        one that started with ``max(5, 3·d + 1)`` points. An optimiser made with ``kernel=`` is
        rebuilt with the same kernel passed again: the state names it (its ``repr``, and its
        parameters with their bounds) but does not hold it. A built-in acquisition comes back with
        its settings (UCB's β, EI's ξ); an acquisition object of the caller's is passed again as
        ``acquisition=``, as a kernel is.

        Raises
        ------
        ValueError
            If the state was made with a kernel of its own and none is given, if the kernel given
            is not the one it names (or one is given for a state made with the default kernel),
            or if the learned hyperparameters do not fit the kernel (naming both counts); the same
            for an acquisition object of the caller's.
        """
        made_with = state.get("kernel")
        if kernel is None and made_with is not None:
            msg = (f"this optimiser was made with kernel={made_with}; pass the same kernel to restore it "
                   "(GPOptimizer.restore(path, kernel=…) or from_state(state, kernel=…))")
            raise ValueError(msg)
        stored_settings = state.get("kernel_settings")
        if kernel is not None and (repr(kernel) != made_with or (stored_settings is not None and _kernel_settings(kernel) != stored_settings)):
            made = "the default kernel; restore it without kernel=" if made_with is None else f"kernel={made_with}"
            differs = ("" if repr(kernel) != made_with
                       else f" (its parameters differ: {_settings_difference(_kernel_settings(kernel), stored_settings)})")
            msg = f"kernel={kernel!r} is not the kernel this optimiser was made with{differs}: {made}"
            raise ValueError(msg)
        acquisition = _restored_acquisition(state, acquisition)
        n_initial = state["n_initial"]
        if n_initial is None:
            dim = len(state["parameters"])
            started = state.get("initial_points", default_initial_points(dim))
            if started != default_initial_points(dim, state["max_trials"]):
                n_initial = started
        opt = cls(
            {k: tuple(v) for k, v in state["parameters"].items()},
            state["objectives"],
            seed=state["seed"],
            acquisition=acquisition,
            kernel=kernel,
            target=state["target"],
            n_initial=n_initial,
            exploration=state.get("exploration", DEFAULT_EXPLORATION),
            max_trials=state["max_trials"],
            checkpoint_path=checkpoint_path,
            constraints=state.get("constraints"),
            cost_model=None if state.get("cost_model") is None else ReactorCostModel.from_dict(state["cost_model"]),
            # A state written before the design's centre point and the MAP fit were defaults continues without them.
            centre_first=bool(state.get("centre_first", False)),
            map_fit=bool(state.get("hyperparameter_prior", False)),
        )
        opt.trials_ = json.loads(json.dumps(state["trials"]))
        opt.rng_.bit_generator.state = state["rng_state"]
        if state.get("kernel_params") is not None:
            theta, new_kernel = np.asarray(state["kernel_params"], dtype=float), opt._new_kernel()
            if theta.shape != new_kernel.theta.shape:
                msg = (f"the state holds {theta.size} learned kernel hyperparameters, but {new_kernel!r} has "
                       f"{new_kernel.theta.size}; restore it with the kernel it was made with")
                raise ValueError(msg)
            opt.kernel_ = new_kernel.clone_with_theta(theta)
            if state.get("kernel_values") is not None:
                opt.kernel_.set_params(**state["kernel_values"])
        opt.kernel_fit_n_ = state.get("kernel_fit_n", 0)
        return opt

    @classmethod
    def restore(cls, path: str | Path, *, kernel=None, acquisition=None) -> GPOptimizer:
        """Read a checkpoint written by :meth:`checkpoint` (``kernel``, ``acquisition``: the objects it was made with, if its own)."""
        return cls.from_state(json.loads(Path(path).read_text()), checkpoint_path=path, kernel=kernel, acquisition=acquisition)

    def summary(self) -> dict[str, Any]:
        """A short model-state summary for run metadata: counts, length scales, noise."""
        counts = {s: sum(t["status"] == s for t in self.trials_.values()) for s in ("complete", "pending", "failed")}
        out: dict[str, Any] = {"n_" + k: v for k, v in counts.items()}
        if self.kernel_ is not None:
            scales = _length_scales(self.kernel_, self.space.dim)
            if scales is not None:
                out["length_scales"] = dict(zip(self.space.names, scales.tolist(), strict=True))
            if _default_shaped(self.kernel_):
                out["noise_level"] = float(self.kernel_.k2.noise_level)
        return out

    def predict(self, points: Sequence[Mapping[str, float]], objective: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """GP posterior mean and standard deviation of an objective at ``points`` (its own units).

        Uses the last learned kernel (learning one if there is none) on the completed trials.
        """
        objective = objective or next(iter(self.objectives))
        complete = [t for t in self.trials_.values() if t["status"] == "complete"]
        if len(complete) < 2:
            msg = f"predict needs at least 2 completed trials, have {len(complete)}"
            raise ValueError(msg)
        x_obs = np.array([t["x"] for t in complete])
        y_obs = np.array([t["outcomes"][objective] for t in complete], dtype=float)
        kernel = self.kernel_ if self.kernel_ is not None else self._new_kernel()
        gp = GaussianProcessRegressor(
            kernel=kernel,
            normalize_y=True,
            optimizer=None if self.kernel_ is not None else self._fit_optimizer(kernel),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gp.fit(x_obs, y_obs)
        x = np.array([self.space.to_unit(p) for p in points]).reshape(-1, self.space.dim)
        mean, std = gp.predict(x, return_std=True)
        return mean, std

    def acquisition_value(self, trial_id: str) -> float | None:
        """The acquisition value at which ``trial_id`` was suggested (None for design points)."""
        return self.trials_[trial_id].get("acquisition")

    # --- internals ------------------------------------------------------------------------
    def _signed(self, name: str, value: float) -> float:
        return value if self.objectives[name] == "maximize" else -value

    def _new_kernel(self):
        return clone(self.kernel) if self.kernel is not None else default_kernel(self.space.dim)

    def _fit_optimizer(self, kernel):
        """How hyperparameters are learned: maximum likelihood (``"fmin_l_bfgs_b"``) or, with
        ``map_fit`` and a kernel the priors fit (shaped as the default, its length
        scales and noise free, :func:`_takes_the_prior`), the MAP fit (:func:`~autolab.optimize.priors.map_optimizer`)."""
        if self.map_fit and _takes_the_prior(kernel, self.space.dim):
            return map_optimizer(self.space.dim, signal_variance=has_free_signal_variance(kernel))
        return "fmin_l_bfgs_b"

    def _new_trial_id(self) -> str:
        """A trial id from the seeded generator, new to this optimiser (registered ids are kept apart)."""
        while True:
            trial_id = str(uuid.UUID(bytes=self.rng_.bytes(16)))
            if trial_id not in self.trials_:
                return trial_id

    def _current_state(self) -> dict[str, float] | None:
        """Where the reactor is for the next suggestion: the last trial known's parameters (None before any)."""
        return next((t["params"] for t in reversed(self.trials_.values())), None)

    def _move_time_s(self):
        """Unit-cube rows → seconds to move there from the current state and measure (None without a cost model)."""
        if self.cost_model is None or self._current_state() is None:
            return None
        start = self._current_state()
        return lambda x: self.cost_model.time_s(start, dict(zip(self.space.names, unit_to_values(self.space, x).T, strict=True)))

    def _held_heater_candidates(self, candidates: np.ndarray) -> np.ndarray:
        """``candidates`` again with each non-empty set of heated inputs held where they are now.

        A heater whose setpoint does not change costs no ramp and no settling (minutes), so a
        point at the current temperatures with another flow, or with one heater held, is among the
        cost-aware rule's choices; random and optimised candidates never repeat a temperature exactly.
        """
        last = next(reversed(self.trials_.values()), None)
        heated = [i for i, name in enumerate(self.space.names) if name in self.cost_model.ramp_rates_c_per_min]
        if last is None or not heated:
            return np.empty((0, self.space.dim))
        here = np.asarray(last["x"], dtype=float)
        out = []
        for size in range(1, len(heated) + 1):
            for subset in itertools.combinations(heated, size):
                held = candidates.copy()
                held[:, list(subset)] = here[list(subset)]
                out.append(held)
        return np.vstack(out)

    def _feasible_candidates(self, candidates: np.ndarray, n_sobol: int) -> np.ndarray:
        """``candidates`` without the infeasible ones, topped up with feasible Sobol draws (seed + 1) to ``n_sobol``."""
        if not len(self.constraint_set):
            return candidates
        kept = candidates[self.constraint_set.satisfied(candidates)]
        missing = max(0, n_sobol - len(kept))
        if missing:
            kept = np.vstack([kept, feasible_sobol(self.space.dim, self.seed + 1, missing, self.constraint_set.satisfied)[1]])
        return kept

    def _occupied(self) -> tuple[np.ndarray, np.ndarray]:
        taken = np.array([t["x"] for t in self.trials_.values() if t["status"] in ("complete", "pending")]).reshape(-1, self.space.dim)
        failed = np.array([t["x"] for t in self.trials_.values() if t["status"] == "failed"]).reshape(-1, self.space.dim)
        return taken, failed

    def _next_point(self) -> tuple[np.ndarray, float | None, int | None]:
        """The next point in the unit cube, its acquisition value and its design index (design points; −1 for the centre)."""
        complete = [t for t in self.trials_.values() if t["status"] == "complete"]
        if len(complete) + sum(t["status"] == "pending" for t in self.trials_.values()) < self.initial_points or len(complete) < 2:
            # The design continues the (feasible) Sobol sequence at the number of trials known, so a
            # resumed optimiser (its trials registered again) draws where the first one stopped.
            x, draws = next_design_point(
                list(self.trials_.values()), dim=self.space.dim, seed=self.seed, initial_points=self.initial_points,
                satisfied=self.constraint_set.satisfied if len(self.constraint_set) else None, move_time_s=self._move_time_s(),
                centre_first=self.centre_first,
            )
            return x, None, draws
        return (*self._model_point(complete), None)

    def _targets(self, complete) -> np.ndarray:
        values = np.array([[t["outcomes"][n] for n in self.objectives] for t in complete], dtype=float)
        if self.target is not None:
            return -np.abs(values[:, 0] - self.target)
        signed = values * np.array([1.0 if self.objectives[n] == "maximize" else -1.0 for n in self.objectives])
        if signed.shape[1] == 1:
            return signed[:, 0]
        low, high = signed.min(axis=0), signed.max(axis=0)
        normed = (signed - low) / np.where(high > low, high - low, 1.0)
        weights = self.rng_.dirichlet(np.ones(signed.shape[1]))
        return np.min(weights * normed, axis=1) + 0.05 * (weights * normed).sum(axis=1)

    def _trust_region_bounds(self, x_obs: np.ndarray, y_obs: np.ndarray, kernel) -> tuple[np.ndarray, np.ndarray]:
        """Bounds of a TuRBO trust region (Eriksson et al. 2019) around the incumbent, replayed from the outcomes in order.

        The side starts at 0.8 of the unit cube after the design, doubles (up to 1.6) after 3
        improvements in a row and halves after max(4, d) steps without one, starting again at 0.8
        once it falls below 0.5⁷; each input's side is scaled by its length scale over their
        geometric mean. An improvement beats the best so far by 0.1 % of its magnitude, in the
        outcomes' own units (with two objectives, in this step's scalarisation).
        """
        dim, length, wins, losses = self.space.dim, 0.8, 0, 0
        start = max(1, min(self.initial_points, len(y_obs)))
        best = float(np.max(y_obs[:start]))
        for y in y_obs[start:]:
            if y > best + 1e-3 * abs(best):
                wins, losses = wins + 1, 0
            else:
                wins, losses = 0, losses + 1
            best = max(best, float(y))
            if wins == 3:
                length, wins = min(2.0 * length, 1.6), 0
            elif losses == max(4, dim):
                length, losses = length / 2.0, 0
            if length < 0.5**7:
                length = 0.8
        scales = _length_scales(kernel, dim)
        weights = np.ones(dim) if scales is None else scales / np.exp(np.mean(np.log(scales)))
        centre = x_obs[int(np.argmax(y_obs))]
        half = 0.5 * length * weights
        return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)

    def _off_the_edge(self, x: np.ndarray, value: float, kernel, score) -> tuple[np.ndarray, float]:
        """Move a suggestion off the bounds of inputs the model has not resolved, where it costs little.

        The posterior variance is largest at the bounds of the domain, so along an input whose
        learned length scale is long (≥ :data:`UNRESOLVED_LENGTH_SCALE`, the model sees less than
        one length scale of change over its range) the acquisition is maximised at a bound for its
        variance rather than for what the model knows: the suggestions pile up at 0 and 1 of that
        input, and its effect is never learned (boundary over-exploration; Siivola, Vehtari,
        Vanhatalo, González and Andersen 2018, "Correcting boundary over-exploration deficiencies
        in Bayesian optimization with virtual derivative sign observations", IEEE MLSP). Each such
        input within :data:`EDGE_MARGIN` of a bound is given a uniformly random value in its
        range instead (as Li et al. 2017, "High dimensional Bayesian optimisation using dropout",
        fill the inputs they leave out), provided the acquisition there is within a factor
        :data:`EDGE_TOLERANCE` of the edge's — so a trend the model has learned towards a bound
        keeps its edge. It is the last step of a model suggestion, after the cost-aware choice, so
        the two tolerances can add (1.1^α × 2 at most). Nothing moves while every input is
        unresolved, or with a kernel not shaped as :func:`default_kernel` (no length scale per input
        to read).
        """
        scales = _length_scales(kernel, self.space.dim)
        if scales is None:
            return x, value
        unresolved = scales >= UNRESOLVED_LENGTH_SCALE
        edge = unresolved & ((x <= EDGE_MARGIN) | (x >= 1.0 - EDGE_MARGIN))
        if unresolved.all() or not edge.any():
            return x, value
        moved = x.copy()
        moved[edge] = self.rng_.random(int(edge.sum()))
        moved_value = float(score(moved)[0])
        if np.isfinite(moved_value) and moved_value >= value - math.log(self._edge_tolerance):
            return moved, moved_value
        return x, value

    def _hyperparameter_samples(self, gp, x_train: np.ndarray, y_train: np.ndarray) -> list[GaussianProcessRegressor]:
        """GPs on ``(x_train, y_train)`` at hyperparameters drawn from their posterior given ``gp``'s data.

        Slice sampling along random directions in ln θ (Neal 2003, "Slice sampling", Ann. Statist.
        31, 705, with his limited stepping out of unit width: 20 steps split at random between the
        two sides; as Snoek, Larochelle and Adams 2012 integrate EI over the hyperparameters),
        started at ``gp``'s fitted θ, within the kernel's bounds. The density is ``gp``'s
        likelihood, flat in ln θ, or with ``map_fit`` the likelihood times BoTorch's
        priors as densities of ln θ. ``_marginal_samples`` draws, one every second update after
        ten. ``gp`` is fitted to the outcomes alone; the drawn models take ``x_train`` and
        ``y_train``, which may add pending points at the believed values.
        """
        dim = self.space.dim
        bounds = gp.kernel_.bounds
        prior = self.map_fit and _takes_the_prior(gp.kernel_, dim)
        signal_variance = prior and has_free_signal_variance(gp.kernel_)

        def log_density(theta):
            if np.any(theta < bounds[:, 0]) or np.any(theta > bounds[:, 1]):
                return -np.inf
            value = float(gp.log_marginal_likelihood(theta))
            if prior:
                value -= dimension_scaled_prior(theta, dim, signal_variance=signal_variance, of_log=True)[0]
            return value

        theta = gp.kernel_.theta.copy()
        current = log_density(theta)
        samples = []
        for update in range(SLICE_BURN_IN + 2 * self._marginal_samples):
            direction = self.rng_.normal(size=theta.size)
            direction /= np.linalg.norm(direction)
            level = current + math.log(self.rng_.random())
            lo = -self.rng_.random()
            hi = lo + 1.0
            left = int(SLICE_STEPS * self.rng_.random())
            right = SLICE_STEPS - 1 - left
            while left > 0 and log_density(theta + lo * direction) > level:
                lo, left = lo - 1.0, left - 1
            while right > 0 and log_density(theta + hi * direction) > level:
                hi, right = hi + 1.0, right - 1
            while True:  # shrinks towards 0, where the density is above the level, so it ends
                step = lo + (hi - lo) * self.rng_.random()
                value = log_density(theta + step * direction)
                if value > level:
                    theta, current = theta + step * direction, value
                    break
                lo, hi = (step, hi) if step < 0 else (lo, step)
            if update >= SLICE_BURN_IN and (update - SLICE_BURN_IN) % 2 == 1:
                samples.append(theta.copy())
        models = []
        for sample in samples:
            model = GaussianProcessRegressor(kernel=gp.kernel_.clone_with_theta(sample), normalize_y=True, optimizer=None)
            models.append(model.fit(x_train, y_train))
        return models

    @staticmethod
    def _incumbent(gp, x_obs: np.ndarray, noise_sd: float) -> float:
        """Huang et al.'s effective best: μ at the measured point that maximises μ − s, s the latent sd.

        ``gp`` predicts a measurement's sd (the latent one and the noise ``noise_sd`` together), so s
        is √(sd² − noise_sd²). Huang et al. 2006 use it as the incumbent of augmented EI; here only
        the ablation's ``gp-effective-best`` does (``_effective_best``), its tuning-seed figures in
        docs/optimize.md ("Noise").
        """
        mu, sd = gp.predict(x_obs, return_std=True)
        latent = np.sqrt(np.maximum(sd**2 - noise_sd**2, 0.0))
        return float(mu[int(np.argmax(mu - latent))])

    def _model_point(self, complete) -> tuple[np.ndarray, float]:
        x_obs = np.array([t["x"] for t in complete])
        y_obs = self._targets(complete)
        kernel = self.kernel_ if self.kernel_ is not None else self._new_kernel()
        # Hyperparameters are re-learned whenever new outcomes arrived (up to _refit_every_up_to of
        # them; beyond, when they grew by 10 %), warm-started from the last kernel and, while the
        # outcomes are few, also cold from the default one — the likelihood of a few points is
        # multimodal, and a warm start alone can keep a length scale on its bound for the rest of
        # a campaign. Within a batch, with no new data, the last kernel is reused.
        few = len(y_obs) <= self._refit_every_up_to
        growth = 1.0 if few else self._refit_growth
        # (rounded: 1.1 × 50 is 55.000000000000007 in floating point, which would wait for 56)
        refit = self.kernel_ is None or len(y_obs) >= max(self.kernel_fit_n_ + 1, math.ceil(round(growth * self.kernel_fit_n_, 9)))
        fit = self._fit_optimizer(kernel)

        def fit_value(regressor) -> float:
            return log_posterior(regressor, self.space.dim) if callable(fit) else regressor.log_marginal_likelihood_value_

        gp = GaussianProcessRegressor(
            kernel=kernel,
            normalize_y=True,
            # Warm-started from the last kernel, one local optimisation suffices; a cold fit
            # also tries one random restart (the likelihood can be multimodal with few points).
            n_restarts_optimizer=0 if self.kernel_ is not None else 1,
            optimizer=fit if refit else None,
            random_state=int(self.rng_.integers(2**31 - 1)),
        )
        if refit:
            self.kernel_fit_n_ = len(y_obs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gp.fit(x_obs, y_obs)
            if refit and few and self.kernel_ is not None and self._cold_restart:
                cold = GaussianProcessRegressor(kernel=self._new_kernel(), normalize_y=True, optimizer=fit).fit(x_obs, y_obs)
                if fit_value(cold) > fit_value(gp):
                    gp = cold
        self.kernel_ = gp.kernel_
        taken, failed = self._occupied()
        pending = np.array([t["x"] for t in self.trials_.values() if t["status"] == "pending"]).reshape(-1, self.space.dim)
        fitted = gp
        if pending.size:  # kriging believer: pending points sit at the posterior mean
            believer = GaussianProcessRegressor(kernel=gp.kernel_, normalize_y=True, optimizer=None)
            believer.fit(np.vstack([x_obs, pending]), np.concatenate([y_obs, gp.predict(pending)]))
            gp = believer
        feasible = None
        if failed.size and len(x_obs):
            classifier = GaussianProcessClassifier(kernel=1.0 * RBF(0.2), random_state=0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                classifier.fit(np.vstack([x_obs, failed]), np.r_[np.ones(len(x_obs)), np.zeros(len(failed))])
            feasible = classifier
        best = float(np.max(y_obs))

        # ε-greedy (De Ath et al. 2021): a fraction of the steps explore instead of maximising the
        # acquisition, so a narrow optimum the design missed is still looked for beside a broad
        # decoy the model has already found.
        explore = self.exploration > 0 and self.rng_.random() < self.exploration
        acquisition = _PosteriorSpread() if explore else resolve_acquisition(self.acquisition)
        move_time_s = self._move_time_s()  # cost-aware: α cools from 1 to 0 over the budget
        alpha = 0.0 if move_time_s is None else cost_cooling_alpha(self.max_trials, len(self.trials_), self.initial_points)

        # Augmented EI: a point the model already knows to within the noise gains little from one more measurement.
        noise_sd = _noise_sd(gp) if self._augmented_ei and isinstance(acquisition, LogExpectedImprovement) else None
        if noise_sd is not None and self._effective_best:
            best = self._incumbent(gp, x_obs, noise_sd)

        models = [(gp, noise_sd)]
        if self._marginal_samples and not explore and acquisition.log_scale and _default_shaped(gp.kernel_):
            drawn = self._hyperparameter_samples(fitted, gp.X_train_, gp.y_train_ * gp._y_train_std + gp._y_train_mean)
            models = [(m, _noise_sd(m) if noise_sd is not None else None) for m in drawn]

        def score(x: np.ndarray) -> np.ndarray:
            x = np.atleast_2d(x)
            per_model = []
            for model, model_noise_sd in models:
                mu, sd = model.predict(x, return_std=True)
                value = acquisition(mu, sd, best)
                if model_noise_sd is not None:
                    value = value + log_augmentation(sd, model_noise_sd)
                per_model.append(value)
            value = per_model[0] if len(per_model) == 1 else logsumexp(np.vstack(per_model), axis=0) - math.log(len(per_model))
            if feasible is not None:
                p = feasible.predict_proba(x)[:, 1]
                value = value + np.log(np.maximum(p, 1e-12)) if acquisition.log_scale else value * p
            if failed.size:
                near = np.min(np.linalg.norm(x[:, None, :] - failed[None, :, :], axis=2), axis=1) < 0.02
                value = np.where(near, -np.inf, value)
            if taken.size:
                near = np.min(np.linalg.norm(x[:, None, :] - taken[None, :, :], axis=2), axis=1) < 1e-3
                value = np.where(near, -np.inf, value)
            if len(self.constraint_set):
                value = np.where(self.constraint_set.satisfied(x), value, -np.inf)
            return value

        low, high = np.zeros(self.space.dim), np.ones(self.space.dim)
        if self._trust_region:
            low, high = self._trust_region_bounds(x_obs, y_obs, gp.kernel_)
        sobol = low + (high - low) * qmc.Sobol(self.space.dim, scramble=True, seed=int(self.rng_.integers(2**31 - 1))).random(1024)
        top = x_obs[np.argsort(y_obs)[-5:]]
        local = np.clip(np.repeat(top, 50, axis=0) + self.rng_.normal(0, 0.05, (len(top) * 50, self.space.dim)), low, high)
        candidates = self._feasible_candidates(np.vstack([sobol, local]), len(sobol))
        values = score(candidates)
        if explore:
            # An exploring step draws one of the Sobol candidates with probability ∝ posterior
            # variance: unexplored regions are likely, but not always the corners, where the
            # variance peaks.
            spread = values[: len(sobol)]
            weights = np.where(np.isfinite(spread), np.exp(2.0 * (spread - np.max(spread[np.isfinite(spread)]))), 0.0)
            i = int(self.rng_.choice(len(weights), p=weights / weights.sum()))
            return candidates[i], float(values[i])
        order = np.argsort(values)[::-1][: self._acquisition_starts]
        best_x, best_value = candidates[order[0]], float(values[order[0]])

        def objective_and_gradient(x):
            # Forward differences from one batched prediction (the GP's predict dominates).
            step = np.where(x + 1e-4 <= 1.0, 1e-4, -1e-4)
            values = score(np.vstack([x, x + np.diag(step)]))
            if not np.all(np.isfinite(values)):
                return 1e6, np.zeros_like(x)  # finite, so L-BFGS-B stays defined
            return -values[0], -(values[1:] - values[0]) / step

        for start in candidates[order]:
            res = minimize(objective_and_gradient, start, jac=True, method="L-BFGS-B", bounds=list(zip(low, high, strict=True)),
                           options={"maxiter": self._acquisition_maxiter})
            if np.isfinite(res.fun) and -res.fun > best_value and self.constraint_set.satisfied(np.clip(res.x, 0, 1))[0]:
                best_x, best_value = np.clip(res.x, 0, 1), float(-res.fun)
        if alpha:
            # Cost-aware: the quickest point to move to among those whose acquisition is within a
            # factor COST_TOLERANCE^α of the best (α cools from 1 to 0): a nearby point wins a near
            # tie, and a point with a heater held where it is (no ramp, no settling) is among them.
            pool = np.vstack([best_x, candidates])
            pool_values = np.r_[best_value, values]
            held = self._held_heater_candidates(pool[np.argsort(pool_values)[::-1][:HELD_CANDIDATES]])
            if len(held):
                pool, pool_values = np.vstack([pool, held]), np.r_[pool_values, score(held)]
            near_best = np.flatnonzero(pool_values >= best_value - alpha * math.log(COST_TOLERANCE))
            i = int(near_best[np.argmin(move_time_s(pool[near_best]))])
            best_x, best_value = pool[i], float(pool_values[i])
        if acquisition.log_scale and self._edge_correction:
            best_x, best_value = self._off_the_edge(best_x, best_value, gp.kernel_, score)
        return best_x, best_value
