"""Every limit once, answered as the contract says: 408/413/400/422/503 + Retry-After over
HTTP, an error event and a close code over the WebSocket (tests/stt, tests/tts and
tests/llm check some of these in depth; here each server's whole set is swept)."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.support.servers import RunningServer

from .conftest import assert_shaped_error, auth, metric, wait_for

LIMITS_TESTED: list[str] = []


def slow_body(server: RunningServer, path: str) -> socket.socket:
    """A request that declares a body and sends none of it: it holds a request slot."""
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                 f"{auth()['Authorization'].split()[1]}\r\nContent-Type: application/json\r\n"
                 "Content-Length: 100\r\n\r\n{".encode())
    return sock


def read_status(sock: socket.socket, timeout: float = 15) -> tuple[int, bytes]:
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    try:
        rest += sock.recv(65536)
    except OSError:
        pass
    return int(head.split()[1]), rest


@pytest.mark.parametrize("server_name, path, body_for", [
    ("small_tts", "/tts", lambda n: {"text": "a" * n}),
    ("small_llm", "/v1/chat/completions",
     lambda n: {"messages": [{"role": "user", "content": "a" * n}], "max_tokens": 2}),
])
def test_http_limits(server_name: str, path: str, body_for, request) -> None:
    server: RunningServer = request.getfixturevalue(server_name)
    url = server.url + path
    # Body size: 413 (declared, and streamed without a length).
    r = httpx.post(url, json=body_for(70_000), headers=auth(), timeout=30)
    assert r.status_code == 413, r.text
    assert_shaped_error(r)

    def chunks():
        yield b'{"text": "'
        for _ in range(20):
            yield b"a" * 4096

    r = httpx.post(url, content=chunks(), headers={**auth(), "Content-Type": "application/json"},
                   timeout=30)
    assert r.status_code == 413, r.text
    # Malformed JSON: 400.
    r = httpx.post(url, content=b"{nope", headers={**auth(), "Content-Type": "application/json"})
    assert r.status_code == 400
    assert_shaped_error(r)
    # Concurrency: slots held by slow bodies; the next request is 503 + Retry-After.
    held = [slow_body(server, path) for _ in range(2)]
    try:
        assert wait_for(lambda: metric(server, "rymi_inflight") >= 1, 10)
        wait_for(lambda: httpx.post(url, json=body_for(5), headers=auth()).status_code == 503, 5)
        r = httpx.post(url, json=body_for(5), headers=auth())
        assert r.status_code == 503 and r.headers["retry-after"], r.text
        assert_shaped_error(r)
        # The slow bodies are refused with 408 once body_timeout_s (2 s) is over.
        statuses = [read_status(s)[0] for s in held]
        assert 408 in statuses, statuses
    finally:
        for s in held:
            s.close()
    assert wait_for(lambda: metric(server, "rymi_inflight") == 0, 10)
    LIMITS_TESTED.extend([f"{server_name}: body 413", f"{server_name}: 400 JSON",
                          f"{server_name}: max_inflight 503+Retry-After",
                          f"{server_name}: body_timeout 408"])


def test_tts_field_limits(small_tts: RunningServer) -> None:
    url = small_tts.url + "/tts"
    r = httpx.post(url, json={"text": "a " * 2501 + "b"}, headers=auth())  # 5003 characters
    assert r.status_code == 413 and r.json()["error"]["param"] == "text"
    for body in ({"text": ""}, {"text": 5}, {"text": "Hi.", "format": "pcm_1"},
                 {"text": "Hi.", "speed": 99}, {}):
        r = httpx.post(url, json=body, headers=auth())
        assert r.status_code == 422, (body, r.text)
        assert_shaped_error(r)
    LIMITS_TESTED.extend(["tts: max_text_chars 413", "tts: field values 422"])


def test_llm_field_limits(small_llm: RunningServer, llm_server: RunningServer) -> None:
    url = small_llm.url + "/v1/chat/completions"
    msgs = [{"role": "user", "content": "hi"}] * 5
    r = httpx.post(url, json={"messages": msgs}, headers=auth())
    assert r.status_code == 413 and r.json()["error"]["param"] == "messages"
    # One message over max_message_chars (1000), in a body under max_body_bytes (4096):
    # 413 naming that message, as a string or as text parts; at the limit it is served.
    for content in ("a" * 1001, [{"type": "text", "text": "a" * 600}] * 2):
        r = httpx.post(url, json={"messages": [msgs[0], {"role": "user", "content": content}]},
                       headers=auth())
        assert r.status_code == 413, r.text
        assert_shaped_error(r)
        assert r.json()["error"]["param"] == "messages.1.content", r.text
    r = httpx.post(url, json={"messages": [{"role": "user", "content": "a " * 500}],
                              "max_tokens": 1}, headers=auth(), timeout=60)
    assert r.status_code == 200, r.text
    spec = httpx.get(f"{small_llm.url}/openapi.json", headers=auth()).json()
    spec = spec["components"]["schemas"]  # the served schema states the same two limits
    assert spec["ChatRequest"]["properties"]["messages"]["maxItems"] == 4
    assert spec["Message"]["properties"]["content"]["anyOf"][0]["maxLength"] == 1000
    for bad in ({"max_tokens": 0}, {"temperature": 9}, {"n": 3}, {"messages": []}):
        r = httpx.post(url, json={"messages": msgs[:1], **bad}, headers=auth())
        assert r.status_code == 400, (bad, r.text)
        assert_shaped_error(r)
    # max_tokens far beyond the cap/context is clamped, not an error (Rymi sends 2048).
    r = httpx.post(f"{llm_server.url}/v1/chat/completions", timeout=120,
                   headers={"Authorization": "Bearer llm-test-token-3f9a"},
                   json={"messages": [{"role": "user", "content": "Say hi."}],
                         "max_tokens": 10**9, "stop": ["."], "temperature": 0})
    assert r.status_code == 200, r.text
    assert r.json()["usage"]["completion_tokens"] <= 1024
    # A prompt longer than the context: 400 before any byte.
    long = [{"role": "user", "content": "word " * 1500}]
    r = httpx.post(f"{llm_server.url}/v1/chat/completions", json={"messages": long},
                   headers={"Authorization": "Bearer llm-test-token-3f9a"}, timeout=60)
    assert r.status_code == 400 and r.json()["error"]["code"] == "context_length_exceeded"
    LIMITS_TESTED.extend(["llm: max_messages 413", "llm: max_message_chars 413",
                          "llm: field values 400",
                          "llm: max_tokens clamp", "llm: context 400"])


async def _events_until_close(ws) -> list[dict]:
    out = []
    try:
        async for msg in ws:
            out.append(json.loads(msg))
    except Exception:  # noqa: BLE001 - the close code is what is checked
        pass
    return out


async def test_stt_limits(small_stt: RunningServer) -> None:
    url = f"{small_stt.ws_url}/stt"
    h = auth()
    # Frame too large: error event, 1009.
    async with connect(url, additional_headers=h, max_size=None) as ws:
        await ws.send(bytes(64_002))
        events = await asyncio.wait_for(_events_until_close(ws), 15)
        assert events[-1]["type"] == "error" and ws.close_code == 1009
    # Idle: error event, 1008.
    async with connect(url, additional_headers=h) as ws:
        t0 = time.monotonic()
        events = await asyncio.wait_for(_events_until_close(ws), 15)
        assert events[-1]["type"] == "error" and ws.close_code == 1008
        assert 1.0 < time.monotonic() - t0 < 6
    # Session length: keepalives hold it past idle, max_session_s (4 s) ends it, 1008.
    async with connect(url, additional_headers=h) as ws:
        async def keepalive():
            while True:
                await ws.send(json.dumps({"type": "keepalive"}))
                await asyncio.sleep(0.5)
        k = asyncio.create_task(keepalive())
        events = await asyncio.wait_for(_events_until_close(ws), 20)
        k.cancel()
        assert "max_session_s" in events[-1]["message"] and ws.close_code == 1008
    # Capacity: two sessions open, the third handshake is 503 + Retry-After.
    async with connect(url, additional_headers=h) as a, connect(url, additional_headers=h) as b:
        with pytest.raises(InvalidStatus) as err:
            async with connect(url, additional_headers=h):
                pass
        assert err.value.response.status_code == 503
        assert err.value.response.headers["Retry-After"]
        for ws in (a, b):
            await ws.send(json.dumps({"type": "close"}))
    # Bad URL option: 400 on the handshake, naming it. The two sessions above free their
    # places once the server has finished them (a moment after their close frames): a
    # leaked place would keep this 503 for good.
    deadline = time.monotonic() + 5
    while True:
        with pytest.raises(InvalidStatus) as err:
            async with connect(url + "?endpointing_ms=5", additional_headers=h):
                pass
        if err.value.response.status_code != 503 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert err.value.response.status_code == 400
    assert json.loads(err.value.response.body)["error"]["param"] == "endpointing_ms"
    LIMITS_TESTED.extend(["stt: max_frame_bytes 1009", "stt: idle_timeout_s 1008",
                          "stt: max_session_s 1008", "stt: max_sessions 503+Retry-After",
                          "stt: URL option 400"])


def test_zz_print_limits() -> None:
    print(f"\nlimits tested ({len(LIMITS_TESTED)}): " + "; ".join(LIMITS_TESTED))
