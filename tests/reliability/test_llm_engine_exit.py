"""vLLM's engine processes end with the in-process LLM server, however it ends.

Three real engine starts (no shared one can be killed): two stopped with Ctrl-C while
their engine builds (before its processes exist, and while they build), one killed
outright once ready (the OOM killer, ``kill -9``). Before, the first two waited for the
whole build before they exited (CI saw the first on a fast machine), and the third left
its engine core and worker running for good, holding the model and the KV cache.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.support.servers import RunningServer, child_pids, start_server

from .conftest import REL_TOKEN, wait_for

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

BUILT = "init engine (profile, create kv cache, warmup model) took"


def _start(models_dir: Path, wait_ready: bool) -> RunningServer:
    return start_server("servers.llm", wait_ready=wait_ready, ready_timeout=400, env={
        "RYMI_LLM_MODELS_DIR": str(models_dir), "RYMI_LLM_TOKENS": REL_TOKEN,
        "RYMI_LLM_KV_CACHE_GB": "1", "RYMI_LLM_WARMUP": "false"})


def _engine_pids(server: RunningServer) -> list[int]:
    """The engine core (the server's multiprocessing child) and what it started."""
    cores = [p for p in child_pids(server.proc.pid) if "resource_tracker" not in _cmd(p)]
    return cores + [w for core in cores for w in _children_or_none(core)]


def _cmd(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _children_or_none(pid: int) -> list[int]:
    try:
        return child_pids(pid)
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _engine_core_started(server: RunningServer) -> bool:
    """The engine core's process exists (spawned by multiprocessing, or renamed by vLLM)."""
    return any("spawn_main" in _cmd(p) or "EngineCore" in _cmd(p)
               for p in child_pids(server.proc.pid))


def _exited_noting(server: RunningServer, engine: set[int]) -> bool:
    with contextlib.suppress(OSError):  # (the server gone)
        engine.update(_engine_pids(server))
    return server.proc.poll() is not None


@pytest.mark.parametrize("when", ["before_its_processes_start", "while_its_processes_build"])
def test_ctrl_c_while_the_engine_builds_stops_it_rather_than_waiting(
        prepared_llm: Path, models_dir: Path, when: str) -> None:
    server = _start(models_dir, wait_ready=False)
    try:
        if when == "before_its_processes_start":  # the build's thread has begun
            assert wait_for(lambda: "starting vLLM engine" in server.logs(), 120), \
                server.logs()[-2000:]
        else:
            assert wait_for(lambda: _engine_core_started(server), 120), server.logs()[-2000:]
        server.signal(signal.SIGINT)
        engine: set[int] = set()  # every engine process seen until the server is gone
        assert wait_for(lambda: _exited_noting(server, engine), 60), server.logs()[-3000:]
        assert server.proc.returncode == 0, server.logs()[-3000:]
        # Stopped, not waited for: the build never reached its end.
        assert BUILT not in server.logs(), "the engine was built to the end after Ctrl-C"
        assert wait_for(lambda: not any(_alive(p) for p in engine), 30), \
            [(p, _cmd(p)) for p in engine if _alive(p)]
    finally:
        server.stop()


def test_an_engine_whose_server_is_killed_outright_ends_too(
        prepared_llm: Path, models_dir: Path) -> None:
    server = _start(models_dir, wait_ready=True)
    engine: list[int] = []
    try:
        engine = _engine_pids(server)
        assert any("EngineCore" in _cmd(p) for p in engine), [_cmd(p) for p in engine]
        server.signal(signal.SIGKILL)
        server.proc.wait(10)
        started = time.monotonic()
        gone = wait_for(lambda: not any(_alive(p) for p in engine), 60)
        print(f"\nengine processes gone {time.monotonic() - started:.1f}s after kill -9")
        assert gone, [(p, _cmd(p)) for p in engine if _alive(p)]
    finally:
        for pid in engine:  # whatever happened, none is left to the next test
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        server.stop()
