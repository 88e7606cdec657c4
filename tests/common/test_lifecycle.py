"""Readiness, drain on SIGTERM, fatal startup, and settings errors, on real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from servers.common.serve import CANNOT_START
from tests.support.servers import REPO, metric, start_server, wait_until_ready


def test_readyz_503_until_warmup_then_200():
    server = start_server("tests.common.echo_server",
                          env={"RYMI_ECHO_SERVER_WARMUP_S": "3"}, wait_ready=False)
    try:
        deadline = time.monotonic() + 20
        while True:  # wait for the process to answer at all
            try:
                r = httpx.get(f"{server.url}/readyz", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "loading"
        assert httpx.get(f"{server.url}/healthz").status_code == 200
        # A call before the model is ready is refused as busy, to be retried: passed on,
        # the LLM server told it its messages were bad (no tokenizer yet), a 400.
        early = httpx.post(f"{server.url}/stream", content=b"d", timeout=5)
        assert early.status_code == 503 and early.headers["retry-after"] == "1"
        assert early.json()["error"]["code"] == "loading"
        wait_until_ready(server, 20)
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        assert httpx.post(f"{server.url}/stream", content=b"d", timeout=30).status_code == 200
    finally:
        server.stop()


# SIGHUP (the terminal a server was started from closed) killed it at once: every
# stream cut with no error event nor [DONE].
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_sigterm_lets_stream_finish_and_refuses_new_work(sig: signal.Signals):
    server = start_server("tests.common.echo_server",
                          env={"RYMI_ECHO_SERVER_CHUNK_DELAY_S": "0.3"}, ready_timeout=30)
    result: dict[str, object] = {}

    def stream() -> None:
        with httpx.stream("POST", f"{server.url}/stream", content=b"d", timeout=30) as r:
            result["status"] = r.status_code
            result["body"] = b"".join(r.iter_raw())

    t = threading.Thread(target=stream)
    t.start()
    deadline = time.monotonic() + 20  # the stream under way (10 chunks x 0.3 s): its
    while "status" not in result:  # headers come with its first chunk, once admitted
        assert time.monotonic() < deadline, "the stream never began"
        time.sleep(0.02)
    server.signal(sig)
    time.sleep(0.3)
    refused = httpx.post(f"{server.url}/stream", content=b"late", timeout=5,
                         headers={"X-Request-ID": "late-1"})
    ready = httpx.get(f"{server.url}/readyz", timeout=5)
    ready_gauge = metric(server, "rymi_ready", channel="echo")  # says what /readyz says
    t.join(30)
    assert server.proc.wait(30) == 0
    assert result["status"] == 200 and result["body"] == b"d" * 10  # completed, not cut
    assert refused.status_code == 503 and refused.headers["retry-after"]
    assert refused.json()["error"]["code"] == "draining"
    assert ready.status_code == 503 and ready_gauge == 0
    records = server.usage_records()
    assert [r["status"] for r in records if r["bytes_in"] == 1] == [200]
    # The refused call has its record too, with why: a failed turn is found by its id.
    late = [r for r in records if r["request_id"] == "late-1"]
    assert [(r["status"], r["error"]) for r in late] == [(503, "draining")]
    assert late[0]["bytes_in"] == 4  # the body it read (and dropped) before answering


def test_fatal_startup_exits_nonzero_with_clear_line():
    server = start_server("tests.common.echo_server",
                          env={"RYMI_ECHO_SERVER_FAIL_STARTUP": "true"}, wait_ready=False)
    code = server.proc.wait(30)
    assert code == CANNOT_START  # (a supervisor does not replace such a worker)
    assert "cannot start: FileNotFoundError: model file missing" in server.logs()


def test_bad_setting_is_one_line_not_a_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "tests.common.echo_server", "--port", "99999"],
        cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "--port: " in proc.stderr and "65535" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("env, named", [
    # shared: it was named "RYMI_ECHO_SERVER_TOKEN_FILE", a variable nobody set
    ({"RYMI_TOKEN_FILE": "/nonexistent"}, "RYMI_TOKEN_FILE: "),
    ({"RYMI_ECHO_SERVER_TOKEN_FILE": "/nonexistent"}, "RYMI_ECHO_SERVER_TOKEN_FILE: "),
    ({"RYMI_ECHO_SERVER_PORT": "99999"}, "RYMI_ECHO_SERVER_PORT: "),
])
def test_a_bad_setting_is_named_as_it_was_set(env, named):
    """The variable the operator set, shared or the server's own, and pydantic's "Value
    error, " prefix gone."""
    from tests.conftest import _clean_env

    proc = subprocess.run([sys.executable, "-m", "tests.common.echo_server"], cwd=REPO,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, **_clean_env("RYMI_"), **env})
    assert proc.returncode == 2 and named in proc.stderr, proc.stderr
    assert "Value error" not in proc.stderr and "_: " not in proc.stderr


