"""RYMI_LLM_WORKERS: several proxy processes on one port, one server to the outside.

Against the fault double (tests/llm/fault_upstream.py): the kernel spreads connections
over the workers, /metrics reports all of them together whichever one answers the
scrape, and SIGTERM drains every worker. Deaths and replacements:
test_worker_deaths.py; the edges: test_workers_edges.py.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.llm.fault_upstream import FaultUpstream
from tests.llm.workers_util import (
    established,
    metrics_dir,
    wait_all_ready,
    workers_env,
)
from tests.support.servers import (
    RunningServer,
    child_pids,
    metric,
    settled_metric,
    start_server,
)


@pytest.fixture(scope="module")
def workers(fault_upstream: FaultUpstream) -> Iterator[RunningServer]:
    server = start_server("servers.llm", env=workers_env(fault_upstream), ready_timeout=120)
    wait_all_ready(server)
    yield server
    server.stop()


def test_a_metrics_file_caught_empty_fails_no_scrape(workers: RunningServer) -> None:
    """A worker's metric file is 0 bytes between its creation and its sizing, and stays
    so if the worker is SIGKILLed in that instant (seen in CI): prometheus_client's
    collector answered every scrape after it with a 500. The file holds no samples yet;
    the scrape reports everyone else's."""
    empty = metrics_dir(workers) / "counter_999999.db"
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
        held = {pid: established(pid, workers.port) for pid in pids}
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
    settled_metric(workers, "rymi_requests_total", before + 32, **label)  # (each at its end)
    settled_metric(workers, "rymi_inflight", 0.0, channel="custom-llm")
    for _ in range(6):  # (each metric() is a scrape on a new connection)
        assert metric(workers, "rymi_requests_total", **label) == before + 32
        assert metric(workers, "rymi_inflight", channel="custom-llm") == 0.0
    assert len([r for r in workers.usage_records() if r.get("status") == 200]) >= 16


def test_max_inflight_is_the_servers_limit_not_each_workers(
        fault_upstream: FaultUpstream) -> None:
    """16 simultaneous streams on connections held by both workers, a limit of 3: exactly
    3 are admitted, whichever worker each lands on (counted per worker, each admitting its
    part, a worker could refuse while the other had room, or the two admit more)."""
    server = start_server("servers.llm", env=workers_env(fault_upstream, RYMI_LLM_MAX_INFLIGHT="3"),
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
        wait_all_ready(server)
        for c in clients:
            c.get(f"{server.url}/v1/models", timeout=10).raise_for_status()
        held = [established(pid, server.port) for pid in child_pids(server.proc.pid)]
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
        assert settled_metric(server, "rymi_requests_total", 13, channel="custom-llm",
                              status="503") == 13
        deadline = time.monotonic() + 10  # (each written at its handler's end)
        while len(refused := [u for u in server.usage_records()
                              if u.get("error") == "over_capacity"]) < 13 and \
                time.monotonic() < deadline:
            time.sleep(0.05)
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
    server = start_server("servers.llm", env=workers_env(fault_upstream, RYMI_LLM_DRAIN_TIMEOUT_S="3"),
                          ready_timeout=120, new_session=to == "group")
    wait_all_ready(server)
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
    server = start_server("servers.llm", env=workers_env(fault_upstream, RYMI_LLM_DRAIN_TIMEOUT_S="10"),
                          ready_timeout=120)
    wait_all_ready(server)
    pids = child_pids(server.proc.pid)
    with httpx.Client() as client:
        body = {"model": "x", "stream": True,
                "messages": [{"role": "user", "content": "fault:hold"}]}
        with client.stream("POST", f"{server.url}/v1/chat/completions", json=body,
                           timeout=30) as r:
            lines = r.iter_lines()  # (kept: a dropped iterator closes the response)
            assert next(lines).startswith("data: ")
            deadline = time.monotonic() + 5
            while not (holders := [p for p in pids if established(p, server.port)]):
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
