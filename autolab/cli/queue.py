"""``autolab queue start|stop|status|env|plans|wait``, ``autolab agent`` and ``autolab ipython``."""

from __future__ import annotations

import json
import os
import shlex
import sys

import click

from .options import (
    BOUND_OPTION,
    CATALOG_OPTION,
    CONSTRAINT_OPTION,
    FIX_OPTION,
    INITIAL_DESIGN_OPTION,
    JSON_OPTION,
    friendly_errors,
    parse_assignments,
    parse_bounds,
    warnings_to_stderr,
)

DIR_OPTION = click.option(
    "--dir", "directory", default=None, type=click.Path(file_okay=False),
    help="Queue directory (PIDs, logs, generated YAML); default $AUTOLAB_QUEUE_DIR, else $XDG_DATA_HOME/autolab/queue (~/.local/share/…).",
)


@click.group()
def queue() -> None:
    """Queued campaigns on bluesky-queueserver (RE Manager + Redis on 127.0.0.1)."""


@queue.command("start")
@CATALOG_OPTION
@DIR_OPTION
@click.option("--no-open", is_flag=True, help="Do not open the RE worker environment.")
@click.option("--encrypt", is_flag=True,
              help="CURVE-encrypt RE Manager's control socket; the key pair is kept in the queue directory (mode 0600) and "
                   "clients need its public key (autolab's own read it from there).")
@click.option("--zmq-host", default="127.0.0.1", show_default=True,
              help="Interface of the control socket; anything but loopback needs --encrypt.")
@click.option("--http", is_flag=True,
              help="Also start bluesky-httpserver, whose every request needs the API key kept in the queue directory.")
@click.option("--http-host", default="127.0.0.1", show_default=True, help="Interface of the HTTP server (with --http).")
@click.option("--http-port", type=int, default=60610, show_default=True, help="TCP port of the HTTP server (with --http).")
@click.option("--devices", type=click.Path(dir_okay=False), default=None,
              help="Device file: the worker drives the reactor over EPICS (docs/epics.md) instead of the twin.")
@friendly_errors
def queue_start(catalog, directory, no_open, encrypt, zmq_host, http, http_host, http_port, devices):
    """Start Redis and RE Manager with autolab's namespace; print the qserver address as shell lines.

    A relative --catalog is taken from the current directory; the queue records it as an absolute
    location, which the worker and `autolab agent` use. Everything listens on 127.0.0.1 unless
    --zmq-host or --http-host say otherwise.
    """
    from ..catalog import default_location
    from ..errors import LimitError
    from ..queue import HTTP_KEY_FILE, start

    ctx = click.get_current_context()
    if not http:
        for name in ("http_host", "http_port"):
            if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT:
                msg = f"--{name.replace('_', '-')} is given without --http; add --http to start the HTTP server"
                raise LimitError(msg)
    location = catalog or default_location()
    if devices:  # checked here (one line, nothing started) and handed to the worker as AUTOLAB_DEVICES
        from ..devices.devicefile import read_device_file

        os.environ["AUTOLAB_DEVICES"] = read_device_file(devices)["path"]
    state = start(location, directory, open_environment=not no_open, encrypt=encrypt, zmq_host=zmq_host, http=http,
                  http_host=http_host, http_port=http_port)
    click.echo(state.env_lines())
    click.echo(f"# RE Manager PID {state.manager_pid}, Redis PID {state.redis_pid} (127.0.0.1:{state.redis_port}); "
               f"catalog {state.catalog}; logs in {state.directory}", err=True)
    if state.encrypted:
        click.echo("# the control socket is encrypted; clients need QSERVER_ZMQ_PUBLIC_KEY (the lines above set it)", err=True)
    if state.http_address:
        click.echo(f"# HTTP server PID {state.http_pid} at {state.http_address}; send 'Authorization: ApiKey KEY' with the key in "
                   f"{state.directory}/{HTTP_KEY_FILE}", err=True)


