"""RYMI_LLM_WORKERS: several proxy processes on one port, one server to the outside.

Against the fault double (tests/llm/fault_upstream.py): the kernel spreads connections
over the workers, /metrics reports all of them together whichever one answers the
scrape, SIGTERM drains every worker, a dead worker is replaced (and what it had counted
in taken back), and a worker that cannot be replaced usefully takes the server down.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from servers.common.workers import MAX_RESTARTS
from tests.llm.fault_upstream import FaultUpstream
from tests.support.servers import (
    REPO,
    RunningServer,
    child_pids,
    free_port,
    metric,
    refused_port,
    start_server,
)


def _env(upstream: FaultUpstream, **extra: str) -> dict[str, str]:
    return {"RYMI_LLM_BACKEND": "upstream", "RYMI_LLM_UPSTREAM_URL": upstream.url,
            "RYMI_LLM_TOKENS": "", "RYMI_LLM_WORKERS": "2", **extra}


@pytest.fixture(scope="module")
def workers(fault_upstream: FaultUpstream) -> Iterator[RunningServer]:
    server = start_server("servers.llm", env=_env(fault_upstream), ready_timeout=120)
    _wait_all_ready(server)
    yield server
    server.stop()


def _established(pid: int, port: int, peer_port: int | None = None) -> int:
    """Server-side TCP connections on ``port`` that process ``pid`` holds (only those
    from ``peer_port``, if given)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if int(f[1].rsplit(":", 1)[1], 16) == port and f[3] == "01" and f[9] in inodes \
                    and peer_port in (None, int(f[2].rsplit(":", 1)[1], 16)):
                count += 1
    return count


def _wait_all_ready(server: RunningServer) -> None:
    """/readyz answers for whichever worker it reached; rymi_ready is the least of them."""
    deadline = time.monotonic() + 60
    while metric(server, "rymi_ready", channel="custom-llm") != 1.0 or \
            len(child_pids(server.proc.pid)) != 2:
        assert time.monotonic() < deadline, server.logs()[-3000:]
        time.sleep(0.2)


def _metrics_dir(server: RunningServer) -> Path:
    """The workers' shared metrics folder, from a worker's environment."""
    environ = Path(f"/proc/{child_pids(server.proc.pid)[0]}/environ").read_bytes()
    env = dict(v.split(b"=", 1) for v in environ.split(b"\0") if b"=" in v)
    return Path(env[b"PROMETHEUS_MULTIPROC_DIR"].decode())


def test_a_metrics_file_caught_empty_fails_no_scrape(workers: RunningServer) -> None:
    """A worker's metric file is 0 bytes between its creation and its sizing, and stays
    so if the worker is SIGKILLed in that instant (seen in CI): prometheus_client's
    collector answered every scrape after it with a 500. The file holds no samples yet;
    the scrape reports everyone else's."""
    empty = _metrics_dir(workers) / "counter_999999.db"
    empty.touch()
    try:
        r = httpx.get(f"{workers.url}/metrics", timeout=10)
        assert r.status_code == 200, r.text[-2000:]
        assert 'rymi_ready{channel="custom-llm"} 1.0' in r.text
    finally:
        empty.unlink()


def _chat(url: str, content: str, client: httpx.Client) -> list[str]:
    body = {"model": "x", "stream": True, "messages": [{"role": "user", "content": content}]}
    with client.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=30) as r:
        assert r.status_code == 200, r.read()
        return [line for line in r.iter_lines() if line.startswith("data: ")]


