"""GPOptimizer under bluesky-adaptive's ``optimize`` plan: protocol-shaped outcomes, ophyd.sim and the twin.

Both scenarios are the fenced code blocks of docs/optimize.md's section "Under
``bluesky_adaptive.plans.optimize``", executed as they stand, so the page cannot drift from the code.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import bluesky
import pytest

from autolab.optimize import GPOptimizer

DOC = Path(__file__).resolve().parent.parent / "docs" / "optimize.md"


def doc_blocks() -> list[str]:
    """The python blocks of the optimize section of docs/optimize.md, in order."""
    text = DOC.read_text()
    section = text.split("## Under `bluesky_adaptive.plans.optimize`", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


class RecordingRunEngine(bluesky.RunEngine):
    """A RunEngine that keeps every document (the blocks make their own RE from ``bluesky``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.docs: list[tuple[str, dict]] = []
        self.subscribe(lambda name, doc: self.docs.append((name, doc)))


def run_block(code: str, monkeypatch) -> dict:
    monkeypatch.setattr(bluesky, "RunEngine", RecordingRunEngine)
    namespace: dict = {"__name__": "docs_optimize"}
    exec(compile(code, str(DOC), "exec"), namespace)
    return namespace


def starts(docs, **match):
    return [d for n, d in docs if n == "start" and all(d.get(k) == v for k, v in match.items())]


def test_the_section_has_the_two_scenarios():
    sim_code, twin_code = doc_blocks()
    assert "ophyd.sim" in sim_code
    assert "make_twin_reactor" in twin_code


def test_ingest_takes_outcomes_with_only_the_id_and_the_objective():
    opt = GPOptimizer({"x": (0.0, 1.0), "y": (1.0, 10.0, "log")}, {"f": "maximize"}, seed=3)
    suggestions = opt.suggest(2)
    opt.ingest([{"_id": s["_id"], "f": s["x"] * s["y"]} for s in suggestions])
    for s in suggestions:
        trial = opt.trials_[s["_id"]]
        assert trial["status"] == "complete"
        assert trial["params"] == {"x": s["x"], "y": s["y"]}
        assert trial["outcomes"] == {"f": pytest.approx(s["x"] * s["y"], rel=1e-12)}


def test_an_unknown_id_without_parameters_is_refused_and_nothing_is_recorded():
    opt = GPOptimizer({"x": (0.0, 1.0), "y": (0.0, 1.0)}, {"f": "maximize"}, seed=3)
    (s,) = opt.suggest(1)
    message = (
        "outcome 2 of 2 has _id='elsewhere', which this optimiser did not suggest, and lacks 'x', 'y'; give the _id "
        "of a suggestion, or every parameter (x, y) for an external trial"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        opt.ingest([{"_id": s["_id"], "f": 1.0}, {"_id": "elsewhere", "f": 2.0}])
    assert opt.trials_[s["_id"]]["status"] == "pending"  # the valid first outcome was not half-recorded
    with pytest.raises(ValueError, match=re.escape("outcome 1 of 1 has no _id and lacks 'y'")):
        opt.ingest([{"x": 0.5, "f": 2.0}])
    # An external trial with its parameters (and an _id of its own) is still taken.
    opt.ingest([{"_id": "manual-1", "x": 0.5, "y": 0.25, "f": 2.0}])
    assert opt.trials_["manual-1"]["params"] == {"x": 0.5, "y": 0.25}


def test_optimize_on_ophyd_sim_finds_the_peak_of_a_known_reading(monkeypatch):
    """SynGauss reads exp(-(motor - 1.3)²/2); 12 trials (the centre and 4 Sobol points, 7 model) bring the best within 0.05 of 1.3."""
    sim_code, _ = doc_blocks()
    ns = run_block(sim_code, monkeypatch)
    opt, docs = ns["opt"], ns["RE"].docs
    assert starts(docs, plan_name="optimize")[0]["optimizer"] == "GPOptimizer"
    scans = starts(docs, plan_name="list_scan")
    assert len(scans) == 12  # iterations=None: one acquisition per trial until max_trials
    assert [s["blop_acquisition_order"][0] for s in scans] == list(opt.trials_)
    for trial in opt.trials_.values():  # each ingested value is the reading at that trial's own parameters
        assert trial["status"] == "complete"
        assert trial["outcomes"]["det"] == pytest.approx(math.exp(-((trial["params"]["motor"] - 1.3) ** 2) / 2), rel=1e-9)
    assert ns["best_params"]["motor"] == pytest.approx(1.3, abs=0.05)
    assert ns["best_outcomes"]["det"] > 0.998


def test_optimize_on_the_twin_measures_each_suggestion_and_ingests_its_objective(monkeypatch):
    _, twin_code = doc_blocks()
    ns = run_block(twin_code, monkeypatch)
    opt, docs, analysis, manager = ns["opt"], ns["RE"].docs, ns["analysis"], ns["manager"]
    points = starts(docs, plan_name="measure_point")
    assert len(points) == 4
    stops = {d["run_start"]: d["exit_status"] for n, d in docs if n == "stop"}
    assert {stops[p["uid"]] for p in points} == {"success"}
    assert stops[starts(docs, plan_name="optimize")[0]["uid"]] == "success"
    assert [p["suggestion_id"] for p in points] == list(opt.trials_)
    for point in points:
        trial = opt.trials_[point["suggestion_id"]]
        # the run measured the suggested conditions, and what was ingested is that run's objective
        for name, value in trial["params"].items():
            assert point[name] == pytest.approx(value, rel=1e-12)
        expected = manager.objective("msc437", analysis.reports[point["uid"]].metrics)
        assert trial["status"] == "complete"
        assert trial["outcomes"]["msc437"] == expected
        assert 0.0 <= expected < 0.2  # CdSe-437 absorbance in AU on the twin (grid best 0.117 AU)
    assert opt.summary()["n_complete"] == 4
    assert ns["best"][0][2]["msc437"] == max(t["outcomes"]["msc437"] for t in opt.trials_.values())
