"""``autolab serve`` (a tiled server over a catalog folder) and ``autolab export`` (a run as files)."""

from __future__ import annotations

import click

from ..errors import AutolabError
from .options import CATALOG_OPTION, check_run_text, friendly_errors, resolve_uid


@click.command()
@click.option(
    "--catalog", "catalog", default=None, metavar="PATH",
    help="Catalog directory to serve, created if needed "
         "(default: $AUTOLAB_CATALOG, the AUTOLAB_CONFIG file's [catalog] location, or $XDG_DATA_HOME/autolab/catalog).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (127.0.0.1: this machine only).")
@click.option("--port", type=int, default=8000, show_default=True, help="TCP port (0: a free one, printed).")
@click.option(
    "--api-key", default=None, envvar="AUTOLAB_SERVE_API_KEY", show_envvar=True,
    help="API key that reads and writes (letters and digits; default: a new random key, printed).",
)
@click.option(
    "--read-api-key", default=None, envvar="AUTOLAB_SERVE_READ_API_KEY", show_envvar=True,
    help="A second key that only reads, for viewers (letters and digits; default: none).",
)
@click.option(
    "--database", default=None, metavar="URI",
    help="postgresql://USER[:PASSWORD]@HOST:PORT/DB: keep the catalog and event tables there (a facility catalog); "
    "--catalog then holds the arrays only. Its schema is created when new.",
)
@click.option(
    "--workers", type=int, default=1, show_default=True,
    help="Server processes on the port (with --database; 1–32): writers that write at once are served on as many cores.",
)
@friendly_errors
def serve(catalog, host, port, api_key, read_api_key, database, workers):
    """Serve a catalog folder as a tiled server until Ctrl-C.

    Clients read and write it with `--catalog http://HOST:PORT` and the key in TILED_API_KEY, or
    with `tiled.client.from_uri("http://HOST:PORT", api_key=KEY)`; with the --read-api-key key
    they only read. Every request needs a key. With --database the catalog lives in PostgreSQL,
    arrays in the --catalog folder, and --workers runs several server processes.
    """
    from ..catalog import is_remote, resolve_location
    from ..catalog.serve import serve as run_server

    location = resolve_location(catalog)
    if is_remote(location):
        msg = f"--catalog={catalog!r} is a server URI; `autolab serve` serves a catalog folder"
        raise AutolabError(msg)
    context = click.get_current_context()
    sources = tuple(
        param.envvar if context.get_parameter_source(param.name) is click.core.ParameterSource.ENVIRONMENT else param.opts[0]
        for param in context.command.params if param.name in ("api_key", "read_api_key")
    )
    run_server(location, host=host, port=port, api_key=api_key, read_api_key=read_api_key, echo=click.echo, database=database,
               key_sources=sources, workers=workers)


@click.command()
@click.argument("run")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "h5", "nc", "jsonl"]), default="nc", show_default=True,
    help="nc: netCDF (xarray); h5: HDF5 (h5py); csv: tables; jsonl: the run's Bluesky documents.",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="File to write (default: RUN.FORMAT).")
@click.option("--stream", default="primary", show_default=True, help="Stream to write (nc, h5, csv).")
@CATALOG_OPTION
@friendly_errors
def export(run, fmt, output, stream, catalog):
    """Write a run's stream (or, with --format jsonl, its documents) to files for other programs.

    RUN is a run uid, a unique prefix of one (as `autolab runs` prints) or `last`. csv writes OUTPUT with
    one row per event and one OUTPUT-stem.DIM.csv per array dimension (wavelength_nm, q_nm_inv).
    """
    check_run_text(run)
    from ..catalog import open_catalog
    from ..catalog.export import export_run

    client = open_catalog(catalog, create=False)
    uid = resolve_uid(client, run)
    for path in export_run(client[uid], output or f"{uid[:8]}.{fmt}", fmt, stream=stream):
        click.echo(f"wrote {path}")


COMMANDS = (serve, export)
