"""The ``autolab`` command line: the group, its entry point, and the commands it registers.

Every command has ``--help``. Bad input gets one line on stderr naming the option, the value and
what is allowed, and exit code 2; nothing is moved or written before the input is checked.

The commands live in small modules, one job each: :mod:`~autolab.cli.point` (measure, phase-map,
simulate), :mod:`~autolab.cli.runs` (runs, show, analyze, plugins), :mod:`~autolab.cli.campaign`,
:mod:`~autolab.cli.queue` (queue, agent, ipython), :mod:`~autolab.cli.catalog` (serve, export),
:mod:`~autolab.cli.sweep` and :mod:`~autolab.cli.ioc` (the twin's Channel Access IOC).
They share :mod:`~autolab.cli.options` and import nothing else of the command line; this module
imports them, never the other way round.
"""

from __future__ import annotations

import sys

import click

from ..interrupt import INTERRUPTED_EXIT, Interrupted
from . import campaign, catalog, ioc, point, queue, runs, sweep
from .options import fail

__all__ = ["cli", "main"]

#: click ≥ 8.2 raises this for a group called without a command (click 8.1 prints the help itself).
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="autolab")
def cli() -> None:
    """autolab: autonomous nanocrystal synthesis on Bluesky, with a simulated flow reactor."""


def _register(*modules) -> None:
    for module in modules:
        for command in module.COMMANDS:
            cli.add_command(command)


_register(point, runs, campaign, queue, catalog, sweep, ioc)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning click's usage errors into one line and exit code 2.

    ``autolab`` alone (or a command group alone, ``autolab queue``) prints its help. Ctrl-C ends
    any command with one line on stderr and exit status 130.
    """
    try:
        status = cli.main(args=argv, prog_name="autolab", standalone_mode=False)
        if isinstance(status, int) and status:  # a command's ctx.exit(N): click returns N outside standalone mode
            sys.exit(status)
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("autolab: interrupted", err=True)
        sys.exit(INTERRUPTED_EXIT)
    except Interrupted as exc:
        click.echo(f"autolab: {exc}", err=True)
        sys.exit(INTERRUPTED_EXIT)
    except _NO_ARGS_IS_HELP as exc:
        click.echo(exc.ctx.get_help())
    except click.UsageError as exc:
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx and exc.ctx.command.name != "cli" else ""
        fail(exc.format_message() + hint)
    except click.ClickException as exc:
        fail(exc.format_message())


if __name__ == "__main__":  # pragma: no cover
    main()
