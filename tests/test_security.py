"""Every remote surface authenticated, nothing open by default.

Real processes on 127.0.0.1: ``autolab serve`` with a read-only key beside the one that writes,
``autolab queue start --encrypt --http`` (Redis, RE Manager with CURVE on its control socket,
bluesky-httpserver with an API key), and the default ``autolab queue start`` and ``autolab
serve``, whose listening sockets are listed with psutil.

:func:`assert_listens_only_on_loopback` (with :func:`listening_sockets`) is meant for any test of
a command that starts servers, e.g. ``autolab ioc start``: give it the PIDs the command started.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import socket
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from autolab.catalog import open_catalog
from autolab.errors import AutolabError
from autolab.queue import HTTP_KEY_FILE, PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, http_api_key, load_state, zmq_keys

from .conftest import exited, run_python
from .test_catalog_serve import API_KEY, autolab, free_port, journaled_writer, sim_run_documents
from .test_catalog_serve import served as serve

pytestmark = pytest.mark.xdist_group("security")

READ_KEY = "viewerkey456"


# --------------------------------------------------------------------------------------------
# Listening sockets of a set of processes (reusable by any test that starts servers)


@dataclass(frozen=True)
class Listener:
    """A socket that can take traffic: a TCP socket in LISTEN, or a bound UDP socket."""

    pid: int
    process: str
    protocol: str  # "tcp" or "udp"
    address: str
    port: int

    def __str__(self) -> str:
        shown = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.protocol} {shown}:{self.port} (PID {self.pid} {self.process})"


def _process_tree(pids: Iterable[int]) -> list[psutil.Process]:
    processes: dict[int, psutil.Process] = {}
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            process = psutil.Process(pid)
            for member in (process, *process.children(recursive=True)):
                processes[member.pid] = member
    return list(processes.values())


def listening_sockets(pids: Iterable[int]) -> list[Listener]:
    """Every TCP socket in LISTEN and every bound UDP socket of the processes ``pids`` and all their descendants."""
    import socket

    found = set()
    for process in _process_tree(pids):
        try:
            name = process.name()
            connections = process.net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        for connection in connections:
            if not connection.laddr:
                continue
            if connection.type == socket.SOCK_STREAM and connection.status == psutil.CONN_LISTEN:
                protocol = "tcp"
            elif connection.type == socket.SOCK_DGRAM and not connection.raddr:
                protocol = "udp"
            else:
                continue
            found.add(Listener(process.pid, name, protocol, connection.laddr.ip, connection.laddr.port))
    return sorted(found, key=lambda listener: (listener.pid, listener.protocol, listener.port))


def is_loopback(address: str) -> bool:
    """127.0.0.0/8, ::1, and IPv4-mapped loopback (::ffff:127.0.0.1)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def ephemeral_ports() -> range:
    """The ports the kernel picks for a socket bound to port 0 (``net.ipv4.ip_local_port_range``)."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(low, high + 1)


def is_udp_client_socket(listener: Listener) -> bool:
    """A UDP socket on a port the kernel picked: how a client (an EPICS Channel Access client's
    search socket, a DNS lookup) receives its replies. It serves nothing; a UDP server binds a
    port of its own (e.g. Channel Access 5064), which this does not pass."""
    return listener.protocol == "udp" and listener.port in ephemeral_ports()


def assert_listens_only_on_loopback(pids: Iterable[int], what: str) -> list[Listener]:
    """Fail unless every listening socket of ``pids`` (and their descendants) is on a loopback address.

    UDP client sockets (:func:`is_udp_client_socket`) are allowed on any address. Returns the
    sockets found, so a caller can also check that the servers it expects are among them.
    """
    found = listening_sockets(pids)
    exposed = [listener for listener in found if not is_loopback(listener.address) and not is_udp_client_socket(listener)]
    assert not exposed, f"{what} listens beyond this machine: " + "; ".join(map(str, exposed))
    return found


def test_the_socket_listing_sees_a_server_on_every_interface():
    """The check above is not vacuous: a process listening on 0.0.0.0 fails it, one on 127.0.0.1 passes."""
    code = (  # a TCP server on a port the kernel picks, a UDP server on a port of its own (below the ephemeral range)
        "import socket, sys, time\n"
        "tcp = socket.socket(); tcp.bind((sys.argv[1], 0)); tcp.listen()\n"
        "udp = socket.socket(type=socket.SOCK_DGRAM)\n"
        "for port in range(5900, 6000):\n"
        "    try:\n"
        "        udp.bind((sys.argv[1], port)); break\n"
        "    except OSError: pass\n"
        "print(tcp.getsockname()[1], udp.getsockname()[1], flush=True); time.sleep(60)\n"
    )
    for host, exposed in (("0.0.0.0", True), ("127.0.0.1", False)):
        proc = subprocess.Popen([sys.executable, "-c", code, host], stdout=subprocess.PIPE, text=True)
        try:
            port, udp_port = map(int, proc.stdout.readline().split())
            found = listening_sockets([proc.pid])
            name = psutil.Process(proc.pid).name()
            assert {Listener(proc.pid, name, "tcp", host, port), Listener(proc.pid, name, "udp", host, udp_port)} <= set(found)
            if exposed:
                with pytest.raises(AssertionError, match=rf"beyond this machine: tcp 0\.0\.0\.0:{port} .*; udp 0\.0\.0\.0:{udp_port} "):
                    assert_listens_only_on_loopback([proc.pid], "the probe")
            else:
                assert_listens_only_on_loopback([proc.pid], "the probe")
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()


# --------------------------------------------------------------------------------------------
# Real servers shared by the module


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOLAB_", "TILED_", "QSERVER_"))}
    env.update(extra)
    return env


@contextlib.contextmanager
def served(folder: Path, *args: str, env: dict[str, str] | None = None):
    """``autolab serve --catalog folder ARGS`` (:func:`tests.test_catalog_serve.served`) without the caller's AUTOLAB_/TILED_ settings."""
    with serve(folder, *args, env=env or _clean_env()) as running:
        yield running


