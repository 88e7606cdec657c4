"""Helpers for the RYMI_LLM_WORKERS tests: the environment, the workers' pids and
connections read from /proc, and waits for readiness or a replacement."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx

from tests.llm.fault_upstream import FaultUpstream
from tests.support.servers import (
    RunningServer,
    child_pids,
    metric,
)


def workers_env(upstream: FaultUpstream, **extra: str) -> dict[str, str]:
    return {"RYMI_LLM_BACKEND": "upstream", "RYMI_LLM_UPSTREAM_URL": upstream.url,
            "RYMI_LLM_TOKENS": "", "RYMI_LLM_WORKERS": "2", **extra}


def established(pid: int, port: int, peer_port: int | None = None) -> int:
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


def wait_all_ready(server: RunningServer) -> None:
    """/readyz answers for whichever worker it reached; rymi_ready is the least of them."""
    deadline = time.monotonic() + 60
    while metric(server, "rymi_ready", channel="custom-llm") != 1.0 or \
            len(child_pids(server.proc.pid)) != 2:
        assert time.monotonic() < deadline, server.logs()[-3000:]
        time.sleep(0.2)


def metrics_dir(server: RunningServer) -> Path:
    """The workers' shared metrics folder, from a worker's environment."""
    environ = Path(f"/proc/{child_pids(server.proc.pid)[0]}/environ").read_bytes()
    env = dict(v.split(b"=", 1) for v in environ.split(b"\0") if b"=" in v)
    return Path(env[b"PROMETHEUS_MULTIPROC_DIR"].decode())


def replacement(server: RunningServer, dead: int, known: set[int]) -> int:
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


def gone(pid: int) -> bool:
    path = Path(f"/proc/{pid}/stat")
    try:
        return path.read_text().split()[2] == "Z"
    except OSError:
        return True


def chat_when_free(url: str) -> list[str]:
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


def status_of(url: str) -> int:
    body = {"model": "x", "messages": [{"role": "user", "content": "fault:ok"}]}
    return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=30).status_code
