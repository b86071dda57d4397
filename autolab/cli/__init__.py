"""The ``autolab`` command line.

Every command has ``--help``. Bad input gets one line on stderr naming the option, the value and
what is allowed, and exit code 2; nothing is moved or written before the input is checked.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from datetime import datetime
from functools import wraps

import click

from .. import interrupt
from ..errors import AutolabError
from ..interrupt import INTERRUPTED_EXIT, Interrupted

CATALOG_OPTION = click.option(
    "--catalog",
    "catalog",
    default=None,
    metavar="PATH|URI",
    help="Catalog directory or tiled server URI (default: $AUTOLAB_CATALOG or ~/.local/share/autolab/catalog).",
)
SEED_OPTION = click.option("--seed", type=int, default=0, show_default=True, help="Seed of the twin's noise.")
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
TIME_SCALE_OPTION = click.option(
    "--time-scale",
    type=float,
    default=0.0,
    show_default=True,
    help="Real seconds per simulated second for the twin (0: as fast as possible).",
)


#: click ≥ 8.2 raises this for a group called without a command (click 8.1 prints the help itself).
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


def _fail(message: str) -> None:
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
            _fail(str(exc))

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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="autolab")
def cli() -> None:
    """autolab: autonomous nanocrystal synthesis on Bluesky, with a simulated flow reactor."""


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning click's usage errors into one line and exit code 2.

    ``autolab`` alone (or a command group alone, ``autolab queue``) prints its help. Ctrl-C ends
    any command with one line on stderr and exit status 130.
    """
    try:
        cli.main(args=argv, prog_name="autolab", standalone_mode=False)
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("autolab: interrupted", err=True)
        sys.exit(INTERRUPTED_EXIT)
    except Interrupted as exc:
        click.echo(f"autolab: {exc}", err=True)
        sys.exit(INTERRUPTED_EXIT)
    except _NO_ARGS_IS_HELP as exc:
        click.echo(exc.ctx.get_help())
    except click.UsageError as exc:
        hint = f" (see `autolab {exc.ctx.command.name} --help`)" if exc.ctx and exc.ctx.command.name != "cli" else ""
        _fail(exc.format_message() + hint)
    except click.ClickException as exc:
        _fail(exc.format_message())


@cli.command()
@click.option("--nucleation-temperature", type=float, required=True, help="Nucleation chamber temperature, °C.")
@click.option("--growth-temperature", type=float, required=True, help="Growth oven temperature, °C.")
@click.option("--residence-time", type=float, required=True, help="Growth-oven residence time, s.")
@CATALOG_OPTION
@SEED_OPTION
@TIME_SCALE_OPTION
@JSON_OPTION
@friendly_errors
def measure(nucleation_temperature, growth_temperature, residence_time, catalog, seed, time_scale, as_json):
    """Measure one point on the twin reactor and store it in the catalog."""
    from ..devices import make_twin_reactor
    from ..plans import measure_point
    from ..runtime import open_session

    reactor = make_twin_reactor(seed=seed, time_scale=time_scale)
    reactor.check_reagents([reactor.check_conditions(nucleation_temperature, growth_temperature, residence_time)])
    session = open_session(catalog, reactor=reactor)
    (uid,) = run_interruptible(session, measure_point(session.reactor, nucleation_temperature, growth_temperature, residence_time))
    session.close()
    report = session.analysis.reports.get(uid)
    metrics = {} if report is None else report.metrics
    payload = {
        "uid": uid,
        "analysis_uid": session.analysis.derived.get(uid),
        "catalog": session.location,
        "metrics": metrics,
        "errors": {} if report is None else report.errors,
    }
    if as_json:
        from ..analysis.runs import jsonable

        click.echo(json.dumps(jsonable(payload)))
        return
    click.echo(f"stored run {uid} in {session.location}")
    if payload["analysis_uid"] is None:
        click.echo(f"warning: the analysis was not stored: {'; '.join(session.analysis.errors) or 'the run has no reading'}", err=True)
    else:
        click.echo(f"analysis stored as run {payload['analysis_uid']}:")
    echo_metrics(metrics)
    for plugin, error in payload["errors"].items():
        click.echo(f"warning: {plugin}: {error}", err=True)


