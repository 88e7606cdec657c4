"""Clients that stop reading, and a client that sends far faster than real time.

TTS and LLM: the server writes until the socket is full, then waits (uvicorn's flow
control); after send_timeout_s of no progress the request is cut off and the work it
started is cancelled, so neither memory nor engine work grows without bound. STT: audio
sent faster than it can be decoded is buffered up to max_buffered_s, then the server
stops reading the socket (TCP back-pressure) until decodes catch up; nothing is dropped
(the contract requires a file streamed at full speed to give the whole transcript).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import httpx
import psutil
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route
from websockets.asyncio.client import connect

from tests.stt.client import load_pcm, silence
from tests.support.servers import RunningServer, free_port

from .conftest import REL_TOKEN, auth, metric, start, usage_of, wait_for

FIGURES: dict[str, str] = {}


def _rss_mb(server: RunningServer) -> float:
    return psutil.Process(server.proc.pid).memory_info().rss / 2**20


def _stalled_request(port: int, path: str, body: dict, rid: str) -> socket.socket:
    """Send a request, then read nothing; a small receive buffer fills quickly."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    data = json.dumps(body).encode()
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 f"Authorization: Bearer {REL_TOKEN}\r\nX-Request-Id: {rid}\r\n"
                 f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    return sock


def test_tts_client_that_stops_reading_is_cut_off(small_tts: RunningServer) -> None:
    text = " ".join(f"Sentence {i} keeps this reply going for a long while." for i in range(90))
    # Warm the same path first (48 kHz resampler, onnxruntime arenas of both sessions), so
    # the growth measured below is what the stalled stream holds, not first-use memory.
    warm = httpx.post(f"{small_tts.url}/tts", json={"text": text[:400], "format": "pcm_48000"},
                      headers={"Authorization": f"Bearer {REL_TOKEN}"}, timeout=60)
    assert warm.status_code == 200
    rss0 = _rss_mb(small_tts)
    sock = _stalled_request(small_tts.port, "/tts", {"text": text, "format": "pcm_48000"},
                            "stalled-tts")
    try:
        t0 = time.monotonic()
        assert wait_for(lambda: metric(small_tts, "rymi_tts_streams") == 1, 30)
        # Cut off once the socket is full and send_timeout_s (2 s) passes with no progress.
        assert wait_for(lambda: metric(small_tts, "rymi_inflight") == 0, 120)
        took = time.monotonic() - t0
        rec = usage_of(small_tts, "stalled-tts")
        growth = _rss_mb(small_tts) - rss0
        # Cut at once: a graceful close waited for a buffer the client never drains, so
        # the connection, its fd and ~4 MB of kernel buffer stayed while it stayed stuck.
        port = sock.getsockname()[1]
        assert wait_for(lambda: not _connections(small_tts, port), 10)
    finally:
        sock.close()
    assert "returned without completing response" not in small_tts.logs()
    FIGURES["tts"] = (f"cut off after {took:.1f}s; {rec['pieces_synthesized']} of "
                      f"{rec['pieces_total']} pieces; {rec['bytes_out'] / 2**20:.1f} MB sent "
                      f"into socket buffers; RSS +{growth:.0f} MB")
    print("\nTTS stalled reader:", FIGURES["tts"])
    assert rec["error"] == "client_not_reading"
    assert rec["pieces_synthesized"] < rec["pieces_total"]
    assert growth < 100
    assert metric(small_tts, "rymi_tts_streams") == 0


# -- LLM: a proxy in front of an upstream that floods (as fast as it can write) --------

class Flood:
    """An OpenAI-shaped upstream that streams big chunks for ever, counting what it sent."""

    def __init__(self) -> None:
        self.sent = 0
        self.cancelled = 0
        self.open = 0
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "flood",
                 "choices": [{"index": 0, "delta": {"content": "x" * 16000},
                              "finish_reason": None}]}
        self.event = b"data: " + json.dumps(chunk).encode() + b"\n\n"

        async def models(request: Request):
            return JSONResponse({"object": "list", "data": [{"id": "flood"}]})

        async def chat(request: Request):
            await request.body()

            async def body():
                self.open += 1
                try:
                    # uvicorn drops writes to a closed connection silently: stop on our own.
                    while self.sent < 256 * 2**20 and not await request.is_disconnected():
                        yield self.event
                        self.sent += len(self.event)
                except BaseException:
                    self.cancelled += 1
                    raise
                finally:
                    self.open -= 1
            return StreamingResponse(body(), media_type="text/event-stream")

        app = Starlette(routes=[Route("/v1/models", models),
                                Route("/v1/chat/completions", chat, methods=["POST"])])
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)


