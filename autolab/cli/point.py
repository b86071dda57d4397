"""``autolab measure``, ``autolab phase-map`` and ``autolab simulate``: points at given conditions."""

from __future__ import annotations

import json
import logging
import numbers
import sys

import click

from ..errors import LimitError, ReactorFault, check_figure_file, check_seed
from ..interrupt import Interrupted
from .options import (
    CATALOG_OPTION,
    DEVICES_OPTION,
    JSON_OPTION,
    SEED_OPTION,
    STANDBY_FLOW_OPTION,
    TIME_SCALE_OPTION,
    condition_list_options,
    condition_options,
    friendly_errors,
    parse_floats,
)

logger = logging.getLogger(__name__)


@click.command()
@condition_options
@CATALOG_OPTION
@SEED_OPTION
@TIME_SCALE_OPTION
@DEVICES_OPTION
@STANDBY_FLOW_OPTION
@JSON_OPTION
@friendly_errors
def measure(catalog, seed, time_scale, devices, standby_flow_ul_min, as_json, **conditions):
    """Measure one point on the session's reactor (the twin by default) and store it in the catalog."""
    from ..conditions import NAMES
    from ..plans import measure_point
    from ..plans.failures import naming_every_failure
    from ..runtime import open_session, session_reactor

    values = [conditions[name] for name in NAMES]
    reactor = session_reactor(seed=seed, time_scale=time_scale, standby_flow_ul_min=standby_flow_ul_min, devices=devices)
    reactor.check_reagents([reactor.check_conditions(*values)])
    warn_if_extrapolated(reactor, values)
    session = open_session(catalog, reactor=reactor, progress=False)  # the command prints its own lines
    # The pumps stop after the point, as after a phase map: over EPICS the reactor runs on once the command has left.
    (uid,) = run_interruptible(session, then_stop_flow(naming_every_failure(measure_point(session.reactor, *values)), session.reactor))
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


def echo_extrapolated(reasons: list[str]) -> None:
    """The one warning line (stderr) of a twin's point outside its validity domain."""
    click.echo(f"autolab: warning: outside the twin's validity domain, the result is extrapolated: {'; '.join(reasons)}", err=True)


def warn_if_extrapolated(reactor, values) -> None:
    """Warn (:func:`echo_extrapolated`) before a twin reactor measures a point outside its validity domain."""
    from ..plans.survey import extrapolated_because

    if reasons := extrapolated_because(reactor, *values):
        echo_extrapolated(reasons)


def metric_text(value) -> str:
    """A metric as a table shows it: a float to five significant digits, a list of more than six numbers as its length.

    Lists of sentences (warnings, notes) are printed whole.
    """
    if isinstance(value, list) and len(value) > 6 and all(isinstance(v, numbers.Real) for v in value):
        return f"[{len(value)} values]"
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):  # numpy's floats too
        return f"{float(value):.5g}"
    return str(value)


def echo_metrics(metrics: dict) -> None:
    """Print one metric a line, ``plugin.metric  value`` (:func:`metric_text`)."""
    for key, value in metrics.items():
        click.echo(f"  {key:38s} {metric_text(value)}")


def then_stop_flow(plan, reactor):
    """``plan``, then both pumps stopped whether it finished or failed.

    If the plan failed, a failure to stop the pumps as well is logged and the plan's own failure
    is the one raised.
    """
    from ..plans import stop_flow
    from ..plans.failures import device_failures, failure_text

    failed = False
    try:
        return (yield from plan)
    except Exception:
        failed = True
        raise
    finally:
        try:
            yield from stop_flow(reactor)
        except device_failures() as exc:
            if not failed:
                raise
            logger.warning("stopping the pumps after the failed point failed too: %s", failure_text(exc))


def run_interruptible(session, plan) -> tuple:
    """Run ``plan`` on the session's RunEngine; Ctrl-C aborts it and raises :class:`Interrupted`.

    See :mod:`autolab.interrupt`. Every run finished before is already on its way to the
    catalog, which :meth:`Session.close` waits for. A device that fails the plan (a heater
    that does not settle, a detector that times out, a lost connection) raises
    :class:`ReactorFault`, one line with its reason and how the last run ended, once the session
    has stored it; bluesky's "Run aborted" traceback of it is not printed.
    """
    from .. import interrupt
    from ..plans.failures import DevicesFailed, device_failures, failure_text

    stops: list[str] = []
    token = session.RE.subscribe(lambda name, doc: stops.append(doc.get("exit_status", "")), "stop")
    quiet = interrupt.QuietExpectedAborts(device_failures())
    logging.getLogger("bluesky").addFilter(quiet)
    try:
        result, interrupted = interrupt.run_interruptible(session.RE, plan)
    except device_failures() as exc:  # a run it failed is closed as failed: stored before the one line
        session.close()
        ended = f"the last run is stored with exit_status {stops[-1]!r}" if stops else "no run was stored"
        several = isinstance(exc, DevicesFailed) and len(exc.reasons) > 1
        msg = f"{'devices' if several else 'a device'} failed: {failure_text(exc)}; {ended} in {session.location}"
        raise ReactorFault(msg) from exc
    except Exception:
        session.close()  # what was measured reaches the catalog before the error is shown
        raise
    finally:
        logging.getLogger("bluesky").removeFilter(quiet)
        session.RE.unsubscribe(token)
    if interrupted:
        session.close()
        msg = f"interrupted; the unfinished run is marked aborted, finished runs are in {session.location}"
        raise Interrupted(msg)
    return result


