"""Start a real server process on a free port and wait until it is ready.

Tests talk to servers the way Rymi does: over a socket, with real clients. Each server
is started once per test session by a fixture (a model loads once), and its JSON log
lines are kept so tests can check usage records and that tokens never appear: every
server started here is recorded with its tokens (``STARTED``, ``TOKENS``), and
``tokens_in_logs`` scans every recorded log for every token of the session.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
MIN_SCANNED_TOKEN = 8  # shorter strings would match ordinary log text by chance


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A port nothing answers on while it is held: bound, never listening, so a connect
    is refused. A ``free_port()`` number is free only when asked: CI once handed the
    same number to the server under test, which then probed itself as its "unreachable"
    upstream and got its own 503."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@dataclass
class RunningServer:
    module: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    scheme: str = "http"
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"{'wss' if self.scheme == 'https' else 'ws'}://127.0.0.1:{self.port}"

    @property
    def auth_headers(self) -> dict[str, str]:
        """The header a client needs: the first token this server was started with."""
        for key, value in self.env.items():
            if key.endswith("_TOKENS") and value.strip():
                return {"Authorization": f"Bearer {value.split(',')[0].strip()}"}
        return {}

    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def usage_records(self) -> list[dict]:
        import json
        out = []
        for line in self.logs().splitlines():
            if '"event":"provider_usage"' in line:
                out.append(json.loads(line))
        return out

    def wait_usage(self, request_id: str, timeout: float = 20) -> dict:
        """The usage record of one request. It is written once the response has ended,
        a moment after the client has it, so poll for it."""
        deadline = time.monotonic() + timeout
        while True:
            for record in self.usage_records():
                if record["request_id"] == request_id:
                    return record
            if time.monotonic() > deadline:
                raise AssertionError(f"no usage record for {request_id} in {timeout}s")
            time.sleep(0.05)

    def signal(self, sig: int = signal.SIGTERM) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_server(
    module: str,
    env: dict[str, str] | None = None,
    *,
    args: list[str] | None = None,
    ready_timeout: float = 180,
    wait_ready: bool = True,
    verify: str | bool = True,
    new_session: bool = False,
) -> RunningServer:
    """``module`` is e.g. ``servers.tts``; ``env`` adds RYMI_* settings."""
    port = free_port()
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    prefix = module.rsplit(".", 1)[-1].upper()
    full_env[f"RYMI_{prefix}_PORT"] = str(port)
    full_env.setdefault(f"RYMI_{prefix}_HOST", "127.0.0.1")
    log_file = tempfile.NamedTemporaryFile(prefix=f"{prefix.lower()}-", suffix=".log",
                                           delete=False)
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *(args or [])],
        cwd=REPO, env=full_env, stdout=log_file, stderr=subprocess.STDOUT,
        start_new_session=new_session,  # for a test that signals its process group
    )
    tls = any(k.endswith("TLS_CERT") and v for k, v in (env or {}).items())
    server = RunningServer(module, port, proc, Path(log_file.name),
                           scheme="https" if tls else "http", env=env or {})
    STARTED.append(server)
    TOKENS.update(tokens_in(env or {}))
    if wait_ready:
        wait_until_ready(server, ready_timeout, verify=verify)
    return server


def wait_until_ready(server: RunningServer, timeout: float, verify: str | bool = True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.module} exited with {server.proc.returncode}:\n"
                               f"{server.logs()[-4000:]}")
        try:
            r = httpx.get(f"{server.url}/readyz", timeout=2, verify=verify)
            if r.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise TimeoutError(f"{server.module} not ready in {timeout}s:\n{server.logs()[-4000:]}")


def metric(server: RunningServer, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels`` (0 when absent),
    from one scrape on a connection of its own."""
    text = httpx.get(f"{server.url}/metrics", timeout=10, verify=False).text
    total, found = 0.0, False
    for m in re.finditer(rf"^{re.escape(name)}(?:{{([^}}]*)}})? (\S+)$", text, re.M):
        got = dict(re.findall(r'(\w+)="([^"]*)"', m[1] or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            total += float(m[2])
            found = True
    return total if found else 0.0


def settled_metric(server: RunningServer, name: str, expected: float, timeout: float = 10,
                   **labels: str) -> float:
    """``metric``, read until it is ``expected`` or ``timeout`` has passed; returns the
    last value read. A request is counted (and counted out) by its handler's end, a
    moment after its client has read the last byte (on a loaded machine, more)."""
    deadline = time.monotonic() + timeout
    while (value := metric(server, name, **labels)) != expected and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    return value


def child_pids(pid: int) -> list[int]:
    """The live processes ``pid`` started (Linux: any of its threads' /proc children)."""
    return [int(child) for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()]


# -- the session's registry of server logs and tokens ---------------------------------

STARTED: list[RunningServer] = []  # every server start_server started, in order
TOKENS: set[str] = set()  # every token one was given, and any a test registers


def tokens_in(env: Mapping[str, str]) -> set[str]:
    """The secrets a server's env hands it: *_TOKENS lists, *_TOKEN values (the upstream
    token too) and the tokens in *_TOKEN_FILE files."""
    found: set[str] = set()
    for key, value in env.items():
        if key.endswith(("_TOKENS", "_TOKEN")):
            found.update(value.split(","))
        elif key.endswith("_TOKEN_FILE") and value:
            try:
                text = Path(value).read_text(encoding="utf-8")
            except OSError:
                continue
            found.update(ln for ln in text.splitlines() if not ln.strip().startswith("#"))
    return {t.strip() for t in found if t.strip()}


def register_tokens(*tokens: str) -> None:
    """Tokens a test sends without starting a server with them (wrong tokens, say)."""
    TOKENS.update(t for t in tokens if t)


def tokens_in_logs() -> tuple[list[str], int]:
    """(findings, bytes scanned) over every recorded log, for every token of the session."""
    tokens = sorted(t for t in TOKENS if len(t) >= MIN_SCANNED_TOKEN)
    findings, scanned = [], 0
    for server in STARTED:
        try:
            text = server.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        scanned += len(text)
        findings += [f"{tok[:6]}... in the log of {server.module} ({server.log_path.name})"
                     for tok in tokens if tok in text]
    return findings, scanned