def echo_metrics(metrics: dict) -> None:
    """Print one metric a line, ``plugin.metric  value``, lists of numbers shortened."""
    for key, value in metrics.items():
        if isinstance(value, list) and len(value) > 6:
            value = f"[{len(value)} values]"
        elif isinstance(value, float):
            value = f"{value:.5g}"
        click.echo(f"  {key:38s} {value}")


def run_interruptible(session, plan) -> tuple:
    """Run ``plan`` on the session's RunEngine; Ctrl-C aborts it and raises :class:`Interrupted`.

    See :mod:`autolab.interrupt`. Every run finished before is already on its way to the
    catalog, which :meth:`Session.close` waits for.
    """
    result, interrupted = interrupt.run_interruptible(session.RE, plan)
    if interrupted:
        session.close()
        msg = f"interrupted; the unfinished run is marked aborted, finished runs are in {session.location}"
        raise Interrupted(msg)
    return result



@cli.command("phase-map")
@click.option("--nucleation-temperatures", required=True, help="Comma-separated nucleation temperatures, °C.")
@click.option("--growth-temperatures", required=True, help="Comma-separated growth temperatures, °C.")
@click.option("--residence-times", required=True, help="Comma-separated residence times, s.")
@click.option("--growth-not-above-nucleation", is_flag=True, help="Skip points with growth T above nucleation T.")
@CATALOG_OPTION
@SEED_OPTION
@TIME_SCALE_OPTION
@JSON_OPTION
@friendly_errors
def phase_map_command(
    nucleation_temperatures, growth_temperatures, residence_times, growth_not_above_nucleation, catalog, seed, time_scale, as_json
):
    """Survey a grid of conditions on the twin, one stored run per point."""
    import itertools

    from rich.console import Console
    from rich.progress import Progress

    from ..devices import make_twin_reactor
    from ..plans import phase_map
    from ..runtime import open_session

    grid = (
        parse_floats("--nucleation-temperatures", nucleation_temperatures),
        parse_floats("--growth-temperatures", growth_temperatures),
        parse_floats("--residence-times", residence_times),
    )
    reactor = make_twin_reactor(seed=seed, time_scale=time_scale)
    points = [
        reactor.check_conditions(*values)
        for values in itertools.product(*grid)
        if not (growth_not_above_nucleation and values[1] > values[0])
    ]
    reactor.check_reagents(points)
    session = open_session(catalog, reactor=reactor)
    plan = phase_map(reactor, *grid, growth_not_above_nucleation=growth_not_above_nucleation)
    n_points = len(points)
    # The console is bound to stdout now: bluesky's own prints are kept off it while the plan runs.
    with Progress(console=Console(file=sys.stdout), disable=as_json, transient=False) as progress:
        task = progress.add_task("phase map", total=n_points)
        token = session.RE.subscribe(lambda name, doc: progress.advance(task), "stop")
        try:
            uids = run_interruptible(session, plan)
        finally:
            session.RE.unsubscribe(token)
        progress.update(task, description="writing catalog")
        session.close()
    if as_json:
        click.echo(json.dumps({"uids": list(uids), "n_runs": len(uids), "catalog": session.location}))
    else:
        click.echo(f"stored {len(uids)} runs in {session.location}")


@cli.command()
@CATALOG_OPTION
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="Newest runs to list.")
@click.option("--all", "show_all", is_flag=True, help="Include derived analysis runs and campaign records.")
@JSON_OPTION
@friendly_errors
def runs(catalog, limit, show_all, as_json):
    """List stored measurement runs, newest last."""
    from rich.console import Console
    from rich.table import Table

    from ..catalog import measurements, open_catalog, run_summaries

    client = open_catalog(catalog, create=False)
    selected = client if show_all else measurements(client)
    rows = run_summaries(list(selected.values())[-limit:])
    if as_json:
        click.echo(json.dumps(rows))
        return
    table = Table(title=f"{len(rows)} run(s)")
    for column in ("uid", "time", "plan", "T_nuc °C", "T_growth °C", "t_res s", "status"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["uid"][:8],
            datetime.fromtimestamp(row["time"]).strftime("%m-%d %H:%M"),
            row["plan_name"],
            *(f"{row[k]:g}" if row[k] is not None else "" for k in ("nucleation_temperature_c", "growth_temperature_c", "residence_time_s")),
            row["exit_status"],
        )
    Console().print(table)


