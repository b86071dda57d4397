"""``autolab campaign``: an autonomous campaign on the session's reactor, with a live table and a report."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..errors import AutolabError, LimitError, check_output_folder
from ..interrupt import INTERRUPTED_EXIT, Interrupted, run_interruptible
from .options import (
    BOUND_OPTION,
    CATALOG_OPTION,
    CONSTRAINT_OPTION,
    DEVICES_OPTION,
    FIX_OPTION,
    INITIAL_DESIGN_OPTION,
    JSON_OPTION,
    STANDBY_FLOW_OPTION,
    TIME_SCALE_OPTION,
    friendly_errors,
    parse_assignments,
    parse_bounds,
    warnings_to_stderr,
)


@click.command()
@click.option("--objective", default=None, help="Objective from an analysis plugin (`autolab plugins`); default msc437.")
@click.option("--budget", type=int, default=None, help="Points to try, design included (a point the reactor cannot run counts too); default 25.")
@click.option("--batch-size", type=int, default=None, help="Points chosen together per model update; default 1.")
@INITIAL_DESIGN_OPTION
@BOUND_OPTION
@FIX_OPTION
@CONSTRAINT_OPTION
@click.option("--cost-aware", is_flag=True,
              help="Weigh each suggestion against the reactor's time to move there (ramps, settling, flush) and order batches to save ramps.")
@click.option("--objective-setting", "objective_settings", multiple=True, metavar="KEY=VALUE", help="Objective setting, e.g. target_diameter_nm=3.")
@click.option("--acquisition", type=click.Choice(["log_ei", "ucb"]), default=None, help="Acquisition function; default log_ei.")
@click.option("--seed", type=int, default=None,
              help="Seed of the design, the optimiser and the twin's noise; default 0 (the twin's: the session config's, else 0).")
@click.option("--resume", "resume_id", default=None, metavar="CAMPAIGN_ID", help="Continue a stopped campaign from the catalog.")
@click.option("--on-point-failure", type=click.Choice(["continue", "stop"]), default="continue", show_default=True,
              help="When a device fails a point (a heater that does not settle, a detector timeout, a lost connection): "
              "the failed run is stored and the point counts as a failed trial; then go on, or stop the campaign.")
@click.option("--report", "report_dir", type=click.Path(file_okay=False), default=None, help="Report folder; default ./autolab-reports/CAMPAIGN_ID.")
@CATALOG_OPTION
@TIME_SCALE_OPTION
@DEVICES_OPTION
@STANDBY_FLOW_OPTION
@JSON_OPTION
@friendly_errors
def campaign(
    objective, budget, batch_size, initial_design, bounds, fixed, constraints, cost_aware, objective_settings, acquisition,
    seed, resume_id, on_point_failure, report_dir, catalog, time_scale, devices, standby_flow_ul_min, as_json,
):
    """Run (or --resume) an autonomous campaign on the session's reactor (the twin by default).

    Each point is measured, analysed and stored; a live table shows the conditions, the
    objective and the best so far. At the end a report folder holds the best spectra, the GP
    model over the two most sensitive inputs and the best-so-far curve.

    \b
    Examples:
      autolab campaign --objective msc437 --budget 25 --seed 0
      autolab campaign --bound nucleation_temperature_c=280:320 --bound residence_time_s=1.5:14:log --fix growth_temperature_c=270
      autolab campaign --constraint "growth_temperature_c <= nucleation_temperature_c" --cost-aware
      autolab campaign --resume 3f2a9c1e-…
    """
    from autolab.campaign import Campaign
    from autolab.optimize.cost import ReactorCostModel

    from ..runtime import open_session, session_reactor

    if resume_id is not None:
        given = [name for name, value in (
            ("--objective", objective), ("--budget", budget), ("--batch-size", batch_size), ("--initial-design", initial_design),
            ("--bound", bounds), ("--fix", fixed), ("--objective-setting", objective_settings), ("--acquisition", acquisition),
            ("--constraint", constraints), ("--cost-aware", cost_aware),
        ) if value]
        if given:
            msg = f"--resume continues the stored campaign's settings; drop {', '.join(given)}"
            raise AutolabError(msg)
    if cost_aware and acquisition == "ucb":  # in the command's own words, before any other line
        msg = "--cost-aware weighs log-EI values by the cost of moving the reactor: --acquisition ucb cannot be cost-aware; " \
              "give --acquisition log_ei or leave out --cost-aware"
        raise LimitError(msg)
    # The report is written after the last point: a folder that cannot be made is refused before the first.
    report_root = check_output_folder("--report", report_dir if report_dir else Path.cwd() / "autolab-reports")
    reactor = session_reactor(seed=seed, time_scale=time_scale, standby_flow_ul_min=standby_flow_ul_min, devices=devices)
    seed = 0 if seed is None else seed
    with warnings_to_stderr():
        new_campaign = None
        if resume_id is None:  # check every input before opening the catalog
            new_campaign = Campaign(
                reactor.limits(),
                objective or "msc437",
                parse_bounds(bounds),
                25 if budget is None else budget,
                1 if batch_size is None else batch_size,
                initial_design,
                seed,
                fixed=parse_assignments("--fix", fixed, conditions=True),
                acquisition=acquisition or "log_ei",
                objective_settings=parse_assignments("--objective-setting", objective_settings, conditions=False),
                constraints=list(constraints),
                cost_model=ReactorCostModel.from_reactor(reactor) if cost_aware else None,
            )
        # A resume reads the catalog first: a mistyped --catalog is an error, not a new empty catalog.
        # The command shows its own progress.
        session = open_session(catalog, reactor=reactor, progress=False, create=resume_id is None)
        try:
            if new_campaign is None:
                new_campaign = Campaign.resume(session.catalog, resume_id, reactor.limits(), sink=session.writer,
                                               cost_model=ReactorCostModel.from_reactor(reactor))
            summary, interrupted = _run(session, new_campaign, quiet=as_json, on_point_failure=on_point_failure)
            try:
                if (waiting := session.writer.runs_waiting) and not as_json:  # the catalog can lag the twin by seconds: say why
                    click.echo(f"storing {waiting} finished run(s) still on their way to the catalog {session.location} …")
                session.writer.flush(timeout=600)
                if interrupted:  # count what a resume continues from: a point can finish just as Ctrl-C comes
                    resumed_from = new_campaign.resumed_from
                    new_campaign = Campaign.resume(session.catalog, new_campaign.id, reactor.limits(), sink=session.writer,
                                                   cost_model=ReactorCostModel.from_reactor(reactor))
                    new_campaign.resumed_from = resumed_from
                    summary = new_campaign.summary("interrupted")
                    session.writer.flush(timeout=600)
                report = report_root if report_dir else report_root / new_campaign.id
                from ..report import write_report

                paths = write_report(new_campaign, session.catalog, report, summary=summary)
            except KeyboardInterrupt:  # after the plan: its runs are stored or journalled; the report is what is missing
                again = f" --report {report_root}" if report_dir else ""
                msg = (f"interrupted while storing campaign {new_campaign.id} and writing its report; its measured points are "
                       f"kept in {session.location}; write the report with: autolab campaign --resume {new_campaign.id} "
                       f"--catalog {session.location}{again}")
                raise Interrupted(msg) from None
        finally:
            session.close()
    payload = {**summary, "report": str(report), "report_files": paths, "catalog": session.location, "interrupted": interrupted}
    if as_json:
        click.echo(json.dumps(payload))
    if interrupted:
        done = f"{new_campaign.n_tried} of {summary['budget']} points"
        resume = f"autolab campaign --resume {new_campaign.id} --catalog {session.location}"
        click.echo(f"autolab: campaign interrupted after {done}; continue with: {resume}", err=True)
        sys.exit(INTERRUPTED_EXIT)
    if not as_json:  # the progress lines ended with the summary (CampaignSummary's two lines)
        click.echo(f"report in {report}; runs in {session.location}")


def _run(session, campaign, *, quiet: bool, on_point_failure: str = "continue") -> tuple[dict, bool]:
    """Run the campaign plan with a progress bar and a line per point; Ctrl-C stops it quietly."""
    from rich.console import Console

    from autolab.campaign.plan import keeping_summary, run_campaign

    from ..progress import CampaignProgress

    result: dict = {}
    token = progress = None
    if not quiet:  # bound to stdout now: bluesky's own prints are caught below
        progress = CampaignProgress(Console(file=sys.stdout))
        token = session.RE.subscribe(progress)
        session.analysis.forward_to(progress)  # each point's analysis run, with its objective value
    try:
        # The CLI always runs the twin: refill its syringes as a person would during a dry run.
        # Ctrl-C aborts: the point in flight is marked aborted (not a point of the campaign), the
        # reactor goes to its safe state; finished points are stored.
        plan = run_campaign(session.reactor, campaign, refill_twin_syringes=True, on_point_failure=on_point_failure)
        _, interrupted = run_interruptible(session.RE, keeping_summary(plan, result))
    finally:
        if token is not None:
            session.RE.unsubscribe(token)
            session.analysis.downstream.remove(progress)
    summary = result.get("summary") or campaign.summary("interrupted" if interrupted else None)
    return summary, interrupted


COMMANDS = (campaign,)
