"""``autolab queue start|stop|status|env`` and ``autolab ipython``."""

from __future__ import annotations

import json
import os
import sys

import click

from .cli import CATALOG_OPTION, JSON_OPTION, friendly_errors

DIR_OPTION = click.option(
    "--dir", "directory", default=None, type=click.Path(file_okay=False),
    help="Queue directory (PIDs, logs, generated YAML); default $AUTOLAB_QUEUE_DIR or ~/.local/share/autolab/queue.",
)


@click.group()
def queue() -> None:
    """Queued campaigns on bluesky-queueserver (RE Manager + Redis on 127.0.0.1)."""


@queue.command("start")
@CATALOG_OPTION
@DIR_OPTION
@click.option("--no-open", is_flag=True, help="Do not open the RE worker environment.")
@friendly_errors
def queue_start(catalog, directory, no_open):
    """Start Redis and RE Manager with autolab's namespace; print the qserver address as shell lines."""
    from .catalog import default_location
    from .queue import start

    state = start(catalog or default_location(), directory, open_environment=not no_open)
    click.echo(state.env_lines())
    click.echo(f"# RE Manager PID {state.manager_pid}, Redis PID {state.redis_pid} (127.0.0.1:{state.redis_port}); "
               f"catalog {state.catalog}; logs in {state.directory}", err=True)


@queue.command("stop")
@DIR_OPTION
@friendly_errors
def queue_stop(directory):
    """Stop RE Manager (and its worker) and Redis by their recorded PIDs."""
    from .queue import stop

    state = stop(directory)
    click.echo("no queue was running" if state is None else f"stopped RE Manager {state.manager_pid} and Redis {state.redis_pid}")


@queue.command("status")
@DIR_OPTION
@JSON_OPTION
@friendly_errors
def queue_status(directory, as_json):
    """Processes, RE Manager state, queue and history lengths."""
    from .queue import status

    info = status(directory)
    if as_json:
        click.echo(json.dumps(info))
        return
    if not info.get("manager_pid"):
        click.echo(f"no queue started from {info['directory']}")
        return
    click.echo(f"RE Manager PID {info['manager_pid']} {'running' if info['manager_alive'] else 'not running'}; "
               f"Redis PID {info['redis_pid']} {'running' if info['redis_alive'] else 'not running'}")
    for key, value in (info.get("manager") or {}).items():
        click.echo(f"  {key:26s} {value}")


@queue.command("env")
@DIR_OPTION
@friendly_errors
def queue_env(directory):
    """Print the shell lines pointing qserver at the running manager (eval "$(autolab queue env)")."""
    from .errors import AutolabError
    from .queue import load_state

    state = load_state(directory)
    if state is None:
        msg = "no queue is recorded; start one with `autolab queue start`"
        raise AutolabError(msg)
    click.echo(state.env_lines())


@click.command(context_settings={"ignore_unknown_options": True})
@CATALOG_OPTION
@click.argument("ipython_args", nargs=-1, type=click.UNPROCESSED)
def ipython(catalog, ipython_args):
    """Start IPython with the beamline session loaded (RE, reactor, plans, catalog)."""
    env = dict(os.environ)
    if catalog:
        env["AUTOLAB_CATALOG"] = catalog
    args = [sys.executable, "-m", "IPython", "-i", "-m", "autolab.startup", *ipython_args]
    os.execve(sys.executable, args, env)


@click.command()
@click.option("--objective", default="msc437", show_default=True, help="Objective from an analysis plugin.")
@click.option("--budget", type=int, default=25, show_default=True, help="Points to measure, design included.")
@click.option("--initial-design", type=int, default=None, help="Sobol design points before the model; default max(5, 2d+1).")
@click.option("--bound", "bounds", multiple=True, metavar="NAME=LOW:HIGH[:log]", help="Search range of a condition (repeat).")
@click.option("--fix", "fixed", multiple=True, metavar="NAME=VALUE", help="Hold a condition constant (repeat).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the design and the optimiser.")
@click.option("--approve", is_flag=True, help="Ask for a yes before each suggestion is queued.")
@click.option("--resume", "resume_id", default=None, metavar="CAMPAIGN_ID", help="Continue a campaign from the catalog.")
@CATALOG_OPTION
@DIR_OPTION
@JSON_OPTION
@friendly_errors
def agent(objective, budget, initial_design, bounds, fixed, seed, approve, resume_id, catalog, directory, as_json):
    """Run a campaign from outside the worker: one measure_point queue item per suggestion.

    Needs a running queue (`autolab queue start`) on the same catalog. People can add their own
    plans between points, pause or stop the queue; the agent waits for each of its points.
    """
    from pathlib import Path

    from .agent import run_agent
    from .campaign import Campaign
    from .campaign_cli import parse_assignments, parse_bounds
    from .catalog import CatalogWriter, default_location, open_catalog
    from .errors import AutolabError
    from .queue import load_state, manager_api
    from .runtime import session_reactor

    state = load_state(directory)
    if state is None:
        msg = "no queue is recorded; start one with `autolab queue start`"
        raise AutolabError(msg)
    location = catalog or state.catalog or default_location()
    api = manager_api(state)
    limits = session_reactor().limits()  # the worker's reactor: the same startup settings
    client = open_catalog(location)
    writer = CatalogWriter(client, Path(location) / "journal-agent")
    try:
        if resume_id:
            campaign = Campaign.resume(client, resume_id, limits)
        else:
            campaign = Campaign(limits, objective, parse_bounds(bounds), budget, 1, initial_design, seed,
                                fixed=parse_assignments("--fix", fixed, conditions=True))

        def show(c, point):
            if not as_json:
                value = "failed" if point.value is None else f"{point.value:.4g}"
                cond = ", ".join(f"{k} {v:.4g}" for k, v in point.conditions.items())
                click.echo(f"{point.index + 1:>3}/{c.settings.budget} {cond}: {c.settings.objective} {value}")

        def ask(suggestion):
            cond = ", ".join(f"{k} {v:.4g}" for k, v in suggestion["conditions"].items())
            return click.confirm(f"queue measure_point at {cond}?", default=True)

        summary = run_agent(api, lambda: open_catalog(location), campaign, writer, approve=ask if approve else None, on_point=show)
    finally:
        writer.close()
    click.echo(json.dumps(summary) if as_json else f"campaign {summary['campaign_id']}: {summary['n_runs']} points, best "
               f"{summary['objective']} = {summary['best_value']}; {summary['stop_reason']}")

