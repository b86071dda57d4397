"""Serve tiled's requests without rebuilding FastAPI's dependency graphs on every request.

tiled's app overrides one FastAPI dependency (its settings). While ``app.dependency_overrides``
is not empty, FastAPI rebuilds the dependency graph of every dependency of every request
(``get_dependant``: ``inspect.signature`` and parameter analysis, about a quarter of the CPU
time of a catalog write in autolab's writer), even of the dependencies that are not overridden
(fastapi/fastapi#16342, #14441). The graph it rebuilds depends only on the arguments it is built
from, so :func:`reuse_dependency_graphs` keeps each one and hands it out again for the same
arguments; overridden dependencies get their own graph as before.
"""

from __future__ import annotations

import functools
import inspect

#: The keyword arguments with which FastAPI's ``solve_dependencies`` rebuilds a graph per request.
_PER_REQUEST_ARGUMENTS = frozenset({"path", "call", "name", "parent_oauth_scopes", "scope", "concurrency"})
#: Graphs kept at most (one per route and dependency of the apps in this process).
_MAX_KEPT = 4096


def reuse_dependency_graphs() -> bool:
    """Make FastAPI reuse per-request dependency graphs; True if installed (now or before).

    Only the per-request rebuild is affected, recognised by the exact keyword arguments
    FastAPI's ``solve_dependencies`` passes; graphs built while routes are declared (which FastAPI
    then extends in place) are built as before. A FastAPI whose ``get_dependant`` takes other
    arguments is left alone (False).
    """
    from fastapi.dependencies import utils

    if getattr(utils.get_dependant, "_autolab_reuses_graphs", False):
        return True
    original = utils.get_dependant
    if not _PER_REQUEST_ARGUMENTS <= set(inspect.signature(original).parameters):
        return False
    kept: dict = {}

    @functools.wraps(original)
    def get_dependant(**arguments):
        if arguments.keys() != _PER_REQUEST_ARGUMENTS:
            return original(**arguments)
        key = tuple(
            tuple(value) if name == "parent_oauth_scopes" and value is not None else value
            for name, value in sorted(arguments.items())
        )
        graph = kept.get(key)
        if graph is None:
            if len(kept) >= _MAX_KEPT:
                kept.clear()
            graph = kept[key] = original(**arguments)
        return graph

    get_dependant._autolab_reuses_graphs = True
    utils.get_dependant = get_dependant
    return True
