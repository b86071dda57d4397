"""``autolab runs``, ``show``, ``analyze`` and ``plugins``: stored runs, their figures and analyses, the plugins."""

from __future__ import annotations

import json
import re
from datetime import datetime

import click

from ..errors import AutolabError, one_line
from .options import CATALOG_OPTION, JSON_OPTION, check_run_text, friendly_errors, resolve_uid


@click.command()
@CATALOG_OPTION
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="Newest runs to list.")
@click.option("--all", "show_all", is_flag=True, help="Include derived analysis runs and campaign records.")
@JSON_OPTION
@friendly_errors
def runs(catalog, limit, show_all, as_json):
    """List stored measurement runs, newest last.

    Runs a stopped writer left in the catalog's journal (a queue stopped mid-plan, a killed
    session) are stored first, with one line on stderr saying how many. A run without a stop
    document (running now, or its process killed) has the status "unfinished".
    """
    from rich.console import Console
    from rich.table import Table

    from ..catalog import measurements, open_catalog, resolve_location, run_summaries
    from ..conditions import CONDITIONS

    location = resolve_location(catalog)
    client = open_catalog(location, create=False)
    _store_waiting_journals(client, location)
    selected = client if show_all else measurements(client)
    # Newest last by start time: the catalog keeps the order runs were stored in, and a journal stored late is an early run.
    stored = sorted(selected.values(), key=lambda run: run.metadata["start"]["time"])
    rows = run_summaries(stored[-limit:])
    if as_json:
        click.echo(json.dumps(rows))
        return
    shown = f"{len(rows)} run(s)" if len(rows) == len(stored) else f"the newest {len(rows)} of {len(stored)} runs (--limit N for more)"
    table = Table(title=shown)
    for column in ("uid", "time", "plan", *(c.column for c in CONDITIONS), "status"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["uid"][:8],
            datetime.fromtimestamp(row["time"]).strftime("%m-%d %H:%M"),
            row["plan_name"] + (f" ({row['campaign_role']})" if row.get("campaign_role") else ""),
            *(f"{row[c.name]:g}" if row[c.name] is not None else "" for c in CONDITIONS),
            row["exit_status"],
        )
    console = Console()
    if not console.is_terminal:  # a file or a pipe (80 columns to rich): the table whole, not cut to "measure_…"
        console = Console(width=max(console.width, Console(width=1000).measure(table).maximum))
    console.print(table)


def _store_waiting_journals(client, location) -> None:
    """Store the runs that wait in an embedded catalog's journal (no live writer holds them), saying how many.

    A server's journals live with the writer that wrote them (per user and address) and are
    stored by that user's next writer.
    """
    from ..catalog import CatalogWriter, is_remote, journal_directory
    from ..catalog.writer import waiting_journals

    if is_remote(location):
        return
    folder = journal_directory(location)
    waiting = waiting_journals(folder) if folder.is_dir() else []
    if not waiting:
        return
    click.echo(f"storing {len(waiting)} run(s) a stopped writer left in the journal {folder} …", err=True)
    try:
        CatalogWriter(client, folder).close()
    except Exception as exc:  # e.g. a catalog this user may read but not write: list what is stored
        click.echo(f"they stay in the journal for the next writer: {one_line(exc)}", err=True)


@click.command()
@click.argument("run")
@CATALOG_OPTION
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Figure file, any format matplotlib writes, .png added to a name without a suffix (default: the run uid's first "
                   "8 characters + .png, in the current folder).")
@friendly_errors
def show(run, catalog, output):
    """Plot a run's absorbance spectrum and SAXS pattern to a figure file (PNG unless --output says otherwise).

    RUN is a run uid, a unique prefix of one (as `autolab runs` prints), or `last` (the newest finished measurement).
    """
    check_run_text(run)
    from pathlib import Path

    from ..catalog import load_point, open_catalog
    from ..errors import check_figure_file
    from ..plotting import plot_point

    if output:  # before the catalog opens: a missing folder is one line, not a traceback after the plot
        output = check_figure_file("--output", output)
    client = open_catalog(catalog, create=False)
    uid = resolve_uid(client, run)
    point = load_point(client[uid])
    path = output or Path.cwd() / f"{uid[:8]}.png"
    plot_point(point, path)
    click.echo(f"wrote {path}")


@click.command()
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
            for setting, declared in (spec.get("settings") or {}).items():
                if isinstance(declared, dict) and {"low", "high"} <= set(declared):
                    click.echo(f"    setting  {setting}={declared.get('default')} ({declared['low']:g}–{declared['high']:g} "
                               f"{declared.get('unit', '')}): {declared.get('description', '')}")
    for error in manager.load_errors:
        click.echo(f"warning: {error}", err=True)


@click.command()
@click.argument("target")
@click.option("--kind", type=click.Choice(["uvvis", "saxs"]), default=None, help="Analyse an instrument FILE of this kind.")
@CATALOG_OPTION
@JSON_OPTION
@friendly_errors
def analyze(target, kind, catalog, as_json):
    """Analyse an instrument file (--kind uvvis|saxs FILE) or re-analyse a stored run (a uid, its first characters, or `last`).

    Runs every analysis hook, the slow deferred ones included (a campaign runs those in a worker
    process after each point). A stored run's analysis is stored as a new derived run, whose uid
    is printed (analysis_uid with --json).
    """
    from pathlib import Path

    if kind is None and Path(target).is_file():
        msg = f"{target} is a file: give --kind uvvis or --kind saxs to analyse it (without --kind, analyze re-analyses a stored run)"
        raise AutolabError(msg)
    if kind is not None and not Path(target).exists():
        msg = f"--kind {kind} reads an instrument file, and {target!r} is not a file; to re-analyse a stored run leave out --kind"
        raise AutolabError(msg)
    if kind is None:
        check_run_text(target)
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
        from ..analysis.runs import analyze_point
        from ..catalog import CatalogWriter, journal_directory, load_point, open_catalog, resolve_location

        location = resolve_location(catalog)
        client = open_catalog(location, create=False)
        uid = resolve_uid(client, target)
        writer = CatalogWriter(client, journal_directory(location))
        stored: list[str] = []

        def sink(name, doc):
            if name == "start":
                stored.append(doc["uid"])
            writer(name, doc)

        report = analyze_point(load_point(client[uid]), manager, sink=sink, deferred=True)
        writer.close()
        payload = {"uid": uid, "analysis_uid": stored[0], **report.metrics}
    payload["errors"] = report.errors
    if report.notes:
        payload["notes"] = report.notes
    payload["plugin_versions"] = report.versions
    if as_json:
        from ..analysis.runs import jsonable

        click.echo(json.dumps(jsonable(payload)))
    else:
        if "analysis_uid" in payload:
            click.echo(f"analysis of run {payload.pop('uid')} stored as run {payload.pop('analysis_uid')}")
        from .point import metric_text

        for key, value in payload.items():
            if key.startswith("saxs.mcsas_histogram"):
                continue
            click.echo(f"{key:34s} {metric_text(value)}")


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


COMMANDS = (runs, show, analyze, plugins)
