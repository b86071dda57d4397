"""docs/architecture.md's import rules hold for every import in the code, and nothing imports in a circle.

The table of allowed imports is read from the page itself, so the page and the code cannot drift
apart: a new import across parts either fits a row or changes the page in the same commit.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Source folders and the package each is imported as (pyproject's package-dir).
FOLDERS = {"autolab": "autolab", "plans": "autolab.plans", "plugins": "autolab.plugins", "sim": "autolab.sim"}


def module_files() -> dict[str, Path]:
    out = {}
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join((package, *parts))] = path
    return out


def imports_of(module: str, path: Path, *, top_level_only: bool = False) -> set[str]:
    """The autolab modules ``module`` imports (``from autolab import sim`` counts as ``autolab.sim``)."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    known = module_files()
    # Every module imports the root package on the way; ``from autolab import sim`` is an import of ``autolab.sim``.
    return {name for name in found if name in known and name not in (module, "autolab")}


def part_of(module: str) -> str:
    """``autolab.devices.twin`` → ``devices``; ``autolab`` → ``autolab``."""
    return module.split(".")[1] if "." in module else "autolab"


def rules() -> dict[str, set[str] | None]:
    """docs/architecture.md's table: part → parts it may import (None: any)."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    table = text.split("| part | may import |")[1].split("\n\n")[0]
    out: dict[str, set[str] | None] = {"autolab": {"errors"}}
    for line in table.strip().splitlines()[1:]:
        part, allowed = (cell.strip() for cell in line.strip("|").split("|"))
        names = re.findall(r"`([\w.]+)`", part)
        targets = None if allowed == "any part" else set(re.findall(r"`([\w.]+)`", allowed))
        for name in names:
            out[name] = targets
    return out


def rule_for(module: str, table: dict[str, set[str] | None]) -> tuple[str, set[str] | None]:
    """The most specific row for ``module`` (``devices.twin`` before ``devices``)."""
    inside = module.split(".", 1)[1] if "." in module else "autolab"
    for row in sorted(table, key=len, reverse=True):
        if inside == row or inside.startswith(row + "."):
            return row, table[row]
    pytest.fail(f"{module} is in no row of docs/architecture.md's table of allowed imports; add its part there")


def test_the_table_names_every_part_of_the_code():
    table = rules()
    for module in module_files():
        rule_for(module, table)
    assert table["sim"] == {"materials"}
    assert table["plans"] == {"devices", "errors", "conditions"}


def test_every_import_goes_where_the_architecture_allows():
    table = rules()
    broken = []
    for module, path in module_files().items():
        row, allowed = rule_for(module, table)
        if allowed is None:
            continue
        for target in imports_of(module, path):
            if part_of(target) == part_of(module):
                continue
            target_row, _ = rule_for(target, table)
            if part_of(target) not in allowed and target_row not in allowed:
                broken.append(f"{module} imports {target} (row {row!r} allows {', '.join(sorted(allowed)) or 'nothing'})")
    assert broken == []


def test_the_device_interfaces_and_plans_know_nothing_of_the_twin_campaign_or_analysis():
    files = module_files()
    for module in ("autolab.devices.reactor", "autolab.devices.detectors", "autolab.devices.heater", "autolab.devices.pump"):
        assert not {t for t in imports_of(module, files[module]) if part_of(t) == "sim"}, module
    for module in (m for m in files if m.startswith("autolab.plans")):
        assert not {part_of(t) for t in imports_of(module, files[module])} & {"campaign", "cli", "analysis", "optimize", "sim"}, module


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The circles in ``graph`` (depth-first search; one path per circle found)."""
    found, state, stack = [], {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_no_two_parts_import_each_other():
    graph = defaultdict(set)
    for module, path in module_files().items():
        for target in imports_of(module, path):
            if part_of(target) != part_of(module):
                graph[part_of(module)].add(part_of(target))
    assert cycles(graph) == []


def test_no_two_modules_import_each_other_at_import_time():
    """Imports inside functions are how a command stays fast to start; at module level they must not circle."""
    graph = {}
    for module, path in module_files().items():
        # A package's own __init__ re-exporting its modules is not a circle with them.
        graph[module] = {t for t in imports_of(module, path, top_level_only=True) if not module.startswith(t + ".")}
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
