"""Exceptions raised by autolab.

Each inherits a builtin and :class:`AutolabError`, as ophyd's ``LimitError(ValueError,
OpException)`` does, so callers may catch either. Messages name the field, the value and what
is allowed, in the user's terms; the CLI prints them as one line and exits with code 2.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


class AutolabError(Exception):
    """Base class of every error autolab raises on purpose."""


class LimitError(ValueError, AutolabError):
    """A setpoint or plan argument lies outside what the hardware allows."""


class ReactorFault(RuntimeError, AutolabError):
    """The reactor cannot do what was asked now (no flow, empty syringe, …)."""


class CatalogError(RuntimeError, AutolabError):
    """The catalog cannot be opened, written or searched as asked."""


def _is_bool(value: Any) -> bool:
    """True for ``True``/``False`` and numpy's bools (without importing numpy here)."""
    return isinstance(value, bool) or str(getattr(value, "dtype", "")) == "bool"


def check_flag(field: str, value: Any) -> bool:
    """``value`` if it is True or False (a numpy bool too), else :class:`LimitError` naming ``field``.

    A text such as ``"no"`` (a queue item typed by hand) would otherwise count as true.

    Examples
    --------
    >>> check_flag("cost_aware", "no")
    Traceback (most recent call last):
    ...
    autolab.errors.LimitError: cost_aware='no' must be True or False
    """
    if not _is_bool(value):
        msg = f"{field}={value!r} must be True or False"
        raise LimitError(msg)
    return bool(value)


def check_range(field: str, value: float, low: float, high: float, unit: str, *, what: str = "") -> float:
    """Return ``value`` as a float if ``low ≤ value ≤ high``, else raise :class:`LimitError`.

    ``what`` is the owner in the possessive ("nucleation heater's"). The message names
    ``field``, the value and the allowed range, e.g.
    ``nucleation_temperature_c=410 is outside the nucleation heater's allowed range 20–350 °C``.

    Examples
    --------
    >>> check_range("residence_time_s", 14, 0.625, 600, "s", what="pumps'")
    14.0
    >>> check_range("residence_time_s", -1, 0.625, 600, "s", what="pumps'")
    Traceback (most recent call last):
    ...
    autolab.errors.LimitError: residence_time_s=-1 is outside the pumps' allowed range 0.625–600 s
    """
    try:
        if _is_bool(value):  # True would pass as 1 (a queue item typed by hand)
            raise TypeError
        number = float(value)
        if number != number:  # NaN
            raise ValueError
    except (TypeError, ValueError):
        msg = f"{field}={value!r} is not a number; allowed range is {low:g}–{high:g} {unit}"
        raise LimitError(msg) from None
    if not low <= number <= high:
        where = f"the {what} allowed range" if what else "the allowed range"
        msg = f"{field}={value!r} is outside {where} {low:g}–{high:g} {unit}"
        raise LimitError(msg)
    return number


def check_count(field: str, value: Any, low: int, high: int) -> int:
    """A whole number of points in ``low``–``high``, or :class:`LimitError` naming the field.

    Examples
    --------
    >>> check_count("budget", 25, 1, 1000)
    25
    >>> check_count("budget", 2.5, 1, 1000)
    Traceback (most recent call last):
    ...
    autolab.errors.LimitError: budget=2.5 must be a whole number of points in 1–1000
    """
    number = check_range(field, value, low, high, "points")
    if number != int(number):  # check_range has refused a bool
        msg = f"{field}={value!r} must be a whole number of points in {low}–{high}"
        raise LimitError(msg)
    return int(number)


def check_seed(field: str, value: Any) -> int:
    """Return ``value`` as an int if it is a whole number ≥ 0 (a seed numpy takes), else raise :class:`LimitError`.

    Examples
    --------
    >>> check_seed("seed", 3)
    3
    >>> check_seed("seed", -1)
    Traceback (most recent call last):
    ...
    autolab.errors.LimitError: seed=-1 must be a whole number ≥ 0
    """
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if isinstance(value, bool) or number is None or number != value or number < 0:
        msg = f"{field}={value!r} must be a whole number ≥ 0"
        raise LimitError(msg)
    return number


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (its type's name if it has none)."""
    return " ".join((str(exc) or type(exc).__name__).split())


def _looked_up(option: str, path: Path, look, error: type[AutolabError]):
    """``look()``, or ``error`` naming ``option`` and ``path`` when the file system refuses the lookup
    (a parent folder that cannot be searched)."""
    try:
        return look()
    except OSError as exc:
        msg = f"{option}={path}: {exc.strerror}"
        raise error(msg) from None


def check_output_file(option: str, path: str | os.PathLike, *, error: type[AutolabError] = LimitError) -> Path:
    """``path`` as an absolute path whose folder exists, or ``error`` naming ``option`` and the folder.

    Examples
    --------
    >>> check_output_file("--plot", "/no/such/folder/p.png")
    Traceback (most recent call last):
    ...
    autolab.errors.LimitError: --plot=/no/such/folder/p.png: the folder /no/such/folder does not exist
    """
    path = Path(path).expanduser().resolve()
    if not _looked_up(option, path, path.parent.is_dir, error):
        what = "is a file, not a folder" if _looked_up(option, path, path.parent.exists, error) else "does not exist"
        msg = f"{option}={path}: the folder {path.parent} {what}"
        raise error(msg)
    if not os.access(path.parent, os.W_OK | os.X_OK):
        msg = f"{option}={path}: the folder {path.parent} is not writable"
        raise error(msg)
    return path


def check_figure_file(option: str, path: str | os.PathLike) -> Path:
    """``path`` as a figure file to write: :func:`check_output_file`, ``.png`` added to a bare name, a type matplotlib writes.

    Examples
    --------
    >>> check_figure_file("--plot", "/tmp/point").name
    'point.png'
    >>> check_figure_file("--plot", "/tmp/point.txt")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    autolab.errors.LimitError: --plot=/tmp/point.txt: matplotlib writes no '.txt' figure; give a .png, .pdf or .svg file (or: ...)
    """
    from matplotlib.backend_bases import FigureCanvasBase

    path = check_output_file(option, path)
    if not path.suffix:
        return path.with_suffix(".png")
    types = sorted(FigureCanvasBase.get_supported_filetypes())
    if path.suffix.lower().lstrip(".") not in types:
        others = ", ".join(t for t in types if t not in ("png", "pdf", "svg"))
        msg = f"{option}={path}: matplotlib writes no {path.suffix!r} figure; give a .png, .pdf or .svg file (or: {others})"
        raise LimitError(msg)
    return path


def check_output_folder(option: str, path: str | os.PathLike) -> Path:
    """``path`` as an absolute path where a folder is or can be made, or :class:`LimitError` naming ``option``.

    The folder may be missing, with missing parents; the nearest of them that exists must be a
    writable folder, and ``path`` itself, if it exists, a folder.
    """
    path = Path(path).expanduser().resolve()
    existing = _looked_up(option, path, lambda: next(p for p in (path, *path.parents) if p.exists()), LimitError)
    if not existing.is_dir():
        msg = f"{option}={path}: {existing} is a file, not a folder"
        raise LimitError(msg)
    if not os.access(existing, os.W_OK | os.X_OK):
        msg = f"{option}={path}: the folder {existing} is not writable"
        raise LimitError(msg)
    return path
