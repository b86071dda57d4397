"""The autonomous campaign: validation, the plan's records, batches, resume after a kill, the CLI."""

from __future__ import annotations

import json
import math
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from autolab.analysis import PluginManager
from autolab.campaign import Campaign, campaign_bounds, run_campaign
from autolab.catalog import find_runs, open_catalog
from autolab.errors import CatalogError, LimitError
from autolab.plugins import objectives, uvvis

LIMITS = {"nucleation_temperature_c": (20.0, 350.0), "growth_temperature_c": (20.0, 350.0), "residence_time_s": (0.625, 600.0)}
WINDOW = {"nucleation_temperature_c": [240, 350], "growth_temperature_c": [200, 350], "residence_time_s": [1.5, 20, "log"]}


def uvvis_only() -> PluginManager:
    """The UV-Vis and objective plugins only: the campaign's objective needs no SAXS (fast tests)."""
    manager = PluginManager(autoload=False)
    manager.register(uvvis, "uvvis")
    manager.register(objectives, "objectives")
    return manager


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"bounds": {"nucleation_temperature_c": [240, 400]}},
            "bounds['nucleation_temperature_c'] high=400 is outside the reactor's allowed range 20–350 °C",
        ),
        ({"bounds": {"pressure_bar": [1, 2]}}, "bounds: unknown condition 'pressure_bar'"),
        ({"bounds": {"residence_time_s": [20, 1.5]}}, "bounds['residence_time_s']: low 20.0 must be below high 1.5"),
        ({"bounds": {"residence_time_s": [1.5, 20]}}, "nucleation_temperature_c, growth_temperature_c: neither in bounds nor fixed; give "
                                                      "each condition a range or a value (the reactor's: nucleation_temperature_c 20–350 °C, "
                                                      "growth_temperature_c 20–350 °C)"),
        ({"fixed": {"growth_temperature_c": 20}, "bounds": {"growth_temperature_c": [200, 300]}}, "growth_temperature_c is both fixed"),
        ({"fixed": {"growth_temperature_c": 500}}, "fixed growth_temperature_c=500 is outside the reactor's allowed range 20–350 °C"),
        ({"objective": "purity"}, "objective='purity' is not provided by any plugin; available: msc437, msc437_selectivity"),
        ({"budget": 0}, "budget=0 is outside the allowed range 1–1000 points"),
        ({"budget": 2.5}, "budget=2.5 must be a whole number of points in 1–1000"),
        ({"batch_size": 50}, "batch_size=50 is outside the allowed range 1–20 points"),
        ({"batch_size": 0}, "batch_size=0 is outside the allowed range 1–20 points"),
        ({"seed": -1}, "seed=-1 must be a whole number ≥ 0"),
        ({"acquisition": "ei"}, "acquisition='ei' must be one of 'log_ei', 'ucb'"),
        ({"objective": "nc_size", "objective_settings": {"target_diameter_nm": 50}},
         "target_diameter_nm=50 is outside the allowed range 0.5–10 nm"),
        ({"objective": "nc_size", "objective_settings": {"target_diameter": 3}},
         "objective setting 'target_diameter' is not one objective 'nc_size' takes; it takes target_diameter_nm"),
        ({"objective": "msc437", "objective_settings": {"target_diameter_nm": 3}},
         "objective setting 'target_diameter_nm' is not one objective 'msc437' takes; it takes none"),
        ({"initial_design": [{"nucleation_temperature_c": 260, "growth_temperature_c": 260, "residence_time_s": 30}], "bounds": WINDOW},
         "initial_design[0] residence_time_s=30 is outside the campaign's allowed range 1.5–20 s"),
        ({"initial_design": [], "bounds": WINDOW},
         "initial_design=[] holds no point; give points, a number of points, or None for the default design"),
    ],
)
def test_bad_campaign_settings_name_the_field_value_and_range(kwargs, message):
    with pytest.raises(LimitError) as info:
        Campaign(LIMITS, manager=uvvis_only(), **kwargs)
    assert message in str(info.value)


def test_default_bounds_are_the_reactor_limits_with_log_residence_time():
    bounds, fixed = campaign_bounds(LIMITS, None, {"growth_temperature_c": 280})
    assert bounds == {"nucleation_temperature_c": [20.0, 350.0, "linear"], "residence_time_s": [0.625, 600.0, "log"]}
    assert fixed == {"growth_temperature_c": 280.0}


def collect(RE):
    """Every document of ``RE``'s runs, and of the analysis runs its live analysis stores (as a session has)."""
    docs = []
    RE.subscribe(lambda name, doc: docs.append((name, doc)))
    live_analysis(RE, lambda name, doc: docs.append((name, doc)))
    return docs


def live_analysis(RE, sink):
    """Subscribe the live analysis a session has (:func:`autolab.runtime.subscribe_analysis`), storing into ``sink``."""
    from autolab.analysis.runs import AnalysisCallback

    analysis = AnalysisCallback(uvvis_only(), sink)
    analysis.subscribe(RE)
    return analysis


def starts(docs, plan_name):
    return [d for n, d in docs if n == "start" and d.get("plan_name") == plan_name]


def test_campaign_plan_records_every_decision(RE, reactor):
    docs = collect(RE)
    campaign = Campaign(reactor.limits(), "msc437", WINDOW, budget=5, initial_design=3, seed=2, manager=uvvis_only())
    RE(run_campaign(reactor, campaign))
    points = starts(docs, "measure_point")
    analyses = starts(docs, "analysis")
    records = starts(docs, "autonomous_campaign")
    assert len(points) == 5
    assert len(analyses) == 5
    assert [r["campaign_role"] for r in records] == ["start", "summary"]
    settings = records[0]["campaign_settings"]
    assert settings["budget"] == 5
    assert settings["bounds"]["residence_time_s"] == [1.5, 20.0, "log"]
    for i, start in enumerate(points):
        assert start["campaign_id"] == campaign.id
        assert start["campaign_point_index"] == i
        assert start["design_point"] is (i < 3)
        assert (start["acquisition_value"] is None) is (i < 3)
        assert start["model_summary"]["n_complete"] == i
        assert 240 <= start["nucleation_temperature_c"] <= 350
        assert 1.5 <= start["residence_time_s"] <= 20
    # Once the model is used its learned length scales are on record, from the point it first chose:
    # the model that chose each point, fitted on the outcomes before it.
    assert set(points[3]["model_summary"]["length_scales"]) == set(WINDOW)
    assert points[3]["model_summary"]["length_scales"] != points[4]["model_summary"]["length_scales"]
    assert len({s["suggestion_id"] for s in points}) == 5
    for point, analysis in zip(points, analyses, strict=True):
        assert analysis["analysis_of"] == point["uid"]
        assert analysis["suggestion_id"] == point["suggestion_id"]
        assert analysis["objective"] == "msc437"
        assert analysis["objective_value"] == pytest.approx(analysis["metrics"]["uvvis"]["msc_absorbance_CdSe-437"])
    summary = records[1]["campaign_summary"]
    assert summary["n_runs"] == 5
    assert summary["run_uids"] == [p["uid"] for p in points]
    assert summary["best_value"] == max(a["objective_value"] for a in analyses)
    assert summary["best_so_far"][-1] == summary["best_value"]
    # Every point's events went through the analysis stream with the numeric metrics.
    analysis_events = [d for n, d in docs if n == "event" and "uvvis__msc_absorbance_CdSe-437" in d["data"]]
    assert len(analysis_events) == 5
    assert reactor.cd_pump.flow_rate.get() == 0.0  # the pumps are stopped at the end