def test_two_workers_share_the_port_and_report_together(workers: RunningServer) -> None:
    pids = child_pids(workers.proc.pid)
    assert len(pids) == 2
    label = {"channel": "custom-llm", "kind": "http", "status": "200"}
    before = metric(workers, "rymi_requests_total", **label)

    # 16 connections held open at once: SO_REUSEPORT hashes each to one worker's socket.
    clients = [httpx.Client() for _ in range(16)]
    try:
        for c in clients:
            c.get(f"{workers.url}/v1/models", timeout=10).raise_for_status()
        held = {pid: _established(pid, workers.port) for pid in pids}
        assert sum(held.values()) == 16 and all(held.values()), held

        results: list[list[str]] = [[] for _ in clients]

        def one(i: int) -> None:
            results[i] = _chat(workers.url, "fault:ok", clients[i])

        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(clients))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for c in clients:
            c.close()
    for events in results:
        assert events[-1] == "data: [DONE]"
        assert json.loads(events[0][6:])["choices"][0]["delta"]["role"] == "assistant"

    # Every scrape, whichever worker answers it, counts every worker's requests: the 16
    # GET /v1/models that opened the connections and the 16 streams.
    for _ in range(6):  # (each metric() is a scrape on a new connection)
        assert metric(workers, "rymi_requests_total", **label) == before + 32
        assert metric(workers, "rymi_inflight", channel="custom-llm") == 0.0
    assert len([r for r in workers.usage_records() if r.get("status") == 200]) >= 16


def test_max_inflight_is_the_servers_limit_not_each_workers(
        fault_upstream: FaultUpstream) -> None:
    """16 simultaneous streams on connections held by both workers, a limit of 3: exactly
    3 are admitted, whichever worker each lands on (counted per worker, each admitting its
    part, a worker could refuse while the other had room, or the two admit more)."""
    server = start_server("servers.llm", env=_env(fault_upstream, RYMI_LLM_MAX_INFLIGHT="3"),
                          ready_timeout=120)
    clients = [httpx.Client() for _ in range(16)]
    release = threading.Event()
    statuses: list[int] = []
    lock = threading.Lock()

    def hold(client: httpx.Client) -> None:
        body = {"model": "x", "stream": True,
                "messages": [{"role": "user", "content": "fault:hold"}]}
        with client.stream("POST", f"{server.url}/v1/chat/completions", json=body,
                           timeout=30) as r:
            lines = r.iter_lines()  # (kept: a dropped iterator closes the response)
            if r.status_code == 200:
                assert next(lines).startswith("data: ")
            else:
                assert json.loads(r.read())["error"]["code"] == "over_capacity"
            with lock:
                statuses.append(r.status_code)
            if r.status_code == 200:
                release.wait(30)  # held in flight until every answer is in

    try:
        _wait_all_ready(server)
        for c in clients:
            c.get(f"{server.url}/v1/models", timeout=10).raise_for_status()
        held = [_established(pid, server.port) for pid in child_pids(server.proc.pid)]
        assert sum(held) == 16 and all(held), held  # both workers hold connections
        threads = [threading.Thread(target=hold, args=(c,), daemon=True) for c in clients]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(statuses) < 16:
            assert time.monotonic() < deadline, (statuses, server.logs()[-3000:])
            time.sleep(0.05)
        assert sorted(statuses) == [200] * 3 + [503] * 13, statuses
        # The refused are finished requests too: counted with their status, one usage
        # record each saying why.
        assert metric(server, "rymi_requests_total", channel="custom-llm",
                      status="503") == 13
        refused = [u for u in server.usage_records() if u.get("error") == "over_capacity"]
        assert [u["status"] for u in refused] == [503] * 13
        release.set()
        for t in threads:
            t.join(30)
        deadline = time.monotonic() + 10
        while metric(server, "rymi_inflight", channel="custom-llm") != 0.0:
            assert time.monotonic() < deadline, "admitted requests were never counted out"
            time.sleep(0.1)
        for c in clients[:3]:  # the whole limit is free again
            assert _chat(server.url, "fault:ok", c)[-1] == "data: [DONE]"
    finally:
        release.set()
        for c in clients:
            c.close()
        server.stop()