@queue.command("stop")
@DIR_OPTION
@friendly_errors
def queue_stop(directory):
    """Stop RE Manager (and its worker), the HTTP server and Redis by their recorded PIDs."""
    from ..catalog import journal_directory
    from ..catalog.writer import waiting_journals
    from ..errors import AutolabError
    from ..queue import status, stop

    try:  # asked before stopping: Redis keeps no state, so what is still queued goes with it
        queued = (status(directory).get("manager") or {}).get("items_in_queue") or 0
    except AutolabError:  # no key for an encrypted queue: stop() says nothing of the queue either
        queued = 0
    state = stop(directory)
    if state is None:
        click.echo("no queue was running")
        return
    http = f", the HTTP server {state.http_pid}" if state.http_pid else ""
    click.echo(f"stopped RE Manager {state.manager_pid}{http} and Redis {state.redis_pid}")
    if queued:
        click.echo(f"{queued} queued item(s) were not run and are gone with the queue (its Redis keeps nothing); "
                   "add them again after the next `autolab queue start`")
    waiting = waiting_journals(journal_directory(state.catalog))
    if waiting:
        from ..catalog import is_remote

        folders = sorted({str(path.parent) for path in waiting})
        by_runs = "" if is_remote(state.catalog) else ", or by `autolab runs`"
        click.echo(f"{len(waiting)} run(s) did not reach the catalog; their journals in {', '.join(folders)} "
                   f"are stored by the next writer on the catalog{by_runs}")


@queue.command("status")
@DIR_OPTION
@JSON_OPTION
@friendly_errors
def queue_status(directory, as_json):
    """Processes, the catalog the worker writes, RE Manager state, queue and history lengths.

    Exit status 1 if no RE Manager runs from the directory or it does not answer.
    """
    from ..queue import status

    info = status(directory)
    if as_json:
        click.echo(json.dumps(info))
    elif not info.get("manager_pid"):
        click.echo(f"no queue started from {info['directory']}")
    else:
        _echo_queue_status(info)
    if not info["running"] or "error" in (info.get("manager") or {}):  # not running, or not answering
        click.get_current_context().exit(1)


def _echo_queue_status(info: dict) -> None:
    """The human-readable lines of ``autolab queue status`` for a recorded queue."""
    click.echo(f"RE Manager PID {info['manager_pid']} {'running' if info['manager_alive'] else 'not running'}; "
               f"Redis PID {info['redis_pid']} {'running' if info['redis_alive'] else 'not running'}")
    if info.get("http_pid"):
        click.echo(f"HTTP server PID {info['http_pid']} {'running' if info['http_alive'] else 'not running'} at {info['http_address']}")
    click.echo(f"  {'catalog':26s} {info['catalog']}")
    click.echo(f"  {'control socket':26s} {info['zmq_control_addr']}{' (encrypted)' if info.get('encrypted') else ''}")
    for key, value in (info.get("manager") or {}).items():
        click.echo(f"  {key:26s} {value}")


@queue.command("env")
@DIR_OPTION
@friendly_errors
def queue_env(directory):
    """Print the shell lines pointing qserver at the running manager (eval "$(autolab queue env)")."""
    from ..errors import AutolabError
    from ..queue import load_state

    state = load_state(directory)
    if state is None:
        msg = "no queue is recorded; start one with `autolab queue start`"
        raise AutolabError(msg)
    click.echo(state.env_lines())


@queue.command("plans")
@DIR_OPTION
@click.argument("names", nargs=-1, metavar="[PLAN]...")
@friendly_errors
def queue_plans(directory, names):
    """Print the plans the queue accepts with each parameter's type, default and range.

    `qserver allowed plans` prints only the plan names (each description as '{...}'); this prints
    RE Manager's full descriptions, as queueserver's `format_text_descriptions` formats them.
    """
    from bluesky_queueserver import format_text_descriptions

    from ..errors import AutolabError
    from ..queue import running_queue

    _, api = running_queue(directory)
    try:
        allowed = api.plans_allowed()["plans_allowed"]
    finally:
        api.close()
    unknown = sorted(set(names) - set(allowed))
    if unknown:
        msg = f"plan {', '.join(map(repr, unknown))} is not allowed in the queue; allowed: {', '.join(sorted(allowed))}"
        raise AutolabError(msg)
    for name in names or sorted(allowed):
        text = format_text_descriptions(allowed[name])
        click.echo(text["description"])
        for parameter in text["parameters"].values():
            click.echo("  " + parameter.replace("\n", "\n    "))
        click.echo()


@queue.command("wait")
@DIR_OPTION
@click.option("--timeout-s", "timeout_s", type=click.FloatRange(min=0), default=3600.0, show_default=True,
              help="Seconds to wait for RE Manager to become idle.")