@pytest.fixture(scope="module")
def read_only_server(tmp_path_factory):
    """``autolab serve`` with its two keys in AUTOLAB_SERVE_API_KEY and AUTOLAB_SERVE_READ_API_KEY (not on its command line)."""
    folder = tmp_path_factory.mktemp("served") / "catalog"
    env = _clean_env(AUTOLAB_SERVE_API_KEY=API_KEY, AUTOLAB_SERVE_READ_API_KEY=READ_KEY)
    with served(folder, env=env) as (uri, first, proc):
        second = proc.stdout.readline()
        yield uri, [first.rstrip("\n"), second.rstrip("\n")], proc


@pytest.fixture(scope="module")
def secure_queue(tmp_path_factory):
    """``autolab queue start --encrypt --http`` on a fresh catalog; stopped after, its PIDs checked gone."""
    root = tmp_path_factory.mktemp("secure-queue")
    directory, port = root / "queue", free_port()
    started = autolab("queue", "start", "--catalog", str(root / "catalog"), "--dir", str(directory), "--encrypt", "--http",
                      "--http-port", str(port), data_home=root / "data")
    assert started.returncode == 0, started.stderr
    state = load_state(directory)
    yield state, started, root
    stopped = autolab("queue", "stop", "--dir", str(directory), data_home=root / "data")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout == f"stopped RE Manager {state.manager_pid}, the HTTP server {state.http_pid} and Redis {state.redis_pid}\n"
    time.sleep(0.5)
    for pid in (state.manager_pid, state.http_pid, state.redis_pid):
        assert exited(pid), pid


