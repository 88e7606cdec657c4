"""Bearer auth over real sockets: HTTP 401 bodies, a real 401 on the WebSocket handshake."""

from __future__ import annotations

import time

import httpx
import pytest
import websockets
from websockets.asyncio.client import connect

from tests.support.servers import metric, start_server, wait_until_ready

from .conftest import TOKENS

GOOD, SECOND = TOKENS.split(",")


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer wrong"},
    {"Authorization": f"Basic {GOOD}"},
    {"Authorization": f"Bearer {GOOD}x"},
    {"Authorization": "Bearer"},
])
def test_http_rejects_missing_or_wrong_token(echo_server, headers):
    r = httpx.post(f"{echo_server.url}/stream", headers=headers, content=b"hi")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/json"
    err = r.json()["error"]
    assert err["type"] == "authentication_error" and err["code"] == "invalid_token"
    assert err["message"]


def test_a_401_waits_for_a_small_body_still_on_its_way(echo_server):
    """Answered before the body was sent, a Go proxy (Caddy, Traefik) still sending it
    lost the answer 15 times in 1,000 ("aborting with incomplete response"; a 401 with an
    empty body to the client). A small body is taken first, as Go's own server does."""
    import socket

    with socket.create_connection(("127.0.0.1", echo_server.port)) as sock:
        sock.sendall(b"POST /stream HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer wrong\r\n"
                     b"Content-Length: 14\r\n\r\n")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):  # no answer while the body is on its way
            sock.recv(1024)
        sock.sendall(b'{"text": "Hi"}')
        sock.settimeout(5)

        def answer() -> bytes:  # the head and the JSON body may come in two reads
            got = b""
            while b"invalid_token" not in got:
                got += sock.recv(4096)
            return got
        assert answer().startswith(b"HTTP/1.1 401 ")
        # A large body is not waited for: the 401 comes at once (the proxy's own buffer).
        sock.sendall(b"POST /stream HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer wrong\r\n"
                     b"Content-Length: 1000000\r\n\r\n")
        assert answer().startswith(b"HTTP/1.1 401 ")


# The scheme's case is free (RFC 9110 11.1): a curl script or proxy that sends "bearer".
@pytest.mark.parametrize("token, scheme", [(GOOD, "Bearer"), (SECOND, "Bearer"),
                                           (GOOD, "bearer"), (GOOD, "BEARER")])
def test_every_configured_token_passes(echo_server, token, scheme):
    r = httpx.post(f"{echo_server.url}/stream", headers={"Authorization": f"{scheme} {token}"},
                   content=b"ab")
    assert r.status_code == 200
    assert r.content == b"ab" * 10


def test_probes_need_no_token(echo_server):
    for path in ("/healthz", "/readyz", "/metrics"):
        assert httpx.get(f"{echo_server.url}{path}").status_code == 200
        # With a trailing slash: the same probe (it was a redirect), not a 401.
        assert httpx.get(f"{echo_server.url}{path}/").status_code == 200
    assert httpx.get(f"{echo_server.url}/stream/").status_code == 401  # others stay closed


async def test_websocket_handshake_gets_real_401(echo_server):
    with pytest.raises(websockets.exceptions.InvalidStatus) as info:
        async with connect(f"{echo_server.ws_url}/ws",
                           additional_headers={"Authorization": "Bearer nope"}):
            pass
    assert info.value.response.status_code == 401
    assert b"invalid_token" in info.value.response.body
    # A refusal is the server working: no ERROR line for it (uvicorn logged one for each).
    time.sleep(0.2)
    assert "without completing handshake" not in echo_server.logs()


async def test_websocket_without_token_gets_401(echo_server):
    with pytest.raises(websockets.exceptions.InvalidStatus) as info:
        async with connect(f"{echo_server.ws_url}/ws"):
            pass
    assert info.value.response.status_code == 401


async def test_websocket_with_token_is_accepted(echo_server):
    async with connect(f"{echo_server.ws_url}/ws",
                       additional_headers={"Authorization": f"Bearer {SECOND}"}) as ws:
        await ws.send("hello")
        assert await ws.recv() == "hello"


def test_tokens_never_logged(echo_server):
    # Make sure every path that logs has run at least once.
    httpx.post(f"{echo_server.url}/stream", headers={"Authorization": f"Bearer {GOOD}"})
    httpx.post(f"{echo_server.url}/stream", headers={"Authorization": "Bearer wrong-one"})
    logs = echo_server.logs()
    assert "provider_usage" in logs
    for secret in (GOOD, SECOND, "wrong-one"):
        assert secret not in logs


def test_starlette_errors_are_shaped(echo_server):
    auth = {"Authorization": f"Bearer {GOOD}"}
    r = httpx.get(f"{echo_server.url}/nope", headers=auth)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = httpx.get(f"{echo_server.url}/stream", headers=auth)
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_request_id_round_trips_and_usage_record_written(echo_server):
    r = httpx.post(f"{echo_server.url}/stream", content=b"xyz",
                   headers={"Authorization": f"Bearer {GOOD}", "X-Request-ID": "req-42"})
    assert r.headers["x-request-id"] == "req-42"
    echo_server.wait_usage("req-42")
    records = [u for u in echo_server.usage_records() if u["request_id"] == "req-42"]
    assert len(records) == 1
    rec = records[0]
    assert rec["channel"] == "echo" and rec["status"] == 200
    assert rec["bytes_in"] == 3 and rec["bytes_out"] == 30
    # The same bytes in /metrics (they were in the records only): all the records' sum.
    http = [u for u in echo_server.usage_records() if u["kind"] == "http"]
    for direction in ("in", "out"):
        assert metric(echo_server, "rymi_bytes_total", kind="http", direction=direction) \
            == sum(u[f"bytes_{direction}"] for u in http)
    assert rec["first_byte_s"] <= rec["total_s"]


