"""Linear inequalities between an optimiser's inputs, in the inputs' own units.

A constraint is written as text, ``"growth_temperature_c <= nucleation_temperature_c"``,
``"growth_temperature_c - nucleation_temperature_c <= -10"`` or ``"2*x1 + x2 >= 0.5"``: ``<=`` or
``>=`` between two linear expressions of parameter names and numbers (``+``, ``-``, ``*`` and
``/`` by a number, parentheses). The text is read with :mod:`ast`, never evaluated.

A log-scaled parameter is constrained in its own units too, so whether a unit-cube point is
feasible is decided after mapping it back to parameter values (:meth:`ConstraintSet.satisfied`).
:class:`ConstraintSet` checks a set against a :class:`~autolab.optimize.ParameterSpace`: an
unknown name, malformed text, or a set that leaves no room inside the bounds (decided by a
linear program) is refused with one line.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from ..errors import LimitError
from .space import ParameterSpace

_UNICODE = {"≤": "<=", "≥": ">=", "−": "-", "·": "*", "×": "*"}
#: Slack (in unit-cube widths) below which a set is said to leave no room inside the bounds.
_ROOM = 1e-9


@dataclass(frozen=True)
class LinearConstraint:
    """``Σ coefficient·parameter ≤ bound``, in the parameters' units.

    Parameters
    ----------
    coefficients : tuple of (str, float)
        ``((name, coefficient), …)`` in the order the names appear in the text; no zero coefficient.
    bound : float
        The right-hand side of the ``≤`` form.
    text : str
        The text it was read from (named in error messages); default its canonical form.
    """

    coefficients: tuple[tuple[str, float], ...]
    bound: float
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> LinearConstraint:
        """Read ``"a*x + b*y <= c"`` (or ``>=``, constants on either side).

        Raises
        ------
        LimitError
            One line naming the text and what is wrong with it.
        """
        if not isinstance(text, str):
            msg = f"constraint {text!r} must be text such as 'growth_temperature_c <= nucleation_temperature_c'"
            raise LimitError(msg)
        if len(text) > 1000:
            _refuse(text[:40] + "…", f"is {len(text)} characters long; write a constraint in at most 1000")
        source = text
        for symbol, ascii_form in _UNICODE.items():
            source = source.replace(symbol, ascii_form)
        try:
            tree = ast.parse(source.strip(), mode="eval").body
        except SyntaxError:
            _refuse(text, "is not an inequality such as 'x1 + 2*x2 <= 10'")
        if not isinstance(tree, ast.Compare) or len(tree.ops) != 1:
            _refuse(text, "must be one inequality with <= or >= between two linear expressions")
        op = tree.ops[0]
        if not isinstance(op, (ast.LtE, ast.GtE)):
            _refuse(text, "must compare with <= or >= (strict <, >, == and != are not constraints here)")
        left, right = _linear(tree.left, text), _linear(tree.comparators[0], text)
        sign = 1.0 if isinstance(op, ast.LtE) else -1.0
        coefficients: dict[str, float] = {}
        for name, value in left[0].items():
            coefficients[name] = coefficients.get(name, 0.0) + sign * value
        for name, value in right[0].items():
            coefficients[name] = coefficients.get(name, 0.0) - sign * value
        coefficients = {name: value for name, value in coefficients.items() if value != 0.0}
        if not coefficients:
            _refuse(text, "compares numbers only; name at least one parameter")
        bound = sign * (right[1] - left[1])
        if not all(math.isfinite(v) for v in (*coefficients.values(), bound)):
            _refuse(text, "has a coefficient or constant that is not finite")
        return cls(tuple(coefficients.items()), float(bound), text.strip())

    @property
    def names(self) -> tuple[str, ...]:
        """The parameters the constraint involves."""
        return tuple(name for name, _ in self.coefficients)

    def __str__(self) -> str:
        """The canonical form: every term on the left, ``<=`` unless the first coefficient is negative."""
        flip = self.coefficients[0][1] < 0
        sign = -1.0 if flip else 1.0
        terms = []
        for name, value in self.coefficients:
            value *= sign
            magnitude = "" if abs(value) == 1.0 else f"{abs(value):g}*"
            if not terms:
                terms.append(f"{'-' if value < 0 else ''}{magnitude}{name}")
            else:
                terms.append(f"{'-' if value < 0 else '+'} {magnitude}{name}")
        return f"{' '.join(terms)} {'>=' if flip else '<='} {sign * self.bound + 0.0:g}"

    def with_values(self, fixed: Mapping[str, float]) -> LinearConstraint | None:
        """The constraint on the other parameters once those in ``fixed`` take their values.

        Returns None when no parameter is left and the fixed values satisfy it.

        Raises
        ------
        LimitError
            When no parameter is left and the fixed values violate it.
        """
        if not any(name in fixed for name in self.names):
            return self
        left = tuple((name, value) for name, value in self.coefficients if name not in fixed)
        bound = self.bound - sum(value * float(fixed[name]) for name, value in self.coefficients if name in fixed)
        if left:
            return LinearConstraint(left, bound, self.text)
        if bound < -1e-9 * max(1.0, abs(self.bound)):
            values = ", ".join(f"{name}={float(fixed[name]):g}" for name in self.names)
            msg = f"constraint {self.text or str(self)!r} is violated by the fixed values {values}"
            raise LimitError(msg)
        return None

    def slack(self, values: Mapping[str, np.ndarray | float]) -> np.ndarray:
        """``bound − Σ coefficient·value`` (≥ 0 where satisfied); ``values`` by name, arrays broadcast."""
        total = sum(value * np.asarray(values[name], dtype=float) for name, value in self.coefficients)
        return self.bound - total


def _refuse(text: str, problem: str):
    msg = f"constraint {text!r} {problem}"
    raise LimitError(msg)


def _linear(node: ast.AST, text: str) -> tuple[dict[str, float], float]:
    """``({name: coefficient}, constant)`` of a linear expression, or :class:`LimitError`."""
    if isinstance(node, ast.Name):
        return {node.id: 1.0}, 0.0
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return {}, float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        terms, constant = _linear(node.operand, text)
        sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
        return {k: sign * v for k, v in terms.items()}, sign * constant
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        (a, ca), (b, cb) = _linear(node.left, text), _linear(node.right, text)
        sign = 1.0 if isinstance(node.op, ast.Add) else -1.0
        out = dict(a)
        for name, value in b.items():
            out[name] = out.get(name, 0.0) + sign * value
        return out, ca + sign * cb
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        (a, ca), (b, cb) = _linear(node.left, text), _linear(node.right, text)
        if a and b:
            _refuse(text, "multiplies two parameters; a constraint must be linear")
        factor, (terms, constant) = (cb, (a, ca)) if not b else (ca, (b, cb))
        return {k: factor * v for k, v in terms.items()}, factor * constant
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        (a, ca), (b, cb) = _linear(node.left, text), _linear(node.right, text)
        if b or cb == 0.0:
            _refuse(text, "divides by a parameter or by zero; divide by a non-zero number only")
        return {k: v / cb for k, v in a.items()}, ca / cb
    _refuse(text, f"contains {ast.unparse(node)!r}; use parameter names, numbers, +, -, * and / by a number")
    raise AssertionError  # unreachable: _refuse raises


def unit_to_values(space: ParameterSpace, x: np.ndarray) -> np.ndarray:
    """Parameter values (rows) for unit-cube rows ``x``, as :meth:`ParameterSpace.from_unit` maps one point."""
    x = np.clip(np.atleast_2d(np.asarray(x, dtype=float)), 0.0, 1.0)
    out = np.empty_like(x)
    for i, p in enumerate(space.parameters):
        if p.log:
            out[:, i] = np.exp(math.log(p.low) + x[:, i] * (math.log(p.high) - math.log(p.low)))
        else:
            out[:, i] = p.low + x[:, i] * (p.high - p.low)
        out[:, i] = np.clip(out[:, i], p.low, p.high)
    return out


def constraint_items(constraints) -> list:
    """``constraints`` as a list: none for None, one text (or :class:`LinearConstraint`) alone, or each of an iterable.

    Raises
    ------
    LimitError
        One line naming the value, for anything that is neither a constraint nor a list of them.
    """
    if constraints is None:
        return []
    if isinstance(constraints, str | LinearConstraint):
        return [constraints]
    # A set has no order (a checkpoint's texts would differ between processes); bytes iterate as numbers.
    if isinstance(constraints, Mapping | bytes | set | frozenset) or not isinstance(constraints, Iterable):
        msg = (f"constraints={constraints!r} must be a constraint text such as 'growth_temperature_c <= nucleation_temperature_c' "
               "or a list of them")
        raise LimitError(msg)
    return list(constraints)


class ConstraintSet:
    """Constraints checked against a parameter space: names known, and room left inside the bounds.

    Parameters
    ----------
    constraints : str, LinearConstraint or an iterable of them
        The constraints (texts are parsed with :meth:`LinearConstraint.parse`); one text alone is one constraint.
    space : ParameterSpace
        The parameters they constrain.

    Raises
    ------
    LimitError
        One line naming the constraint and the problem: malformed text, a name not among the
        parameters (the line lists them), or a set no point inside the bounds satisfies (the
        line names the constraints). A constraint every point satisfies is kept.

    Examples
    --------
    >>> space = ParameterSpace({"nucleation_temperature_c": (240, 350), "growth_temperature_c": (200, 350)})
    >>> rules = ConstraintSet(["growth_temperature_c <= nucleation_temperature_c - 10"], space)
    >>> [str(c) for c in rules]
    ['growth_temperature_c - nucleation_temperature_c <= -10']
    >>> rules.satisfied(np.array([[0.5, 0.2], [0.0, 1.0]])).tolist()
    [True, False]
    """

    def __init__(self, constraints: str | LinearConstraint | Iterable[str | LinearConstraint] | None, space: ParameterSpace):
        self.space = space
        parsed = []
        for c in constraint_items(constraints):
            try:
                parsed.append(c if isinstance(c, LinearConstraint) else LinearConstraint.parse(c))
            except LimitError as exc:
                msg = f"{exc}; the parameters are {', '.join(space.names)}"
                raise LimitError(msg) from None
        self.constraints: tuple[LinearConstraint, ...] = tuple(parsed)
        for c in self.constraints:
            unknown = [name for name in c.names if name not in space.names]
            if unknown:
                which = ", ".join(repr(n) for n in unknown)
                msg = f"constraint {c.text or str(c)!r} names {which}, not a parameter; the parameters are {', '.join(space.names)}"
                raise LimitError(msg)
        if self.constraints:
            self._check_room()

    def __iter__(self):
        return iter(self.constraints)

    def __len__(self) -> int:
        return len(self.constraints)

    def texts(self) -> list[str]:
        """The canonical texts (what a state or a campaign stores)."""
        return [str(c) for c in self.constraints]

    def satisfied(self, x: np.ndarray) -> np.ndarray:
        """Whether each unit-cube row of ``x`` satisfies every constraint (in parameter units)."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        if not self.constraints:
            return np.ones(len(x), dtype=bool)
        values = unit_to_values(self.space, x)
        by_name = {name: values[:, i] for i, name in enumerate(self.space.names)}
        ok = np.ones(len(x), dtype=bool)
        for c in self.constraints:
            ok &= c.slack(by_name) >= -1e-9 * max(1.0, abs(c.bound))
        return ok

    def violated(self, point: Mapping[str, float]) -> list[LinearConstraint]:
        """The constraints ``point`` (parameter values by name) does not satisfy."""
        values = {name: float(point[name]) for name in self.space.names}
        return [c for c in self.constraints if float(c.slack(values)) < -1e-9 * max(1.0, abs(c.bound))]

    def _check_room(self) -> None:
        """Refuse a set that no point strictly inside it and within the bounds satisfies (a linear program).

        Variables: the unit coordinates of each parameter on a linear scale between its bounds
        (the feasible set in parameter units is a polytope whatever the parameter's scale) and
        the smallest slack ``t`` of the constraints, each row scaled to unit length; maximise ``t``.
        """
        low = np.array([p.low for p in self.space.parameters])
        width = np.array([p.high - p.low for p in self.space.parameters])
        rows, rhs = [], []
        for c in self.constraints:
            a = np.array([dict(c.coefficients).get(name, 0.0) for name in self.space.names]) * width
            norm = float(np.linalg.norm(a))
            rows.append([*(a / norm), 1.0])
            rhs.append((c.bound - float(np.dot([dict(c.coefficients).get(n, 0.0) for n in self.space.names], low))) / norm)
        dim = self.space.dim
        result = linprog(
            c=[0.0] * dim + [-1.0], A_ub=np.array(rows), b_ub=np.array(rhs), bounds=[(0.0, 1.0)] * dim + [(None, None)], method="highs"
        )
        if result.status != 0 or -result.fun <= _ROOM:
            texts = "; ".join(repr(c.text or str(c)) for c in self.constraints)
            bounds = ", ".join(f"{p.name} {p.low:g}–{p.high:g}" for p in self.space.parameters)
            if result.status != 0 or -result.fun < -_ROOM:
                problem = f"no point within the bounds ({bounds}) satisfies all of the constraints {texts}"
            else:
                problem = (f"the constraints {texts} leave no room to search within the bounds ({bounds}): "
                           "the points they allow lie on a plane or a boundary")
            msg = f"{problem}; loosen a constraint or widen a bound"
            raise LimitError(msg)
