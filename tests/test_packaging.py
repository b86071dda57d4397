"""The design-card layout imports as autolab.* from an editable and from a wheel install."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUBPACKAGES = {"autolab.plans": "plans", "autolab.sim": "sim", "autolab.plugins": "plugins"}


def test_editable_install_maps_top_level_folders():
    import importlib

    for module, folder in SUBPACKAGES.items():
        imported = importlib.import_module(module)
        assert Path(imported.__file__).parent == ROOT / folder


@pytest.mark.slow
def test_wheel_install_imports_every_subpackage(tmp_path):
    wheel_dir = tmp_path / "wheels"
    # Build from a clean copy: setuptools reuses a build/ folder, which can hold packages pyproject no longer lists.
    source = tmp_path / "source"
    skipped = (".git", ".venv", "build", "*.egg-info", "__pycache__", "autolab-data", "autolab-reports")
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*skipped))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheel_dir), str(source)],
        check=True, capture_output=True, timeout=300,
    )
    (wheel,) = wheel_dir.glob("autolab-*.whl")
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True, capture_output=True, timeout=300,
    )
    code = (
        "import sys, autolab.plans, autolab.sim, autolab.plugins, autolab.devices;"
        "print(autolab.plans.__file__); print(autolab.sim.__file__); print(autolab.plugins.__file__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}, cwd=tmp_path,
    )
    for line in result.stdout.splitlines():
        assert line.startswith(str(target / "autolab")), line
    # Every package of the source tree is in the wheel (a package missing from pyproject's list is not).
    in_wheel = {".".join(init.parent.relative_to(target).parts) for init in (target / "autolab").rglob("__init__.py")}
    in_source = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "autolab").rglob("__init__.py")}
    in_source |= {f"autolab.{folder}" for folder in ("plans", "plugins", "sim")}
    assert in_wheel == in_source


def test_ax_is_an_optional_bench_extra_and_autolab_does_not_pull_pytorch():
    """Ax/BoTorch (and so PyTorch) come only with the `bench` extra, in .venv-bench (scripts/bench-venv)."""
    import importlib.util
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert any(req.startswith("ax-platform") for req in extras["bench"])
    for requirement in project["dependencies"] + extras["test"]:
        assert not requirement.startswith(("ax-platform", "botorch", "torch")), requirement
    # The suite runs in autolab's own install (scripts/_venv.sh): nothing there brought PyTorch in.
    assert importlib.util.find_spec("torch") is None