@pytest.mark.parametrize("sent, recorded", [("café-42".encode(), "café-42"),
                                            (b"caf\xe9-43", "caf\xe9-43")])
def test_a_non_ascii_request_id_comes_back_as_sent(echo_server, sent, recorded):
    """Echoed as the bytes the caller sent (it was re-encoded: b"caf\\xe9" came back
    b"caf\\xc3\\xa9"), and recorded as UTF-8 text where it is UTF-8."""
    with httpx.Client() as client:
        r = client.post(f"{echo_server.url}/stream", content=b"x", headers=[
            (b"Authorization", f"Bearer {GOOD}".encode()), (b"X-Request-ID", sent)])
    assert r.headers.raw and dict(r.headers.raw)[b"x-request-id"] == sent
    echo_server.wait_usage(recorded)
    assert [u["status"] for u in echo_server.usage_records() if u["request_id"] == recorded] \
        == [200]


def test_a_token_file_saved_with_a_bom_and_crlf_keeps_its_first_token(tmp_path):
    """Windows editors write a byte-order mark: it must not become part of the token
    (the first token then never matched: a lock-out that is hard to see)."""
    from servers.common.config import _tokens_in_file

    path = tmp_path / "tokens.txt"
    path.write_bytes(b"\xef\xbb\xbfsecret1\r\nsecret2\r\n")
    assert _tokens_in_file(path) == ["secret1", "secret2"]


def test_a_bad_token_is_told_so_while_the_server_is_loading_or_full():
    """Auth before admission: a 503 with Retry-After had a misconfigured caller retry the
    same wrong key through every rollout and peak, told "busy" rather than "wrong key"."""
    server = start_server("tests.common.echo_server", wait_ready=False, env={
        "RYMI_ECHO_SERVER_TOKENS": TOKENS, "RYMI_ECHO_SERVER_WARMUP_S": "4",
        "RYMI_ECHO_SERVER_MAX_INFLIGHT": "1", "RYMI_ECHO_SERVER_CHUNK_DELAY_S": "0.3"})
    good, bad = {"Authorization": f"Bearer {GOOD}"}, {"Authorization": "Bearer wrong"}
    try:
        deadline = time.monotonic() + 20
        while True:  # wait for the process to answer at all (still loading)
            try:
                loading_bad = httpx.post(f"{server.url}/stream", headers=bad, content=b"x")
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        loading_good = httpx.post(f"{server.url}/stream", headers=good, content=b"x")
        assert (loading_bad.status_code, loading_good.status_code) == (401, 503)
        # The type says "busy, retry" (an SDK picks its retry by it), not a server fault.
        assert loading_good.json()["error"] | {"message": ""} == {
            "message": "", "type": "overloaded_error", "code": "loading"}
        wait_until_ready(server, 30)
        with httpx.stream("POST", f"{server.url}/stream", headers=good, content=b"d",
                          timeout=30) as busy:  # the one call the limit allows
            assert busy.status_code == 200
            full_bad = httpx.post(f"{server.url}/stream", headers=bad, content=b"x")
            full_good = httpx.post(f"{server.url}/stream", headers=good, content=b"x")
            assert b"".join(busy.iter_raw()) == b"d" * 10
        assert (full_bad.status_code, full_good.status_code) == (401, 503)
        assert full_bad.json()["error"]["code"] == "invalid_token"
        assert full_good.json()["error"]["code"] == "over_capacity"
        assert full_good.json()["error"]["type"] == "overloaded_error"
        # The refused caller's 401 is counted and recorded as every answer is (the
        # stream's record is written once its last byte is out: waited for).
        deadline = time.monotonic() + 10
        while len(server.usage_records()) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        statuses = sorted(r["status"] for r in server.usage_records())
        assert statuses == [200, 401, 401, 503, 503]
    finally:
        server.stop()


async def test_a_refused_handshake_is_recorded_with_its_body_and_no_session_time():
    """A refused upgrade (401 by auth, 503 while loading) recorded bytes_out 0 though
    its error body went out, and its 0.2 ms was observed as a WebSocket session's
    length, beside real calls, in rymi_duration_seconds."""
    server = start_server("tests.common.echo_server", wait_ready=False, env={
        "RYMI_ECHO_SERVER_TOKENS": TOKENS, "RYMI_ECHO_SERVER_WARMUP_S": "3"})
    try:
        deadline = time.monotonic() + 20
        while True:  # up, still loading
            try:
                httpx.get(f"{server.url}/healthz", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        bodies = {}
        for rid, token in (("ws-loading", GOOD), ("ws-bad-token", "wrong")):
            with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
                async with connect(f"{server.ws_url}/ws", additional_headers={
                        "Authorization": f"Bearer {token}", "X-Request-ID": rid}):
                    pass
            bodies[rid] = (refused.value.response.status_code, len(refused.value.response.body))
        assert [status for status, _ in bodies.values()] == [503, 401]
        deadline = time.monotonic() + 10
        while len(records := {r["request_id"]: r for r in server.usage_records()}) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for rid, (status, size) in bodies.items():
            assert (records[rid]["status"], records[rid]["bytes_out"]) == (status, size)
        # Neither a session's length nor its first byte: a refusal's 0.2 ms in the
        # first-byte histogram passed for sessions answering at once.
        assert metric(server, "rymi_duration_seconds_count", kind="websocket") == 0
        assert metric(server, "rymi_first_byte_seconds_count", kind="websocket") == 0
    finally:
        server.stop()
