"""Bayesian optimisation for autolab: a GP optimiser on bluesky-adaptive's protocols."""

from .constraints import LinearConstraint
from .cost import ReactorCostModel
from .gp import GPOptimizer, default_initial_points
from .space import Parameter, ParameterSpace

__all__ = ["GPOptimizer", "LinearConstraint", "Parameter", "ParameterSpace", "ReactorCostModel", "default_initial_points"]