@pytest.mark.parametrize("cert, said", [
    (__file__, "bad setting: --tls-cert and RYMI_ECHO_SERVER_TLS_KEY must be given together"),
    ("/nonexistent.pem", "bad setting: --tls-cert: no such file: /nonexistent.pem"),
])
def test_tls_cert_without_key_refused(cert: str, said: str):
    """The rule names the two settings as the operator sets them (it said "tls_cert and
    tls_key" under the key's variable, which had not been set)."""
    proc = subprocess.run(
        [sys.executable, "-m", "tests.common.echo_server", "--tls-cert", cert],
        cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and said in proc.stderr, proc.stderr


async def test_the_signal_handler_takes_no_metrics_lock(monkeypatch):
    """SIGTERM's handler runs between any two bytecodes of the main thread. It set the
    ready gauge itself: landing while that thread was inside a metric update (holding
    prometheus_client's lock, one for every metric in the workers' multiprocess mode),
    it waited on the lock for ever, and the worker never exited (found in CI, still hung
    an hour later). The gauge is set from the loop, once the handler has returned."""
    import asyncio

    import uvicorn

    from servers.common import metrics
    from servers.common.serve import DrainingServer
    from servers.common.state import ServerState

    class Forbidden:
        def __enter__(self):  # noqa: ANN204
            raise AssertionError("the signal handler took a metrics lock")

        def __exit__(self, *exc):  # noqa: ANN002, ANN204
            return False

    server = DrainingServer(uvicorn.Config(lambda scope, receive, send: None),
                            ServerState(channel="sig-test"), drain_timeout_s=0.1)
    server.started = True
    ready = metrics.READY.labels("sig-test")
    ready.set(1)
    held = ready._value._lock
    monkeypatch.setattr(ready._value, "_lock", Forbidden())
    server.handle_exit(signal.SIGTERM, None)  # as the interrupted main thread runs it
    assert server.state.draining
    monkeypatch.setattr(ready._value, "_lock", held)
    await asyncio.sleep(0.05)  # the loop's turn: the gauge and the drain
    assert ready._value.get() == 0 and server._drain_task is not None
    await server._drain_task
    assert server.should_exit


def test_a_caller_gone_before_its_handshake_is_answered_is_no_session():
    """A hang-up while the handshake waited (a model loading) was recorded as an accepted
    session (101) the server cut ("aborted"), and counted in the sessions' durations."""
    import socket

    server = start_server("tests.common.echo_server",
                          env={"RYMI_ECHO_SERVER_ACCEPT_DELAY_S": "1.0"})
    try:
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(b"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     b"X-Request-Id: gone-in-handshake\r\n\r\n")
        time.sleep(0.2)
        sock.close()
        record = server.wait_usage("gone-in-handshake", timeout=10)
        assert record["status"] == 499 and record["client_disconnected"] is True
        assert "aborted" not in record
        assert metric(server, "rymi_requests_total", kind="websocket", status="101") == 0
    finally:
        server.stop()


@pytest.mark.parametrize("state, code", [
    ({}, "loading"), ({"draining": True}, "draining"),
    ({"started": True, "ready": True, "draining": True}, "draining"),
    ({"started": True, "fatal_error": "the vLLM engine died"}, "not_ready"),
    ({"fatal_error": "the model did not load"}, "not_ready"),
    ({"started": True, "ready": True, "leaving": True}, "draining"),
])
def test_readyz_says_why_it_is_not_ready(state: dict, code: str) -> None:
    """An engine that died said "loading" while the process exited. A call refused in
    that state is told the same reason (one rule for both), except in the drain delay
    (leaving), where calls are still taken."""
    from starlette.applications import Starlette
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from servers.common.app import readyz
    from servers.common.state import ServerState

    app = Starlette(routes=[Route("/readyz", readyz)])
    app.state.server = ServerState(channel="x", **state)
    r = TestClient(app).get("/readyz")
    assert r.status_code == 503 and r.json()["error"]["code"] == code
    leaving = state.get("leaving", False)
    assert app.state.server.refusal() == (None if leaving else code)


def test_the_drain_delay_keeps_taking_work_while_readyz_says_503():
    """Two instances behind a proxy that health-checks /readyz (no Kubernetes preStop):
    the first call after a SIGTERM met the drain's 503 before the proxy's next check. In
    the delay the instance says not ready and still serves, then drains."""
    server = start_server("tests.common.echo_server", env={
        "RYMI_ECHO_SERVER_CHUNK_DELAY_S": "0.3", "RYMI_DRAIN_DELAY_S": "1.5"},
        ready_timeout=30)
    taken: dict[str, object] = {}

    def stream() -> None:  # taken in the delay; still running once the drain begins
        with httpx.stream("POST", f"{server.url}/stream", content=b"x", timeout=30) as r:
            taken["status"], taken["body"] = r.status_code, b"".join(r.iter_raw())

    try:
        server.signal(signal.SIGTERM)
        time.sleep(0.3)
        ready = httpx.get(f"{server.url}/readyz", timeout=5)
        t = threading.Thread(target=stream)
        t.start()
        time.sleep(1.6)  # past the delay: the drain proper, the stream still running
        refused = httpx.post(f"{server.url}/stream", content=b"y", timeout=10)
        t.join(30)
        assert ready.status_code == 503 and ready.json()["error"]["code"] == "draining"
        assert taken == {"status": 200, "body": b"x" * 10}
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "draining"
        assert server.proc.wait(30) == 0
    finally:
        server.stop()


def test_a_whole_answer_frees_its_slot_while_its_teardown_still_counts_for_the_drain():
    """At max_inflight 1, a caller's next turn sent as soon as it had read the last one's
    end was refused (503 over_capacity) while that turn's handler still ran after its
    last byte (an engine stream's close, its usage line). The slot is freed with the
    last byte; the teardown is still in flight, and a drain waits for it."""
    server = start_server("tests.common.echo_server", env={
        "RYMI_ECHO_SERVER_MAX_INFLIGHT": "1", "RYMI_ECHO_SERVER_LINGER_S": "2"})
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            first = client.get("/linger", headers={"X-Request-ID": "linger-1"})
            second = client.get("/linger", headers={"X-Request-ID": "linger-2"})
            assert (first.status_code, first.text) == (200, "whole")
            assert (second.status_code, second.text) == (200, "whole"), second.text
            assert metric(server, "rymi_inflight", channel="echo") >= 1  # still lingering
        server.signal(signal.SIGTERM)
        assert server.proc.wait(30) == 0
        records = {r["request_id"]: r for r in server.usage_records()}
        assert records["linger-2"]["status"] == 200 and "aborted" not in records["linger-2"]
        assert records["linger-2"]["total_s"] > 1.5, records  # its 2 s waited for, not cut
    finally:
        server.stop()


async def test_a_slot_is_freed_once_the_last_byte_is_written_not_before() -> None:
    """In process, the socket a double that holds the last body write: while it waits
    (a slow reader), the answer still holds its slot, and a second caller is refused;
    written, the slot is free though the handler has not returned. (A mutation round
    found nothing that told "after the write" from "before it".)"""
    import asyncio

    from servers.common.lifecycle import LifecycleMiddleware
    from servers.common.state import ServerState

    written, finish = asyncio.Event(), asyncio.Event()

    async def app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"whole", "more_body": False})
        await finish.wait()  # its teardown, after the last byte

    async def socket_send(message) -> None:  # type: ignore[no-untyped-def]
        if message["type"] == "http.response.body":
            await written.wait()

    async def receive():  # type: ignore[no-untyped-def]
        return {"type": "http.request", "body": b"", "more_body": False}

    state = ServerState(channel="slot-test", max_inflight=1, ready=True)
    scope = {"type": "http", "path": "/x", "method": "GET", "headers": [],
             "client": ("127.0.0.1", 1), "extensions": {}}
    task = asyncio.ensure_future(LifecycleMiddleware(app, state)(scope, receive, socket_send))
    for _ in range(100):  # until the app is in its last write
        await asyncio.sleep(0)
    assert state.admitted == 1 and not state.admit()  # the write waits: still held
    written.set()
    for _ in range(100):
        await asyncio.sleep(0)
    assert state.admitted == 0 and state.inflight == 1  # free; its teardown counted
    finish.set()
    await asyncio.wait_for(task, 5)
    assert state.admitted == 0 and state.inflight == 0
