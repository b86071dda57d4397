"""What the commands share: options, the condition options made from :mod:`autolab.conditions`, input parsing and errors.

Every command module imports this one and nothing else of the command line, so the commands
never import each other or the group (:mod:`autolab.cli`). Only light modules are imported here:
a command imports what it runs inside its function, so ``autolab --help`` starts fast.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from contextlib import contextmanager
from functools import wraps

import click

from ..conditions import CONDITIONS, NAMES
from ..errors import AutolabError, LimitError
from ..interrupt import Interrupted

CATALOG_OPTION = click.option(
    "--catalog",
    "catalog",
    default=None,
    metavar="PATH|URI",
    help="Catalog directory or tiled server URI "
         "(default: $AUTOLAB_CATALOG, the AUTOLAB_CONFIG file's [catalog] location, or $XDG_DATA_HOME/autolab/catalog).",
)
SEED_OPTION = click.option(
    "--seed", type=int, default=None,
    help="Seed of the twin's noise (default: the session config's seed, else 0); repeats a run exactly with --time-scale 0 only.",
)
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON (an object, or a list of rows for a listing) instead of tables.")
TIME_SCALE_OPTION = click.option(
    "--time-scale",
    type=float,
    default=None,
    help="Real seconds per simulated second for the twin, 0 as fast as possible (default: the session config's, else 0).",
)
DEVICES_OPTION = click.option(
    "--devices", type=click.Path(dir_okay=False), default=None,
    help="Device file naming each device's EPICS class and PV prefix (docs/epics.md); default the in-process twin "
         "(or the session config's [reactor] devices, AUTOLAB_DEVICES).",
)
STANDBY_FLOW_OPTION = click.option(
    "--standby-flow-ul-min", "standby_flow_ul_min", default=None, metavar="FLOW",
    help="Total pump flow while the heaters move and settle, µL/min; 0 stops the pumps "
    "(default: the config file's [reactor] standby_flow_ul_min, else the reactor's own, 25 for the twin).",
)

BOUND_OPTION = click.option(
    "--bound", "bounds", multiple=True, metavar="NAME=LOW:HIGH[:log|:linear]",
    help=f"Search range of a condition (repeat); NAME is {', '.join(NAMES)}.",
)
CONSTRAINT_OPTION = click.option(
    "--constraint", "constraints", multiple=True, metavar="TEXT",
    help="Linear inequality between conditions in their units (repeat), e.g. 'growth_temperature_c <= nucleation_temperature_c'.",
)
FIX_OPTION = click.option("--fix", "fixed", multiple=True, metavar="NAME=VALUE", help="Hold a condition constant (repeat).")
INITIAL_DESIGN_OPTION = click.option(
    "--initial-design", type=int, default=None,
    help="Design points before the model (the centre, then Sobol); default max(5, 3d+1), at most a quarter of the budget but at least max(5, d+1).",
)


def condition_options(func: Callable) -> Callable:
    """Add one required option per condition (``--residence-time-s``), passed on as the condition's name."""
    for c in reversed(CONDITIONS):  # click lists options in the order the decorators are written
        func = click.option(c.option, c.name, type=float, required=True, help=c.help)(func)
    return func


def condition_list_options(func: Callable) -> Callable:
    """Add one required option per condition for a comma-separated list (``--residence-times-s``), passed on as text."""
    for c in reversed(CONDITIONS):
        func = click.option(c.plural_option, c.plural, required=True, metavar="LIST", help=c.plural_help)(func)
    return func


@contextmanager
def warnings_to_stderr():
    """Show the campaign's warnings (``autolab.campaign`` log records) as one line each on stderr, ``autolab: warning: …``."""
    logger = logging.getLogger("autolab.campaign")
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("autolab: warning: %(message)s"))
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def fail(message: str) -> None:
    """One line on stderr and exit code 2."""
    click.echo(f"autolab: error: {message}", err=True)
    sys.exit(2)


