"""What a user sees: campaign progress and summary from Python, plugin listings, Ctrl-C on the command line."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from rich.console import Console

from autolab.analysis import PluginManager
from autolab.analysis.runs import AnalysisCallback
from autolab.campaign import autonomous_campaign
from autolab.campaign.plan import keeping_summary
from autolab.catalog import open_catalog
from autolab.progress import CampaignProgress, CampaignSummary, campaign_summary


@pytest.mark.slow
def test_a_campaign_from_python_shows_progress_and_leaves_a_summary(RE, reactor, writer, catalog_dir):
    out = io.StringIO()
    # 200 columns: the summary line that names the run uid is not wrapped
    progress = CampaignProgress(Console(file=out, width=200, force_terminal=False))
    RE.subscribe(writer)
    RE.subscribe(progress)
    analysis = AnalysisCallback(PluginManager(), writer)  # the live analysis a session subscribes
    analysis.subscribe(RE)
    analysis.forward_to(progress)
    result = {}
    bounds = {"nucleation_temperature_c": [260, 300], "growth_temperature_c": [250, 280], "residence_time_s": [4, 14, "log"]}
    RE(keeping_summary(autonomous_campaign(reactor, "msc437", bounds, budget=3, initial_design=2, seed=3), result))
    printed = out.getvalue().splitlines()
    summary = progress.last_summary
    assert isinstance(summary, CampaignSummary)
    # The object holds what the plan returned, by attribute and by key, and prints two lines.
    assert summary.to_dict() == result["summary"]
    assert summary["best_value"] == summary.best_value == max(v for v in result["summary"]["values"] if v is not None)
    assert summary.n_runs == 3
    assert str(summary).splitlines()[0] == f"campaign {summary.campaign_id}: 3/3 points, {summary.stop_reason}"
    # One line per point, numbered from 1, with the objective value the optimiser ingested.
    point_lines = [line.split() for line in printed if line.split() and line.split()[0] in {"1", "2", "3"}]
    assert [int(cells[0]) for cells in point_lines] == [1, 2, 3]
    assert [cells[4] for cells in point_lines] == ["design", "design", "model"]
    assert [float(cells[5]) for cells in point_lines] == pytest.approx(result["summary"]["values"], rel=1e-3)
    assert printed[-2:] == str(summary).splitlines()
    # The same summary, read back from the catalog by another reader.
    writer.flush()
    assert campaign_summary(open_catalog(catalog_dir), summary.campaign_id) == summary


def test_a_campaign_without_a_summary_is_one_clear_error(catalog_dir):
    from autolab.errors import CatalogError

    with pytest.raises(CatalogError, match="no summary of campaign 'nope' in the catalog"):
        campaign_summary(open_catalog(catalog_dir), "nope")


def test_every_metric_a_builtin_plugin_returns_is_declared(reactor):
    """`autolab plugins` lists each plugin's metrics; the list must be what the analysis returns."""
    from autolab import sim

    manager = PluginManager()
    declared = {f"{plugin}.{name}" for plugin, names in manager.metrics().items() for name in names}
    result = sim.simulate(sim.Conditions(350, 300, 7.6))
    returned = set()
    for deferred in (False, True):  # the fast hooks and the deferred ones
        returned |= set(manager.analyze_uvvis(result.wavelength_nm, result.absorbance, deferred=deferred).metrics)
        returned |= set(manager.analyze_saxs(result.q_nm_inv, result.intensity, result.intensity_sigma, deferred=deferred).metrics)
    assert returned <= declared
    assert {name for name in declared if name.startswith(("uvvis.", "saxs."))} == returned
    listing = subprocess.run([sys.executable, "-m", "autolab", "plugins", "--json"], capture_output=True, text=True, check=True)
    rows = {row["name"]: row for row in json.loads(listing.stdout)["plugins"]}
    assert rows["uvvis"]["metrics"]["nc_exciton_nm"]["unit"] == "nm"
    assert rows["objectives"]["objectives"]["msc437"]["direction"] == "maximize"
    assert set(rows["objectives"]["objectives"]) == set(manager.objectives())


