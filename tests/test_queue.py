"""Queued campaigns with a real Redis and a real RE Manager on loopback ports, and the IPython startup."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from autolab.agent import flat_metrics
from autolab.analysis import PluginManager
from autolab.catalog import CatalogWriter, find_runs, journal_directory, open_catalog
from autolab.queue import load_state, manager_api

from .conftest import exited
from .test_catalog_serve import sim_run_documents, write_journal

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("queue")]

WINDOW = {"nucleation_temperature_c": [240, 350], "growth_temperature_c": [200, 350], "residence_time_s": [1.5, 20, "log"]}


def autolab(*args: str, timeout: float = 300, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "autolab", *args], capture_output=True, text=True, timeout=timeout, check=False,
        env={**os.environ, **(env or {})}, cwd=cwd,
    )


def wait_for(produce, timeout: float = 300.0):
    """Call ``produce`` until it returns something truthy (polling every 2 s); fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = produce()
        if result:
            return result
        time.sleep(2)
    pytest.fail(f"nothing after {timeout} s")


@pytest.fixture(scope="module")
def queue(tmp_path_factory):
    """One queue (Redis + RE Manager, environment open) on a fresh catalog for this module; stopped after.

    Started as docs/queue.md shows, from the user's directory with a relative catalog path
    (``autolab-data/catalog``), which the worker must resolve from there, not from the queue
    directory it runs in, and that directory holds a module shadowing ``argparse``. The test that
    kills the manager runs last in the module.
    """
    tmp_path = tmp_path_factory.mktemp("queue").resolve()
    catalog, directory = tmp_path / "autolab-data" / "catalog", tmp_path / "queue"
    # A module in the queue directory named like one the manager imports stays out of its way: the
    # manager runs there, but (as the start-re-manager script) without that directory on its import path.
    directory.mkdir()
    (directory / "argparse.py").write_text("raise SystemExit('the queue directory is on the manager\'s import path')\n")
    started = autolab("queue", "start", "--catalog", "autolab-data/catalog", "--dir", "queue", cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    state = load_state(directory)
    assert state.catalog == str(catalog)
    # The tests' own requests wait up to 30 s for the manager: on a loaded 2-core CI machine its answer
    # to queue_item_add once took longer than the 5 s a client waits by default (CommTimeoutError).
    yield state, manager_api(state, timeout_s=30.0), catalog, directory
    stopped = autolab("queue", "stop", "--dir", str(directory))
    assert stopped.returncode == 0, stopped.stderr
    time.sleep(0.5)
    for pid in (state.manager_pid, state.redis_pid):
        assert exited(pid), pid


def test_queue_runs_a_whole_campaign_and_rejects_bad_items(queue):
    from bluesky_queueserver_api import BPlan

    state, api, catalog, directory = queue
    assert state.zmq_control_addr.startswith("tcp://127.0.0.1:")
    env_lines = autolab("queue", "env", "--dir", str(directory)).stdout
    assert f"export QSERVER_ZMQ_CONTROL_ADDRESS={state.zmq_control_addr}" in env_lines
    answered = autolab("queue", "status", "--dir", str(directory), "--json")
    assert answered.returncode == 0, answered.stderr
    status = json.loads(answered.stdout)
    assert status["manager"]["worker_environment_exists"] is True
    assert status["redis_alive"] is True

    # Bad items are refused at the door, each with the field and the allowed range, and the queue stays empty:
    # an unknown plan, a wrong type, temperatures and times outside the worker reactor's limits, an unknown condition.
    with pytest.raises(Exception, match="no_such_plan"):
        api.item_add(BPlan("no_such_plan"))
    with pytest.raises(Exception, match="budget"):
        api.item_add(BPlan("autonomous_campaign", reactor="reactor", budget="three"))
    with pytest.raises(Exception, match=r"key='nucleation_temperature_c', value='400': Value 400 is out of range \[20, 350\]"):
        api.item_add(BPlan("measure_point", "reactor", 400, 280, 14.0))
    with pytest.raises(Exception, match=r"key='residence_time_s', value='0.1'.*out of range \[0\.625, 600\]"):
        api.item_add(BPlan("measure_point", reactor="reactor", nucleation_temperature_c=280, growth_temperature_c=280,
                           residence_time_s=0.1))
    with pytest.raises(Exception, match=r"key='growth_temperatures_c'.*Value 360 is out of range \[20, 350\]"):
        api.item_add(BPlan("phase_map", "reactor", [260, 280], [280, 360], [14.0]))
    with pytest.raises(Exception, match=r"(?s)bounds.nucleation_temp.*Input should be 'nucleation_temperature_c'"):
        api.item_add(BPlan("autonomous_campaign", reactor="reactor", bounds={"nucleation_temp": [240, 300]}))
    assert api.status()["items_in_queue"] == 0
    described = api.plans_allowed()["plans_allowed"]["measure_point"]["parameters"]
    assert {p["name"]: (p.get("min"), p.get("max")) for p in described}["nucleation_temperature_c"] == ("20", "350")

    # The qserver command line works with the printed address.
    qserver_env = {"QSERVER_ZMQ_CONTROL_ADDRESS": state.zmq_control_addr, "QSERVER_ZMQ_INFO_ADDRESS": state.zmq_info_addr}
    item = json.dumps({"name": "autonomous_campaign", "kwargs": {"reactor": "reactor", "objective": "msc437", "budget": 3, "seed": 1,
                                                                  "bounds": WINDOW, "md": {"operator": "queue-test"}}})
    added = subprocess.run([os.path.join(os.path.dirname(sys.executable), "qserver"), "queue", "add", "plan", item],
                           capture_output=True, text=True, timeout=60, check=False, env={**os.environ, **qserver_env})
    assert added.returncode == 0, added.stdout + added.stderr
    # A campaign's bounds mix °C and s, so their values are checked when the plan starts: it fails with
    # autolab's message before any run opens, and the queue keeps working.
    api.item_add(BPlan("autonomous_campaign", reactor="reactor", budget=2, bounds={"nucleation_temperature_c": [240, 400]}))
    api.item_add(BPlan("measure_point", "reactor", 280, 280, 14.0))
    api.queue_start()
    api.wait_for_idle(timeout=600)
    history = api.history_get()["items"]
    assert [h["name"] for h in history] == ["autonomous_campaign", "autonomous_campaign"]
    assert history[0]["result"]["exit_status"] == "completed"
    assert history[1]["result"]["exit_status"] == "failed"
    assert history[1]["result"]["run_uids"] == []
    assert "bounds['nucleation_temperature_c'] high=400 is outside" in history[1]["result"]["msg"]
    waited = autolab("queue", "wait", "--timeout-s", "60", "--dir", str(directory))
    assert waited.returncode == 1, waited.stderr
    assert waited.stdout.startswith("queue idle; last item autonomous_campaign: failed (")
    assert waited.stdout.rstrip().endswith("; 2 item(s) left in the queue")
    # queueserver stops at a failed item and puts it back at the front; the operator removes it
    # and starts the queue again, and the good item runs.
    assert [i["name"] for i in api.queue_get()["items"]] == ["autonomous_campaign", "measure_point"]
    api.item_remove(pos="front")
    api.queue_start()
    waited = autolab("queue", "wait", "--timeout-s", "300", "--dir", str(directory))
    assert waited.returncode == 0, waited.stderr
    assert waited.stdout == "queue idle; last item measure_point: completed; 0 item(s) left in the queue\n"
    assert api.history_get()["items"][-1]["result"]["exit_status"] == "completed"

    # The worker's catalog writer runs behind the RunEngine; wait for the campaign's summary record.
    summaries = wait_for(lambda: [
        r for r in find_runs(open_catalog(catalog), plan_name="autonomous_campaign") if r.metadata["start"]["campaign_role"] == "summary"
    ])
    (summary_run,) = summaries
    client = open_catalog(catalog)
    campaign_id = summary_run.metadata["start"]["campaign_id"]
    points = find_runs(client, plan_name="measure_point", campaign_id=campaign_id)
    assert len(points) == 3
    assert all(p.metadata["stop"]["exit_status"] == "success" for p in points)
    assert all(p.metadata["start"]["operator"] == "queue-test" for p in points)
    assert summary_run.metadata["start"]["campaign_summary"]["run_uids"] == [p.metadata["start"]["uid"] for p in points]
    # The user lists them with the same relative path, from the directory the queue was started in.
    listed = autolab("runs", "--catalog", "autolab-data/catalog", "--limit", "1000", "--json", cwd=catalog.parent.parent)
    assert listed.returncode == 0, listed.stderr
    assert {p.metadata["start"]["uid"] for p in points} <= {row["uid"] for row in json.loads(listed.stdout)}


def test_queue_plans_shows_each_parameter_range_of_the_worker_reactor(queue):
    """RE Manager's allowed-plan descriptions carry the worker reactor's limits as min/max."""
    from autolab.devices import make_twin_reactor

    _, api, _, directory = queue
    limits = make_twin_reactor(seed=0).limits()
    allowed = api.plans_allowed()["plans_allowed"]
    ranges = {plan: {p["name"]: (p.get("min"), p.get("max")) for p in allowed[plan]["parameters"]}
              for plan in ("measure_point", "set_conditions", "phase_map")}
    for condition, (low, high) in limits.items():
        assert ranges["measure_point"][condition] == (f"{low:g}", f"{high:g}")
        assert ranges["set_conditions"][condition] == (f"{low:g}", f"{high:g}")
    assert ranges["phase_map"]["growth_temperatures_c"] == ("20", "350")
    assert ranges["phase_map"]["residence_times_s"] == ("0.625", "600")

    shown = autolab("queue", "plans", "measure_point", "--dir", str(directory))
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("Name: measure_point")
    block = shown.stdout.split("Name: nucleation_temperature_c", 1)[1].split("Name: ", 1)[0]
    assert "Min: 20 Max: 350" in block
    assert "this reactor allows 20–350 °C" in block
    unknown = autolab("queue", "plans", "no_such_plan", "--dir", str(directory))
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("autolab: error: plan 'no_such_plan' is not allowed in the queue; allowed: autonomous_campaign")


def test_agent_refuses_a_catalog_other_than_the_queues(queue, tmp_path):
    _, _, catalog, directory = queue
    refused = autolab("agent", "--catalog", "other-catalog", "--dir", str(directory), cwd=tmp_path, timeout=60)
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert refused.stderr.strip() == (
        f"autolab: error: --catalog {tmp_path.resolve() / 'other-catalog'} is not the running queue's catalog {catalog}; "
        "leave --catalog out, or `autolab queue stop` and start the queue with that catalog"
    )
    assert not (tmp_path / "other-catalog").exists()


def test_agent_queues_one_point_per_suggestion_with_a_manual_plan_between(queue):
    from bluesky_queueserver_api import BPlan

    _, api, catalog, directory = queue
    before = {r.metadata["start"]["uid"] for r in find_runs(open_catalog(catalog), plan_name="measure_point")}
    # An agent of an earlier autolab, interrupted, left a run in a journal folder of its own.
    left = sim_run_documents()
    write_journal(catalog / "journal-agent", left)
    agent = subprocess.Popen(
        [sys.executable, "-m", "autolab", "agent", "--budget", "3", "--initial-design", "2", "--seed", "4", "--dir", str(directory),
         "--bound", "nucleation_temperature_c=260:340", "--bound", "residence_time_s=2:15:log", "--fix", "growth_temperature_c=250", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        # Once the agent's first point is in the catalog, a person queues a plan of their own.
        wait_for(lambda: [r for r in find_runs(open_catalog(catalog), plan_name="measure_point")
                          if r.metadata["start"]["uid"] not in before and r.metadata.get("stop")])
        api.item_add(BPlan("measure_point", "reactor", 260, 260, 4.5, md={"operator": "person"}))
        # The person starts the queue if it is idle (the agent may be between points, or done).
        if api.status()["manager_state"] == "idle":
            with contextlib.suppress(Exception):
                api.queue_start()
        out, err = agent.communicate(timeout=400)
    finally:
        agent.kill()
        agent.wait()
        for stream in (agent.stdout, agent.stderr):  # closed even when an assertion stopped the test early
            stream.close()
    assert agent.returncode == 0, err
    summary = json.loads(out)
    assert summary["n_runs"] == 3
    assert summary["stop_reason"] == "budget spent"
    # It says which catalog it watches (the queue's), and each point as it completes, numbered from 1.
    progress = err.strip().splitlines()
    assert progress[0].startswith(f"agent: watching catalog {catalog} (RE Manager PID ")
    shown = [line for line in progress if re.match(r"\s*\d+/3 nucleation_temperature_c ", line)]
    assert [line.split()[0] for line in shown] == ["1/3", "2/3", "3/3"]
    assert all(": msc437 " in line for line in shown)
    client = wait_for(lambda: (c := open_catalog(catalog)) and len(find_runs(c, plan_name="measure_point")) >= len(before) + 4 and c)
    points = find_runs(client, plan_name="measure_point", campaign_id=summary["campaign_id"])
    assert [p.metadata["start"]["uid"] for p in points] == summary["run_uids"]
    assert all(p.metadata["start"]["growth_temperature_c"] == 250 for p in points)
    assert [p.metadata["start"]["design_point"] for p in points] == [True, True, False]
    manual = [r for r in find_runs(client, plan_name="measure_point") if r.metadata["start"].get("operator") == "person"]
    assert len(manual) == 1
    assert manual[0].metadata["stop"]["exit_status"] == "success"
    history = [h for h in api.history_get()["items"] if h["name"] == "measure_point"]
    assert sum(h.get("kwargs", {}).get("md", {}).get("campaign_id") == summary["campaign_id"] for h in history) == 3
    roles = [r.metadata["start"]["campaign_role"] for r in find_runs(client, plan_name="autonomous_campaign", campaign_id=summary["campaign_id"])]
    assert roles == ["start", "summary"]
    # The agent writes through the worker's journal folder, and so takes its write turns with the worker;
    # it moved the earlier agent's journal there, and its writer replayed it.
    assert sorted(path.name for path in catalog.iterdir() if path.name.startswith("journal")) == ["journal"]
    assert client[left[0][1]["uid"]].metadata["stop"]["num_events"] == {"primary": 3}

    # Each value is the objective of the point's own stored analysis.
    analyses = {r.metadata["start"]["analysis_of"]: r for r in find_runs(client, plan_name="analysis", campaign_id=summary["campaign_id"])}
    plugins = PluginManager()
    assert summary["values"] == [
        pytest.approx(plugins.objective("msc437", flat_metrics(analyses[p.metadata["start"]["uid"]].metadata["start"])))
        for p in points
    ]
    # A second campaign with the same seed gets the same suggestion ids (the optimiser's seeded
    # generator); the agent reads its own point's analysis, not the first campaign's.
    second = autolab("agent", "--budget", "2", "--initial-design", "2", "--seed", "4", "--dir", str(directory),
                     "--bound", "nucleation_temperature_c=260:340", "--bound", "residence_time_s=2:15:log",
                     "--fix", "growth_temperature_c=250", "--json")
    assert second.returncode == 0, second.stderr
    other = json.loads(second.stdout)
    client = wait_for(lambda: (c := open_catalog(catalog)) and len(find_runs(c, plan_name="analysis", campaign_id=other["campaign_id"])) == 2
                      and c)
    again_points = find_runs(client, plan_name="measure_point", campaign_id=other["campaign_id"])
    again_analyses = {r.metadata["start"]["analysis_of"]: r for r in find_runs(client, plan_name="analysis", campaign_id=other["campaign_id"])}
    assert [p.metadata["start"]["suggestion_id"] for p in again_points] == [p.metadata["start"]["suggestion_id"] for p in points[:2]]
    assert [p.metadata["start"]["uid"] for p in again_points] == other["run_uids"]
    assert other["values"] == [
        pytest.approx(plugins.objective("msc437", flat_metrics(again_analyses[uid].metadata["start"]))) for uid in other["run_uids"]
    ]

    # Restarted with --resume, the agent rebuilds the campaign from the catalog: budget spent, same runs.
    resumed = autolab("agent", "--resume", summary["campaign_id"], "--dir", str(directory), "--json")
    assert resumed.returncode == 0, resumed.stderr
    again = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert again["run_uids"] == summary["run_uids"]
    assert again["resumed_from"] == 3
    assert again["best_value"] == pytest.approx(summary["best_value"], rel=1e-6)

    # With --approve, a "no" queues nothing and stops the agent.
    items_before = api.status()["items_in_history"]
    declined = subprocess.run(
        [sys.executable, "-m", "autolab", "agent", "--approve", "--budget", "2", "--dir", str(directory), "--json"],
        input="n\n", capture_output=True, text=True, timeout=300, check=False,
    )
    assert declined.returncode == 0, declined.stderr
    assert "queue measure_point at nucleation_temperature_c" in declined.stdout
    # (the prompt has no newline after the answer when stdin is not a terminal)
    assert json.loads(declined.stdout[declined.stdout.index('{"'):])["stop_reason"] == "suggestion not approved"
    assert api.status()["items_in_history"] == items_before
    assert api.status()["items_in_queue"] == 0


def _first_queued_point(api, agent, timeout_s: float = 120) -> list[dict]:
    """The ``measure_point`` items in the queue once the agent has queued one; the test fails if it has not in ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    queued: list[dict] = []
    while not queued and agent.poll() is None and time.monotonic() < deadline:
        queued = [i for i in api.queue_get()["items"] if i["name"] == "measure_point"]
        time.sleep(0.2)
    if not queued:
        agent.kill()
        pytest.fail(f"the agent queued no point within {timeout_s:g} s; it said: {agent.communicate()[1]}")
    return queued


def _hold_the_worker(api, purpose: str) -> None:
    """A person's campaign holds the worker, paused (so it lasts however long the test needs); items queued later wait behind it."""
    from bluesky_queueserver_api import BPlan

    api.item_add(BPlan("autonomous_campaign", reactor="reactor", objective="msc437", budget=40, seed=3, bounds=WINDOW,
                       md={"purpose": purpose}))
    api.queue_start()
    deadline = time.monotonic() + 60
    while True:  # pause once the campaign's RunEngine is running (the item may still be opening)
        try:
            api.re_pause(option="deferred")
            break
        except Exception:
            assert time.monotonic() < deadline, api.status()
            time.sleep(0.1)
    wait_for(lambda: api.status()["manager_state"] == "paused", timeout=60)


def test_agent_stops_when_a_person_removes_its_point_from_the_queue(queue):
    """A person removes the agent's queued point: the agent stops at once, saying why, instead of
    waiting an hour for a result that cannot come."""
    _, api, _, directory = queue
    # A person's campaign holds the worker — paused, so it lasts however long the agent takes to
    # start — and the agent's first point waits in the queue behind it.
    _hold_the_worker(api, "busy")
    agent = subprocess.Popen(
        [sys.executable, "-m", "autolab", "agent", "--budget", "2", "--seed", "7", "--dir", str(directory), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        queued = _first_queued_point(api, agent)
        assert api.status()["running_item_uid"] is not None  # still behind the person's campaign
        api.item_remove(uid=queued[0]["item_uid"])
        started = time.monotonic()
        out, err = agent.communicate(timeout=120)
        waited_s = time.monotonic() - started
    finally:
        agent.kill()
        agent.wait()
        for stream in (agent.stdout, agent.stderr):  # closed even when an assertion stopped the test early
            stream.close()
    assert agent.returncode == 0, err
    summary = json.loads(out)
    assert summary["n_runs"] == 0
    assert re.fullmatch(r"point 1 \(\S+\) did not finish in the queue: item removed from the queue before it ran",
                        summary["stop_reason"]), summary["stop_reason"]
    assert waited_s < 30  # it polls the queue every second; the rest is writing its summary record
    api.re_resume()
    api.wait_for_idle(timeout=600)
    assert api.history_get()["items"][-1]["name"] == "autonomous_campaign"
    assert api.history_get()["items"][-1]["result"]["exit_status"] == "completed"
    assert api.status()["items_in_queue"] == 0


def test_ctrl_c_stops_the_agent_in_one_line_and_its_queued_point_is_measured_and_resumed(queue):
    """SIGINT to an agent whose point waits in the queue: one line with the resume command, no traceback.

    The point stays in the queue (a resume is refused until the queue has run it), the worker
    measures it, and the printed command continues the campaign from it.
    """
    _, api, catalog, directory = queue
    _hold_the_worker(api, "held-for-ctrl-c")
    agent = subprocess.Popen(
        [sys.executable, "-m", "autolab", "agent", "--budget", "2", "--initial-design", "2", "--seed", "11", "--dir", str(directory)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        queued = _first_queued_point(api, agent)
        time.sleep(1)  # past the request that queued it: the agent now waits for the point
        # The agent's signal masks as the kernel sees them (blocked, ignored, caught), for a failure message.
        with open(f"/proc/{agent.pid}/status") as status:
            masks = [line for line in status.read().splitlines() if line.startswith("Sig")]
        agent.send_signal(signal.SIGINT)  # as Ctrl-C in its terminal, while it waits for its point
        try:
            out, err = agent.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            agent.kill()
            pytest.fail(f"the agent did not exit within 60 s of SIGINT (signal masks before it: {masks}); it said:\n"
                        f"{agent.communicate()[1][-8000:]}")
    finally:
        agent.kill()
        agent.wait()
        for stream in (agent.stdout, agent.stderr):
            stream.close()
    campaign_id = queued[0]["kwargs"]["md"]["campaign_id"]
    assert agent.returncode == 130, err
    assert out.startswith(f"agent: watching catalog {catalog} ")
    warning, *lines = err.splitlines()  # the campaign's warnings are lines of their own, as in `autolab campaign`
    assert warning.startswith("autolab: warning: budget=2 does not exceed the initial design of 2 point(s)")
    assert lines == [
        f"autolab: agent interrupted after 0 of 2 points; its point 1 stays in the queue and is measured there; once the queue "
        f"has run it (`autolab queue wait --dir {directory}`), continue with: autolab agent --resume {campaign_id} --dir {directory}"
    ]
    assert [i["item_uid"] for i in api.queue_get()["items"]] == [queued[0]["item_uid"]]
    # A resume now would not count the point, so it is refused, in one line.
    early = autolab("agent", "--resume", campaign_id, "--dir", str(directory), timeout=120)
    assert (early.returncode, early.stderr.strip()) == (
        2, f"autolab: error: campaign {campaign_id}'s point 1 is still in the queue; resume once the queue has run it "
           f"(`autolab queue wait --dir {directory}`)",
    )

    # The person stops their campaign; the queue runs the agent's point, and the printed command continues from it.
    api.re_stop()
    api.wait_for_idle(timeout=120)
    if api.status()["items_in_queue"]:
        api.queue_start()
        api.wait_for_idle(timeout=120)
    assert api.history_get()["items"][-1]["item_uid"] == queued[0]["item_uid"]
    (point,) = wait_for(lambda: [r for r in find_runs(open_catalog(catalog), plan_name="measure_point", campaign_id=campaign_id)
                                 if (r.metadata.get("stop") or {}).get("exit_status") == "success"],
                     timeout=240)  # the worker's writer may lag minutes behind on a loaded machine
    resumed = autolab("agent", "--resume", campaign_id, "--dir", str(directory), "--json")
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert (summary["resumed_from"], summary["n_runs"], summary["stop_reason"]) == (1, 2, "budget spent")
    assert summary["run_uids"][0] == point.metadata["start"]["uid"]
    assert api.status()["items_in_queue"] == 0


def _finished_in_journals(journal, *, purpose: str) -> set[str]:
    """Uids of ``measure_point`` runs with ``purpose`` whose journal holds a successful stop."""
    finished = set()
    for path in journal.glob("*.jsonl"):
        try:
            docs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        except (FileNotFoundError, json.JSONDecodeError):  # written to the catalog meanwhile, or mid-line
            continue
        if docs and docs[0]["doc"].get("plan_name") == "measure_point" and docs[0]["doc"].get("purpose") == purpose:
            if any(d["name"] == "stop" and d["doc"].get("exit_status") == "success" for d in docs):
                finished.add(path.stem)
    return finished


def test_a_manager_that_misses_its_heartbeats_for_8_s_is_not_restarted(queue):
    """RE Manager frozen for 8 s (SIGSTOP), as a loaded machine can starve it: the watchdog keeps it.

    queueserver's own watchdog restarts a manager after 5 s without a heartbeat; the restarted
    manager then read the worker's late answers as wrong message IDs and did not answer
    ``status`` within 30 s (seen in CI). autolab's launcher waits 30 s, so the same manager answers.
    """
    import psutil

    state, api, _, directory = queue
    port = int(state.zmq_control_addr.rsplit(":", 1)[1])
    (manager,) = [p for p in psutil.Process(state.manager_pid).children()
                  if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in p.net_connections("tcp"))]
    log = directory / "manager.log"
    log_start = log.stat().st_size
    manager.suspend()
    try:
        time.sleep(8)
    finally:
        manager.resume()
    status = api.status(reload=True)
    assert status["worker_environment_exists"] is True
    assert manager.is_running()
    time.sleep(1)  # past the watchdog's next look at the heartbeat
    with open(log, encoding="utf-8", errors="replace") as text:
        text.seek(log_start)
        assert "Timeout detected by Watchdog" not in text.read()
    assert [p.pid for p in psutil.Process(state.manager_pid).children()].count(manager.pid) == 1


def test_killed_manager_loses_no_finished_point(queue):
    from bluesky_queueserver_api import BPlan

    state, api, catalog, _ = queue
    # A fresh worker environment: a new twin with full syringes (the earlier tests used them).
    api.environment_close()
    api.wait_for_idle(timeout=120)
    api.environment_open()
    api.wait_for_idle(timeout=120)
    # Far more points than run before the kill (they take ≈ 0.5 s each; the catalog lags behind).
    api.item_add(BPlan("autonomous_campaign", reactor="reactor", objective="msc437", budget=150, seed=2, bounds=WINDOW,
                       md={"purpose": "kill-test"}))
    api.queue_start()
    journal = journal_directory(catalog)
    deadline = time.monotonic() + 300
    finished_before_kill = set()
    client = open_catalog(catalog)  # a search on the open client sees new runs; reopening costs seconds
    while time.monotonic() < deadline:
        # A point is finished once its stop document is in its journal (written and fsynced on the
        # worker's RunEngine thread) or in the catalog (the journal is deleted once written). Kill
        # as soon as three are, while the catalog writer still has some to write.
        finished_before_kill = _finished_in_journals(journal, purpose="kill-test")
        if len(finished_before_kill) < 3:
            runs = [r for r in find_runs(client, plan_name="measure_point") if r.metadata["start"].get("purpose") == "kill-test"]
            finished_before_kill |= {r.metadata["start"]["uid"] for r in runs if (r.metadata.get("stop") or {}).get("exit_status") == "success"}
        if len(finished_before_kill) >= 3:
            break
        time.sleep(0.2)
    assert len(finished_before_kill) >= 3
    os.killpg(state.manager_pid, signal.SIGKILL)  # manager and worker die at once, mid-campaign
    time.sleep(1)
    # The worker runs ahead of the catalog writer; what it finished but did not yet write is in journals.
    journaled = {}
    for path in journal.glob("*.jsonl"):
        docs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        # This campaign's points (a worker of an earlier test, still closing when the kill came, may have left its own).
        if docs and docs[0]["doc"].get("plan_name") == "measure_point" and docs[0]["doc"].get("purpose") == "kill-test":
            stop = [d["doc"] for d in docs if d["name"] == "stop"]
            journaled[path.stem] = stop[0]["exit_status"] if stop else None
    writer = CatalogWriter(open_catalog(catalog), journal)  # reopening replays what the kill left
    writer.close()
    client = open_catalog(catalog)
    runs = [r for r in find_runs(client, plan_name="measure_point") if r.metadata["start"].get("purpose") == "kill-test"]
    finished_after = {r.metadata["start"]["uid"] for r in runs if (r.metadata.get("stop") or {}).get("exit_status") == "success"}
    assert finished_before_kill <= finished_after
    assert {uid for uid, status in journaled.items() if status == "success"} <= finished_after
    assert len(runs) < 150  # it really was killed mid-campaign
    assert not list(journal.glob("*.jsonl"))
    # Every finished point has its stored analysis with the objective value.
    analyses = find_runs(client, plan_name="analysis")
    analysed = {r.metadata["start"]["analysis_of"] for r in analyses if r.metadata["start"].get("purpose") == "kill-test"}
    stopped_points = {r.metadata["start"]["uid"] for r in runs if r.metadata.get("stop")}
    assert finished_after - analysed <= stopped_points  # at most the very last point awaits its analysis
    assert len(finished_after - analysed) <= 1


def test_queue_stop_lets_the_worker_store_every_run_it_holds(tmp_path):
    """`autolab queue stop` on an idle queue whose worker's writer is still behind: the journals end empty.

    A phase map's points come faster than the catalog stores them, so when the queue turns idle the
    writer still holds most of its runs. Stopping closes the worker environment first; the
    worker's writer stores them, and nothing waits in the journals for the next open.
    """
    catalog, directory = tmp_path / "catalog", tmp_path / "queue"
    started = autolab("queue", "start", "--catalog", str(catalog), "--dir", str(directory))
    assert started.returncode == 0, started.stderr
    state = load_state(directory)
    qserver = os.path.join(os.path.dirname(sys.executable), "qserver")
    env = {**os.environ, "QSERVER_ZMQ_CONTROL_ADDRESS": state.zmq_control_addr, "QSERVER_ZMQ_INFO_ADDRESS": state.zmq_info_addr}
    item = json.dumps({"name": "phase_map", "args": ["reactor", [260, 270, 280], [240, 250, 260], [14.0]],
                       "kwargs": {"md": {"purpose": "stop-test"}}})
    try:
        for command in (["queue", "add", "plan", item], ["queue", "start"]):
            done = subprocess.run([qserver, *command], capture_output=True, text=True, timeout=60, check=False, env=env)
            assert done.returncode == 0, done.stdout + done.stderr
        waited = autolab("queue", "wait", "--timeout-s", "300", "--dir", str(directory))
        assert waited.returncode == 0, waited.stdout + waited.stderr
    finally:
        stopped = autolab("queue", "stop", "--dir", str(directory))
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout == f"stopped RE Manager {state.manager_pid} and Redis {state.redis_pid}\n"  # and no runs waiting
    for pid in (state.manager_pid, state.redis_pid):
        assert exited(pid), pid
    assert not list(journal_directory(catalog).glob("*.jsonl"))  # before anything reopens (and replays) them
    points = [r for r in find_runs(open_catalog(catalog), plan_name="measure_point") if r.metadata["start"].get("purpose") == "stop-test"]
    assert len(points) == 9
    assert all(p.metadata["stop"]["exit_status"] == "success" for p in points)


def test_startup_namespace_for_ipython(tmp_path):
    """`python -i -m autolab.startup` gives RE, reactor, plans and the catalog; a point runs by hand."""
    code = (
        "import autolab.startup as s\n"
        "uid = s.RE(s.measure_point(s.reactor, 280, 280, 14.0))\n"
        "s.writer.flush()\n"
        "print(sorted(n for n in s.__all__))\n"
        "print(s.catalog[uid[0]].metadata['stop']['exit_status'])\n"
        "print(len(s.find_runs(s.catalog, plan_name='analysis')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "AUTOLAB_CATALOG": str(tmp_path / "cat")},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    names = eval(lines[-3])
    for name in ("RE", "reactor", "catalog", "measure_point", "phase_map", "autonomous_campaign", "GPOptimizer", "plugins", "safe_state",
                 "take_dark", "take_reference", "take_background"):
        assert name in names
    assert lines[-2] == "success"
    assert lines[-1] == "1"  # the live analysis callback stored the point's derived run


CTRL_C_SESSION = """
import json, sys
from bluesky.utils import RunEngineInterrupted
from autolab.startup import RE, autonomous_campaign, reactor

RE.subscribe(lambda name, doc: print("POINT", doc["campaign_point_index"], flush=True)
             if name == "start" and doc.get("plan_name") == "measure_point" else None)
# Points 90 °C apart: each begins with a heater ramp of ~4 s here, long enough to press Ctrl-C in.
design = [dict(nucleation_temperature_c=t, growth_temperature_c=t, residence_time_s=5.0) for t in (250, 340, 250, 340)]
action = lambda: RE(autonomous_campaign(reactor, "msc437", budget=4, initial_design=design, seed=0))
while True:
    try:
        action()
        print("FINISHED", flush=True)
        break
    except RunEngineInterrupted:  # what IPython shows after Ctrl-C; the operator types what comes next
        print("PAUSED", RE.state, flush=True)
        if sys.stdin.readline().strip() == "abort":
            RE.abort(reason="operator")
            print("ABORTED", json.dumps({
                "pumps_ul_min": [reactor.cd_pump.flow_rate.get(), reactor.se_pump.flow_rate.get()],
                "heater_setpoints_c": [reactor.nucleation_heater.setpoint.get(), reactor.growth_oven.setpoint.get()],
            }), flush=True)
            break
        action = RE.resume
"""


def test_ctrl_c_pauses_a_campaign_which_resumes_then_aborts_to_a_safe_state(tmp_path):
    """Real SIGINTs to a session running a campaign (twin at 1/50 real time).

    One Ctrl-C in point 1 is bluesky's deferred pause: point 1 finishes and the campaign pauses at
    the checkpoint before point 2; resume. Ctrl-C twice in point 2 pauses at once; abort: point 2
    ends as aborted, the reactor is left safe, and the finished points are all in the catalog.
    """
    catalog = tmp_path / "cat"
    session = subprocess.Popen(
        [sys.executable, "-u", "-c", CTRL_C_SESSION], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, env={**os.environ, "AUTOLAB_CATALOG": str(catalog), "AUTOLAB_TIME_SCALE": "0.02", "AUTOLAB_NO_BEC": "1"},
    )
    seen: list[str] = []

    def read_until(prefix: str) -> str:
        for line in session.stdout:
            seen.append(line.rstrip())
            if line.startswith(prefix):
                return line.rstrip()
        pytest.fail(f"session ended before {prefix!r}: {seen}")

    try:
        read_until("POINT 1")
        time.sleep(1.0)  # inside the second point's heater ramp
        session.send_signal(signal.SIGINT)
        assert read_until("PAUSED") == "PAUSED paused"
        assert any("deferred pause" in line for line in seen)
        assert "POINT 2" not in seen  # paused between points
        session.stdin.write("resume\n")
        session.stdin.flush()
        read_until("POINT 2")
        time.sleep(1.0)
        session.send_signal(signal.SIGINT)
        time.sleep(0.3)
        session.send_signal(signal.SIGINT)
        assert read_until("PAUSED") == "PAUSED paused"
        session.stdin.write("abort\n")
        session.stdin.flush()
        aborted = json.loads(read_until("ABORTED").split(" ", 1)[1])
        assert session.wait(timeout=120) == 0, seen
    finally:
        session.kill()
        session.stdin.close()
        session.stdout.close()
    assert aborted == {"pumps_ul_min": [0.0, 0.0], "heater_setpoints_c": [25.0, 25.0]}
    assert "FINISHED" not in seen
    assert "POINT 3" not in seen

    # Leaving the session flushed the writer: the two finished points and the aborted one are in the catalog.
    client = open_catalog(catalog)
    points = sorted(find_runs(client, plan_name="measure_point"), key=lambda r: r.metadata["start"]["campaign_point_index"])
    assert [p.metadata["stop"]["exit_status"] for p in points] == ["success", "success", "abort"], seen
    assert len(find_runs(client, plan_name="analysis")) == 2
    assert not list((catalog / "journal").glob("*.jsonl"))


def test_ipython_session_has_the_namespace(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "IPython", "--no-banner", "-i", "-m", "autolab.startup"],
        input="print(type(RE).__name__, reactor.name)\nexit()\n",
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "AUTOLAB_CATALOG": str(tmp_path / "cat"), "TERM": "dumb"},
    )
    assert result.returncode == 0, result.stderr
    assert "RunEngine reactor" in result.stdout
    assert "pyOpenCl" not in result.stdout + result.stderr  # silx's optional-GPU notice is not the session's business


def test_ipython_session_shows_a_refused_plan_argument_as_one_line(tmp_path):
    """ipython.md's "Typical work" with a temperature above the limit and a misspelt objective: one
    line each (bluesky's "Run aborted" traceback and IPython's dropped); other errors keep theirs."""
    result = subprocess.run(
        [sys.executable, "-m", "IPython", "--no-banner", "--colors=NoColor", "-i", "-m", "autolab.startup"],
        input='RE(measure_point(reactor, 400, 280, 14))\nRE(autonomous_campaign(reactor, "msc473", budget=3))\n'
              'print("after", len(measurements(catalog)))\n1/0\nexit()\n',
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "AUTOLAB_CATALOG": str(tmp_path / "cat"), "TERM": "dumb", "AUTOLAB_NO_BEC": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert "LimitError: nucleation_temperature_c=400 is outside the nucleation heater's allowed range 20–350 °C\n" in result.stderr
    assert "LimitError: objective='msc473' is not provided by any plugin; available: msc437," in result.stderr
    assert "Run aborted" not in result.stderr + result.stdout
    assert "after 0" in result.stdout
    assert (result.stdout + result.stderr).count("Traceback") == 1  # 1/0 is not autolab's: it keeps its traceback
    assert "ZeroDivisionError" in result.stdout + result.stderr


def test_autolab_ipython_takes_a_reactor_factory_from_the_current_folder(tmp_path):
    """`cd ~/beamline && AUTOLAB_REACTOR=my_bl:make autolab ipython`: the check before IPython finds
    the module where the session (IPython's `-m`, the current folder on its path) finds it."""
    (tmp_path / "my_bl.py").write_text(
        "from autolab.devices import make_twin_reactor\ndef make():\n    return make_twin_reactor(name='flow2', seed=3)\n")
    result = subprocess.run(
        [sys.executable, "-m", "autolab", "ipython", "--no-banner"], input="print('NAME', reactor.name)\nexit()\n",
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
        env={**os.environ, "AUTOLAB_CATALOG": str(tmp_path / "cat"), "AUTOLAB_REACTOR": "my_bl:make", "TERM": "dumb",
             "AUTOLAB_NO_BEC": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert "NAME flow2" in result.stdout


def test_config_file_names_the_reactor_and_the_catalog(tmp_path):
    """A TOML config names a reactor factory (the real reactor's place) and the catalog."""
    (tmp_path / "my_beamline.py").write_text(
        "from autolab.devices import make_twin_reactor\n"
        "def reactor():\n"
        "    return make_twin_reactor(name='flow1', seed=5)\n"
    )
    config = tmp_path / "autolab.toml"
    config.write_text(f'[reactor]\nfactory = "my_beamline:reactor"\n[catalog]\nlocation = "{tmp_path / "cat"}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOLAB_")}
    env.update(AUTOLAB_CONFIG=str(config), PYTHONPATH=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", "import autolab.startup as s; print(s.reactor.name, s.location)"],
        capture_output=True, text=True, timeout=300, check=False, env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["flow1", str(tmp_path / "cat")]