def test_same_seed_same_campaign(reactor):
    from bluesky import RunEngine

    from autolab.devices import make_twin_reactor

    conditions = []
    for _ in range(2):
        RE = RunEngine({}, call_returns_result=False)
        docs = collect(RE)
        twin = make_twin_reactor(seed=11)
        RE(run_campaign(twin, Campaign(twin.limits(), "msc437", WINDOW, budget=4, initial_design=2, seed=5, manager=uvvis_only())))
        conditions.append([(s["nucleation_temperature_c"], s["growth_temperature_c"], s["residence_time_s"]) for s in starts(docs, "measure_point")])
    assert conditions[0] == conditions[1]


def test_batches_are_distinct_and_fixed_conditions_held(RE, reactor):
    docs = collect(RE)
    campaign = Campaign(
        reactor.limits(), "msc437", {"nucleation_temperature_c": [260, 340], "residence_time_s": [2, 15, "log"]},
        budget=6, batch_size=3, initial_design=3, seed=1, fixed={"growth_temperature_c": 250}, manager=uvvis_only(),
    )
    RE(run_campaign(reactor, campaign))
    points = starts(docs, "measure_point")
    assert [p["growth_temperature_c"] for p in points] == [250.0] * 6
    model_batch = [(p["nucleation_temperature_c"], p["residence_time_s"]) for p in points[3:]]
    assert len(set(model_batch)) == 3
    # The batch was chosen jointly: all three carry the model state before any of them was measured.
    assert [p["model_summary"]["n_complete"] for p in points[3:]] == [3, 3, 3]
    assert [p["model_summary"]["n_pending"] for p in points[3:]] == [0, 1, 2]


def test_a_point_without_the_objective_is_a_failed_trial_and_the_campaign_goes_on(RE, reactor):
    """nc_size needs an NC exciton; where the twin makes none the point is a failed trial, not a crash."""
    campaign = Campaign(
        reactor.limits(), "nc_size", {"residence_time_s": [1.5, 20, "log"]}, budget=3, initial_design=3, seed=0,
        fixed={"nucleation_temperature_c": 240, "growth_temperature_c": 240}, manager=uvvis_only(),
    )
    RE(run_campaign(reactor, campaign))
    assert len(campaign.points) == 3
    failed = [p for p in campaign.points if p.value is None]
    assert failed, "at 240 °C the twin shows no NC exciton at the shortest residence times"
    assert campaign.optimizer.summary()["n_failed"] == len(failed)


CRASHING_CAMPAIGN = """
import os, sys
from autolab.campaign import Campaign
from autolab.campaign import run_campaign
from autolab.runtime import open_session
sys.path.insert(0, sys.argv[2])
from test_campaign import WINDOW, uvvis_only
from autolab.analysis.runs import AnalysisCallback
session = open_session(sys.argv[1], seed=4, analyze=False)
AnalysisCallback(uvvis_only(), session.writer).subscribe(session.RE)
campaign = Campaign(session.reactor.limits(), "msc437", WINDOW, budget=5, initial_design=3, seed=9, manager=uvvis_only())
print("campaign", campaign.id, flush=True)
campaign.listeners.append(lambda c, p: print("finished", p.run_uid, flush=True))
points_started = 0
def kill_in_fourth_point(name, doc):
    global points_started
    if name == "start" and doc.get("plan_name") == "measure_point":
        points_started += 1
    # Die the hard way (no cleanup, no flush) once the fourth point has its reading.
    if name == "event" and points_started == 4 and "reactor_spectrometer_absorbance" in doc["data"]:
        os.kill(os.getpid(), 9)
session.RE.subscribe(kill_in_fourth_point)
session.RE(run_campaign(session.reactor, campaign))
"""


