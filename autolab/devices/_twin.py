"""What every simulated twin shares: its clock and random generator, injected or inherited."""

from __future__ import annotations

import numpy as np

from .clock import SimClock


class TwinMixin:
    """Gives a twin device ``self.clock`` and ``self.rng``.

    Passed explicitly (``clock=``, ``rng=``) for a standalone twin, or inherited from the parent
    device (a :class:`~autolab.devices.twin.TwinFlowReactor`) when built as one of its components.
    """

    def _init_twin(self, clock: SimClock | None, rng: np.random.Generator | None) -> None:
        parent = getattr(self, "parent", None)
        self.clock = clock if clock is not None else getattr(parent, "clock", None)
        self.rng = rng if rng is not None else getattr(parent, "rng", None)
        if self.clock is None or self.rng is None:
            msg = f"{type(self).__name__} needs clock= and rng= (or a twin reactor as parent)"
            raise TypeError(msg)
