"""The space-filling design: the seeded, scrambled Sobol sequence, its feasible draws, and their order.

The design's points are the seeded Sobol sequence's draws that satisfy the constraints, in
sequence order (infeasible draws are skipped, always the same ones for one seed); with
``centre_first`` the centre of the unit cube comes before them (design index −1), where it
satisfies the constraints, as Ax's first point. Point ``n`` of the design is the ``n``-th of
these, so an optimiser that knows ``n`` trials (a resumed one, its trials registered again)
continues where the first one stopped; a point it already knows is skipped. With a move-time
model the order within the design is free: each design point is the unused one of the design
that is quickest to reach from the current state. Either way the centre is used only by an
optimiser that knows no trial yet.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import qmc

from ..errors import LimitError

#: The longest stretch of the Sobol sequence searched for feasible design points (2¹⁶ draws).
MAX_DRAWS_LOG2 = 16
#: Design points within this unit-cube distance of a failed trial are skipped (as the model's candidates are).
FAILED_RADIUS = 0.02
#: The design index of the centre point, before the Sobol draws' (0, 1, …).
CENTRE_INDEX = -1


def feasible_sobol(dim: int, seed: int, count: int, satisfied: Callable[[np.ndarray], np.ndarray] | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The first ``count`` draws of the seeded, scrambled Sobol sequence that satisfy ``satisfied``.

    Parameters
    ----------
    dim, seed : int
        The sequence (``scipy.stats.qmc.Sobol(dim, scramble=True, seed=seed)``).
    count : int
        How many feasible draws.
    satisfied : callable, optional
        Unit-cube rows → bool array; default every draw is feasible.

    Returns
    -------
    indices, points : ndarray
        The draws' indices in the sequence and the points, ``(count,)`` and ``(count, dim)``.

    Raises
    ------
    LimitError
        If fewer than ``count`` of the first 2¹⁶ draws are feasible (constraints leaving almost no room).
    """
    m = max(6, math.ceil(math.log2(max(count, 1))))
    while True:
        points = qmc.Sobol(dim, scramble=True, seed=seed).random_base2(m)
        ok = np.flatnonzero(satisfied(points)) if satisfied is not None else np.arange(len(points))
        if len(ok) >= count:
            return ok[:count], points[ok[:count]]
        if m >= MAX_DRAWS_LOG2:
            msg = (f"only {len(ok)} of the first {len(points)} Sobol draws satisfy the constraints, fewer than the "
                   f"{count} the design needs; loosen the constraints")
            raise LimitError(msg)
        m += 1


def next_design_point(
    trials: Sequence[Mapping[str, Any]],
    *,
    dim: int,
    seed: int,
    initial_points: int,
    satisfied: Callable[[np.ndarray], np.ndarray] | None = None,
    move_time_s: Callable[[np.ndarray], np.ndarray] | None = None,
    centre_first: bool = False,
) -> tuple[np.ndarray, int]:
    """The next design point (unit cube) and its index in the Sobol sequence (−1 for the centre).

    Parameters
    ----------
    trials : sequence of dict
        The optimiser's trials in the order known (``"x"``, ``"status"``, optional ``"design_index"``).
    dim, seed : int
        The Sobol sequence.
    initial_points : int
        The design's size.
    satisfied : callable, optional
        Unit-cube rows → whether they satisfy the constraints.
    move_time_s : callable, optional
        Unit-cube rows → seconds to reach them from the current state. Without it the design
        continues in sequence order at the number of trials known (past any used index); with it
        the point is the quickest to reach among the design's unused points (a trial at a design
        point uses it), the lowest index on a tie.
    centre_first : bool
        The design begins with the centre of the unit cube (index −1), if it satisfies the
        constraints; the Sobol draws follow.
    """
    failed = np.array([t["x"] for t in trials if t["status"] == "failed"]).reshape(-1, dim)
    used = [int(t["design_index"]) for t in trials if t.get("design_index") is not None]
    count = max(len(trials), initial_points) + 65
    centre = np.full((1, dim), 0.5)
    with_centre = centre_first and (satisfied is None or bool(satisfied(centre)[0]))
    while True:  # enough feasible draws to reach past every used index, and 64 skips beyond the next one
        indices, points = feasible_sobol(dim, seed, count, satisfied)
        if with_centre:
            indices, points = np.r_[CENTRE_INDEX, indices], np.vstack([centre, points])
        rank = max(len(trials), int(np.searchsorted(indices, max(used, default=CENTRE_INDEX - 1), side="right")))
        if rank + 65 <= len(indices) and (not used or indices[-1] >= max(used)):
            break
        count = max(2 * count, rank + 65)

    known = np.array([t["x"] for t in trials]).reshape(-1, dim)

    def clear(rank: int) -> bool:
        """Not next to a failed trial, and not a point already known (a campaign made before the
        centre point came first, resumed during its design, registers its Sobol draws without
        their indices; they are skipped, and the design continues where it stopped)."""
        if failed.size and float(np.min(np.linalg.norm(failed - points[rank], axis=1))) <= FAILED_RADIUS:
            return False
        return not (known.size and float(np.min(np.max(np.abs(known - points[rank]), axis=1))) < 1e-6)

    if move_time_s is None:
        for _ in range(64):
            if rank + 1 >= len(indices) or clear(rank):
                break
            rank += 1
        return points[rank], int(indices[rank])
    taken = set(used)
    # The centre is the first point of an optimiser that knows no trial yet, as in sequence order
    # (which starts at the number of trials known).
    free = [r for r in range(len(indices)) if int(indices[r]) not in taken and clear(r)
            and not (indices[r] == CENTRE_INDEX and len(trials))]
    choices = free[: max(1, initial_points - len(trials))] or [len(indices) - 1]
    times = np.asarray(move_time_s(points[choices]), dtype=float)
    rank = choices[int(np.argmin(times))]
    return points[rank], int(indices[rank])