@pytest.mark.slow
def test_killed_campaign_resumes_without_losing_or_repeating_points(tmp_path):
    catalog = tmp_path / "campaign-catalog"
    proc = subprocess.run(
        [sys.executable, "-c", CRASHING_CAMPAIGN, str(catalog), str(__import__("pathlib").Path(__file__).parent)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    lines = proc.stdout.split("\n")
    campaign_id = lines[0].split()[1]
    finished = [line.split()[1] for line in lines if line.startswith("finished")]
    assert len(finished) == 3

    resumed = subprocess.run(
        [sys.executable, "-m", "autolab", "campaign", "--resume", campaign_id, "--catalog", str(catalog), "--json",
         "--report", str(tmp_path / "report")],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["campaign_id"] == campaign_id
    assert summary["n_runs"] == 5
    assert summary["resumed_from"] == 3
    assert summary["run_uids"][:3] == finished  # nothing finished is lost

    client = open_catalog(catalog)
    measured = find_runs(client, plan_name="measure_point", campaign_id=campaign_id)
    done = [r for r in measured if (r.metadata.get("stop") or {}).get("exit_status") == "success"]
    assert [r.metadata["start"]["uid"] for r in done] == summary["run_uids"]  # the budget is honoured
    interrupted = [r.metadata["start"]["uid"] for r in measured if (r.metadata.get("stop") or {}).get("exit_status") != "success"]
    assert len(interrupted) == 1  # the killed point, replayed from its journal, is not counted
    assert interrupted[0] not in summary["run_uids"]
    suggestions = [r.metadata["start"]["suggestion_id"] for r in done]
    assert len(set(suggestions)) == 5
    conditions = {tuple(r.metadata["start"][k] for k in ("nucleation_temperature_c", "growth_temperature_c", "residence_time_s")) for r in done}
    assert len(conditions) == 5  # nothing measured twice
    analyses = find_runs(client, plan_name="analysis", campaign_id=campaign_id)
    assert sorted(a.metadata["start"]["analysis_of"] for a in analyses) == sorted(summary["run_uids"])
    roles = [r.metadata["start"]["campaign_role"] for r in find_runs(client, plan_name="autonomous_campaign", campaign_id=campaign_id)]
    assert roles == ["start", "resume", "summary"]
    values = [a.metadata["start"]["objective_value"] for a in analyses]
    assert summary["best_value"] == pytest.approx(max(v for v in values if v is not None))
    for name in ("best_so_far", "spectra", "model", "summary"):
        assert (tmp_path / "report").joinpath(summary["report_files"][name].split("/")[-1]).stat().st_size > 1000


def test_resume_of_an_unknown_campaign_is_a_clear_error(catalog_dir):
    with pytest.raises(CatalogError, match="no campaign 'nope' in the catalog"):
        Campaign.resume(open_catalog(catalog_dir), "nope", LIMITS)


def test_resume_takes_the_first_characters_of_a_campaign_id_and_an_unknown_one_lists_the_stored(RE, reactor, catalog_dir, writer):
    """`--resume 1eb9dd8c` (what the tables show) was 'no campaign'; the line now names the campaigns there are."""
    RE.subscribe(writer)
    campaign = Campaign(reactor.limits(), "msc437", WINDOW, budget=2, initial_design=2, seed=0, manager=uvvis_only())
    RE(run_campaign(reactor, campaign))
    writer.flush()
    client = open_catalog(catalog_dir)
    resumed = Campaign.resume(client, campaign.id[:8], LIMITS, manager=uvvis_only())
    assert (resumed.id, resumed.resumed_from) == (campaign.id, 2)
    with pytest.raises(CatalogError) as raised:
        Campaign.resume(client, "zzzzzzzz", LIMITS)
    # The catalog fixture is shared: other tests' campaigns may be there too, this one the newest.
    assert re.fullmatch(rf"no campaign 'zzzzzzzz' in the catalog; it holds \d+ campaign\(s\), the newest: {campaign.id}(, [-0-9a-f]+)*",
                        str(raised.value)), str(raised.value)
    with pytest.raises(CatalogError) as short:  # four characters of the real id: too few to stand for one
        Campaign.resume(client, campaign.id[:4], LIMITS)
    assert str(short.value) == f"campaign {campaign.id[:4]!r} is too short: give at least 5 characters of a campaign id"


def test_resume_stores_the_missing_analysis_of_a_finished_point_once(RE, reactor, catalog_dir, writer):
    """A point measured but never analysed (the process died between them) is analysed on resume and stored."""
    RE.subscribe(writer)
    live_analysis(RE, writer)
    campaign = Campaign(reactor.limits(), "msc437", WINDOW, budget=3, initial_design=3, seed=4, manager=uvvis_only())
    RE(run_campaign(reactor, campaign))
    writer.flush()
    client = open_catalog(catalog_dir)
    middle = campaign.points[1]
    (lost,) = [a for a in find_runs(client, plan_name="analysis", campaign_id=campaign.id)
               if a.metadata["start"]["analysis_of"] == middle.run_uid]
    lost_value = lost.metadata["start"]["objective_value"]
    client[lost.metadata["start"]["uid"]].delete(recursive=True, external_only=False)

    resumed = Campaign.resume(open_catalog(catalog_dir), campaign.id, reactor.limits(), manager=uvvis_only(), sink=writer)
    writer.flush()
    assert [p.value for p in resumed.points] == pytest.approx([p.value for p in campaign.points], rel=1e-9)
    (stored,) = [a.metadata["start"] for a in find_runs(open_catalog(catalog_dir), plan_name="analysis", campaign_id=campaign.id)
                 if a.metadata["start"]["analysis_of"] == middle.run_uid]
    assert stored["objective_value"] == pytest.approx(lost_value, rel=1e-9)
    assert stored["reanalysis"] is True
    assert stored["uid"] != lost.metadata["start"]["uid"]
    # A second resume finds the stored analysis and writes nothing new.
    Campaign.resume(open_catalog(catalog_dir), campaign.id, reactor.limits(), manager=uvvis_only(), sink=writer)
    writer.flush()
    assert len(find_runs(open_catalog(catalog_dir), plan_name="analysis", campaign_id=campaign.id)) == 3


def test_a_campaign_whose_default_design_exceeds_its_budget_resumes(RE, reactor, catalog_dir, writer):
    """Budget 2 over three inputs: the default design (5 points) makes every point a design point; resuming keeps that."""
    RE.subscribe(writer)
    live_analysis(RE, writer)
    campaign = Campaign(reactor.limits(), "msc437", WINDOW, budget=2, seed=4, manager=uvvis_only())
    assert campaign.settings.n_initial == 5
    RE(run_campaign(reactor, campaign))
    writer.flush()
    resumed = Campaign.resume(open_catalog(catalog_dir), campaign.id, reactor.limits(), manager=uvvis_only(), sink=writer)
    assert resumed.settings.n_initial == 5
    assert resumed.notes == campaign.notes
    assert [p.value for p in resumed.points] == pytest.approx([p.value for p in campaign.points], rel=1e-9)
    assert len(resumed.points) == 2


def test_a_cost_aware_campaign_interrupted_in_its_design_resumes_to_the_points_it_would_have_measured(RE, reactor, catalog_dir,
                                                                                                         writer):
    """Budget 4 over three inputs, cost-aware: every point is one of the default design's 5 (the centre and four Sobol points), ordered by
    the time to move there. Aborted in its third point and resumed, the campaign measures the same four
    points as one that was never stopped (a design cut to the budget on resume drew and ordered others)."""
    from bluesky.utils import RunEngineInterrupted

    from autolab.optimize import ReactorCostModel

    model = ReactorCostModel.from_reactor(reactor)
    settings = {"budget": 4, "seed": 5, "manager": uvvis_only(), "cost_model": model}
    never_stopped = Campaign(reactor.limits(), "msc437", WINDOW, **settings)
    expected = []
    for _ in range(4):
        (point,) = never_stopped.suggest()
        expected.append({name: point[name] for name in WINDOW})
        never_stopped.ingest([{"_id": point["_id"], "msc437": 0.01}])  # design points: the values do not steer them

    RE.subscribe(writer)
    live_analysis(RE, writer)
    docs = collect(RE)
    pause_in_point(RE, 3)
    campaign = Campaign(reactor.limits(), "msc437", WINDOW, **settings)
    with pytest.raises(RunEngineInterrupted):
        RE(run_campaign(reactor, campaign))
    RE.abort(reason="test")
    writer.flush()
    resumed = Campaign.resume(open_catalog(catalog_dir), campaign.id, reactor.limits(), manager=uvvis_only(), sink=writer,
                              cost_model=model)
    assert resumed.settings.n_initial == 5
    assert resumed.notes == campaign.notes
    RE(run_campaign(reactor, resumed))
    measured = [{name: p.conditions[name] for name in WINDOW} for p in resumed.points]
    assert measured == [pytest.approx(point, rel=1e-12) for point in expected]
    assert len(starts(docs, "measure_point")) == 5  # the aborted third point, measured again after the resume
    (resume,) = [d for d in starts(docs, "autonomous_campaign") if d["campaign_role"] == "resume"]
    assert resume["best_value_so_far"] == max(p.value for p in resumed.points[:2])  # what the live table starts from


@pytest.mark.slow
def test_cli_campaign_json_and_report(tmp_path):
    catalog = tmp_path / "cli-campaign"
    result = subprocess.run(
        [sys.executable, "-m", "autolab", "campaign", "--objective", "msc437", "--budget", "6", "--initial-design", "4",
         "--seed", "3", "--catalog", str(catalog), "--json", "--report", str(tmp_path / "rep"),
         "--bound", "nucleation_temperature_c=260:340", "--bound", "residence_time_s=2:15:log", "--fix", "growth_temperature_c=240"],
        capture_output=True, text=True, timeout=400, check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    # Every key docs/campaign.md lists for --json, and no other (the syringe refills only where there were some).
    docs = (Path(__file__).resolve().parents[1] / "docs" / "campaign.md").read_text()
    listed = re.search(r"^- `--json` prints one object: (.*?)\n- ", docs, flags=re.S | re.M).group(1)
    documented = set(re.findall(r"`(\w+)`", listed))
    assert "syringe_refills_before_points" in documented
    assert set(out) | {"syringe_refills_before_points"} == documented
    assert out["n_runs"] == 6
    assert len(out["run_uids"]) == 6
    assert out["best"]["growth_temperature_c"] == 240.0
    assert math.isfinite(out["best_value"])
    assert out["best_value"] == max(v for v in out["values"] if v is not None)
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == ["best_so_far.png", "model.png", "spectra.png", "summary.json"]
    client = open_catalog(catalog)
    assert client[out["best_run_uid"]].metadata["start"]["campaign_id"] == out["campaign_id"]
    # the live analysis callback did not analyse the campaign's points a second time
    assert len(find_runs(client, plan_name="analysis", campaign_id=out["campaign_id"])) == 6
    # The record runs are listed with their role: a record's own "success" is not the campaign's.
    listed = subprocess.run([sys.executable, "-m", "autolab", "runs", "--catalog", str(catalog), "--all"],
                            capture_output=True, text=True, timeout=120, check=True).stdout
    assert "autonomous_campaign (start)" in listed
    assert "autonomous_campaign (summary)" in listed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bound", "residence_time_s=1.5-20"], "--bound 'residence_time_s=1.5-20': write NAME=LOW:HIGH or NAME=LOW:HIGH:log"),
        (["--bound", "nucleation_temperature_c=240:999"], "bounds['nucleation_temperature_c'] high=999.0 is outside the reactor's allowed range"),
        (["--fix", "colour=blue"], "--fix 'colour': unknown condition"),
        (["--resume", "abc", "--budget", "3"], "--resume continues the stored campaign's settings; drop --budget"),
        (["--objective", "nope"], "objective='nope' is not provided by any plugin"),
        (["--objective", "nc_size", "--objective-setting", "target_diameter_nm=50"],
         "autolab: error: target_diameter_nm=50.0 is outside the allowed range 0.5–10 nm"),
        (["--objective", "nc_size", "--objective-setting", "target_diameter=3"],
         "autolab: error: objective setting 'target_diameter' is not one objective 'nc_size' takes"),
        (["--batch-size", "0"], "autolab: error: batch_size=0 is outside the allowed range 1–20 points"),
        (["--seed", "-1"], "autolab: error: seed=-1 must be a whole number ≥ 0"),
    ],
)
def test_cli_campaign_bad_input(tmp_path, args, message):
    result = subprocess.run(
        [sys.executable, "-m", "autolab", "campaign", *args, "--catalog", str(tmp_path / "never")],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr
    assert not (tmp_path / "never").exists()




def pause_in_point(RE, n, *, closed=False):
    """Pause at once (what a double Ctrl-C does) when the n-th measure_point run has its reading,
    or with ``closed`` as soon as that run has closed.

    Callbacks run on the RunEngine's loop, where the public ``request_pause`` (made for other
    threads) would wait on itself; the pause coroutine is scheduled on the loop instead.
    """
    import asyncio

    seen = {"points": 0, "paused": False, "uid": None}

    def callback(name, doc):
        if name == "start" and doc.get("plan_name") == "measure_point":
            seen["points"] += 1
            seen["uid"] = doc["uid"] if seen["points"] == n else seen["uid"]
        reading = name == "event" and not closed and "reactor_spectrometer_absorbance" in doc["data"]
        stopped = name == "stop" and closed and doc["run_start"] == seen["uid"]
        if (reading or stopped) and seen["points"] == n and not seen["paused"]:
            seen["paused"] = True  # once: resuming rewinds to the checkpoint and reads the point again
            seen["task"] = asyncio.ensure_future(RE._request_pause_coro(defer=False), loop=RE.loop)

    RE.subscribe(callback)


def campaign_paused_in_second_point(RE, reactor, budget):
    """Start a design-only campaign and pause it while its second point is being read."""
    from bluesky.utils import RunEngineInterrupted

    docs = collect(RE)
    pause_in_point(RE, 2)
    campaign = Campaign(reactor.limits(), "msc437", WINDOW, budget=budget, initial_design=budget, seed=1, manager=uvvis_only())
    with pytest.raises(RunEngineInterrupted):
        RE(run_campaign(reactor, campaign))
    assert RE.state == "paused"
    return campaign, docs


def test_paused_campaign_resumes_and_finishes(RE, reactor):
    campaign, docs = campaign_paused_in_second_point(RE, reactor, 3)
    RE.resume()
    assert len(campaign.points) == 3
    stops = [d for n, d in docs if n == "stop"]
    assert {d["exit_status"] for d in stops} == {"success"}


def test_a_campaign_paused_as_a_point_closes_resumes_without_measuring_it_again(RE, reactor):
    """A double Ctrl-C can land between a point's closed run and the next checkpoint; resuming
    then replays nothing of the closed run (bluesky would raise IllegalMessageSequence on its
    readings) and the campaign goes on from the next point."""
    from bluesky.utils import RunEngineInterrupted

    docs = collect(RE)
    pause_in_point(RE, 2, closed=True)
    campaign = Campaign(reactor.limits(), "msc437", WINDOW, budget=3, initial_design=3, seed=1, manager=uvvis_only())
    with pytest.raises(RunEngineInterrupted):
        RE(run_campaign(reactor, campaign))
    assert RE.state == "paused"
    RE.resume()
    assert len(campaign.points) == 3
    assert len(starts(docs, "measure_point")) == 3
    assert [len([d for n, d in docs if n == "event" and d["descriptor"] == desc["uid"]])
            for desc in (d for n, d in docs if n == "descriptor" and d["name"] == "primary")] == [1, 1, 1]
    assert {d["exit_status"] for n, d in docs if n == "stop"} == {"success"}


def test_aborted_campaign_leaves_the_reactor_safe_and_keeps_finished_points(RE, reactor):
    campaign, docs = campaign_paused_in_second_point(RE, reactor, 4)
    RE.abort(reason="test")
    assert len(campaign.points) == 1  # the finished point is kept; the aborted one is not a point
    point_stops = {d["run_start"]: d["exit_status"] for n, d in docs if n == "stop"}
    statuses = [point_stops[s["uid"]] for s in starts(docs, "measure_point")]
    assert statuses == ["success", "abort"]
    assert reactor.cd_pump.flow_rate.get() == 0.0
    assert reactor.se_pump.flow_rate.get() == 0.0
    assert reactor.nucleation_heater.setpoint.get() == 25.0
    assert reactor.growth_oven.setpoint.get() == 25.0


def run_to_summary(RE, plan) -> dict:
    result = {}

    def capture():
        result["summary"] = yield from plan

    RE(capture())
    return result["summary"]


def twin_with_syringes(volume_ul: float, seed: int = 3):
    from autolab.devices import make_twin_reactor

    twin = make_twin_reactor(seed=seed)
    for pump in (twin.cd_pump, twin.se_pump):
        pump.syringe_volume_ul.put(volume_ul)
    return twin


def test_twin_syringes_refilled_in_a_dry_run_or_the_campaign_stops_with_the_reason():
    from bluesky import RunEngine

    for refill in (False, True):
        # 3 mL syringes: the design points need up to 2.6 mL per pump each (with 30 s of acquisition
        # counted; 1.25, 0.98 and 2.55 mL for the first three), so a full syringe supplies every
        # point but what is left after the first two does not supply the third
        twin = twin_with_syringes(3000.0)
        campaign = Campaign(twin.limits(), "msc437", WINDOW, budget=4, initial_design=4, seed=1, manager=uvvis_only())
        summary = run_to_summary(RunEngine({}, call_returns_result=False), run_campaign(twin, campaign, refill_twin_syringes=refill))
        assert summary["n_failed"] == 0  # every point fits a full syringe: low syringes are not failed points
        if refill:
            assert summary["n_runs"] == 4, summary["stop_reason"]
            assert summary["syringe_refills_before_points"]
            assert summary["syringe_refills_before_points"][0] == 3  # numbered from 1; the first two points had enough
        else:
            assert summary["n_runs"] == 2
            assert summary["stop_reason"].startswith("stopped before point 3: Cd precursor pump (reactor_cd_pump) has ")
            assert "µL left but 1 point(s) need about" in summary["stop_reason"]


def test_a_point_no_syringe_can_supply_is_a_failed_trial_on_record_and_the_campaign_goes_on(RE, catalog_dir, writer):
    """With 2 mL syringes the short residence times of the window cannot run at all; the budget is still spent."""
    twin = twin_with_syringes(2000.0)
    RE.subscribe(writer)
    live_analysis(RE, writer)
    campaign = Campaign(twin.limits(), "msc437", WINDOW, budget=6, initial_design=4, seed=1, manager=uvvis_only())
    summary = run_to_summary(RE, run_campaign(twin, campaign, refill_twin_syringes=True))
    writer.flush()
    assert summary["n_runs"] + summary["n_failed"] == 6
    assert summary["n_failed"] >= 1
    assert summary["stop_reason"] == "budget spent"
    need = {f["number"]: twin.reagent_need_ul([twin.check_conditions(**f["conditions"])]) for f in summary["failed_points"]}
    for failed in summary["failed_points"]:
        assert "has a full syringe of 2000 µL but 1 point(s) need about" in failed["reason"]
        assert max(need[failed["number"]].values()) > 2000.0
        assert campaign.optimizer.trials_[failed["suggestion_id"]]["status"] == "failed"
    assert campaign.optimizer.summary()["n_failed"] == summary["n_failed"]
    # Measured and failed points share one numbering from 1, in the order tried.
    numbers = sorted([p.number for p in campaign.points] + [f["number"] for f in summary["failed_points"]])
    assert numbers == list(range(1, 7))
    client = open_catalog(catalog_dir)
    records = [r.metadata["start"] for r in find_runs(client, plan_name="autonomous_campaign", campaign_id=campaign.id)]
    on_record = [r["failed_point"] for r in records if r["campaign_role"] == "failed_point"]
    assert on_record == summary["failed_points"]
    # Resume rebuilds the failed points as failed trials; nothing is left to try.
    resumed = Campaign.resume(client, campaign.id, twin.limits(), manager=uvvis_only())
    assert [p.number for p in resumed.failed] == [f["number"] for f in summary["failed_points"]]
    assert resumed.optimizer.summary()["n_failed"] == summary["n_failed"]
    assert resumed.remaining == 0


def test_live_campaign_plot_shows_each_spectrum_and_the_best_so_far(RE, reactor):
    import matplotlib

    matplotlib.use("Agg")
    from autolab.liveplot import LiveCampaignPlot

    plot = LiveCampaignPlot(keep=2)
    RE.subscribe(plot)
    docs = []
    RE.subscribe(lambda name, doc: docs.append((name, doc)))
    live_analysis(RE, lambda name, doc: docs.append((name, doc))).forward_to(plot)  # as the IPython session chains it
    campaign = Campaign(reactor.limits(), "msc437", WINDOW, budget=3, initial_design=3, seed=2, manager=uvvis_only())
    RE(run_campaign(reactor, campaign))
    assert len(plot.ax_uv.lines) == 2  # the last two points' spectra
    values = [d["objective_value"] for d in starts(docs, "analysis")]
    best = [max(values[: i + 1]) for i in range(3)]
    assert list(plot.best_line.get_ydata()) == pytest.approx(best)
    assert plot.ax_best.get_ylabel() == "msc437 (best so far)"


@pytest.mark.slow
def test_ctrl_c_stops_the_campaign_with_one_line_that_resumes_it(tmp_path):
    """One SIGINT to a running `autolab campaign`: exit 130, one line on stderr, and that line's command finishes the budget."""
    import os
    import shlex
    import time

    catalog = tmp_path / "interrupted"
    # Five points, so that the campaign is still running when the SIGINT sent after its first point
    # lands (with three, a quick point 2 and 3 could finish first and the campaign exit 0).
    settings = ["--budget", "5", "--initial-design", "2", "--seed", "2", "--fix", "growth_temperature_c=240",
                "--bound", "nucleation_temperature_c=260:340", "--bound", "residence_time_s=2:15:log"]
    process = subprocess.Popen(
        [sys.executable, "-m", "autolab", "campaign", *settings, "--time-scale", "0.02", "--catalog", str(catalog),
         "--report", str(tmp_path / "rep")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 180
    for line in process.stdout:  # wait for the first finished point: the campaign is in its second
        if line.split()[:1] == ["1"]:
            break
        assert time.monotonic() < deadline
    # The process's signal masks as the kernel sees them (blocked, ignored, caught), for a failure message.
    with open(f"/proc/{process.pid}/status") as status:
        masks = [line for line in status.read().splitlines() if line.startswith("Sig")]
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, f"{stderr}; signal masks before SIGINT: {masks}"
    assert len(stderr.strip().splitlines()) == 1, stderr
    (message,) = stderr.strip().splitlines()
    head, _, command = message.partition("; continue with: ")
    assert head.startswith("autolab: campaign interrupted after ")
    assert head.endswith(" of 5 points")
    done = int(head.split("after ")[1].split(" of")[0])
    assert 1 <= done < 5
    argv = shlex.split(command)
    assert argv[:3] == ["autolab", "campaign", "--resume"]
    assert argv[4:] == ["--catalog", str(catalog)]
    client = open_catalog(catalog)
    statuses = [r.metadata["stop"]["exit_status"] for r in find_runs(client, plan_name="measure_point")]
    assert statuses.count("success") == done
    assert set(statuses) <= {"success", "abort"}
    resumed = subprocess.run(
        [sys.executable, "-m", "autolab", *argv[1:], "--json", "--report", str(tmp_path / "rep")],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    out = json.loads(resumed.stdout)
    assert out["n_runs"] == 5
    assert out["resumed_from"] == done
    assert len(set(out["run_uids"])) == 5


@pytest.mark.slow
def test_cli_campaign_over_the_default_space_spends_its_budget(tmp_path):
    """The issue's command: the pumps idle at standby flow through each ramp, so no point needs more than a syringe."""
    result = subprocess.run(
        [sys.executable, "-m", "autolab", "campaign", "--objective", "msc437", "--budget", "12", "--seed", "0",
         "--catalog", str(tmp_path / "cat"), "--json", "--report", str(tmp_path / "rep")],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["stop_reason"] == "budget spent"
    assert out["n_runs"] == 12
    assert out["n_failed"] == 0
    # docs/campaign.md: over the whole range the twin's msc437 reads 0 at all twelve points (Palencia's window is a corner of it).
    assert out["values"] == [0.0] * 12
    assert len(find_runs(open_catalog(tmp_path / "cat"), plan_name="measure_point", campaign_id=out["campaign_id"])) == 12


def demo_campaign_arguments(catalog, report) -> list[str]:
    """The ``autolab campaign`` arguments of scripts/demo, its catalog and report folder replaced."""
    import shlex

    script = (Path(__file__).resolve().parents[1] / "scripts" / "demo").read_text()
    command = re.search(r"^autolab campaign (.*?[^\\])$", script.replace("\\\n", " "), flags=re.M).group(1)
    words = shlex.split(command.replace('"$catalog"', str(catalog)).replace('"$root/autolab-data/report"', str(report)))
    assert str(catalog) in words, words
    assert str(report) in words, words
    return words


@pytest.mark.slow
def test_the_demo_campaign_stays_inside_the_twins_validity_domain(tmp_path):
    """scripts/demo's campaign, with a smaller budget: every point it measures lies in the twin's
    validity domain (1.5–14 s, growth ≤ nucleation; docs/sim.md), so no row says "twin extrapolated"."""
    words = demo_campaign_arguments(tmp_path / "cat", tmp_path / "rep")
    words[words.index("--budget") + 1] = "8"
    result = subprocess.run([sys.executable, "-m", "autolab", "campaign", *words, "--json"],
                            capture_output=True, text=True, timeout=400, check=False)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    points = [r.metadata["start"] for r in find_runs(open_catalog(tmp_path / "cat"), plan_name="measure_point", campaign_id=out["campaign_id"])]
    assert len(points) == 8
    assert sum(not p["design_point"] for p in points) >= 2  # the model chose some of them
    assert [p["extrapolated_because"] for p in points] == [[]] * 8
    from autolab.catalog import measurements, run_summaries

    rows = run_summaries(measurements(open_catalog(tmp_path / "cat")).values())  # what `autolab runs --json` lists: each point's campaign
    assert [row["campaign_id"] for row in rows] == [out["campaign_id"]] * 8
    for p in points:
        assert 1.5 <= p["residence_time_s"] <= 14.0, p
        assert p["growth_temperature_c"] <= p["nucleation_temperature_c"], p


def test_a_budget_within_the_initial_design_is_a_logged_warning_and_a_note(caplog):
    with caplog.at_level("WARNING", logger="autolab.campaign"):
        campaign = Campaign(LIMITS, "msc437", budget=5, manager=uvvis_only())
    # The default design for three inputs: max(5, 3·3 + 1) = 10, at most a quarter of the budget but never below 5.
    message = ("budget=5 does not exceed the initial design of 5 point(s) over 3 input(s), so every point is a "
               "space-filling design point and the GP model chooses none; give a budget above 5 or a smaller initial_design (--initial-design)")
    assert [r.getMessage() for r in caplog.records] == [message]
    assert campaign.summary()["notes"] == [message]
    caplog.clear()
    with caplog.at_level("WARNING", logger="autolab.campaign"):
        assert Campaign(LIMITS, "msc437", budget=11, manager=uvvis_only()).notes == []
    assert caplog.records == []


@pytest.mark.slow
def test_cli_warns_in_one_line_and_draws_no_model_when_the_model_chose_no_point(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "autolab", "campaign", "--budget", "3", "--seed", "1", "--fix", "growth_temperature_c=240",
         "--fix", "nucleation_temperature_c=300", "--bound", "residence_time_s=2:15:log",
         "--catalog", str(tmp_path / "cat"), "--json", "--report", str(tmp_path / "rep")],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines() == [
        "autolab: warning: budget=3 does not exceed the initial design of 5 point(s) over 1 input(s), so every point is a "
        "space-filling design point and the GP model chooses none; give a budget above 5 or a smaller initial_design (--initial-design)"
    ]
    out = json.loads(result.stdout)
    assert out["n_runs"] == 3
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == ["best_so_far.png", "spectra.png", "summary.json"]
    assert json.loads((tmp_path / "rep" / "summary.json").read_text())["notes"] == [result.stderr.strip().removeprefix("autolab: warning: ")]


class RandomSearch:
    """A second optimiser on bluesky-adaptive's ``Optimizer`` protocol: uniform random points, nothing learned."""

    def __init__(self, bounds, seed=0):
        import numpy as np

        self.bounds = bounds
        self.rng = np.random.default_rng(seed)
        self.ingested = []
        self.suggested = []

    def suggest(self, num_points=None):
        out = []
        for _ in range(num_points or 1):
            point = {name: float(self.rng.uniform(spec[0], spec[1])) for name, spec in self.bounds.items()}
            out.append({"_id": f"random-{len(self.suggested)}", **point})
            self.suggested.append(out[-1])
        return out

    def ingest(self, points):
        self.ingested.extend(dict(p) for p in points)

    def get_best_points(self):
        done = [p for p in self.ingested if p["msc437"] == p["msc437"]]
        best = max(done, key=lambda p: p["msc437"])
        return [(best["_id"], {k: best[k] for k in self.bounds}, {"msc437": best["msc437"]})]


def test_any_optimizer_on_the_protocol_replaces_the_gp_with_one_argument(RE, reactor):
    from autolab.campaign import autonomous_campaign

    docs = collect(RE)
    design = [{"nucleation_temperature_c": 300.0, "growth_temperature_c": 280.0, "residence_time_s": 5.0}]
    optimizer = RandomSearch(WINDOW, seed=3)
    summary = run_to_summary(RE, autonomous_campaign(reactor, "msc437", WINDOW, budget=4, initial_design=design, seed=0,
                                                     optimizer=optimizer))
    points = starts(docs, "measure_point")
    assert len(points) == 4
    # The given design point first, then exactly what the random optimiser suggested, in order.
    assert {k: points[0][k] for k in design[0]} == design[0]
    assert [p["suggestion_id"] for p in points[1:]] == [s["_id"] for s in optimizer.suggested]
    for point, suggestion in zip(points[1:], optimizer.suggested, strict=True):
        assert all(point[k] == pytest.approx(suggestion[k]) for k in WINDOW)
        assert point["design_point"] is True  # no acquisition value: the campaign cannot call it a model point
    # Every outcome reached it through ingest, shaped as the protocol defines them (the design point with its parameters).
    analyses = {a["analysis_of"]: a for a in starts(docs, "analysis")}
    assert [o["_id"] for o in optimizer.ingested] == [p["suggestion_id"] for p in points]
    assert [o["msc437"] for o in optimizer.ingested] == pytest.approx([analyses[p["uid"]]["objective_value"] for p in points])
    assert all(k in optimizer.ingested[0] for k in WINDOW)
    assert summary["n_runs"] == 4
    assert summary["model_summary"] == {}
    assert summary["best_value"] == pytest.approx(optimizer.get_best_points()[0][2]["msc437"])


def test_an_object_off_the_protocol_is_refused_by_name():
    with pytest.raises(TypeError, match="lacks suggest, ingest or get_best_points"):
        Campaign(LIMITS, "msc437", WINDOW, manager=uvvis_only(), optimizer=object())


def test_the_campaigns_metadata_reaches_every_run_of_it_the_analysis_runs_included(RE, reactor):
    docs = collect(RE)
    campaign = Campaign(reactor.limits(), "msc437", WINDOW, budget=2, initial_design=2, seed=6, manager=uvvis_only())
    RE(run_campaign(reactor, campaign, md={"purpose": "shared-md", "operator": "ab"}))
    runs = [d for n, d in docs if n == "start"]
    assert {d["plan_name"] for d in runs} == {"autonomous_campaign", "measure_point", "analysis"}
    assert len(starts(docs, "analysis")) == 2
    assert all((d.get("purpose"), d.get("operator")) == ("shared-md", "ab") for d in runs)


@pytest.mark.parametrize("together", [False, True], ids=["0.5 s apart", "in one loop turn"])
def test_two_devices_failing_in_one_point_fail_that_point_once_and_the_campaign_goes_on(monkeypatch, together):
    """Both pumps fail point 1's first move (as on a lost connection): one failed point naming both, then the rest.

    0.5 s apart: without waiting for the point's other moves, the second failure reaches the
    campaign during a later point and ends it. In one turn of the RunEngine's event loop (two
    put timeouts landing together on a busy machine): the RunEngine keeps one pending failure,
    so the other is read from its status.
    """
    import threading

    from bluesky import RunEngine
    from ophyd import DeviceStatus

    twin = twin_with_syringes(20000.0)
    RE = RunEngine({}, call_returns_result=False)
    failures: list = []

    def fail_both():
        for status, message in failures:
            status.set_exception(TimeoutError(message))

    for pump, delay in ((twin.cd_pump, 0.1), (twin.se_pump, 0.6)):
        original = pump.set

        def failing_set(value, *, pump=pump, delay=delay, original=original):
            if len(failures) >= 2:  # after point 1's two failures every move works
                return original(value)
            status = DeviceStatus(pump)
            failures.append((status, f"{pump.name} did not reach {value:.1f} µL/min (lost connection)"))
            if not together:
                threading.Timer(delay, status.set_exception, (TimeoutError(failures[-1][1]),)).start()
            elif len(failures) == 2:  # both fail from inside the RunEngine's loop, one after the other
                threading.Timer(0.3, RE.loop.call_soon_threadsafe, (fail_both,)).start()
            return status

        monkeypatch.setattr(pump, "set", failing_set)
    docs = collect(RE)
    campaign = Campaign(twin.limits(), "msc437", WINDOW, budget=5, initial_design=3, seed=1, manager=uvvis_only())
    summary = run_to_summary(RE, run_campaign(twin, campaign, on_point_failure="continue"))
    assert summary["stop_reason"] == "budget spent"
    assert summary["n_runs"] == 4
    (failed,) = summary["failed_points"]
    assert failed["number"] == 1
    assert "reactor_cd_pump did not reach" in failed["reason"]
    assert "reactor_se_pump did not reach" in failed["reason"]
    stops = [d for n, d in docs if n == "stop"]
    points = [d["uid"] for d in starts(docs, "measure_point")]
    assert [next(s["exit_status"] for s in stops if s["run_start"] == uid) for uid in points] == ["fail"] + ["success"] * 4


def test_a_resumed_campaign_drops_a_stored_setting_its_objective_never_took(caplog):
    """A campaign stored before its objective declared its settings may hold one it ignored; it resumes without it."""
    from autolab.campaign.resume import _settings_the_objective_takes

    with caplog.at_level("WARNING", logger="autolab.campaign.resume"):
        kept = _settings_the_objective_takes(uvvis_only(), "msc437", {"target_diameter_nm": 3.0}, "c-1")
    assert kept == {}
    assert "campaign c-1: objective 'msc437' takes no setting target_diameter_nm; it resumes without, as it ran" in caplog.text
    assert _settings_the_objective_takes(uvvis_only(), "nc_size", {"target_diameter_nm": 4.0}, "c-2") == {"target_diameter_nm": 4.0}


def test_an_objective_declaring_its_settings_in_the_wrong_shape_is_named():
    manager = uvvis_only()
    declared = manager.objectives
    manager.objectives = lambda: {**declared(), "odd": {"direction": "maximize", "settings": ["width"], "plugin": "odd-plugin"}}
    with pytest.raises(LimitError, match=r"^plugin 'odd-plugin' declares objective 'odd' with settings=\['width'\]; give"):
        manager.check_objective_settings("odd", {"width": 1})


def test_a_campaign_refuses_an_outcome_with_a_misspelt_objective_and_keeps_the_point_pending():
    campaign = Campaign(LIMITS, "msc437", WINDOW, budget=4, initial_design=2, seed=0, manager=uvvis_only())
    (point,) = campaign.suggest()
    with pytest.raises(ValueError, match=r"^outcome 1 of 1 lacks the objective 'msc437' and holds 'msc_437', which is not one"):
        campaign.ingest([{"_id": point["_id"], "msc_437": 0.1, "run_uid": "r1"}])
    assert list(campaign.pending) == [point["_id"]]
    assert campaign.points == []
    campaign.ingest([{"_id": point["_id"], "msc437": 0.1, "run_uid": "r1", "analysis_uid": "a1"}])
    assert [(p.value, p.run_uid) for p in campaign.points] == [(0.1, "r1")]


def test_a_spent_campaign_resumed_keeps_its_learned_model_in_its_summary_and_report(RE, reactor, catalog_dir, writer):
    """Resuming a campaign whose budget is spent records its summary again: with the GP length scales
    and noise level the campaign had learned (the resumed optimiser fits nothing until it chooses a
    point), and the report orders the inputs by them."""
    from autolab.report import sensitive_inputs

    RE.subscribe(writer)
    live_analysis(RE, writer)
    campaign = Campaign(reactor.limits(), "msc437", WINDOW, budget=5, initial_design=3, seed=2, manager=uvvis_only())
    RE(run_campaign(reactor, campaign))
    writer.flush()
    learned = campaign.summary()["model_summary"]
    assert set(learned["length_scales"]) == set(WINDOW)
    resumed = Campaign.resume(open_catalog(catalog_dir), campaign.id, reactor.limits(), manager=uvvis_only(), sink=writer)
    again = resumed.summary()["model_summary"]
    assert (again["length_scales"], again["noise_level"]) == (learned["length_scales"], learned["noise_level"])
    assert again["n_complete"] == 5
    assert sensitive_inputs(resumed) == sensitive_inputs(campaign)


def test_ctrl_c_while_the_report_is_written_keeps_the_points_and_says_how_to_write_it(tmp_path, monkeypatch, capsys):
    """Found by a walkthrough: Ctrl-C just after the last point (while the writer flushes and the report
    is written) ended in a bare "autolab: interrupted". It now names what is kept and the command that
    writes the report; every point is in the catalog."""
    import autolab.report
    from autolab.cli import main

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(autolab.report, "write_report", interrupted)
    catalog = tmp_path / "cat"
    with pytest.raises(SystemExit) as exit_info:
        main(["campaign", "--budget", "2", "--initial-design", "2", "--seed", "1", "--catalog", str(catalog),
              "--report", str(tmp_path / "rep"),
              "--fix", "growth_temperature_c=240", "--bound", "nucleation_temperature_c=260:340", "--bound", "residence_time_s=2:15:log"])
    assert exit_info.value.code == 130
    (line,) = capsys.readouterr().err.strip().splitlines()[-1:]
    campaign_id = line.split("storing campaign ")[1].split(" ")[0]
    assert line == (f"autolab: interrupted while storing campaign {campaign_id} and writing its report; its measured points are "
                    f"kept in {catalog}; write the report with: autolab campaign --resume {campaign_id} --catalog {catalog} "
                    f"--report {tmp_path / 'rep'}")
    statuses = [r.metadata["stop"]["exit_status"] for r in find_runs(open_catalog(catalog), plan_name="measure_point")]
    assert statuses == ["success", "success"]


def test_moves_after_a_failure_are_the_plans_recovery_not_the_points_failures():
    """A phase map's safe state after a failed point sends the heaters to 25 °C, which takes minutes: naming the
    point's failures waited the whole drain timeout for those moves and could call a slow cooling a failure."""
    import time as _time

    from bluesky import RunEngine
    from bluesky import plan_stubs as bps
    from ophyd import DeviceStatus

    from autolab.plans.failures import DevicesFailed, naming_every_failure

    twin = twin_with_syringes(20000.0)
    RE = RunEngine({}, call_returns_result=False)

    def failing(value):
        status = DeviceStatus(twin.cd_pump)
        status.set_exception(TimeoutError("reactor_cd_pump lost its connection"))
        return status

    def never_settles(value):
        return DeviceStatus(twin.growth_oven)  # cooling for minutes: never done within the test

    def point_then_recovery():
        try:
            yield from bps.mv(twin.cd_pump, 100.0)
        finally:
            yield from bps.abs_set(twin.growth_oven, 25.0)  # the safe state: not waited for

    twin.cd_pump.set = failing
    twin.growth_oven.set = never_settles
    started = _time.monotonic()
    with pytest.raises(DevicesFailed) as failed:
        RE(naming_every_failure(point_then_recovery(), timeout_s=20.0))
    assert failed.value.reasons == ["reactor_cd_pump lost its connection"]
    assert _time.monotonic() - started < 10.0  # not the 20 s drain: the oven's move came after the failure


def test_a_campaign_given_its_own_gp_optimizer_records_that_optimizers_centre_and_fit():
    """The record says what a resume without an optimiser passed in rebuilds: for a campaign given a
    GPOptimizer, that optimiser's ``centre_first`` and ``map_fit``, not the defaults; for any other
    optimiser, the defaults."""
    from autolab.optimize import GPOptimizer

    bounds = {name: tuple(spec) for name, spec in WINDOW.items()}
    for centre_first, map_fit in ((False, True), (True, False), (False, False)):
        given = GPOptimizer(bounds, {"msc437": "maximize"}, seed=2, max_trials=6, centre_first=centre_first, map_fit=map_fit)
        campaign = Campaign(LIMITS, "msc437", WINDOW, budget=6, seed=2, manager=uvvis_only(), optimizer=given)
        assert (campaign.settings.design_centre, campaign.settings.map_fit) == (centre_first, map_fit)
        assert (given.centre_first, given.map_fit) == (centre_first, map_fit)
    other = Campaign(LIMITS, "msc437", WINDOW, budget=6, seed=2, manager=uvvis_only(), optimizer=RandomSearch(WINDOW, seed=3))
    assert (other.settings.design_centre, other.settings.map_fit) == (True, True)


def test_a_campaign_stored_before_the_centre_and_the_map_fit_resumes_without_them():
    """A campaign's record holds ``design_centre`` and ``map_fit``; one stored before they were the
    optimiser's defaults lacks both and resumes with a Sobol design and maximum likelihood, and
    with the design size it began with (here the former rule's 7 for three inputs, above its
    budget of 6), not the size the current rule gives."""
    from dataclasses import asdict

    from autolab.campaign.settings import CampaignSettings

    new = Campaign(LIMITS, "msc437", WINDOW, budget=6, seed=2, manager=uvvis_only())
    assert (new.settings.design_centre, new.settings.map_fit, new.settings.n_initial) == (True, True, 5)
    assert (new.optimizer.centre_first, new.optimizer.map_fit) == (True, True)
    (centre,) = new.suggest(1)
    assert (centre["nucleation_temperature_c"], centre["growth_temperature_c"]) == pytest.approx((295.0, 275.0))

    record = {k: v for k, v in asdict(new.settings).items() if k not in ("design_centre", "map_fit")}
    old = CampaignSettings(**{**record, "n_initial": 7})
    resumed = Campaign(LIMITS, "msc437", WINDOW, budget=6, initial_design=6, seed=2, manager=uvvis_only(), _resumed=old)
    assert (resumed.settings.design_centre, resumed.settings.map_fit) == (False, False)
    assert (resumed.optimizer.centre_first, resumed.optimizer.map_fit) == (False, False)
    assert resumed.settings.n_initial == resumed.optimizer.initial_points == 7
    (first,) = resumed.suggest(1)
    assert first["nucleation_temperature_c"] != pytest.approx(295.0)