@pytest.mark.slow
def test_ctrl_c_during_a_measurement_is_one_line_and_keeps_the_aborted_run(tmp_path):
    catalog = tmp_path / "interrupted"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "autolab", "measure", "--nucleation-temperature-c", "300", "--growth-temperature-c", "280",
         "--residence-time-s", "14", "--time-scale", "1", "--catalog", str(catalog)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    deadline = time.monotonic() + 120
    while not (catalog / "journal").is_dir() or not any((catalog / "journal").glob("*.jsonl")):  # the run has started
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert stderr.strip().splitlines() == [
        f"autolab: interrupted; the unfinished run is marked aborted, finished runs are in {catalog}"
    ]
    runs = list(open_catalog(catalog).values())
    assert [run.metadata["stop"]["exit_status"] for run in runs] == ["abort"]


def shown_progress(docs, width: int = 160) -> tuple[CampaignProgress, str]:
    """The live table after ``docs`` (start documents, ``uid`` run-N unless given), each run finished with success."""
    out = io.StringIO()
    progress = CampaignProgress(Console(file=out, width=width, force_terminal=False))
    for number, doc in enumerate(docs):
        doc = {"uid": f"run-{number}", **doc}
        progress("start", doc)
        progress("stop", {"run_start": doc["uid"], "exit_status": "success"})
    return progress, out.getvalue()


def test_a_point_the_reactor_cannot_run_gets_its_line_with_the_reason():
    settings = {"objective": "msc437", "direction": "maximize", "budget": 2}
    conditions = {"nucleation_temperature_c": 300.0, "growth_temperature_c": 280.0, "residence_time_s": 14.0}
    progress, text = shown_progress((
        {"plan_name": "autonomous_campaign", "campaign_role": "start", "campaign_id": "c1", "campaign_settings": settings, "points_done": 0},
        {"plan_name": "analysis", "campaign_id": "other", "objective_value": 9.0, **conditions},  # another campaign's point
        {"plan_name": "analysis", "campaign_id": "c1", "objective_value": 0.125, "design_point": True, **conditions},
        {"plan_name": "autonomous_campaign", "campaign_role": "failed_point", "campaign_id": "c1",
         "failed_point": {"conditions": conditions, "design": False, "reason": "needs 60000 µL, a full syringe holds 50000 µL"}},
        {"plan_name": "autonomous_campaign", "campaign_role": "summary", "campaign_id": "c1",
         "campaign_summary": {"objective": "msc437", "best": conditions, "best_value": 0.125, "n_runs": 2, "budget": 2,
                              "stop_reason": "budget spent", "n_failed": 1}},
    ))
    rows = [line.split() for line in text.splitlines()]
    assert rows[2][:6] == ["1", "300", "280", "14", "design", "0.125"]
    assert rows[3][:7] == ["2", "300", "280", "14", "model", "failed", "0.125"]
    assert text.splitlines()[3].endswith("(not run: needs 60000 µL, a full syringe holds 50000 µL)")
    assert progress.last_summary["n_failed"] == 1
    assert progress.last_summary.best_value == 0.125


def test_a_measured_point_without_an_objective_value_is_not_shown_as_a_failed_run():
    """nc_size without any NC: the point was measured; 'failed' read as a reactor failure and n_failed stayed 0."""
    settings = {"objective": "nc_size", "direction": "minimize", "budget": 1}
    conditions = {"nucleation_temperature_c": 200.0, "growth_temperature_c": 200.0, "residence_time_s": 2.0}
    _, text = shown_progress((
        {"plan_name": "autonomous_campaign", "campaign_role": "start", "campaign_id": "c1", "campaign_settings": settings, "points_done": 0},
        {"plan_name": "analysis", "campaign_id": "c1", "objective_value": None, "design_point": True, **conditions},
    ))
    row = text.splitlines()[2]
    assert row.split()[:7] == ["1", "200", "200", "2", "design", "no", "value"]
    assert row.endswith("(no nc_size value in this point's analysis: a failed trial for the optimiser)")


