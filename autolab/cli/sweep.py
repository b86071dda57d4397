"""``autolab sweep``: many dry-run campaigns (seeds × settings) in parallel on Dask distributed."""

from __future__ import annotations

import json
from pathlib import Path

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
)


@click.command()
@click.option("--spec", "spec_file", type=click.Path(dir_okay=False), default=None,
              help="A TOML sweep spec (keys as the options; lists span the grid); options given here override it.")
@click.option("--objective", "objectives", multiple=True, help="Objective (repeat for several); default msc437.")
@click.option("--seeds", default=None, metavar="A-B|A,B,…", help="Seeds of the campaigns, e.g. 0-3; default 0-3.")
@click.option("--budget", type=int, default=None, help="Points per campaign, design included; default 15.")
@INITIAL_DESIGN_OPTION
@click.option("--batch-size", "batch_sizes", type=int, multiple=True, help="Points per model update (repeat for several).")
@click.option("--acquisition", "acquisitions", type=click.Choice(["log_ei", "ucb"]), multiple=True,
              help="Acquisition function (repeat for several); default log_ei.")
@click.option("--cost-aware", "cost_aware", type=click.Choice(["no", "yes", "both"]), default=None,
              help="Cost-aware suggestions: no (default), yes, or both (a setting each).")
@BOUND_OPTION
@FIX_OPTION
@CONSTRAINT_OPTION
@click.option("--workers", type=int, default=2, show_default=True,
              help="Worker processes of the local Dask cluster (how they share one catalog: docs/sweep.md).")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT", help="A running Dask scheduler instead of a local cluster.")
@click.option("--report", "report_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for sweep.json and best_so_far.png; default ./autolab-reports/sweep-SWEEP_ID.")
@click.option("--api-key", default=None, help="API key of a tiled server catalog.")
@CATALOG_OPTION
@JSON_OPTION
@friendly_errors
def sweep(spec_file, objectives, seeds, budget, initial_design, batch_sizes, acquisitions, cost_aware, bounds, fixed,
          constraints, workers, scheduler, report_dir, api_key, catalog, as_json):
    """Run dry-run campaigns for every seed × setting on Dask, into one catalog, with a table and a figure.

    Each campaign runs the twin in a worker process and stores its runs, tagged with the sweep's
    id, in the catalog. Every setting is checked before the cluster starts.

    \b
    Examples:
      autolab sweep --objective msc437 --seeds 0-3 --budget 15
      autolab sweep --acquisition log_ei --acquisition ucb --seeds 0-7
      autolab sweep --batch-size 1 --batch-size 4 --seeds 0-7 --cost-aware both
      autolab sweep --spec sweep.toml --scheduler tcp://10.0.0.5:8786 --catalog /shared/catalog
    """
    import uuid

    from autolab.catalog import is_remote, open_catalog, resolve_location
    from autolab.devices import make_twin_reactor
    from autolab.sweep import SweepSpec, close_cluster, plot_sweep, start_cluster

    given = {key: value for key, value in (
        ("objective", list(objectives)), ("seeds", seeds), ("budget", budget), ("initial_design", initial_design),
        ("batch_size", list(batch_sizes)), ("acquisition", list(acquisitions)),
        ("cost_aware", {"no": [False], "yes": [True], "both": [False, True]}.get(cost_aware)),
        ("bounds", parse_bounds(bounds)), ("fix", parse_assignments("--fix", fixed, conditions=True)),
        ("constraints", list(constraints)),
    ) if value not in (None, [], {})}
    if spec_file is not None:
        spec = SweepSpec.from_file(spec_file, given)
    else:
        spec = SweepSpec.from_mapping({"objective": "msc437", "seeds": "0-3", "budget": 15, **given})
    spec.check(make_twin_reactor(seed=0))
    location = resolve_location(catalog)
    sweep_id = str(uuid.uuid4())
    n_campaigns = len(spec.settings()) * len(spec.seeds)
    report = Path(report_dir) if report_dir else Path.cwd() / "autolab-reports" / f"sweep-{sweep_id}"
    client = start_cluster(workers, scheduler)  # a scheduler that does not answer fails here, before anything runs
    try:
        if not is_remote(location):
            open_catalog(location)  # created once here, before the workers share it
        result = _run(spec, location, client, sweep_id, api_key, n_campaigns, quiet=as_json)
    finally:
        close_cluster(client)
    report.mkdir(parents=True, exist_ok=True)
    figure = plot_sweep(result["campaigns"], report / "best_so_far.png")
    result["report"] = str(report)
    result["figure"] = str(figure)
    (report / "sweep.json").write_text(json.dumps(result, indent=1, default=str))
    if as_json:
        click.echo(json.dumps({**result, "campaigns": [_brief(row) for row in result["campaigns"]]}, default=str))
        return
    _print_table(result)


def _run(spec, location, client, sweep_id, api_key, n_campaigns, *, quiet):
    """The sweep on ``client``; a progress bar and a line per campaign on stderr unless ``quiet``."""
    from autolab.sweep import run_sweep

    if quiet:
        result = run_sweep(spec, location, client=client, sweep_id=sweep_id, api_key=api_key)
    else:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console(stderr=True)
        with Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TextColumn("campaigns"), TimeElapsedColumn(),
                      console=console) as bar:
            task = bar.add_task("sweep", total=n_campaigns)

            def done(row):
                what = f"best {row['best_value']:.4g} in {row['n_runs']} points" if row.get("best_value") is not None \
                    else row.get("error", "no result")
                bar.console.print(f"  {row['setting']}, seed {row['seed']}: {what}")
                bar.advance(task)

            result = run_sweep(spec, location, client=client, sweep_id=sweep_id, api_key=api_key, on_done=done)
    return result


def _brief(row: dict) -> dict:
    """A campaign's row without its per-point curve (kept in sweep.json)."""
    return {key: value for key, value in row.items() if key != "best_so_far"}


def _print_table(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"sweep {result['sweep_id']}: {len(result['campaigns'])} campaigns on {result['workers']} worker(s), "
                        f"{result['wall_s']:.1f} s")
    for column in ("setting", "seed", "best", "points to 95 %", "points", "wall s", "campaign"):
        table.add_column(column)
    for row in result["campaigns"]:
        best = "failed: " + row["error"] if row.get("error") else f"{row['best_value']:.4g}" if row["best_value"] is not None else "–"
        reached = row.get("points_to_95")
        table.add_row(row["setting"], str(row["seed"]), best, "–" if reached is None else str(reached), str(row["n_runs"]),
                      f"{row['wall_s']:.1f}" if "wall_s" in row else "–", (row.get("campaign_id") or "–")[:8])
    console = Console()
    console.print(table)
    console.print(f"figure {result['figure']}; table {result['report']}/sweep.json; runs in {result['catalog']}")


COMMANDS = (sweep,)