def queued(state) -> list[str]:
    """The uids of the items in RE Manager's queue, asked over ZMQ by autolab's client in a process of its own.

    A new client has no cached queue; and bluesky-queueserver-api's ``close()`` leaves its ZMQ
    contexts to the garbage collector, whose warning would land in whichever test runs then.
    """
    code = textwrap.dedent(
        f"""
        import json
        from autolab.queue import load_state, manager_api
        api = manager_api(load_state({state.directory!r}))
        print(json.dumps([item["item_uid"] for item in api.queue_get()["items"]]))
        api.close()
        """
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.splitlines()[-1])


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _headers(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Apikey {key}"} if key else {}


# --------------------------------------------------------------------------------------------
# tiled: a key that writes, a key that only reads, nothing without a key


@pytest.mark.slow
def test_served_catalog_reads_with_the_read_only_key_and_refuses_its_writes(read_only_server, tmp_path, monkeypatch):
    uri, lines, _ = read_only_server
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data-home"))
    monkeypatch.delenv("TILED_API_KEY", raising=False)
    # The keys came from the environment: the lines name the variables and print neither key.
    assert lines[0].endswith(f"clients use --catalog {uri} with TILED_API_KEY set to the key in AUTOLAB_SERVE_API_KEY (Ctrl-C stops)")
    assert lines[1] == "viewers read, and cannot write, with TILED_API_KEY set to the key in AUTOLAB_SERVE_READ_API_KEY"
    assert API_KEY not in " ".join(lines)
    assert READ_KEY not in " ".join(lines)

    documents = sim_run_documents()
    uid = documents[0][1]["uid"]
    with journaled_writer(uri) as writer:  # the key that writes
        for name, doc in documents:
            writer(name, doc)
        writer.flush()

    viewer = open_catalog(uri, api_key=READ_KEY)
    try:
        run = viewer[uid]
        assert run.metadata["stop"]["exit_status"] == "success"
        assert len(run.primary.read()["det"]) == 3
        with pytest.raises(Exception, match=r"401: Not enough permissions\. Requires scopes"):  # tiled's own scope check
            viewer.create_container("written-by-a-viewer")
    finally:
        viewer.context.close()

    with httpx.Client(base_url=f"{uri}/api/v1", timeout=60) as http:
        node = f"/metadata/{uid}"
        assert {key: http.get(node, headers=_headers(key)).status_code for key in (None, "wrongkey", READ_KEY, API_KEY)} == {
            None: 401, "wrongkey": 401, READ_KEY: 200, API_KEY: 200,
        }
        new = {"id": "security-check", "ancestors": [], "metadata": {}, "structure_family": "container", "specs": [], "data_sources": []}
        for key in (None, "wrongkey", READ_KEY):
            refused = http.post("/metadata/", headers=_headers(key), json=new)
            assert refused.status_code == 401, (key, refused.text)
        assert "Requires scopes ['write:metadata', 'create:node']" in refused.json()["detail"]
        assert http.post("/metadata/", headers=_headers(API_KEY), json=new).status_code == 200
        assert http.delete("/metadata/security-check", headers=_headers(READ_KEY)).status_code == 401
        assert http.delete("/metadata/security-check", headers=_headers(API_KEY)).status_code == 200
        assert http.get("/metadata/security-check", headers=_headers(API_KEY)).status_code == 404
        # What answers without a key: tiled's description of itself, no runs and no metadata.
        about = http.get("/")
        assert about.status_code == 200
        assert uid not in about.text
        assert http.get("/search/").status_code == 401

    # autolab's client: a wrong or missing key is a CatalogError of one line naming the server and the variable to set
    # (in a process of its own: tiled's client leaves the refused connection to the garbage collector).
    code = textwrap.dedent(
        f"""
        import json
        from autolab.catalog import open_catalog
        from autolab.errors import CatalogError
        messages = []
        for key in ("wrongkey", None):
            try:
                open_catalog({uri!r}, api_key=key)
            except CatalogError as exc:
                messages.append(str(exc))
        print(json.dumps(messages))
        """
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.splitlines()[-1]) == [
        f"the tiled server at {uri} needs an API key and the API key was refused; set TILED_API_KEY to the key `autolab serve` printed",
        f"the tiled server at {uri} needs an API key and no API key was given; set TILED_API_KEY to the key `autolab serve` printed",
    ]
    listed = autolab("runs", "--catalog", uri, key=READ_KEY, data_home=tmp_path / "data-home")
    assert listed.returncode == 0, listed.stderr
    assert uid[:8] in listed.stdout
    wrong_cli = autolab("runs", "--catalog", uri, key="wrongkey", data_home=tmp_path / "data-home")
    assert wrong_cli.returncode == 2
    assert wrong_cli.stderr.count("\n") == 1
    assert "autolab: error: the tiled server at" in wrong_cli.stderr
    # a writer holding the viewers' key is one line before the point starts, and nothing is written
    before = _count_runs(uri)
    measured = autolab("measure", "--nucleation-temperature-c", "280", "--growth-temperature-c", "280",
                       "--residence-time-s", "14", "--catalog", uri, key=READ_KEY, data_home=tmp_path / "data-home")
    assert measured.returncode == 2, measured.stderr
    assert measured.stderr == (
        f"autolab: error: the tiled server at {uri} refused a write (HTTP 401): the API key in TILED_API_KEY can only read "
        "there; writing needs the key `autolab serve` printed (or its AUTOLAB_SERVE_API_KEY)\n"
    )
    assert _count_runs(uri) == before


def _count_runs(uri: str) -> int:
    """The runs of the served catalog, counted with the writers' key (the client closed after)."""
    client = open_catalog(uri, api_key=API_KEY)
    try:
        return len(client)
    finally:
        client.context.close()


@pytest.mark.slow
def test_serve_checks_its_keys_in_one_line(tmp_path):
    port = str(free_port())
    same = autolab("serve", "--catalog", str(tmp_path / "c"), "--port", port, "--api-key", API_KEY, "--read-api-key", API_KEY, timeout=120)
    assert same.returncode == 2
    assert same.stderr == "autolab: error: --read-api-key is the same as --api-key; a read-only key must differ from the key that writes\n"
    bad = autolab("serve", "--catalog", str(tmp_path / "c"), "--port", port, "--api-key", API_KEY, "--read-api-key", "read only!",
                  timeout=120)
    assert bad.returncode == 2
    assert bad.stderr == "autolab: error: --read-api-key='read only!' is not a valid API key; use letters and digits only\n"
    from_env = subprocess.run(
        [sys.executable, "-m", "autolab", "serve", "--catalog", str(tmp_path / "c"), "--port", port],
        capture_output=True, text=True, timeout=120, check=False, env=_clean_env(AUTOLAB_SERVE_API_KEY="not-a-key"),
    )
    assert from_env.returncode == 2
    assert from_env.stderr == ("autolab: error: AUTOLAB_SERVE_API_KEY='not-a-key' is not a valid API key; "
                               "use letters and digits only\n")
    assert not (tmp_path / "c").exists()  # refused before the catalog is made


# --------------------------------------------------------------------------------------------
# The queue: CURVE on the control socket, bluesky-httpserver with an API key


@pytest.mark.slow
def test_encrypted_queue_talks_to_holders_of_its_public_key_only(secure_queue, tmp_path):
    state, started, root = secure_queue
    directory = Path(state.directory)
    assert state.encrypted
    assert state.zmq_control_addr.startswith("tcp://127.0.0.1:")
    public = (directory / PUBLIC_KEY_FILE).read_text().strip()
    private = (directory / PRIVATE_KEY_FILE).read_text().strip()
    assert len(public) == len(private) == 40
    assert _mode(directory / PUBLIC_KEY_FILE) == _mode(directory / PRIVATE_KEY_FILE) == 0o600
    # The shell lines read the key from its file; neither key is printed.
    assert started.stdout.splitlines()[-1] == f'export QSERVER_ZMQ_PUBLIC_KEY="$(cat {directory / PUBLIC_KEY_FILE})"'
    assert public not in started.stdout + started.stderr
    assert private not in started.stdout + started.stderr
    manager_env = Path(f"/proc/{state.manager_pid}/environ")
    assert _mode(manager_env) == 0o400  # the private key reaches RE Manager in its environment, which only its owner reads

    # autolab's own clients find the public key in the queue directory.
    status = autolab("queue", "status", "--dir", str(directory), "--json", data_home=root / "data")
    assert status.returncode == 0, status.stderr
    info = json.loads(status.stdout)
    assert info["encrypted"] is True
    assert info["manager"]["worker_environment_exists"] is True
    assert info["http_alive"] is True

    # qserver with the printed lines works; without the public key RE Manager does not answer it.
    qserver = str(Path(sys.executable).parent / "qserver")
    with_key = subprocess.run(["bash", "-c", f'eval "$({sys.executable} -m autolab queue env --dir {directory})"; {qserver} status'],
                              capture_output=True, text=True, timeout=120, check=False, env=_clean_env())
    assert with_key.returncode == 0, with_key.stdout + with_key.stderr
    assert "'manager_state': 'idle'" in with_key.stdout
    without = subprocess.run([qserver, "status"], capture_output=True, text=True, timeout=120, check=False,
                             env=_clean_env(QSERVER_ZMQ_CONTROL_ADDRESS=state.zmq_control_addr))
    assert without.returncode != 0
    assert "ZMQ communication error" in without.stdout + without.stderr  # a timeout, or "Resource temporarily unavailable"

    # A client elsewhere holds the queue's record but not the key: one line saying what to copy or set.
    remote = tmp_path / "remote"
    remote.mkdir()
    record = json.loads((directory / "queue.json").read_text())
    (remote / "queue.json").write_text(json.dumps({**record, "directory": str(remote)}))
    no_key = subprocess.run([sys.executable, "-m", "autolab", "queue", "status", "--dir", str(remote)],
                            capture_output=True, text=True, timeout=120, check=False, env=_clean_env())
    assert no_key.returncode == 2
    assert no_key.stderr == (
        f"autolab: error: the queue at {state.zmq_control_addr} encrypts its control socket (autolab queue start --encrypt) "
        f"and this client has no public key: {remote / PUBLIC_KEY_FILE} cannot be read (No such file or directory); "
        "copy that file from the queue's machine or set QSERVER_ZMQ_PUBLIC_KEY to its content\n"
    )
    import zmq

    other_key = zmq.curve_keypair()[0].decode()
    wrong_key = subprocess.run([sys.executable, "-m", "autolab", "queue", "plans", "--dir", str(remote)], capture_output=True, text=True,
                               timeout=120, check=False, env=_clean_env(QSERVER_ZMQ_PUBLIC_KEY=other_key))
    assert wrong_key.returncode == 2
    assert wrong_key.stderr.count("\n") == 1
    assert wrong_key.stderr.startswith(f"autolab: error: RE Manager PID {state.manager_pid} does not answer at {state.zmq_control_addr}")
    assert wrong_key.stderr.endswith(f"its control socket is encrypted, so the public key this client uses ({remote / PUBLIC_KEY_FILE}, "
                                     "else QSERVER_ZMQ_PUBLIC_KEY) must be the queue's\n")
    right_key = subprocess.run([sys.executable, "-m", "autolab", "queue", "plans", "measure_point", "--dir", str(remote)],
                               capture_output=True, text=True, timeout=120, check=False, env=_clean_env(QSERVER_ZMQ_PUBLIC_KEY=public))
    assert right_key.returncode == 0, right_key.stderr
    assert right_key.stdout.startswith("Name: measure_point")

    # A copy of queue.json as it is (its "directory" the queue's own folder) reads the key copied beside it, not the queue's.
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "queue.json").write_text((directory / "queue.json").read_text())
    (copy / PUBLIC_KEY_FILE).write_text(other_key + "\n")
    copied_wrong = subprocess.run([sys.executable, "-m", "autolab", "queue", "plans", "--dir", str(copy)], capture_output=True,
                                  text=True, timeout=120, check=False, env=_clean_env())
    assert copied_wrong.returncode == 2
    assert f"the public key this client uses ({copy / PUBLIC_KEY_FILE}, else QSERVER_ZMQ_PUBLIC_KEY)" in copied_wrong.stderr
    (copy / PUBLIC_KEY_FILE).write_text(public + "\n")
    copied_right = subprocess.run([sys.executable, "-m", "autolab", "queue", "plans", "measure_point", "--dir", str(copy)],
                                  capture_output=True, text=True, timeout=120, check=False, env=_clean_env())
    assert copied_right.returncode == 0, copied_right.stderr