def test_a_session_shows_progress_by_default_only_when_stderr_is_a_terminal(tmp_path):
    import pty

    code = (
        "import sys\n"
        "from autolab.runtime import open_session\n"
        f"session = open_session({str(tmp_path / 'catalog')!r}, analyze=False)\n"
        "print(session.progress is not None, flush=True)\n"
        "session.close()\n"
    )
    env = {**os.environ, "TERM": "xterm"}
    for key in ("TTY_COMPATIBLE", "TTY_INTERACTIVE", "FORCE_COLOR", "NO_COLOR", "JUPYTER_COLUMNS"):
        env.pop(key, None)
    piped = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False, env=env)
    assert (piped.returncode, piped.stdout.strip()) == (0, "False")  # a script whose output is piped stays quiet
    leader, follower = pty.openpty()
    try:
        on_terminal = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=follower, text=True,
                                     timeout=120, check=False, env=env)
    finally:
        os.close(follower)
        os.close(leader)
    assert (on_terminal.returncode, on_terminal.stdout.strip()) == (0, "True")


def test_a_session_that_must_not_create_its_catalog_names_the_missing_path(tmp_path):
    from autolab.errors import CatalogError
    from autolab.runtime import open_session

    with pytest.raises(CatalogError, match=f"catalog {tmp_path / 'typo'} does not exist"):
        open_session(str(tmp_path / "typo"), create=False)
    assert not (tmp_path / "typo").exists()


def test_a_resumed_campaigns_best_column_counts_the_points_before_the_resume():
    settings = {"objective": "msc437", "direction": "maximize", "budget": 4}
    conditions = {"nucleation_temperature_c": 300.0, "growth_temperature_c": 280.0, "residence_time_s": 14.0}
    _, text = shown_progress((
        {"plan_name": "autonomous_campaign", "campaign_role": "resume", "campaign_id": "c1", "campaign_settings": settings,
         "points_done": 2, "points_tried": 2, "best_value_so_far": 0.07},
        {"plan_name": "analysis", "campaign_id": "c1", "objective_value": 0.04, "design_point": False, **conditions},
        {"plan_name": "analysis", "campaign_id": "c1", "objective_value": 0.09, "design_point": False, **conditions},
    ))
    rows = [line.split() for line in text.splitlines()]
    assert text.splitlines()[0].startswith("campaign c1 resumes: msc437, budget 4, 2 done")
    assert rows[2][:7] == ["3", "300", "280", "14", "model", "0.04", "0.07"]
    assert rows[3][:7] == ["4", "300", "280", "14", "model", "0.09", "0.09"]


def test_a_campaign_row_of_a_twin_point_outside_its_validity_domain_says_so():
    settings = {"objective": "msc437", "direction": "maximize", "budget": 2}
    inside = {"nucleation_temperature_c": 280.0, "growth_temperature_c": 270.0, "residence_time_s": 14.0}
    outside = {**inside, "residence_time_s": 20.0}
    _, text = shown_progress((
        {"plan_name": "autonomous_campaign", "campaign_role": "start", "campaign_id": "c1", "campaign_settings": settings, "points_done": 0},
        {"plan_name": "measure_point", "campaign_id": "c1", "uid": "m1", "extrapolated": False, "extrapolated_because": [], **inside},
        {"plan_name": "analysis", "campaign_id": "c1", "analysis_of": "m1", "objective_value": 0.1, "design_point": True, **inside},
        {"plan_name": "measure_point", "campaign_id": "c1", "uid": "m2", "extrapolated": True,
         "extrapolated_because": ["residence_time_s=20 s is outside 1.5–14 s"], **outside},
        {"plan_name": "analysis", "campaign_id": "c1", "analysis_of": "m2", "objective_value": 0.08, "design_point": True, **outside},
    ))
    lines = text.splitlines()
    assert lines[2].split()[:6] == ["1", "280", "270", "14", "design", "0.1"]
    assert "extrapolated" not in lines[2]
    assert lines[3].split()[:6] == ["2", "280", "270", "20", "design", "0.08"]
    assert lines[3].endswith("(twin extrapolated: residence_time_s=20 s is outside 1.5–14 s)")


