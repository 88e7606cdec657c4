"""RYMI_LLM_WORKERS when a worker dies: replaced (and what it had counted in taken back),
a crash loop stops the server, a worker that cannot start is not replaced.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx
import pytest

from servers.common.workers import MAX_RESTARTS
from tests.llm.fault_upstream import FaultUpstream
from tests.llm.workers_util import (
    chat_when_free,
    established,
    gone,
    replacement,
    status_of,
    wait_all_ready,
    workers_env,
)
from tests.support.servers import (
    REPO,
    child_pids,
    free_port,
    metric,
    refused_port,
    settled_metric,
    start_server,
)


def test_a_dead_worker_is_replaced_and_its_requests_counted_out(
        fault_upstream: FaultUpstream) -> None:
    """A limit of 1, held by a stream on one worker; SIGKILL that worker. Its replacement
    comes up on the same port, the other worker serves on, and the limit is free again:
    left counted in, the dead worker's stream would refuse every request from now on."""
    server = start_server("servers.llm", env=workers_env(fault_upstream, RYMI_LLM_MAX_INFLIGHT="1"),
                          ready_timeout=120)
    try:
        wait_all_ready(server)
        pids = child_pids(server.proc.pid)
        body = {"model": "x", "stream": True,
                "messages": [{"role": "user", "content": "fault:hold"}]}
        with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=body,
                          timeout=30) as r:
            assert r.status_code == 200
            lines = r.iter_lines()
            assert next(lines).startswith("data: ")
            _, mine = r.extensions["network_stream"].get_extra_info("client_addr")
            holder = next(p for p in pids if established(p, server.port, mine))
            other = next(p for p in pids if p != holder)
            # The limit is taken, whichever worker a new request reaches.
            assert status_of(server.url) == 503
            os.kill(holder, signal.SIGKILL)
            with pytest.raises(httpx.HTTPError):  # cut off mid-stream
                for _ in lines:
                    pass
        new = replacement(server, holder, set(pids))
        wait_all_ready(server)
        assert other in child_pids(server.proc.pid)
        for _ in range(4):  # new connections, spread over both workers
            assert chat_when_free(server.url)[-1] == "data: [DONE]"
        assert settled_metric(server, "rymi_inflight", 0.0, channel="custom-llm") == 0.0
        assert metric(server, "rymi_worker_restarts_total") == 1.0
        assert (f"worker {holder} exited with -9, 1 request in flight lost with it; "
                f"started worker {new} in its place") in server.logs()
    finally:
        server.stop()


def test_a_crash_loop_stops_the_server(fault_upstream: FaultUpstream) -> None:
    """Replacing workers that keep dying would hide the fault: past MAX_RESTARTS deaths
    in the window the server stops, exit 1, and takes the other worker with it."""
    server = start_server("servers.llm", env=workers_env(fault_upstream), ready_timeout=120)
    wait_all_ready(server)
    victim, other = child_pids(server.proc.pid)
    known = {victim, other}
    for _ in range(MAX_RESTARTS):
        os.kill(victim, signal.SIGKILL)
        victim = replacement(server, victim, known)
    os.kill(victim, signal.SIGKILL)
    assert server.proc.wait(30) == 1
    assert f"{MAX_RESTARTS} workers replaced in the last 60 s already" in server.logs()
    assert gone(other), "the other worker was left serving"


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
    # The other worker failed alike (or was stopped first): it served nothing, and was
    # said as a death with requests "lost with it" too.
    assert "lost with it" not in logs, logs[-3000:]


def test_workers_refused_for_the_in_process_engine() -> None:
    env = {**os.environ, "RYMI_LLM_WORKERS": "2", "RYMI_LLM_BACKEND": "vllm",
           "RYMI_LLM_PORT": str(free_port())}
    done = subprocess.run([sys.executable, "-m", "servers.llm"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    # named as set, the same word in prose left alone ("the vllm backend holds")
    assert "RYMI_LLM_WORKERS > 1 needs RYMI_LLM_BACKEND=upstream (the vllm backend holds" \
        in done.stderr, done.stderr
