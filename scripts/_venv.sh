#!/usr/bin/env bash
# Shared by scripts/demo and scripts/test: create .venv if needed and install autolab into it.
# Needs only Python ≥ 3.11 and access to the package registry. Set PYTHON to pick the interpreter.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "autolab needs Python >= 3.11")'
    "$python" -m venv "$venv"
fi
stamp="$venv/.autolab-installed"
# Reinstall only when the project's dependencies changed (pyproject.toml newer than the stamp).
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
    "$venv/bin/python" -m pip install --quiet --upgrade pip "setuptools>=77" wheel
    "$venv/bin/python" -m pip install --quiet -e "$root[test]"
    touch "$stamp"
fi
export PATH="$venv/bin:$PATH"
