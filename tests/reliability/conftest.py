"""Helpers for the reliability suite: metrics, usage records, dedicated small servers.

The three production servers come from the suite-wide session fixtures (tests/conftest.py:
``stt_server``, ``tts_server``, ``llm_server``). Tests that need other settings, or that end
a server (SIGTERM), start their own small one here; never a second vLLM engine: the LLM
variants run the upstream-proxy backend in front of the shared ``llm_server``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.support import servers as registry
from tests.support.servers import RunningServer, register_tokens, start_server, tokens_in_logs
from tests.support.servers import metric as metric  # (the suite's tests import it from here)

# Every token a server of this suite is started with (the security test scans all logs).
STT_TOKEN = "stt-test-token-4b1d"  # the shared stt_server's (tests/conftest.py)
LLM_TOKEN = "llm-test-token-3f9a"  # the shared llm_server's
REL_TOKEN = "rel-secret-token-8c2e7f"  # every dedicated server here
UPSTREAM_TOKEN = "rel-upstream-secret-41aa"  # what a proxy sends upstream
ALL_TOKENS = (STT_TOKEN, LLM_TOKEN, REL_TOKEN, UPSTREAM_TOKEN)
register_tokens(*ALL_TOKENS)  # sent as wrong tokens too, to servers not started with them


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session if any server log of it holds any token used in it.

    A hook rather than a last test: it runs after every test and every fixture teardown,
    so the scan sees the logs of servers started by any folder (tests/soak, tests/stt and
    tests/tts are collected after this one; a test here could not be last), complete with
    their shutdown lines, whatever subset is selected (this conftest is loaded whenever
    tests/reliability is collected, as in `make test`). tests/support/servers.py records
    every server start_server starts and the tokens its env gives it. (Servers in this
    process, the fault doubles, write no log file; servers with logs on /dev/full neither.)
    """
    findings, scanned = tokens_in_logs()
    line = (f"token scan: {len(registry.STARTED)} server logs, {scanned / 1024:.0f} KiB, "
            f"{len(registry.TOKENS)} tokens: " + ("; ".join(findings) if findings else "none found"))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write("\n" + line + "\n", red=bool(findings))
    if findings:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def clean_env(prefix: str) -> dict[str, str]:
    """Settings from the developer's shell must not change what a test starts."""
    return {k: "" for k in os.environ if k.startswith((prefix, "RYMI_TOKEN"))}


def start(module: str, env: dict[str, str], **kw) -> RunningServer:
    prefix = "RYMI_" + module.rsplit(".", 1)[-1].upper() + "_"
    return start_server(module, env={**clean_env(prefix), **env}, **kw)


def wait_for(cond: Callable[[], bool], timeout: float = 20, every: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(every)
    return cond()


def poll_until(cond: Callable[[], bool], timeout: float = 10) -> float | None:
    """Seconds until ``cond`` holds, polled as fast as a scrape allows; None if never."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return time.monotonic() - t0
        time.sleep(0.005)
    return None


def usage_of(server: RunningServer, rid: str, timeout: float = 20) -> dict:
    return server.wait_usage(rid, timeout)


def assert_shaped_error(r: httpx.Response) -> None:
    body = r.json()
    err = body["error"]
    assert isinstance(err["message"], str) and err["type"] and err["code"], body


def auth(token: str = REL_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
def token_file(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("secrets") / "tokens"
    path.write_text(f"# rotated monthly\n{REL_TOKEN}\n", encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="session")
def small_tts(token_file) -> Iterator[RunningServer]:
    """Real piper behind the fault double (kaboom/dawdle words); token from a file; tight
    capacity and timeouts so each limit is reached in a second or two."""
    server = start("tests.tts.fault_tts", {
        "RYMI_FAULT_TTS_TOKEN_FILE": str(token_file), "RYMI_FAULT_TTS_TOKENS": "",
        "RYMI_FAULT_TTS_MAX_INFLIGHT": "2", "RYMI_FAULT_TTS_WORKERS": "1",
        "RYMI_FAULT_TTS_SEND_TIMEOUT_S": "2", "RYMI_FAULT_TTS_BODY_TIMEOUT_S": "2",
        "RYMI_FAULT_TTS_DAWDLE_S": "2"})
    yield server
    server.stop()


@pytest.fixture(scope="session")
def small_stt() -> Iterator[RunningServer]:
    """tiny.en with small limits: 1 decode worker, 2 s of buffered audio, 2 sessions."""
    server = start("servers.stt", {
        "RYMI_STT_TOKENS": REL_TOKEN, "RYMI_STT_MAX_FRAME_BYTES": "64000",
        "RYMI_STT_IDLE_TIMEOUT_S": "1.5", "RYMI_STT_MAX_SESSION_S": "4",
        "RYMI_STT_MAX_SESSIONS": "2", "RYMI_STT_DECODE_WORKERS": "1",
        "RYMI_STT_MAX_BUFFERED_S": "2"})
    yield server
    server.stop()


@pytest.fixture(scope="session")
def buffered_stt() -> Iterator[RunningServer]:
    """tiny.en that must hold audio back: 1 decode worker, 2 s of buffered audio, and the
    default session and idle limits (a burst under back-pressure outlasts small_stt's 4 s,
    and the session's length is checked while frames arrive too)."""
    server = start("servers.stt", {
        "RYMI_STT_TOKENS": REL_TOKEN, "RYMI_STT_MAX_FRAME_BYTES": "64000",
        "RYMI_STT_DECODE_WORKERS": "1", "RYMI_STT_MAX_BUFFERED_S": "2"})
    yield server
    server.stop()


@pytest.fixture(scope="session")
def small_llm(llm_server: RunningServer) -> Iterator[RunningServer]:
    """Proxy in front of the shared engine with tight limits: one request at a time."""
    server = start("servers.llm", {
        "RYMI_LLM_BACKEND": "upstream", "RYMI_LLM_UPSTREAM_URL": f"{llm_server.url}/v1",
        "RYMI_LLM_UPSTREAM_TOKEN": LLM_TOKEN, "RYMI_LLM_TOKENS": REL_TOKEN,
        "RYMI_LLM_MAX_INFLIGHT": "1", "RYMI_LLM_MAX_BODY_BYTES": "4096",
        "RYMI_LLM_MAX_MESSAGES": "4", "RYMI_LLM_MAX_MESSAGE_CHARS": "1000",
        "RYMI_LLM_BODY_TIMEOUT_S": "2",
        "RYMI_LLM_SEND_TIMEOUT_S": "2"}, ready_timeout=120)
    yield server
    server.stop()
