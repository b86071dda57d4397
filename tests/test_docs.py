"""Every fenced code block in README.md and docs/ runs, as a new user would run it.

Each page runs in its own fresh working directory with its own per-user data folder (so the
default catalog and queue folder are fresh too) and ``autolab`` on ``PATH``:

- ``python`` blocks of a page run in order in one interpreter, so a block may use what an earlier
  block of the same page defined;
- ``bash`` blocks run with ``bash -euo pipefail`` in the page's folder;
- ``text`` blocks that start with ``$ `` are a command and what it prints: the command runs and
  its output (stdout and stderr) must match, a line ``...`` standing for any lines;
- ``toml`` blocks must parse.

An HTML comment right before a block steers it (the reader of the rendered page does not see it):

- ``<!-- docs-test: skip REASON -->``: not run; the reason says why and which test covers it;
- ``<!-- docs-test: setup CODE -->``: code of the block's own language run just before it (a
  catalog to read, a campaign id to fill in);
- ``<!-- docs-test: teardown CODE -->``: run after it, also when it fails (stop a server).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)
_DIRECTIVE = re.compile(r"<!--\s*docs-test:\s*(?P<verb>skip|setup|teardown)\b(?P<arg>.*?)-->", re.S)
#: Languages that are run (or parsed); any other fence must be a plain-text block.
RUNNABLE = ("python", "bash", "text", "toml")


@dataclass
class Block:
    page: Path
    line: int
    lang: str
    body: str
    skip: str | None = None
    setup: str = ""
    teardown: str = ""

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line} ({self.lang})"


def blocks_of(page: Path) -> list[Block]:
    """The fenced blocks of ``page`` with the directives in the comments right before them."""
    text = page.read_text()
    out = []
    previous_end = 0
    for match in _FENCE.finditer(text):
        block = Block(page, text.count("\n", 0, match.start()) + 1, match["lang"], match["body"])
        between = text[previous_end : match.start()]
        # Directives count only in the comments directly above the fence (nothing but blank lines between).
        trailing = re.search(r"((?:<!--.*?-->\s*)+)$", between, re.S)
        for directive in _DIRECTIVE.finditer(trailing.group(1) if trailing else ""):
            arg = directive["arg"].strip()
            if directive["verb"] == "skip":
                block.skip = arg
            else:
                setattr(block, directive["verb"], block_text(arg))
        out.append(block)
        previous_end = match.end()
    return out


def block_text(arg: str) -> str:
    """A directive's code, dedented (the comment may indent it)."""
    lines = arg.splitlines()
    indents = [len(line) - len(line.lstrip()) for line in lines[1:] if line.strip()]
    cut = min(indents, default=0)
    return "\n".join([lines[0].strip(), *(line[cut:] for line in lines[1:])]).strip() + "\n"


def _environment(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOLAB_", "TILED_", "QSERVER_"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        XDG_DATA_HOME=str(workdir / ".data"),
        AUTOLAB_NO_BEC="1",
        PYTHONUNBUFFERED="1",
        COLUMNS="200",
    )
    return env


def _run(args: list[str], workdir: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=workdir, env=_environment(workdir), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, check=False
    )


def _matches(expected: list[str], actual: list[str]) -> bool:
    """Line-by-line equality, a ``...`` line standing for any number of lines."""
    if not expected:
        return not actual
    if expected[0] == "...":
        return any(_matches(expected[1:], actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and expected[0] == actual[0] and _matches(expected[1:], actual[1:])


def _check_shell(block: Block, workdir: Path) -> None:
    script = "\n".join(filter(None, [block.setup, block.body]))
    try:
        result = _run(["bash", "-euo", "pipefail", "-c", script], workdir)
    finally:
        if block.teardown:
            _run(["bash", "-c", block.teardown], workdir)
    assert result.returncode == 0, f"{block} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


def _check_transcript(block: Block, workdir: Path) -> None:
    """``$ command`` lines and the output each must print."""
    commands: list[tuple[str, list[str]]] = []
    for line in block.body.splitlines():
        if line.startswith("$ "):
            commands.append((line[2:], []))
        else:
            assert commands, f"{block}: a transcript starts with '$ command'"
            commands[-1][1].append(line)
    for command, expected in commands:
        result = _run(["bash", "-c", command], workdir)
        actual = (result.stdout + result.stderr).rstrip("\n").splitlines()
        assert _matches(expected, actual), f"{block}: `{command}` printed\n" + "\n".join(actual)


def _check_python(blocks: list[Block], workdir: Path) -> None:
    """The page's python blocks, in order, in one interpreter; a failure names its block."""
    program = ["import sys, traceback"]
    for block in blocks:
        code = block.setup + block.body
        program.append(f"__block__ = {str(block)!r}")
        program.append(f"exec(compile({code!r}, {str(block)!r}, 'exec'))")
        if block.teardown:
            program.append(f"exec(compile({block.teardown!r}, {str(block) + ' teardown'!r}, 'exec'))")
    result = _run([sys.executable, "-c", "\n".join(program)], workdir)
    assert result.returncode == 0, f"python blocks failed:\n{result.stdout[-3000:]}\n{result.stderr[-4000:]}"


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_code_block_of_the_page_runs(page, tmp_path):
    blocks = [block for block in blocks_of(page) if block.skip is None]
    for block in blocks:
        assert block.lang in RUNNABLE, f"{block}: a fence must name one of {', '.join(RUNNABLE)} (or be marked skip)"
    python = [block for block in blocks if block.lang == "python"]
    for block in blocks:
        if block.lang == "bash":
            _check_shell(block, tmp_path)
        elif block.lang == "text" and block.body.startswith("$ "):
            _check_transcript(block, tmp_path)
        elif block.lang == "toml":
            tomllib.loads(block.body)
        elif block.lang == "python" and block is python[0]:
            _check_python(python, tmp_path)


def test_every_skipped_block_says_why():
    for page in PAGES:
        for block in blocks_of(page):
            assert block.skip is None or len(block.skip) > 10, f"{block}: `docs-test: skip` needs a reason"


def test_the_directive_parser_reads_what_the_docs_use(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "Intro\n\n<!-- docs-test: skip needs a beamline, see tests/test_x.py -->\n```bash\nrm -rf /\n```\n\n"
        "<!-- docs-test: setup\n    X = 1\n    Y = 2\n-->\n<!-- docs-test: teardown print('bye') -->\n```python\nprint(X + Y)\n```\n"
        "\n```text\nplain\n```\n"
    )
    skipped, python, text = blocks_of(page)
    assert (skipped.skip, skipped.lang, skipped.line) == ("needs a beamline, see tests/test_x.py", "bash", 4)
    assert (python.setup, python.teardown, python.body) == ("X = 1\nY = 2\n", "print('bye')\n", "print(X + Y)\n")
    assert (text.skip, text.setup, text.lang) == (None, "", "text")
    assert _matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert not _matches(["a", "d"], ["a", "b", "d"])


def test_the_plugin_on_the_analysis_page_is_the_packaged_example():
    """docs/analysis.md shows the example plugin's code; it must be the code `pip install` gets."""
    packaged = (ROOT / "docs" / "example-plugin" / "autolab_peakcount" / "__init__.py").read_text()
    (shown,) = [block.body for block in blocks_of(ROOT / "docs" / "analysis.md") if "@hookimpl" in block.body]
    hooks = shown[shown.index("@hookimpl") :]
    assert packaged[packaged.index("@hookimpl") :] == hooks
    imports = [line for line in shown.splitlines() if line.startswith(("import ", "from "))]
    assert imports == [line for line in packaged.splitlines() if line.startswith(("import ", "from "))]
