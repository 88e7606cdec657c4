"""Failures, hang-ups, capacity and auth, against real server processes."""

from __future__ import annotations

import re
import socket
import threading
import time

import httpx
import pytest

from tests.support.servers import RunningServer, metric

from .conftest import TOKEN
from .rawhttp import collect, post_chunks

AUTH = {"Authorization": f"Bearer {TOKEN}"}



def _metric(server: RunningServer, name: str) -> float:
    text = httpx.get(f"{server.url}/metrics").text
    m = re.search(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M)
    return float(m[1]) if m else 0.0


def test_bearer_token_is_required_and_never_logged(fault_server: RunningServer) -> None:
    url = f"{fault_server.url}/tts"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        r = httpx.post(url, json={"text": "Hi."}, headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    assert httpx.post(url, json={"text": "Hi."}, headers=AUTH).status_code == 200
    assert httpx.get(f"{fault_server.url}/healthz").status_code == 200
    assert httpx.get(f"{fault_server.url}/voices").status_code == 401
    assert TOKEN not in fault_server.logs()


def test_engine_failure_on_the_first_piece_is_a_shaped_500(fault_server: RunningServer) -> None:
    r = httpx.post(f"{fault_server.url}/tts", json={"text": "Kaboom right away."},
                   headers=AUTH, timeout=30)
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "synthesis_failed"


def test_engine_failure_after_the_first_chunk_breaks_the_stream(
        fault_server: RunningServer) -> None:
    body = {"text": "This part is fine. Then kaboom happens here. Never spoken."}
    reply = collect(fault_server.port, body, token=TOKEN)
    assert reply.status == 200
    assert len(reply.chunks) >= 1  # the first piece did arrive...
    assert not reply.terminated  # ...but no clean end: a cut stream is not short audio
    with pytest.raises(httpx.RemoteProtocolError):  # what an ordinary client sees
        httpx.post(f"{fault_server.url}/tts", json=body, headers=AUTH, timeout=30)
    record = fault_server.wait_usage(reply.headers["x-request-id"])
    assert record["error"] == "synthesis_failed_mid_stream"
    # Said once each, by the server; uvicorn's traceback for the cut was a second ERROR.
    logs = fault_server.logs()
    assert logs.count("synthesis failed mid-stream") >= 2, logs[-3000:]
    assert "Exception in ASGI application" not in logs, logs[-3000:]
    # The cause by its name, though it has no words (the line ended at its colon).
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(f"{fault_server.url}/tts", headers=AUTH, timeout=30, json={
            "text": "This part is fine. Then a wordless failure. Never spoken."})
    assert "aborting the response: MemoryError" in fault_server.logs()


def test_engine_failure_after_the_first_chunk_resets_an_http_10_answer(
        fault_server: RunningServer) -> None:
    """An HTTP/1.0 answer is framed by the connection's close (no chunks): it was closed
    with a FIN after a failure too, and the audio so far looked like the whole answer."""
    body = b'{"text": "This part is fine. Then kaboom happens here. Never spoken."}'
    request = (b"POST /tts HTTP/1.0\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
               b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
               % (TOKEN.encode(), len(body), body))
    data = b""
    with socket.create_connection(("127.0.0.1", fault_server.port), timeout=30) as sock:
        sock.sendall(request)
        with pytest.raises(ConnectionResetError):
            while part := sock.recv(65536):
                data += part
    assert not data or data.startswith(b"HTTP/1.1 200"), data[:200]


def test_full_engine_queue_is_503_with_retry_after(fault_server: RunningServer) -> None:
    """One worker and a queue of one: a busy worker plus one waiting piece fill it."""
    results: dict[str, int] = {}

    def post(name: str, text: str) -> None:
        r = httpx.post(f"{fault_server.url}/tts", json={"text": text}, headers=AUTH, timeout=60)
        results[name] = r.status_code

    busy = threading.Thread(target=post, args=("busy", "Dawdle for a while."))
    busy.start()
    _wait(lambda: _busy_alone(fault_server))
    waiting = threading.Thread(target=post, args=("waiting", "Hello there."))
    waiting.start()
    _wait(lambda: _metric(fault_server, "rymi_tts_queue_depth") >= 1)
    r = httpx.post(f"{fault_server.url}/tts", json={"text": "Me too."}, headers=AUTH)
    assert r.status_code == 503
    assert r.headers["retry-after"] and r.json()["error"]["code"] == "over_capacity"
    busy.join()
    waiting.join()
    assert results == {"busy": 200, "waiting": 200}
    # Each piece's end is counted before its audio is handed on: none runs now.
    assert _metric(fault_server, "rymi_tts_pieces_running") == 0


def test_a_burst_cannot_pass_the_queue_bound_together(fault_server: RunningServer) -> None:
    """Eight requests at once while the one worker is busy and the queue holds one: one
    is queued, seven are 503. The bound was checked before an await (the voice's load),
    so requests of one burst could all pass it before any had queued its piece."""
    busy_status: list[int] = []
    busy = threading.Thread(target=lambda: busy_status.append(httpx.post(
        f"{fault_server.url}/tts", json={"text": "Dawdle for a while."}, headers=AUTH,
        timeout=60).status_code))
    busy.start()
    _wait(lambda: _busy_alone(fault_server))
    gate, statuses = threading.Barrier(8), []

    def post() -> None:
        with httpx.Client(timeout=60) as client:
            client.get(f"{fault_server.url}/healthz")  # connected before the gate opens
            gate.wait()
            statuses.append(client.post(f"{fault_server.url}/tts", json={"text": "Hi there."},
                                        headers=AUTH).status_code)

    burst = [threading.Thread(target=post) for _ in range(8)]
    for t in burst:
        t.start()
    for t in [*burst, busy]:
        t.join()
    assert sorted(statuses) == [200] + [503] * 7 and busy_status == [200]


def _busy_alone(server: RunningServer) -> bool:
    """The dawdling piece is on the one worker and nothing waits: "admitted" alone
    (rymi_inflight) also matched a request still planning, its piece not yet queued."""
    return (_metric(server, "rymi_tts_pieces_running") == 1 and
            _metric(server, "rymi_tts_queue_depth") == 0)


def _wait(condition, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_hang_up_mid_stream_stops_synthesis(tts_server: RunningServer) -> None:
    text = " ".join(f"Sentence {i} is here to make this answer long." for i in range(40))
    replies = post_chunks(tts_server.port, {"text": text})
    reply = next(replies)
    next(replies)  # the first chunk arrived
    replies.close()  # hang up: the socket closes
    record = tts_server.wait_usage(reply.headers["x-request-id"])
    assert record["client_disconnected"] is True
    assert record["pieces_total"] == 40
    # Only what was under way when the caller left: the engine was asked for no more.
    assert record["pieces_finished"] <= record["pieces_synthesized"] <= 6
    time.sleep(0.5)
    assert _metric(tts_server, "rymi_tts_queue_depth") == 0
    assert _metric(tts_server, "rymi_tts_streams") == 0


def test_hang_up_before_the_first_chunk_withdraws_the_queued_piece(
        fault_server: RunningServer) -> None:
    """The one worker dawdles 3 s; a second request's first piece waits behind it and its
    caller gives up: the piece leaves the queue then, and is never synthesised."""
    busy = threading.Thread(target=lambda: httpx.post(
        f"{fault_server.url}/tts", json={"text": "Dawdle for a while."}, headers=AUTH,
        timeout=60))
    busy.start()
    _wait(lambda: _busy_alone(fault_server))
    skipped = metric(fault_server, "rymi_tts_pieces_total", outcome="skipped")
    characters = metric(fault_server, "rymi_tts_characters_total")
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{fault_server.url}/tts", json={"text": "Nobody will hear this."},
                   headers={**AUTH, "X-Request-Id": "gave-up-before-audio"}, timeout=0.8)
    record = fault_server.wait_usage("gave-up-before-audio")
    busy_running = busy.is_alive()
    assert record["client_disconnected"] is True and record["status"] == 499
    # What the engine did for it, in the record as any request's (it had none of this).
    assert (record["pieces_total"], record["pieces_synthesized"], record["pieces_finished"],
            record["audio_seconds"]) == (1, 0, 0, 0.0)
    assert metric(fault_server, "rymi_tts_characters_total") == \
        characters + len("Nobody will hear this.")
    assert metric(fault_server, "rymi_tts_pieces_total", outcome="skipped") == skipped + 1
    assert _metric(fault_server, "rymi_tts_queue_depth") == 0
    assert busy_running  # all of it happened while the worker was still busy
    busy.join()


def test_a_request_is_refused_when_the_streams_in_progress_are_behind_and_only_then() -> None:
    """One worker dawdles 3 s; a second request's first piece waits behind it, past
    max_late_s (1 s). A third request gets 503 then, though the queue has room: each
    stream holds one piece in the queue, so the queue bound alone let ~30 streams in on
    2 workers, and every caller heard 15-20 s of gaps instead of one being told."""
    from tests.support.servers import start_server

    server = start_server("tests.tts.fault_tts", env={
        "RYMI_FAULT_TTS_TOKENS": TOKEN, "RYMI_FAULT_TTS_WORKERS": "1",
        "RYMI_FAULT_TTS_QUEUE_SIZE": "8", "RYMI_FAULT_TTS_DAWDLE_S": "3",
        "RYMI_FAULT_TTS_MAX_LATE_S": "1"})
    try:
        statuses: list[int] = []

        def post(text: str) -> None:
            statuses.append(httpx.post(f"{server.url}/tts", json={"text": text},
                                       headers=AUTH, timeout=60).status_code)
        busy = threading.Thread(target=post, args=("Dawdle for a while.",))
        busy.start()
        _wait(lambda: _busy_alone(server))
        waiting = threading.Thread(target=post, args=("Hello there.",))
        waiting.start()
        _wait(lambda: _metric(server, "rymi_tts_queue_depth") == 1)
        time.sleep(1.5)  # the waiting first piece is now 1.5 s late; the worker is busy
        r = httpx.post(f"{server.url}/tts", json={"text": "Hi."}, headers=AUTH, timeout=60)
        depth = _metric(server, "rymi_tts_queue_depth")
        assert r.status_code == 503 and r.headers["retry-after"] == "1", r.text
        assert r.json()["error"]["code"] == "over_capacity" and depth == 1
        busy.join()
        waiting.join()
        assert statuses == [200, 200]
        # Caught up: admitted again.
        assert httpx.post(f"{server.url}/tts", json={"text": "Hi."}, headers=AUTH,
                          timeout=60).status_code == 200

        # A body that took 1.5 s to come (a voice's first load takes as long) is no
        # stream falling behind: its first piece's deadline is its request's arrival, and
        # counted from there it was 1.5 s late the moment it queued: every request then
        # got 503, though no stream was behind.
        def slow_body():  # type: ignore[no-untyped-def]
            time.sleep(1.5)
            yield b'{"text": "Hello there."}'

        statuses.clear()
        busy = threading.Thread(target=post, args=("Dawdle for a while.",))
        busy.start()
        _wait(lambda: _busy_alone(server))
        slow = threading.Thread(target=lambda: statuses.append(httpx.post(
            f"{server.url}/tts", content=slow_body(), timeout=60,
            headers={**AUTH, "Content-Type": "application/json"}).status_code))
        slow.start()
        _wait(lambda: _metric(server, "rymi_tts_queue_depth") == 1)
        r = httpx.post(f"{server.url}/tts", json={"text": "Hi."}, headers=AUTH, timeout=60)
        assert r.status_code == 200, r.text
        busy.join()
        slow.join()
        assert statuses == [200, 200]
    finally:
        server.stop()