@pytest.mark.slow
def test_http_server_answers_only_requests_with_its_api_key(secure_queue):
    from bluesky_queueserver_api import BPlan
    from bluesky_queueserver_api.http import REManagerAPI as HTTPManagerAPI

    state, started, _ = secure_queue
    key_file = Path(state.directory) / HTTP_KEY_FILE
    key = key_file.read_text().strip()
    assert _mode(key_file) == 0o600
    assert len(key) == 64
    assert state.http_address.startswith("http://127.0.0.1:")
    assert started.stderr.splitlines()[-1] == (
        f"# HTTP server PID {state.http_pid} at {state.http_address}; send 'Authorization: ApiKey KEY' with the key in {key_file}"
    )
    assert key not in started.stdout + started.stderr
    # bluesky-httpserver logs its settings, the key among them: the queue's logs are its owner's only.
    assert key in (Path(state.directory) / "http.log").read_text()
    assert {name: _mode(Path(state.directory) / name) for name in ("http.log", "manager.log", "redis.log")} == dict.fromkeys(
        ("http.log", "manager.log", "redis.log"), 0o600)

    item = {"item": {"name": "measure_point", "args": ["reactor", 280, 280, 14.0], "item_type": "plan"}}
    before = len(queued(state))
    with httpx.Client(base_url=f"{state.http_address}/api", timeout=60) as http:
        for wrong in (None, "wrongkey"):
            refused = http.get("/status", headers=_headers(wrong))
            assert refused.status_code == 401, refused.text
            refused = http.post("/queue/item/add", headers=_headers(wrong), json=item)
            assert refused.status_code == 401, refused.text
        assert len(queued(state)) == before
        status = http.get("/status", headers={"Authorization": f"ApiKey {key}"})
        assert status.status_code == 200
        assert status.json()["worker_environment_exists"] is True
        added = http.post("/queue/item/add", headers={"Authorization": f"ApiKey {key}"}, json=item)
        assert added.status_code == 200, added.text
        assert added.json()["success"] is True, added.text
        uid = added.json()["item"]["item_uid"]
        # The item is in RE Manager's queue, as its ZMQ clients see it; a bad one is refused through HTTP too.
        assert queued(state)[-1] == uid
        bad = http.post("/queue/item/add", headers={"Authorization": f"ApiKey {key}"},
                        json={"item": {"name": "measure_point", "args": ["reactor", 400, 280, 14.0], "item_type": "plan"}})
        assert bad.json()["success"] is False
        assert "Value 400 is out of range [20, 350]" in bad.json()["msg"]
        removed = http.post("/queue/item/remove", headers={"Authorization": f"ApiKey {key}"}, json={"uid": uid})
        assert removed.json()["success"] is True, removed.text
    assert len(queued(state)) == before
    # bluesky-queueserver-api's HTTP client with the key, as docs/security.md shows it.
    remote = HTTPManagerAPI(http_server_uri=state.http_address, http_auth_provider=None)
    try:
        remote.set_authorization_key(api_key=key)
        added = remote.item_add(BPlan("measure_point", "reactor", 280, 280, 14.0))
        assert len(remote.queue_get()["items"]) == before + 1
        remote.item_remove(uid=added["item"]["item_uid"])
    finally:
        remote.close()
    assert len(queued(state)) == before