@cli.command()
@click.argument("run")
@CATALOG_OPTION
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="PNG file (default: RUN.png).")
@friendly_errors
def show(run, catalog, output):
    """Plot a run's absorbance spectrum and SAXS pattern to a PNG file.

    RUN is a run uid, a unique prefix of one (as `autolab runs` prints), or `last` (the newest measurement).
    """
    from ..catalog import load_point, open_catalog
    from ..plotting import plot_point

    client = open_catalog(catalog, create=False)
    uid = resolve_uid(client, run)
    point = load_point(client[uid])
    path = output or f"{uid[:8]}.png"
    plot_point(point, path)
    click.echo(f"wrote {path}")


@cli.command()
@click.option("--nucleation-temperature", type=float, required=True, help="Nucleation chamber temperature, °C.")
@click.option("--growth-temperature", type=float, required=True, help="Growth oven temperature, °C.")
@click.option("--residence-time", type=float, required=True, help="Growth-oven residence time, s.")
@click.option("--nucleation-time", type=float, default=None, help="Chamber time, s (default: set by the same flow).")
@click.option("--cd-precursor", type=float, default=None, help="Cd precursor in the mixed stream, mM (default 10).")
@click.option("--se-precursor", type=float, default=None, help="Se precursor in the mixed stream, mM (default 10).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the detector noise.")
@click.option("--no-noise", is_flag=True, help="Noise-free spectra.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None, help="Write a PNG of both spectra.")
@JSON_OPTION
@friendly_errors
def simulate(
    nucleation_temperature, growth_temperature, residence_time, nucleation_time, cd_precursor, se_precursor, seed, no_noise, plot_path, as_json
):
    """Simulate one steady-state point with the physics twin (no devices, no catalog)."""
    import numpy as np

    from .. import sim

    conditions = sim.Conditions(nucleation_temperature, growth_temperature, residence_time, nucleation_time, cd_precursor, se_precursor)
    result = sim.simulate(conditions, rng=None if no_noise else np.random.default_rng(seed))
    if plot_path:
        from ..plotting import plot_simulation

        plot_simulation(result, plot_path)
    if as_json:
        payload = {
            "conditions": {
                "nucleation_temperature_c": nucleation_temperature,
                "growth_temperature_c": growth_temperature,
                "residence_time_s": residence_time,
                "nucleation_time_s": nucleation_time,
                "cd_precursor_mm": cd_precursor,
                "se_precursor_mm": se_precursor,
            },
            "wavelength_nm": result.wavelength_nm.tolist(),
            "absorbance": result.absorbance.tolist(),
            "q_nm_inv": result.q_nm_inv.tolist(),
            "intensity": result.intensity.tolist(),
            "intensity_sigma": None if result.intensity_sigma is None else result.intensity_sigma.tolist(),
            "truth": result.truth,
        }
        click.echo(json.dumps(payload))
        return
    truth = result.truth
    diameter = truth["nc_mean_diameter_nm"]
    click.echo(
        f"MSC families present: {', '.join(truth['msc_families_present']) or 'none'}; "
        f"NC exciton: {truth['nc_exciton_nm'] or '—'} nm; "
        f"NC mean diameter: {f'{diameter:.2f} nm' if diameter else '—'}; yield {truth['yield_fraction']:.2f}"
    )
    if plot_path:
        click.echo(f"wrote {plot_path}")


@cli.command()
@JSON_OPTION
def plugins(as_json):
    """List the analysis plugins: distribution, version, hooks, the metrics and objectives they provide.

    A metric appears in `autolab analyze` output and in the catalog's derived runs as
    PLUGIN.METRIC (e.g. uvvis.nc_exciton_nm); an objective is what `autolab campaign --objective`
    takes.
    """
    from ..analysis import PluginManager

    manager = PluginManager()
    metrics = manager.metrics()
    objectives = manager.objectives()
    rows = [
        {
            "name": p.name,
            "distribution": p.distribution,
            "version": p.version,
            "hooks": list(p.hooks),
            "metrics": metrics.get(p.name, {}),
            "objectives": {k: {f: v for f, v in spec.items() if f != "plugin"} for k, spec in objectives.items() if spec["plugin"] == p.name},
        }
        for p in manager.plugins()
    ]
    if as_json:
        click.echo(json.dumps({"plugins": rows, "load_errors": manager.load_errors}))
        return
    for row in rows:
        click.echo(f"{row['name']} ({row['distribution']} {row['version']}): {', '.join(row['hooks'])}")
        for metric, spec in row["metrics"].items():
            unit = f" [{spec['unit']}]" if spec.get("unit") else ""
            click.echo(f"  metric     {row['name']}.{metric}{unit}: {spec.get('description', '')}")
        for objective, spec in row["objectives"].items():
            click.echo(f"  objective  {objective} ({spec.get('direction', 'maximize')}): {spec.get('description', '')}")
    for error in manager.load_errors:
        click.echo(f"warning: {error}", err=True)


@cli.command()
@click.argument("target")
@click.option("--kind", type=click.Choice(["uvvis", "saxs"]), default=None, help="Analyse an instrument FILE of this kind.")
@CATALOG_OPTION
@JSON_OPTION
@friendly_errors
def analyze(target, kind, catalog, as_json):
    """Analyse an instrument file (--kind uvvis|saxs FILE) or re-analyse a stored run (a uid, its first characters, or `last`).

    Runs every analysis hook, the slow deferred ones included (a campaign runs those in a worker
    process after each point).
    """
    from ..analysis import PluginManager
    from ..analysis.files import read_saxs, read_uvvis

    manager = PluginManager()
    if kind == "uvvis":
        wavelength, absorbance = read_uvvis(target)
        report = _nothing_read(target, manager.analyze_uvvis(wavelength, absorbance))
        report = report.merge(manager.analyze_uvvis(wavelength, absorbance, deferred=True))
        payload = dict(report.metrics)
    elif kind == "saxs":
        q, intensity, sigma = read_saxs(target)
        report = _nothing_read(target, manager.analyze_saxs(q, intensity, sigma))
        report = report.merge(manager.analyze_saxs(q, intensity, sigma, deferred=True))
        payload = dict(report.metrics)
    else:
        from ..analysis.runs import analyze_run
        from ..catalog import CatalogWriter, journal_directory, open_catalog, resolve_location

        location = resolve_location(catalog)
        client = open_catalog(location, create=False)
        uid = resolve_uid(client, target)
        writer = CatalogWriter(client, journal_directory(location))
        report = analyze_run(client, uid, manager, sink=writer, deferred=True)
        writer.close()
        payload = {"uid": uid, **report.metrics}
    payload["errors"] = report.errors
    if report.notes:
        payload["notes"] = report.notes
    payload["plugin_versions"] = report.versions
    if as_json:
        from ..analysis.runs import jsonable

        click.echo(json.dumps(jsonable(payload)))
    else:
        for key, value in payload.items():
            if key.startswith("saxs.mcsas_histogram"):
                continue
            click.echo(f"{key:34s} {value}")


def _nothing_read(path: str, report):
    """``report``, unless every plugin refused the file: then one line naming the file and why."""
    if report.errors and not report.metrics:
        reasons = "; ".join(
            re.sub(r"^\w+ in plugin '([^']+)' raised \w+: (.*?)(?: \([^()]*:\d+\))?$", r"plugin \1: \2", error)
            for error in report.errors.values()
        )
        msg = f"{path}: {reasons}"
        raise AutolabError(msg)
    return report


def resolve_uid(client, text: str) -> str:
    """The full uid of the run whose uid is ``text`` or starts with it (≥ 5 characters).

    ``last`` names the newest ``measure_point`` run.
    """
    if text == "last":
        from tiled.queries import Key

        measured = client.search(Key("start.plan_name") == "measure_point")
        if not len(measured):
            msg = "the catalog holds no measurement yet, so there is no 'last' run; `autolab measure` makes one"
            raise AutolabError(msg)
        return measured.keys().last()
    if len(text) < 5:
        msg = f"run {text!r} is too short: give at least 5 characters of a run uid (`autolab runs` lists them)"
        raise AutolabError(msg)
    if text in client:
        return text
    matches = [uid for uid in client if uid.startswith(text)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        msg = f"no run with uid {text!r} in the catalog; `autolab runs` lists them"
    else:
        msg = f"{len(matches)} runs start with {text!r}; give more characters"
    raise AutolabError(msg)


def _register_commands() -> None:
    from .campaign import campaign
    from .catalog import export, serve
    from .queue import agent, ipython, queue

    cli.add_command(campaign)
    cli.add_command(queue)
    cli.add_command(ipython)
    cli.add_command(agent)
    cli.add_command(serve)
    cli.add_command(export)


_register_commands()

if __name__ == "__main__":  # pragma: no cover
    main()
