"""Slow analyses run in a worker process after each point and land as their own derived runs."""

from __future__ import annotations

import io
import pickle
import time

import numpy as np
import pytest

from autolab import sim
from autolab.analysis import PluginManager
from autolab.analysis.deferred import DEFERRED_PLAN_NAME, serve
from autolab.catalog import find_runs
from autolab.plans import measure_point
from autolab.runtime import open_session


def _point_readings():
    result = sim.simulate(sim.Conditions(300, 300, 14.0), rng=np.random.default_rng(3))
    return {
        "spectrometer_wavelength_nm": result.wavelength_nm,
        "spectrometer_absorbance": result.absorbance,
        "saxs_q_nm_inv": result.q_nm_inv,
        "saxs_intensity": result.intensity,
        "saxs_intensity_sigma": result.intensity_sigma,
    }


def test_the_built_in_saxs_plugin_defers_its_size_distribution():
    manager = PluginManager()
    assert manager.has_deferred()
    readings = _point_readings()
    fast = manager.analyze_saxs(readings["saxs_q_nm_inv"], readings["saxs_intensity"], readings["saxs_intensity_sigma"])
    slow = manager.analyze_saxs(readings["saxs_q_nm_inv"], readings["saxs_intensity"], readings["saxs_intensity_sigma"], deferred=True)
    assert "saxs.radius_nm" in fast.metrics
    assert not any(k.startswith("saxs.mcsas_") for k in fast.metrics)
    assert slow.metrics["saxs.mcsas_mean_radius_nm"] > 0
    assert slow.errors == {}


def test_the_worker_loop_answers_each_job_and_reports_bad_readings():
    """The worker's protocol on in-memory pipes: one answer per job, in order; bad readings give an error, not a crash."""
    jobs = io.BytesIO()
    pickle.dump(("a", _point_readings(), {"uid": "a"}), jobs)
    pickle.dump(("b", {"saxs_q_nm_inv": [1.0, 0.5], "saxs_intensity": [1.0]}, {"uid": "b"}), jobs)
    jobs.seek(0)
    answers = io.BytesIO()
    serve(jobs, answers)
    answers.seek(0)
    (uid_a, report_a), (uid_b, report_b) = pickle.load(answers), pickle.load(answers)
    assert (uid_a, uid_b) == ("a", "b")
    assert report_a.metrics["saxs.mcsas_mean_radius_nm"] > 0
    assert "must be 1-D and of equal length" in report_b.errors["deferred"]


@pytest.mark.slow
def test_a_session_stores_deferred_runs_without_holding_up_the_runengine(tmp_path):
    session = open_session(str(tmp_path / "catalog"), seed=2)
    try:
        assert session.deferred is not None
        started = time.perf_counter()
        uids = [session.RE(measure_point(session.reactor, 300, 300, t))[0] for t in (7.0, 14.0)]
        measured_s = time.perf_counter() - started
        # Both points are measured and analysed (fast hooks) while their size distributions are
        # still in the worker: the RunEngine did not wait for them.
        assert session.deferred.pending >= 1, f"the deferred analyses finished within {measured_s:.2f} s"
        assert set(session.analysis.derived) == set(uids)
    finally:
        session.close()
    assert session.deferred.errors == []
    deferred = {r.metadata["start"]["analysis_of"]: r.metadata["start"] for r in find_runs(session.catalog, plan_name=DEFERRED_PLAN_NAME)}
    assert set(deferred) == set(uids)
    for uid in uids:
        assert deferred[uid]["metrics"]["saxs"]["mcsas_mean_radius_nm"] > 0
        assert deferred[uid]["residence_time_s"] in (7.0, 14.0)
    ordinary = [r.metadata["start"] for r in find_runs(session.catalog, plan_name="analysis")]
    assert len(ordinary) == 2
    assert all("mcsas_mean_radius_nm" not in start["metrics"]["saxs"] for start in ordinary)


@pytest.mark.slow
def test_a_worker_that_dies_costs_only_the_deferred_metrics(tmp_path):
    session = open_session(str(tmp_path / "catalog"), seed=2)
    try:
        (uid,) = session.RE(measure_point(session.reactor, 300, 300, 14.0))
        deadline = time.monotonic() + 30
        while uid not in session.deferred._sent and time.monotonic() < deadline:  # the feeder hands it over
            time.sleep(0.01)
        session.deferred._process.kill()
        assert session.deferred.wait(timeout=30)
    finally:
        session.close()
    assert any("worker exited" in e for e in session.deferred.errors)
    assert [r.metadata["start"]["uid"] for r in find_runs(session.catalog, plan_name="measure_point")] == [uid]
    assert [r.metadata["start"]["analysis_of"] for r in find_runs(session.catalog, plan_name="analysis")] == [uid]


@pytest.mark.slow
def test_a_backlog_in_the_worker_never_holds_up_the_runengine(RE, reactor):
    """Twelve points in a row, far faster than the worker's ≈ 0.5 s each: every callback returns at once."""
    from autolab.analysis.deferred import DeferredAnalysis

    stored = []
    deferred = DeferredAnalysis(lambda name, doc: stored.append((name, doc)))
    seconds = []

    def timed(name, doc):
        started = time.perf_counter()
        deferred(name, doc)
        seconds.append(time.perf_counter() - started)

    RE.subscribe(timed)
    uids = [RE(measure_point(reactor, 300, 300, 5.0 + i))[0] for i in range(12)]
    assert max(seconds) < 0.05, f"slowest callback {max(seconds):.3f} s"
    assert deferred.pending >= 6  # most are still queued: the RunEngine ran ahead of the worker
    deferred.close(timeout=120)
    starts = [doc for name, doc in stored if name == "start"]
    assert [doc["analysis_of"] for doc in starts] == uids  # each point once, in order
    assert all(doc["plan_name"] == DEFERRED_PLAN_NAME for doc in starts)
    assert deferred.errors == []
