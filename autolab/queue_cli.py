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