# "group": what systemd's default KillMode and a Ctrl-C do, a signal to every process of
# the group; a worker that got it from there and again from the supervisor took the
# second as "stop now" and cut every stream at once.
@pytest.mark.parametrize("to", ["supervisor", "group"])
def test_sigterm_drains_every_worker(fault_upstream: FaultUpstream, to: str) -> None:
    server = start_server("servers.llm", env=_env(fault_upstream, RYMI_LLM_DRAIN_TIMEOUT_S="3"),
                          ready_timeout=120, new_session=to == "group")
    _wait_all_ready(server)
    pids = child_pids(server.proc.pid)
    got: list[str] = []
    ended = threading.Event()

    def hold() -> None:  # a stream in flight: the drain lets it run up to the bound
        body = {"model": "x", "stream": True,
                "messages": [{"role": "user", "content": "fault:hold"}]}
        try:
            with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=body,
                              timeout=30) as r:
                for line in r.iter_lines():
                    got.append(line)
        except httpx.HTTPError:
            pass
        ended.set()

    threading.Thread(target=hold, daemon=True).start()
    deadline = time.monotonic() + 10
    while not any(line.startswith("data: ") for line in got):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    t0 = time.monotonic()
    if to == "group":
        os.killpg(server.proc.pid, signal.SIGTERM)
    else:
        server.signal(signal.SIGTERM)
    time.sleep(1.0)
    assert not ended.is_set(), "the in-flight stream was cut at once, not drained"
    assert server.proc.wait(20) == 0, server.logs()[-3000:]
    assert 2.5 < time.monotonic() - t0 < 15  # the drain bound (3 s), then the cut-off
    assert ended.wait(5)
    # Cut at the bound, the stream says so: one error event, no [DONE].
    events = [line for line in got if line.startswith("data: ")]
    assert json.loads(events[-1][6:])["error"]["code"] == "shutting_down", events[-3:]
    assert "data: [DONE]" not in events
    assert all(not Path(f"/proc/{pid}").exists() for pid in pids)


def test_a_worker_killed_while_draining_is_said_and_counted_out(
        fault_upstream: FaultUpstream) -> None:
    server = start_server("servers.llm", env=_env(fault_upstream, RYMI_LLM_DRAIN_TIMEOUT_S="10"),
                          ready_timeout=120)
    _wait_all_ready(server)
    pids = child_pids(server.proc.pid)
    with httpx.Client() as client:
        body = {"model": "x", "stream": True,
                "messages": [{"role": "user", "content": "fault:hold"}]}
        with client.stream("POST", f"{server.url}/v1/chat/completions", json=body,
                           timeout=30) as r:
            lines = r.iter_lines()  # (kept: a dropped iterator closes the response)
            assert next(lines).startswith("data: ")
            deadline = time.monotonic() + 5
            while not (holders := [p for p in pids if _established(p, server.port)]):
                assert time.monotonic() < deadline, (pids, child_pids(server.proc.pid))
                time.sleep(0.1)
            holder = holders[0]
            server.signal(signal.SIGTERM)
            time.sleep(0.5)
            os.kill(holder, signal.SIGKILL)
            deadline = time.monotonic() + 10
            line = f"worker {holder} exited with -9 while stopping, 1 request in flight lost"
            while line not in server.logs():
                assert time.monotonic() < deadline, server.logs()[-3000:]
                time.sleep(0.1)
            # (The line's count is what was taken back from the admission count.)
    assert server.proc.wait(30) == 1  # a worker died: not a clean stop


def _replacement(server: RunningServer, dead: int, known: set[int]) -> int:
    """The pid of the worker started in place of ``dead`` (any pid not in ``known``,
    which it is added to)."""
    deadline = time.monotonic() + 10
    while True:
        pids = child_pids(server.proc.pid)
        new = [p for p in pids if p not in known]
        if len(pids) == 2 and dead not in pids and new:
            known.add(new[0])
            return new[0]
        assert server.proc.poll() is None, server.logs()[-3000:]
        assert time.monotonic() < deadline, "no worker was started in the dead one's place"
        time.sleep(0.05)


def _gone(pid: int) -> bool:
    path = Path(f"/proc/{pid}/stat")
    try:
        return path.read_text().split()[2] == "Z"
    except OSError:
        return True


