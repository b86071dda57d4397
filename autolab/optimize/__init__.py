"""Bayesian optimisation for autolab: a GP optimiser on bluesky-adaptive's protocols."""

from .gp import GPOptimizer, default_initial_points
from .space import Parameter, ParameterSpace

__all__ = ["GPOptimizer", "Parameter", "ParameterSpace", "default_initial_points"]
