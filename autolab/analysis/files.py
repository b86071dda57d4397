"""Readers for instrument files: UV-Vis two-column exports and pyFAI-style SAXS text.

Malformed input raises :class:`FileFormatError` naming the file, the line and what was wrong.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from autolab.errors import AutolabError

_SPLIT = re.compile(r"[,;\t ]+")
MIN_POINTS = 20


class FileFormatError(ValueError, AutolabError):
    """An instrument file that cannot be read as the expected kind."""


def _rows(path: Path, columns: tuple[int, ...], kind: str) -> tuple[list[list[float]], list[str]]:
    """Numeric rows (with ``columns`` allowed counts) and the comment/header lines before them."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        msg = f"{path}: cannot read the file ({exc.strerror})"
        raise FileFormatError(msg) from None
    rows, header = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", "%", "!")):
            header.append(line)
            continue
        fields = [f for f in _SPLIT.split(line) if f]
        try:
            values = [float(f) for f in fields]
        except ValueError:
            if not rows:  # a text header line before the data (e.g. "wavelength_nm,absorbance")
                header.append(line)
                continue
            msg = f"{path}:{number}: {line!r} is not numbers; a {kind} file has {' or '.join(map(str, columns))} numeric columns"
            raise FileFormatError(msg) from None
        if len(values) not in columns:
            # "437,5;0,12": a decimal comma splits each number in two.
            comma = "," in line and (";" in line or "\t" in line)
            hint = "; decimal commas? write 437.5, not 437,5" if comma else ""
            msg = f"{path}:{number}: expected {' or '.join(map(str, columns))} columns for a {kind} file, found {len(values)}{hint}"
            raise FileFormatError(msg)
        if np.any(np.isinf(values)):  # NaN is a detector's "no reading": the plugins drop such a pair and say so
            msg = f"{path}:{number}: {line!r} contains infinity"
            raise FileFormatError(msg)
        rows.append(values)
    if len(rows) < MIN_POINTS:
        msg = f"{path}: only {len(rows)} data line(s); a {kind} file needs at least {MIN_POINTS}"
        raise FileFormatError(msg)
    return rows, header


def read_uvvis(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Wavelength (nm) and absorbance from a CSV (``wavelength_nm,absorbance``) or any
    two-column text export (comma, semicolon, tab or space separated; text headers skipped)."""
    path = Path(path)
    rows, _ = _rows(path, (2,), "UV-Vis")
    data = np.asarray(rows)
    # No absorbance reaches 10 AU and no spectrometer's wavelength lies outside 150–3000 nm: such columns are swapped.
    if np.all(np.abs(data[:, 0]) <= 10.0) and np.all((data[:, 1] >= 150.0) & (data[:, 1] <= 3000.0)):
        msg = (f"{path}: the columns look swapped (absorbance first, then wavelength; {data[0, 0]:g}, {data[0, 1]:g} on the first "
               "data line): write the wavelength (nm) first")
        raise FileFormatError(msg)
    return data[:, 0], data[:, 1]


def read_saxs(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """q (nm⁻¹), I(q) and σ(q) (None for two columns) from pyFAI-style integrated text.

    A header naming ``q_A^-1`` (Å⁻¹) is converted to nm⁻¹; otherwise q is taken as nm⁻¹.
    """
    path = Path(path)
    rows, header = _rows(path, (2, 3, 4), "SAXS")
    width = {len(r) for r in rows}
    if len(width) > 1:
        msg = f"{path}: data lines have different column counts {sorted(width)}"
        raise FileFormatError(msg)
    data = np.asarray(rows)
    q = data[:, 0]
    if any("q_a^-1" in line.lower().replace(" ", "") or "q_a-1" in line.lower() for line in header):
        q = q * 10.0
    sigma = data[:, 2] if data.shape[1] >= 3 else None
    return q, data[:, 1], sigma