def test_a_dead_worker_is_replaced_and_its_requests_counted_out(
        fault_upstream: FaultUpstream) -> None:
    """A limit of 1, held by a stream on one worker; SIGKILL that worker. Its replacement
    comes up on the same port, the other worker serves on, and the limit is free again:
    left counted in, the dead worker's stream would refuse every request from now on."""
    server = start_server("servers.llm", env=_env(fault_upstream, RYMI_LLM_MAX_INFLIGHT="1"),
                          ready_timeout=120)
    try:
        _wait_all_ready(server)
        pids = child_pids(server.proc.pid)
        body = {"model": "x", "stream": True,
                "messages": [{"role": "user", "content": "fault:hold"}]}
        with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=body,
                          timeout=30) as r:
            assert r.status_code == 200
            lines = r.iter_lines()
            assert next(lines).startswith("data: ")
            _, mine = r.extensions["network_stream"].get_extra_info("client_addr")
            holder = next(p for p in pids if _established(p, server.port, mine))
            other = next(p for p in pids if p != holder)
            # The limit is taken, whichever worker a new request reaches.
            assert _status(server.url) == 503
            os.kill(holder, signal.SIGKILL)
            with pytest.raises(httpx.HTTPError):  # cut off mid-stream
                for _ in lines:
                    pass
        new = _replacement(server, holder, set(pids))
        _wait_all_ready(server)
        assert other in child_pids(server.proc.pid)
        for _ in range(4):  # new connections, spread over both workers
            assert _chat_when_free(server.url)[-1] == "data: [DONE]"
        assert metric(server, "rymi_inflight", channel="custom-llm") == 0.0
        assert metric(server, "rymi_worker_restarts_total") == 1.0
        assert (f"worker {holder} exited with -9, 1 request in flight lost with it; "
                f"started worker {new} in its place") in server.logs()
    finally:
        server.stop()


def _chat_when_free(url: str) -> list[str]:
    """One chat on a connection of its own, under a limit of 1. A 503 is retried for a
    while: the stream before may still be counted out by its worker after our client has
    read its end (seen in CI). A count the dead worker left would refuse it for good."""
    deadline = time.monotonic() + 10
    body = {"model": "x", "stream": True, "messages": [{"role": "user", "content": "fault:ok"}]}
    while True:
        with httpx.Client() as fresh, fresh.stream(
                "POST", f"{url}/v1/chat/completions", json=body, timeout=30) as r:
            if r.status_code == 503 and time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            assert r.status_code == 200, r.read()
            return [line for line in r.iter_lines() if line.startswith("data: ")]


def _status(url: str) -> int:
    body = {"model": "x", "messages": [{"role": "user", "content": "fault:ok"}]}
    return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=30).status_code


def test_a_crash_loop_stops_the_server(fault_upstream: FaultUpstream) -> None:
    """Replacing workers that keep dying would hide the fault: past MAX_RESTARTS deaths
    in the window the server stops, exit 1, and takes the other worker with it."""
    server = start_server("servers.llm", env=_env(fault_upstream), ready_timeout=120)
    _wait_all_ready(server)
    victim, other = child_pids(server.proc.pid)
    known = {victim, other}
    for _ in range(MAX_RESTARTS):
        os.kill(victim, signal.SIGKILL)
        victim = _replacement(server, victim, known)
    os.kill(victim, signal.SIGKILL)
    assert server.proc.wait(30) == 1
    assert f"{MAX_RESTARTS} workers replaced in the last 60 s already" in server.logs()
    assert _gone(other), "the other worker was left serving"


def test_a_worker_that_cannot_start_is_not_replaced() -> None:
    """A start-up failure (here the upstream's probe) would repeat in a replacement."""
    with refused_port() as port:
        server = start_server("servers.llm", wait_ready=False, env={
            "RYMI_LLM_BACKEND": "upstream", "RYMI_LLM_TOKENS": "", "RYMI_LLM_WORKERS": "2",
            "RYMI_LLM_UPSTREAM_URL": f"http://127.0.0.1:{port}/v1"})
        assert server.proc.wait(60) == 1
    logs = server.logs()
    assert "it could not start, and its replacement would not either" in logs
    assert "in its place" not in logs and "unreachable" in logs


def test_workers_refused_for_the_in_process_engine() -> None:
    env = {**os.environ, "RYMI_LLM_WORKERS": "2", "RYMI_LLM_BACKEND": "vllm",
           "RYMI_LLM_PORT": str(free_port())}
    done = subprocess.run([sys.executable, "-m", "servers.llm"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    # named as set, the same word in prose left alone ("the vllm backend holds")
    assert "RYMI_LLM_WORKERS > 1 needs RYMI_LLM_BACKEND=upstream (the vllm backend holds" \
        in done.stderr, done.stderr
