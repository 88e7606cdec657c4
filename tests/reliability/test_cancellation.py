"""A client that hangs up stops the engine work it started, measured through metrics.

For each server the time from the hang-up to the server's own counters showing the work
gone is measured by polling /metrics (so it includes a scrape, a few ms). The contract's
target is 100 ms; the assertion allows more because the 2-core machine is shared, and
each test prints its measured figure before it asserts anything about it.

The engine work is what is measured: TTS pieces in synthesis (streams gauge, queue), the
vLLM engine's own unfinished-request count, and for STT the decodes themselves. The STT
server has no decode in-flight gauge; its histograms count each decode twice, once when
it starts (rymi_stt_queue_wait_seconds, observed as a worker takes it) and once when it
ends (rymi_stt_decode_seconds), so started minus ended is the decodes running. A decode
that is running when the caller hangs up cannot be stopped half way (CTranslate2): it
finishes and its result is dropped, so that figure includes the rest of one decode.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time

import httpx
from websockets.asyncio.client import connect

from tests.stt.client import load_pcm
from tests.support.servers import RunningServer

from .conftest import LLM_TOKEN, metric, poll_until, usage_of

BOUND_S = 1.0  # generous: other engineers' work shares these 2 cores
# A running STT decode cannot be stopped: it ends when it ends (one decode, a cold one up
# to ~1.5 s here). This bound only says it does end; the figure is printed.
DECODE_BOUND_S = 10.0
MEASURED: dict[str, float] = {}

LONG_TEXT = " ".join(f"Sentence number {i} is here to make this answer long." for i in range(40))


def _measured(name: str, what: str, seconds: float | None) -> None:
    """Print the figure first, so a failing run still shows it; then it must exist."""
    shown = "never (10 s)" if seconds is None else f"{seconds * 1000:.0f} ms"
    print(f"\n{name} cancellation: {what} after {shown}")
    assert seconds is not None, f"{name}: {what} never happened"
    MEASURED[name] = seconds


def _hard_close(sock: socket.socket) -> None:
    """Close at once with a reset (SO_LINGER 0): a phone call dropped, not a polite FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_tts_hang_up(tts_server: RunningServer) -> None:
    body = json.dumps({"text": LONG_TEXT, "format": "pcm_16000"}).encode()
    sock = socket.create_connection(("127.0.0.1", tts_server.port))
    sock.sendall(b"POST /tts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"X-Request-Id: cancel-tts\r\n"
                 + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    assert b" 200 " in sock.recv(65536)[:20]  # headers and the first audio arrived
    time.sleep(0.3)  # mid-stream: the next piece is being synthesised
    assert metric(tts_server, "rymi_tts_streams") == 1
    t0 = time.monotonic()
    _hard_close(sock)
    gone = poll_until(lambda: metric(tts_server, "rymi_tts_streams") == 0, 10)
    _measured("tts", "synthesis streams gauge 0", gone)
    rec = usage_of(tts_server, "cancel-tts")
    started = rec["pieces_synthesized"]
    time.sleep(1.0)  # nothing more is started after the hang-up
    assert metric(tts_server, "rymi_tts_queue_depth") == 0
    print(f"\nTTS cancellation: streams gauge 0 after {gone * 1000:.0f} ms; "
          f"{started} of {rec['pieces_total']} pieces synthesised; "
          f"t0->record {time.monotonic() - t0:.2f}s")
    assert rec["client_disconnected"] is True and started < rec["pieces_total"]
    assert gone < BOUND_S


def test_llm_hang_up(llm_server: RunningServer) -> None:
    body = json.dumps({"model": "x", "stream": True, "max_tokens": 600, "temperature": 0.8,
                       "messages": [{"role": "user", "content": "Tell me a long story."}]}
                      ).encode()
    sock = socket.create_connection(("127.0.0.1", llm_server.port))
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Type: application/json\r\nX-Request-Id: cancel-llm\r\n"
                 + f"Authorization: Bearer {LLM_TOKEN}\r\n".encode()
                 + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    data = b""
    while data.count(b"data: ") < 4:  # a few tokens in: the engine is generating
        data += sock.recv(65536)
    assert metric(llm_server, "rymi_llm_engine_requests") >= 1
    _hard_close(sock)
    gone = poll_until(lambda: metric(llm_server, "rymi_llm_engine_requests") == 0, 10)
    _measured("llm", "vLLM unfinished requests 0", gone)
    rec = usage_of(llm_server, "cancel-llm")
    print(f"\nLLM cancellation: engine requests 0 after {gone * 1000:.0f} ms; "
          f"{rec['completion_tokens']} of up to 600 tokens generated")
    assert rec["client_disconnected"] is True and rec["completion_tokens"] < 600
    assert gone < BOUND_S


def _decodes(server: RunningServer) -> tuple[float, float]:
    """(decodes started, decodes ended) so far, all kinds."""
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    return (_sum(text, "rymi_stt_queue_wait_seconds_count"),
            _sum(text, "rymi_stt_decode_seconds_count"))


def _sum(text: str, name: str) -> float:
    return sum(float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines()
               if ln.startswith(name + "{") or ln.startswith(name + " "))


async def test_stt_hang_up(stt_server: RunningServer) -> None:
    speech = load_pcm("librivox_ss_880.wav")
    ws = await connect(f"{stt_server.ws_url}/stt", additional_headers=stt_server.auth_headers)
    for i in range(0, min(len(speech), 16000 * 2 * 6), 6400):  # 6 s at full speed
        await ws.send(speech[i:i + 6400])
    await asyncio.sleep(0.2)  # decodes queued or running
    active = await asyncio.to_thread(metric, stt_server, "rymi_stt_active_sessions")
    assert active >= 1
    started, ended = await asyncio.to_thread(_decodes, stt_server)
    ws.transport.abort()  # the TCP connection drops: no close frame
    t0 = time.monotonic()
    session = await asyncio.to_thread(poll_until, lambda: metric(
        stt_server, "rymi_inflight", channel="custom-transcriber") == 0, 10)
    idle = await asyncio.to_thread(poll_until, lambda: (lambda s, e: s == e)(
        *_decodes(stt_server)), 10)
    idle_at = time.monotonic() - t0 if idle is not None else None
    await asyncio.sleep(1.0)  # nothing new is started for the session that left
    later, done = await asyncio.to_thread(_decodes, stt_server)
    skipped = await asyncio.to_thread(metric, stt_server, "rymi_stt_decodes_skipped_total")
    print(f"\nSTT at hang-up: {started - ended:.0f} decode(s) running, {started:.0f} started "
          f"so far; 1 s after: {later - started:.0f} more started, {done - ended:.0f} ended; "
          f"decodes skipped so far {skipped:.0f}")
    _measured("stt", "session gone (in-flight 0)", session)
    _measured("stt-decode", "no decode running", idle_at)
    assert later == done, "a decode is still running 1 s after the session left"
    assert later == started, "a decode was started after the caller hung up"
    assert session < BOUND_S and idle_at < DECODE_BOUND_S
    assert (await asyncio.to_thread(httpx.get, f"{stt_server.url}/readyz")).status_code == 200


def test_zz_print_cancellation() -> None:
    print("\ncancellation latency (ms): " + ", ".join(
        f"{k} {v * 1000:.0f}" for k, v in MEASURED.items()))