def friendly_errors(func: Callable) -> Callable:
    """Turn autolab's and value errors into one line on stderr and exit code 2."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except Interrupted:
            raise
        except (AutolabError, ValueError) as exc:
            fail(str(exc))

    return wrapper


def parse_floats(option: str, text: str) -> list[float]:
    """Parse ``"260,280,300"`` into floats, naming ``option`` and the bad item on failure."""
    values = []
    for item in text.split(","):
        item = item.strip()
        try:
            values.append(float(item))
        except ValueError:
            msg = f"{option}: {item!r} in {text!r} is not a number; give comma-separated numbers such as 260,280"
            raise AutolabError(msg) from None
    return values


#: A condition as ``NAME=…`` takes it: its name, or its option without the dashes.
_CONDITION_SPELLINGS = {spelling: c.name for c in CONDITIONS for spelling in (c.name, c.option.removeprefix("--"))}


def condition_name(option: str, name: str) -> str:
    """The condition ``name`` (``residence_time_s`` or ``residence-time-s``) names in ``option``'s value."""
    key = _CONDITION_SPELLINGS.get(name.strip())
    if key is None:
        msg = f"{option} {name!r}: unknown condition; use {', '.join(NAMES[:-1])} or {NAMES[-1]}"
        raise LimitError(msg)
    return key


def _number(option: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        msg = f"{option}: {text!r} is not a number"
        raise LimitError(msg) from None


def parse_bounds(items: tuple[str, ...]) -> dict[str, list] | None:
    """``("residence_time_s=1.5:20:log", …)`` → ``{"residence_time_s": [1.5, 20.0, "log"]}``."""
    if not items:
        return None
    out = {}
    for item in items:
        name, sep, spec = item.partition("=")
        parts = spec.split(":")
        if not sep or len(parts) not in (2, 3):
            msg = f"--bound {item!r}: write NAME=LOW:HIGH or NAME=LOW:HIGH:log"
            raise LimitError(msg)
        bound: list = [_number("--bound", parts[0]), _number("--bound", parts[1])]
        if len(parts) == 3:
            bound.append(parts[2])
        _once("--bound", out, condition_name("--bound", name), bound)
    return out


def _once(option: str, out: dict, key: str, value) -> None:
    """``out[key] = value``, refusing a key the option gave already (the later value would win silently)."""
    if key in out:
        msg = f"{option} gives {key} twice ({out[key]!r} and {value!r}); give it once"
        raise LimitError(msg)
    out[key] = value


def parse_assignments(option: str, items: tuple[str, ...], *, conditions: bool) -> dict:
    """``("growth_temperature_c=280",)`` → ``{"growth_temperature_c": 280.0}``."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            msg = f"{option} {item!r}: write NAME=VALUE"
            raise LimitError(msg)
        key = condition_name(option, name) if conditions else name.strip()
        _once(option, out, key, _number(option, value))
    return out


def check_run_text(text: str) -> str:
    """``text`` if it can name a run (``last``, or at least 5 characters of a uid); else one line.

    Commands call it before they open the catalog, so a run named by too few characters is refused
    at once rather than after tiled has started.
    """
    if text != "last" and len(text) < 5:
        msg = f"run {text!r} is too short: give at least 5 characters of a run uid (`autolab runs` lists them)"
        raise AutolabError(msg)
    return text


def resolve_uid(client, text: str) -> str:
    """The full uid of the run whose uid is ``text`` or starts with it (≥ 5 characters).

    ``last`` names the newest ``measure_point`` run that finished (exit status ``success``): an
    aborted or failed point has no reading to show or analyse.
    """
    if check_run_text(text) == "last":
        from tiled.queries import Key

        measured = client.search(Key("start.plan_name") == "measure_point")
        if not len(measured):
            msg = "the catalog holds no measurement yet, so there is no 'last' run; `autolab measure` makes one"
            raise AutolabError(msg)
        finished = measured.search(Key("stop.exit_status") == "success")
        if not len(finished):
            msg = (f"none of the catalog's {len(measured)} measurement(s) finished (each was aborted, failed or is still "
                   "running), so there is no 'last' run; name one by its uid (`autolab runs` lists them)")
            raise AutolabError(msg)
        return finished.sort(("start.time", -1)).keys().first()  # by start time: a journal stored late is an early run
    try:
        found = text in client  # a uid, or (bluesky's catalog client) the one run whose uid starts with it
    except ValueError:  # bluesky's catalog client: several runs start with it
        found = False
    if found:
        return client[text].metadata["start"]["uid"]
    matches = [uid for uid in client if uid.startswith(text)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        msg = f"no run with uid {text!r} in the catalog; `autolab runs` lists them"
    else:
        msg = f"{len(matches)} runs start with {text!r}; give more characters"
    raise AutolabError(msg)