@pytest.mark.slow
def test_queue_start_refuses_open_or_bad_network_options_at_once(tmp_path):
    queue_dir = str(tmp_path / "queue")
    cases = {
        ("--zmq-host", "0.0.0.0"): "--zmq-host=0.0.0.0 opens RE Manager's control socket beyond this machine; add --encrypt, "
                                   "or keep the default 127.0.0.1 and let remote users in through --http",
        ("--http", "--http-port", "70000"): "--http-port=70000 is outside the allowed range 1–65535",
        ("--http-port", "8001"): "--http-port is given without --http; add --http to start the HTTP server",
    }
    for args, message in cases.items():
        result = autolab("queue", "start", "--dir", queue_dir, *args, data_home=tmp_path / "data", timeout=120)
        assert result.returncode == 2, result.stderr
        assert result.stderr == f"autolab: error: {message}\n"
    elsewhere = autolab("queue", "start", "--dir", queue_dir, "--http", "--http-host", "192.0.2.1", data_home=tmp_path / "data")
    assert elsewhere.returncode == 2
    assert elsewhere.stderr.startswith("autolab: error: --http-host=192.0.2.1: not an address of this machine")
    assert not (tmp_path / "queue").exists()  # nothing started, nothing recorded


def _hold_in_time_wait(port: int) -> socket.socket:
    """Leave a closed outgoing connection from local ``port`` in TIME_WAIT; the listener it talked to is returned."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = socket.socket()
    client.bind(("127.0.0.1", port))
    client.connect(listener.getsockname())
    accepted, _ = listener.accept()
    client.close()  # the side that closes first keeps the TIME_WAIT
    time.sleep(0.1)
    accepted.close()
    return listener


def test_an_http_port_held_by_a_closed_connection_is_refused_at_once_with_why(tmp_path):
    """A port is taken for a minute by a closed outgoing connection, which nothing listens on: the bind check sees it."""
    port = free_port()  # from the range outgoing connections use, as bluesky-httpserver's default 60610 is on Linux
    listener = _hold_in_time_wait(port)
    try:
        result = autolab("queue", "start", "--dir", str(tmp_path / "queue"), "--http", "--http-port", str(port),
                         data_home=tmp_path / "data", timeout=120)
    finally:
        listener.close()
    assert result.returncode == 2, result.stderr
    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    assert result.stderr == (
        f"autolab: error: --http-port={port}: 127.0.0.1:{port} is in use (a server listens there, or a closed connection "
        f"holds it for up to a minute); choose another port with --http-port; {port} lies in the range this machine gives "
        f"outgoing connections ({low}–{high}), a port below {low} is never given to one\n"
    )
    assert not (tmp_path / "queue").exists()  # nothing started, nothing recorded


def test_queue_keys_are_made_once_kept_owner_only_and_checked(tmp_path):
    public, private = zmq_keys(tmp_path)
    assert zmq_keys(tmp_path) == (public, private)  # a restart keeps the pair its clients hold
    assert _mode(tmp_path / PRIVATE_KEY_FILE) == _mode(tmp_path / PUBLIC_KEY_FILE) == 0o600
    key = http_api_key(tmp_path)
    assert http_api_key(tmp_path) == key
    assert key.isalnum()
    assert _mode(tmp_path / HTTP_KEY_FILE) == 0o600
    (tmp_path / HTTP_KEY_FILE).chmod(0o644)
    (tmp_path / HTTP_KEY_FILE).write_text("mylabkey42\n")  # a key of the operator's choosing is used as it is
    assert http_api_key(tmp_path) == "mylabkey42"
    assert _mode(tmp_path / HTTP_KEY_FILE) == 0o600
    (tmp_path / HTTP_KEY_FILE).write_text("not a key\n")
    with pytest.raises(AutolabError, match=f"{tmp_path / HTTP_KEY_FILE} holds no valid API key"):
        http_api_key(tmp_path)
    (tmp_path / PRIVATE_KEY_FILE).write_text("short\n")
    with pytest.raises(AutolabError, match=f"{tmp_path / PRIVATE_KEY_FILE} does not hold a ZMQ private key"):
        zmq_keys(tmp_path)


# --------------------------------------------------------------------------------------------
# Nothing listens beyond this machine by default


@pytest.mark.slow
def test_default_queue_and_server_listen_on_loopback_only(tmp_path, secure_queue, read_only_server):
    """`autolab queue start` and `autolab serve` with their default options (and a free port for the server)."""
    data = tmp_path / "data"
    started = autolab("queue", "start", data_home=data)
    assert started.returncode == 0, started.stderr
    state = load_state(data / "autolab" / "queue")
    try:
        with served(tmp_path / "catalog") as (uri, _, server):
            queue_sockets = assert_listens_only_on_loopback([state.manager_pid, state.redis_pid], "autolab queue start")
            server_sockets = assert_listens_only_on_loopback([server.pid], "autolab serve")
    finally:
        stopped = autolab("queue", "stop", data_home=data)
        assert stopped.returncode == 0, stopped.stderr
    # The servers it should have are among the sockets seen: Redis, RE Manager's control and info sockets, tiled.
    ports = {listener.port for listener in queue_sockets if listener.protocol == "tcp"}
    control, info = (int(address.rsplit(":", 1)[1]) for address in (state.zmq_control_addr, state.zmq_info_addr))
    assert {state.redis_port, control, info} <= ports
    assert int(uri.rsplit(":", 1)[1]) in {listener.port for listener in server_sockets}
    # With --encrypt --http, and with a read-only key, still nothing beyond loopback.
    secure_state = secure_queue[0]
    secure = assert_listens_only_on_loopback([secure_state.manager_pid, secure_state.redis_pid, secure_state.http_pid],
                                             "autolab queue start --encrypt --http")
    assert int(secure_state.http_address.rsplit(":", 1)[1]) in {listener.port for listener in secure}
    assert_listens_only_on_loopback([read_only_server[2].pid], "autolab serve --read-api-key")