@click.command("phase-map")
@condition_list_options
@click.option("--growth-not-above-nucleation", is_flag=True, help="Skip points with growth T above nucleation T.")
@CATALOG_OPTION
@SEED_OPTION
@TIME_SCALE_OPTION
@DEVICES_OPTION
@STANDBY_FLOW_OPTION
@JSON_OPTION
@friendly_errors
def phase_map_command(growth_not_above_nucleation, catalog, seed, time_scale, devices, standby_flow_ul_min, as_json, **lists):
    """Survey a grid of conditions on the session's reactor (the twin by default), one stored run per point."""
    import itertools

    from rich.console import Console
    from rich.progress import Progress

    from ..conditions import CONDITIONS
    from ..plans import phase_map
    from ..plans.failures import naming_every_failure
    from ..runtime import open_session, session_reactor

    grid = tuple(parse_floats(c.plural_option, lists[c.plural]) for c in CONDITIONS)
    reactor = session_reactor(seed=seed, time_scale=time_scale, standby_flow_ul_min=standby_flow_ul_min, devices=devices)
    points = [
        reactor.check_conditions(*values)
        for values in itertools.product(*grid)
        if not (growth_not_above_nucleation and values[1] > values[0])
    ]
    if not points:
        msg = ("--growth-not-above-nucleation leaves no point of the grid (every growth temperature is above every "
               "nucleation temperature); nothing to measure")
        raise LimitError(msg)
    reactor.check_reagents(points)
    session = open_session(catalog, reactor=reactor, progress=False)  # the command prints its own lines
    plan = naming_every_failure(phase_map(reactor, *grid, growth_not_above_nucleation=growth_not_above_nucleation))
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


@click.command()
@condition_options
@click.option("--nucleation-time-s", type=float, default=None, help="Chamber time, s (default: set by the same flow).")
@click.option("--cd-precursor-mm", type=float, default=None, help="Cd precursor in the mixed stream, mM (default 10).")
@click.option("--se-precursor-mm", type=float, default=None, help="Se precursor in the mixed stream, mM (default 10).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the detector noise.")
@click.option("--no-noise", is_flag=True, help="Noise-free spectra.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Write a figure of both spectra, in any format matplotlib writes (.png added to a name without a suffix).")
@JSON_OPTION
@friendly_errors
def simulate(nucleation_time_s, cd_precursor_mm, se_precursor_mm, seed, no_noise, plot_path, as_json, **conditions):
    """Simulate one steady-state point with the physics twin (no devices, no catalog).

    A point outside the twin's validity domain (the region the seed papers cover,
    autolab.sim.DOMAIN) still gives its result, with one warning line on stderr naming the reasons.
    """
    from dataclasses import asdict

    import numpy as np

    from .. import sim
    from ..conditions import NAMES

    seed = check_seed("--seed", seed)  # refused with --no-noise too: a seed numpy would refuse is a typo either way
    if plot_path:
        plot_path = check_figure_file("--plot", plot_path)
    given = {name: conditions[name] for name in NAMES}
    given.update(nucleation_time_s=nucleation_time_s, cd_precursor_mm=cd_precursor_mm, se_precursor_mm=se_precursor_mm)
    result = sim.simulate(sim.Conditions(**given), rng=None if no_noise else np.random.default_rng(seed))
    if result.truth["extrapolated"]:
        echo_extrapolated(result.truth["extrapolated_because"])
    if plot_path:
        from ..plotting import plot_simulation

        plot_simulation(result, plot_path)
    if as_json:
        payload = {
            "conditions": asdict(result.conditions.effective()),  # the chamber time and precursors used, not null
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
    diameter, exciton = truth["nc_mean_diameter_nm"], truth["nc_exciton_nm"]
    click.echo(
        f"MSC families present: {', '.join(truth['msc_families_present']) or 'none'}; "
        f"NC exciton: {f'{exciton} nm' if exciton else '—'}; "
        f"NC mean diameter: {f'{diameter:.2f} nm' if diameter else '—'}; yield {truth['yield_fraction']:.2f}"
    )
    if plot_path:
        click.echo(f"wrote {plot_path}")


COMMANDS = (measure, phase_map_command, simulate)