@friendly_errors
def queue_wait(directory, timeout_s):
    """Wait until the queue is done (or stopped at a failed item); print the last item's result.

    Exits with 0 when the last item completed (or was stopped by a person), 1 when it failed or was
    aborted or halted, 2 when the queue is not running or the wait timed out.
    """
    from bluesky_queueserver_api.api_base import WaitTimeoutError

    from ..errors import AutolabError
    from ..queue import running_queue

    _, api = running_queue(directory)
    try:
        api.wait_for_idle(timeout=timeout_s)
        history, status = api.history_get()["items"], api.status()
    except WaitTimeoutError:
        msg = f"the queue is still busy after --timeout-s {timeout_s:g} (`autolab queue status` shows what runs)"
        raise AutolabError(msg) from None
    finally:
        api.close()
    if not history:
        click.echo(f"queue idle; nothing has run; {status['items_in_queue']} item(s) in the queue")
        return
    result = history[-1].get("result") or {}
    exit_status = result.get("exit_status", "unknown")
    click.echo(f"queue idle; last item {history[-1]['name']}: {exit_status}"
               + (f" ({result['msg'].strip().splitlines()[-1]})" if result.get("msg", "").strip() else "")
               + f"; {status['items_in_queue']} item(s) left in the queue")
    if exit_status not in ("completed", "stopped"):
        sys.exit(1)


@click.command(context_settings={"ignore_unknown_options": True})
@CATALOG_OPTION
@click.argument("ipython_args", nargs=-1, type=click.UNPROCESSED)
@friendly_errors
def ipython(catalog, ipython_args):
    """Start IPython with the beamline session loaded (RE, reactor, plans, catalog)."""
    from ..catalog import resolve_location
    from ..runtime import reactor_factory, session_config, twin_settings

    # What the session would fail on, as one line here rather than a traceback above an empty prompt.
    settings = session_config()["reactor"]
    if settings.get("devices"):
        from ..devices.devicefile import read_device_file

        read_device_file(settings["devices"])  # the file's own checks; the PVs connect in the session
    elif settings.get("factory"):
        sys.path.insert(0, os.getcwd())  # as IPython's `-m` has it: a factory module in the current folder
        try:
            reactor_factory(settings["factory"])
        finally:
            sys.path.remove(os.getcwd())
    else:
        twin_settings(settings)  # the twin's seed and time scale
    resolve_location(catalog)
    env = dict(os.environ)
    if catalog:
        env["AUTOLAB_CATALOG"] = catalog
    args = [sys.executable, "-m", "IPython", "-i", "-m", "autolab.startup", *ipython_args]
    os.execve(sys.executable, args, env)


