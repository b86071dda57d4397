"""``autolab agent`` and ``autolab queue plans`` without a working queue: one line, exit 2, at once."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import psutil
import pytest

from autolab.queue import QueueState, free_port, load_state


def autolab(*args: str, cwd=None, timeout: float = 60) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "autolab", *args], capture_output=True, text=True, timeout=timeout, check=False,
                            cwd=cwd)
    return result, time.monotonic() - started


def record_queue(directory: Path, manager_pid: int) -> QueueState:
    """Write a queue.json as `autolab queue start` does, for a manager PID of the test's choosing."""
    directory.mkdir(parents=True, exist_ok=True)
    state = QueueState(str(directory), str(directory.parent / "catalog"), manager_pid, free_port(), manager_pid,
                       f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}", time.time())
    (directory / "queue.json").write_text(json.dumps(asdict(state)))
    return state


def test_agent_without_a_queue_fails_with_one_line_at_once(tmp_path):
    result, elapsed_s = autolab("agent", "--budget", "3", "--dir", str(tmp_path / "queue"))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (f"autolab: error: no queue is running from {tmp_path / 'queue'} (no queue.json); "
                             "start one with `autolab queue start`\n")
    assert elapsed_s < 10  # the interpreter's start and autolab's CLI import; nothing waits
    assert not (tmp_path / "catalog").exists()


