"""Docstring examples run, so they cannot go stale (STYLE.md: doctests collected).

Every module whose source holds an example is collected; examples that need a RunEngine or a
running service are marked ``+SKIP`` in place.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"autolab": "autolab", "plans": "autolab.plans", "plugins": "autolab.plugins", "sim": "autolab.sim"}
#: Importing these has effects (the IPython session opens the catalog; __main__ runs the CLI).
NOT_IMPORTED = {"autolab.startup", "autolab.__main__"}


def modules_with_examples() -> list[str]:
    out = []
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            name = ".".join((package, *(parts[:-1] if parts[-1] == "__init__" else parts)))
            if ">>> " in path.read_text() and name not in NOT_IMPORTED:
                out.append(name)
    return out


MODULES = modules_with_examples()


def test_the_modules_with_examples_are_found():
    assert {"autolab.sim", "autolab.conditions", "autolab.optimize.gp", "autolab.errors", "autolab.progress"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
