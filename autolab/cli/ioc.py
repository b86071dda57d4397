"""``autolab ioc start|status|stop|fault``: the twin's Channel Access IOC (caproto, on 127.0.0.1)."""

from __future__ import annotations

import json

import click

from .options import JSON_OPTION, friendly_errors

DIR_OPTION = click.option(
    "--dir", "directory", default=None, type=click.Path(file_okay=False),
    help="IOC directory (PID, port, log, device file); default $AUTOLAB_IOC_DIR, else $XDG_DATA_HOME/autolab/ioc (~/.local/share/…).",
)


@click.group()
def ioc() -> None:
    """The twin served over Channel Access: caproto IOCs on 127.0.0.1 running the twin's physics."""


@ioc.command("start")
@DIR_OPTION
@click.option("--prefix", default="AUTOLAB:", show_default=True, help="Prefix of every PV (AUTOLAB:CdPump:Rate, …).")
@click.option("--devices-out", type=click.Path(dir_okay=False), default=None,
              help="Where to write the device file that points autolab at the IOC; default <dir>/devices.yml.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the twin's noise.")
@click.option("--time-scale", type=float, default=0.01, show_default=True,
              help="Real seconds per simulated second (> 0); 0.01 runs the twin a hundred times faster than real time.")
@click.option("--port", type=click.IntRange(1024, 65535), default=None, help="Channel Access port; default a free one.")
@friendly_errors
def ioc_start(directory, prefix, devices_out, seed, time_scale, port):
    """Start the twin IOC in the background; print the EPICS_CA_* lines that reach it and write a device file.

    Use it with `eval "$(autolab ioc start)"`, then `autolab campaign --devices FILE` with the
    device file the last line names.
    """
    from ..ioc.control import start

    state = start(directory, prefix=prefix, devices_out=devices_out, seed=seed, time_scale=time_scale, port=port)
    click.echo(state.env_lines())
    click.echo(f"# twin IOC PID {state.pid} on 127.0.0.1:{state.port}, prefix {state.prefix}; log in {state.directory}/ioc.log", err=True)
    click.echo(f"# device file: {state.devices_file}", err=True)


@ioc.command("status")
@DIR_OPTION
@JSON_OPTION
@friendly_errors
def ioc_status(directory, as_json):
    """Whether the IOC runs and answers over Channel Access; exit status 1 if it does not."""
    from ..ioc.control import status

    info = status(directory)
    if as_json:
        click.echo(json.dumps(info, indent=2))
    elif not info["running"]:
        click.echo(f"no IOC running (directory {info['directory']})")
    else:
        answer = f"answering (beam {info['beam_current_ma']:.1f} mA)" if info["answering"] else f"NOT answering ({info.get('error')})"
        click.echo(f"IOC PID {info['pid']} on 127.0.0.1:{info['port']}, prefix {info['prefix']}: {answer}; device file {info['devices_file']}")
    if not (info["running"] and info["answering"]):
        click.get_current_context().exit(1)


@ioc.command("stop")
@DIR_OPTION
@friendly_errors
def ioc_stop(directory):
    """Stop the IOC by its recorded PID."""
    from ..ioc.control import stop

    state = stop(directory)
    click.echo(f"stopped IOC PID {state.pid}" if state else "no IOC was recorded")


@ioc.command("fault")
@click.argument("kind", type=click.Choice(["beam-dump", "heater-alarm", "pump-stall", "no-settle", "detector-timeout", "disconnect"]))
@DIR_OPTION
@click.option("--device", default=None, help="The device (default: beam_monitor, growth_oven, cd_pump or saxs, by kind).")
@click.option("--seconds", type=float, default=5.0, show_default=True, help="How long the fault lasts (wall-clock seconds).")
@click.option("--offset-c", type=float, default=5.0, show_default=True,
              help="no-settle: the heater's readback stays at least this far from its setpoint, °C (0 heals it).")
@friendly_errors
def ioc_fault(kind, directory, device, seconds, offset_c):
    """Inject a fault into the running IOC: a beam dump, heater alarm, pump stall, heater that does not settle,
    detector timeout, or a disconnect (the IOC answers nothing for --seconds)."""
    from ..ioc.control import inject_fault

    click.echo(inject_fault(kind, device=device, seconds=seconds, offset_c=offset_c, directory=directory))


COMMANDS = [ioc]