def _connections(server: RunningServer, port: int) -> list:
    return [c for c in psutil.Process(server.proc.pid).net_connections("tcp")
            if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED]


def test_llm_proxy_client_that_stops_reading_is_cut_off() -> None:
    flood = Flood()
    proxy = start("servers.llm", {
        "RYMI_LLM_BACKEND": "upstream", "RYMI_LLM_UPSTREAM_URL": f"http://127.0.0.1:{flood.port}/v1",
        "RYMI_LLM_TOKENS": REL_TOKEN, "RYMI_LLM_SEND_TIMEOUT_S": "1.5"}, ready_timeout=120)
    try:
        rss0 = _rss_mb(proxy)
        sock = _stalled_request(proxy.port, "/v1/chat/completions", {
            "stream": True, "messages": [{"role": "user", "content": "flood"}]}, "stalled-llm")
        t0 = time.monotonic()
        assert wait_for(lambda: flood.open == 1, 20)
        assert wait_for(lambda: metric(proxy, "rymi_inflight") == 0, 60)
        took = time.monotonic() - t0
        sent_at_cut = flood.sent
        rss1 = _rss_mb(proxy)
        # The upstream request was closed too: no connection from the proxy to it is left.
        assert wait_for(lambda: not _connections(proxy, flood.port), 20), \
            _connections(proxy, flood.port)
        rec = usage_of(proxy, "stalled-llm")
        # ... and the client's, at once (a graceful close waited on its full buffer).
        assert wait_for(lambda: not _connections(proxy, sock.getsockname()[1]), 10)
        sock.close()
        assert "returned without completing response" not in proxy.logs()
        FIGURES["llm"] = (f"cut off after {took:.1f}s; upstream had sent {sent_at_cut / 2**20:.1f} MB, "
                          f"client took {rec['bytes_out'] / 2**20:.1f} MB; "
                          f"RSS +{rss1 - rss0:.0f} MB")
        print("\nLLM stalled reader:", FIGURES["llm"])
        assert rec["error"] == "client_not_reading"
        assert "client read nothing for 1.5s; cutting it off" in proxy.logs()  # (was "2s")
        assert rss1 - rss0 < 100
        # A healthy request still works afterwards (nothing leaked into the pool).
        assert metric(proxy, "rymi_inflight") == 0
    finally:
        proxy.stop()
        flood.server.should_exit = True


async def test_stt_fast_sender_is_buffered_not_dropped(buffered_stt: RunningServer) -> None:
    """40 s of speech (utterances with pauses) sent in one burst to a server with 1 decode
    worker and max_buffered_s=2: every utterance still gets its final, in order."""
    speech = load_pcm("librivox_ss_880.wav")[: 16000 * 2 * 5]
    one = speech + silence(1.0)
    burst = one * 8
    events: list[dict] = []
    rss0 = _rss_mb(buffered_stt)
    peak = rss0
    async with connect(f"{buffered_stt.ws_url}/stt", additional_headers=auth(),
                       max_size=2**22) as ws:
        async def reader():
            async for msg in ws:
                events.append(json.loads(msg))

        task = asyncio.create_task(reader())
        t0 = time.monotonic()
        for i in range(0, len(burst), 32000):  # 1 s per frame, as fast as the socket takes
            await ws.send(burst[i:i + 32000])
            peak = max(peak, _rss_mb(buffered_stt))
        sent_s = time.monotonic() - t0
        await ws.send(json.dumps({"type": "close"}))
        await asyncio.wait_for(task, 120)
        code = ws.close_code
    kinds = [e["type"] for e in events]
    finals = [e for e in events if e["type"] == "final"]
    FIGURES["stt"] = (f"{len(burst) / 32000:.0f} s of audio sent in {sent_s:.1f}s; "
                      f"{len(finals)} finals, {kinds.count('error')} errors; "
                      f"RSS peak +{peak - rss0:.0f} MB; close {code}")
    print("\nSTT fast sender:", FIGURES["stt"])
    assert code == 1000 and "error" not in kinds
    assert len(finals) >= 8 and all(f["text"] for f in finals[:8])
    assert kinds.count("speech_started") == kinds.count("utterance_end")
    assert peak - rss0 < 200