def test_on_a_narrow_console_every_line_of_the_table_and_the_summary_stays_one_line():
    """Output that is not a terminal (a log, a pipe) is 80 columns to rich: a long start line,
    header, row, note or summary is one line all the same, so a run uid or a reason is never split
    and a log greps whole."""
    settings = {"objective": "msc437", "direction": "maximize", "budget": 1}
    outside = {"nucleation_temperature_c": 240.0, "growth_temperature_c": 297.694, "residence_time_s": 20.0}
    campaign_id = "a75e68f4-8ccd-4f07-b571-1069869b6271"
    run_uid = "ebd9ce5a-30e5-4ca5-b7a7-d55a3700b229"
    reasons = ["residence_time_s=20 s is outside 1.5–14 s",
               "growth_temperature_c=297.694 °C is above nucleation_temperature_c=240 °C and above 230 °C"]
    _, text = shown_progress((
        {"plan_name": "autonomous_campaign", "campaign_role": "start", "campaign_id": campaign_id, "campaign_settings": settings,
         "points_done": 0},
        {"plan_name": "measure_point", "campaign_id": campaign_id, "uid": "m1", "extrapolated": True, "extrapolated_because": reasons,
         **outside},
        {"plan_name": "analysis", "campaign_id": campaign_id, "analysis_of": "m1", "objective_value": 0.07047, "design_point": False,
         **outside},
        {"plan_name": "autonomous_campaign", "campaign_role": "summary", "campaign_id": campaign_id,
         "campaign_summary": {"objective": "msc437", "best": outside, "best_value": 0.07047, "best_run_uid": run_uid, "n_runs": 1,
                              "budget": 1, "stop_reason": "budget spent"}},
    ), width=60)  # narrower than the start line (78 characters) and the header (74)
    lines = text.splitlines()
    assert lines[0] == f"campaign {campaign_id} starts: msc437, budget 1, 0 done"
    assert lines[1].split() == ["#", "T_nuc", "°C", "T_growth", "°C", "t_res", "s", "kind", "msc437", "best"]
    assert lines[2].split()[:6] == ["1", "240", "297.7", "20", "model", "0.07047"]
    assert lines[2].endswith(f"(twin extrapolated: {'; '.join(reasons)})")
    assert len(lines[2]) > 80
    assert any(line.endswith(f"; run {run_uid}") for line in lines), lines


def test_resuming_a_spent_campaign_shows_its_line_and_summary_without_an_empty_table():
    settings = {"objective": "msc437", "direction": "maximize", "budget": 2}
    conditions = {"nucleation_temperature_c": 290.0, "growth_temperature_c": 270.0, "residence_time_s": 9.0}
    _, text = shown_progress((
        {"plan_name": "autonomous_campaign", "campaign_role": "resume", "campaign_id": "c1", "campaign_settings": settings,
         "points_done": 2, "points_tried": 2, "best_value_so_far": 0.11},
        {"plan_name": "autonomous_campaign", "campaign_role": "summary", "campaign_id": "c1",
         "campaign_summary": {"objective": "msc437", "best": conditions, "best_value": 0.11, "best_run_uid": "r1", "n_runs": 2,
                              "budget": 2, "stop_reason": "budget spent"}},
    ))
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("campaign ━")]
    assert lines[0] == "campaign c1 resumes: msc437, budget 2, 2 done"
    assert not any(line.split()[:1] == ["#"] for line in lines), lines
    assert lines[1].startswith("campaign c1: 2/2 points, budget spent")