@click.command()
@click.option("--objective", default="msc437", show_default=True, help="Objective from an analysis plugin.")
@click.option("--budget", type=int, default=25, show_default=True, help="Points to measure, design included.")
@INITIAL_DESIGN_OPTION
@BOUND_OPTION
@FIX_OPTION
@CONSTRAINT_OPTION
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the design and the optimiser.")
@click.option("--approve", is_flag=True, help="Ask for a yes before each suggestion is queued.")
@click.option("--resume", "resume_id", default=None, metavar="CAMPAIGN_ID", help="Continue a campaign from the catalog.")
@CATALOG_OPTION
@DIR_OPTION
@JSON_OPTION
@friendly_errors
def agent(objective, budget, initial_design, bounds, fixed, constraints, seed, approve, resume_id, catalog, directory, as_json):
    """Run a campaign from outside the worker: one measure_point queue item per suggestion.

    Needs a running queue (`autolab queue start`); the agent watches the catalog the queue
    records (a different --catalog is refused). People can add their own plans between points,
    pause or stop the queue; the agent waits for each of its points and prints it as it completes.
    With --json the progress lines go to stderr and stdout holds only the summary.
    """
    from ..catalog import resolve_location
    from ..errors import AutolabError
    from ..queue import running_queue

    state, api = running_queue(directory)
    location = state.catalog
    if catalog is not None and resolve_location(catalog) != location:
        api.close()
        msg = (f"--catalog {resolve_location(catalog)} is not the running queue's catalog {location}; "
               "leave --catalog out, or `autolab queue stop` and start the queue with that catalog")
        raise AutolabError(msg)

    from autolab.agent import run_agent
    from autolab.campaign import Campaign, feasible_point

    from ..catalog import CatalogWriter, journal_directory, open_catalog
    from ..catalog.writer import adopt_journals
    from ..interrupt import Interrupted
    from ..runtime import session_reactor

    def say(line: str) -> None:
        click.echo(line, err=as_json)  # with --json, stdout holds only the summary

    def show(c, point):
        value = "failed" if point.value is None else f"{point.value:.4g}"
        cond = ", ".join(f"{k} {v:.4g}" for k, v in point.conditions.items())
        reason = f" (not run: {point.failure})" if point.failure else ""
        say(f"{point.number:>3}/{c.settings.budget} {cond}: {c.settings.objective} {value}{reason}")

    def ask(suggestion):
        cond = ", ".join(f"{k} {v:.4g}" for k, v in suggestion["conditions"].items())
        return click.confirm(f"queue measure_point at {cond}?", default=True)

    say(f"agent: watching catalog {location} (RE Manager PID {state.manager_pid}, queue in {state.directory})")
    with warnings_to_stderr():  # the campaign's warnings, one line each, as `autolab campaign` shows them
        journal = journal_directory(location)
        writer = None
        interrupted = False
        try:
            reactor = session_reactor()  # the worker's reactor: the same startup settings
            limits = reactor.limits()
            client = open_catalog(location, create=False)  # the worker created it when its environment opened
            # An earlier agent kept its journals in a folder of its own: they join the worker's, for the replay.
            adopt_journals(journal.with_name(journal.name + "-agent"), journal)
            writer = CatalogWriter(client, journal)  # the worker's journal folder: on an embedded catalog they take turns
            if resume_id:
                from autolab.agent import queued_points
                from autolab.campaign.resume import resolve_campaign_id
                from autolab.optimize.cost import ReactorCostModel

                resume_id = resolve_campaign_id(client, resume_id)  # the queue's items carry the whole id
                waiting = queued_points(api, resume_id)
                if waiting:  # not in the catalog yet: a resume now would not count it
                    where = f" --dir {shlex.quote(str(state.directory))}" if directory else ""
                    msg = (f"campaign {resume_id}'s point {', '.join(map(str, waiting))} is still in the queue; resume once the "
                           f"queue has run it (`autolab queue wait{where}`)")
                    raise AutolabError(msg)
                campaign = Campaign.resume(client, resume_id, limits, cost_model=ReactorCostModel.from_reactor(reactor))
            else:
                campaign = Campaign(limits, objective, parse_bounds(bounds), budget, 1, initial_design, seed,
                                    fixed=parse_assignments("--fix", fixed, conditions=True), constraints=list(constraints))
            say(f"agent: campaign {campaign.id}, {campaign.settings.objective}, budget {campaign.settings.budget}")
            try:
                summary = run_agent(api, lambda: open_catalog(location), campaign, writer, approve=ask if approve else None, on_point=show,
                                    check=lambda conditions: feasible_point(reactor, conditions))
            except (KeyboardInterrupt, click.exceptions.Abort):  # Ctrl-C, also at an --approve prompt
                interrupted = True
                raise Interrupted(_interrupted(api, campaign, directory and state.directory)) from None
        finally:
            if writer is not None:
                _close_writer(writer, interrupted)
            api.close()
    click.echo(json.dumps(summary) if as_json else f"campaign {summary['campaign_id']}: {summary['n_runs']} points, best "
               f"{summary['objective']} = {summary['best_value']}; {summary['stop_reason']}")


#: Seconds an agent stopped by Ctrl-C waits for its catalog writer; the rest stays in its journals.
INTERRUPTED_FLUSH_S = 5.0


def _close_writer(writer, interrupted: bool) -> None:
    """Close the agent's writer: in full normally; after Ctrl-C for at most :data:`INTERRUPTED_FLUSH_S`.

    After Ctrl-C the person waits for the prompt, and the campaign's record runs the writer still
    holds are safe in its journals (in the catalog's journal folder, the worker's), which the next
    writer on the catalog replays — the next agent before it reads the campaign; the one line of
    the interruption stays the only output.
    """
    from ..errors import CatalogError

    try:
        if interrupted:
            writer.close(timeout=INTERRUPTED_FLUSH_S)
        else:
            writer.close()
    except CatalogError:
        if not interrupted:
            raise


def _interrupted(api, campaign, directory) -> str:
    """The one line of an agent stopped by Ctrl-C: how far it got, its points left in the queue, how to go on."""
    from autolab.agent import queued_points

    done = f"agent interrupted after {campaign.n_tried} of {campaign.settings.budget} points"
    where = f" --dir {shlex.quote(str(directory))}" if directory else ""
    resume = f"autolab agent --resume {campaign.id}{where}"
    try:
        waiting = queued_points(api, campaign.id)
    except Exception:  # the manager does not answer: say what may be left
        return f"{done}; a point it queued may still be in the queue (`autolab queue status{where}`); continue with: {resume}"
    if not waiting:
        return f"{done}; continue with: {resume}"
    if len(waiting) == 1:
        left = f"its point {waiting[0]} stays in the queue and is measured there; once the queue has run it"
    else:
        left = f"its points {', '.join(map(str, waiting))} stay in the queue and are measured there; once the queue has run them"
    return f"{done}; {left} (`autolab queue wait{where}`), continue with: {resume}"


COMMANDS = (queue, agent, ipython)
