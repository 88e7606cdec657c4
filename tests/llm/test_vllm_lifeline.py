"""The engine-process lifeline (servers/llm/backends/vllm_lifeline.py) on plain processes:
the path a real engine does not show, an engine deaf to SIGTERM (vLLM's start-up
handshake), which must still end once its server is gone. The real engine's case is in
tests/reliability/test_llm_engine_exit.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from servers.llm.backends import vllm_lifeline
from tests.support.servers import REPO

ENGINE = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # as vLLM's handshake: the signal changes nothing
from servers.llm.backends import vllm_lifeline
vllm_lifeline.register()
print("watching", flush=True)
time.sleep(120)
"""

SERVER = f"""
import os, subprocess, sys, time
os.environ[{vllm_lifeline.ENV!r}] = str(os.getpid())
child = subprocess.Popen([sys.executable, "-c", {ENGINE!r}], stdout=subprocess.PIPE, text=True)
assert child.stdout.readline().strip() == "watching"
print(child.pid, flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_an_engine_deaf_to_sigterm_still_ends_with_its_server() -> None:
    server = subprocess.Popen([sys.executable, "-c", SERVER], cwd=REPO, text=True,
                              stdout=subprocess.PIPE)
    engine = int(server.stdout.readline())  # type: ignore[union-attr]
    try:
        assert _alive(engine)
        server.kill()
        server.wait(10)
        deadline = time.monotonic() + vllm_lifeline.CHECK_S + vllm_lifeline.GRACE_S + 10
        while _alive(engine) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(engine), "the engine outlived its server"
    finally:
        if _alive(engine):
            os.kill(engine, signal.SIGKILL)


def test_no_watch_where_the_parent_is_not_the_server(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The server itself and the engine's worker load the plugin too: no thread there."""
    monkeypatch.setattr(vllm_lifeline, "_watching", False)
    monkeypatch.setenv(vllm_lifeline.ENV, str(os.getpid()))  # this process, not its parent
    vllm_lifeline.register()
    assert vllm_lifeline._watching is False
