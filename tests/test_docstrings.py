"""Docstring examples run, so they cannot go stale (STYLE.md: doctests collected)."""

from __future__ import annotations

import doctest
import importlib

import pytest

#: Modules with runnable examples; plans' examples need a RunEngine and are marked +SKIP.
MODULES = [
    "autolab.sim",
    "autolab.devices.twin",
    "autolab.errors",
    "autolab.catalog.location",
    "autolab.optimize.gp",
    "autolab.analysis.hookspecs",
    "autolab.progress",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