def test_agent_with_an_exited_manager_fails_with_one_line(tmp_path):
    finished = subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert finished.returncode == 0
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    record_queue(tmp_path / "queue", exited.pid)
    result, elapsed_s = autolab("agent", "--dir", str(tmp_path / "queue"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(
        f"autolab: error: the queue recorded in {tmp_path / 'queue' / 'queue.json'} is not running "
        f"(RE Manager PID {exited.pid} has exited); `autolab queue stop` clears the record"
    )
    assert elapsed_s < 10


@pytest.mark.slow
def test_agent_with_a_manager_that_does_not_answer_fails_with_one_line(tmp_path):
    """A live process under the recorded PID, but no RE Manager on the recorded address."""
    impostor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        state = record_queue(tmp_path / "queue", impostor.pid)
        result, elapsed_s = autolab("agent", "--dir", str(tmp_path / "queue"))
        plans, _ = autolab("queue", "plans", "--dir", str(tmp_path / "queue"))
    finally:
        impostor.kill()
        impostor.wait()
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(
        f"autolab: error: RE Manager PID {impostor.pid} does not answer at {state.zmq_control_addr} within 5 s"
    )
    assert elapsed_s < 20  # the 5 s answer timeout, plus the interpreter's start
    assert plans.returncode == 2
    assert plans.stderr.startswith(f"autolab: error: RE Manager PID {impostor.pid} does not answer")


def test_queue_plans_without_a_queue_fails_with_one_line(tmp_path):
    result, _ = autolab("queue", "plans", "--dir", str(tmp_path / "queue"))
    assert result.returncode == 2
    assert result.stderr == (f"autolab: error: no queue is running from {tmp_path / 'queue'} (no queue.json); "
                             "start one with `autolab queue start`\n")


def test_queue_stop_says_how_many_runs_wait_in_the_journal(tmp_path):
    """A worker stopped by PID (here: a manager that has exited) leaves its unstored runs in the journal, and `queue stop` says so."""
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    state = record_queue(tmp_path / "queue", exited.pid)
    journal = Path(state.catalog) / "journal"
    journal.mkdir(parents=True)
    for uid in ("run-a", "run-b"):
        (journal / f"{uid}.jsonl").write_text(json.dumps({"name": "start", "doc": {"uid": uid, "time": 0.0}}) + "\n")
    result, _ = autolab("queue", "stop", "--dir", str(tmp_path / "queue"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == [
        f"2 run(s) did not reach the catalog; their journals in {journal} are stored by the next writer on the catalog, or by `autolab runs`"]
    assert not (tmp_path / "queue" / "queue.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize("no_open", [False, True])
def test_a_startup_that_fails_is_one_line_with_its_reason_and_leaves_nothing_running(tmp_path, monkeypatch, no_open):
    """The worker's own error, whether its environment opens at the start or the plan list is generated first (--no-open)."""
    monkeypatch.setenv("AUTOLAB_REACTOR", "no_such_module:make_reactor")
    queue_dir = tmp_path / "queue"
    result, _ = autolab("queue", "start", "--catalog", str(tmp_path / "catalog"), "--dir", str(queue_dir),
                        *(["--no-open"] if no_open else []), timeout=180)
    assert result.returncode == 2, result.stderr
    reason = ("Error while loading module 'autolab.startup': reactor factory 'no_such_module:make_reactor' (AUTOLAB_REACTOR) "
              "cannot be loaded: No module named 'no_such_module'")
    if no_open:
        assert result.stderr.startswith("autolab: error: generating existing_plans_and_devices.yaml failed: ")
        assert result.stderr.rstrip().endswith(reason)
    else:
        assert result.stderr == (f"autolab: error: the RE worker environment did not open: {reason}; "
                                 f"see {queue_dir / 'manager.log'}\n")
    left = [p.info["cmdline"] for p in psutil.process_iter(["cmdline"]) if any(str(queue_dir) in a for a in p.info["cmdline"] or [])]
    assert left == []  # RE Manager and Redis (their command lines name the queue folder) are stopped


def test_a_process_that_exited_is_not_alive_while_it_waits_to_be_reaped_by_another(tmp_path):
    """`queue stop` waits for its processes by `alive`; they are init's, which may reap them late (a container's first process)."""
    from autolab.processes import alive

    parent = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, time; c = subprocess.Popen(['true']); print(c.pid, flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        pid = int(parent.stdout.readline())
        deadline = time.monotonic() + 10
        while psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:  # exited; its parent never waits for it
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert not alive(pid)
        assert alive(parent.pid)
        own = os.posix_spawn(shutil.which("true"), ["true"], os.environ)  # a bare PID: nothing else waits for it
        while psutil.Process(own).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline + 10
            time.sleep(0.05)
        assert not alive(own)  # a zombie child of this process is reaped
        with pytest.raises(psutil.NoSuchProcess):
            psutil.Process(own)
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()


@pytest.mark.slow
def test_queue_start_returns_once_the_manager_holds_the_workers_plans_not_an_earlier_list(tmp_path):
    """An earlier start's list (here one without any plan) is not what items are checked against, even for a moment.

    The same queue: a second start from its folder is refused as such, and its stop says how many queued items it drops.
    """
    queue_dir = tmp_path / "queue"
    queue_dir.mkdir()
    stale = queue_dir / "existing_plans_and_devices.yaml"
    stale.write_text("existing_devices: {}\nexisting_plans: {}\n")
    started, _ = autolab("queue", "start", "--catalog", str(tmp_path / "catalog"), "--dir", str(queue_dir), timeout=180)
    try:
        assert started.returncode == 0, started.stderr
        plans, _ = autolab("queue", "plans", "measure_point", "--dir", str(queue_dir))  # RE Manager's allowed plans
        assert plans.returncode == 0, plans.stderr
        assert plans.stdout.startswith("Name: measure_point\n")
        assert "measure_point:" in stale.read_text()  # the worker wrote its list when its environment opened
        # A second start from the same folder is refused for what it is, before any port is looked at.
        with socket.socket() as held:
            held.bind(("127.0.0.1", 0))
            held.listen()
            again, _ = autolab("queue", "start", "--dir", str(queue_dir), "--http", "--http-port", str(held.getsockname()[1]))
        state = load_state(queue_dir)
        assert again.returncode == 2
        assert again.stderr == (f"autolab: error: a queue is already running from {queue_dir} (manager PID {state.manager_pid}); "
                                f"`autolab queue stop --dir {queue_dir}` first\n")
        env = {**os.environ, "QSERVER_ZMQ_CONTROL_ADDRESS": state.zmq_control_addr, "QSERVER_ZMQ_INFO_ADDRESS": state.zmq_info_addr}
        qserver = os.path.join(os.path.dirname(sys.executable), "qserver")
        item = json.dumps({"name": "measure_point", "args": ["reactor", 280, 280, 14.0]})
        for _ in range(2):  # queued, never started
            added = subprocess.run([qserver, "queue", "add", "plan", item], capture_output=True, text=True, timeout=60, env=env, check=False)
            assert added.returncode == 0, added.stdout + added.stderr
    finally:
        stopped, _ = autolab("queue", "stop", "--dir", str(queue_dir), timeout=120)
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.splitlines()[1:] == [
        "2 queued item(s) were not run and are gone with the queue (its Redis keeps nothing); add them again after the next "
        "`autolab queue start`"
    ]
