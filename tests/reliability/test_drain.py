"""SIGTERM with live work on every server: in-flight work completes within the drain
bound, new work is refused (503, or 503 on the WebSocket handshake), every session's
usage record is written, and the process exits 0.

Each test starts its own small server (SIGTERM ends it). The LLM case runs the
upstream-proxy backend in front of the shared in-process server, so no second vLLM
engine is started: the drain under test is the LLM server's own (same code path).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.stt.client import load_pcm, silence
from tests.support.servers import RunningServer

from .conftest import LLM_TOKEN, REL_TOKEN, auth, metric, start, wait_for

DRAIN_S = 15
OUTCOMES: dict[str, str] = {}


def _in_threads(fn, n: int) -> tuple[list[threading.Thread], list]:
    results: list = []
    threads = [threading.Thread(target=lambda i=i: results.append(fn(i))) for i in range(n)]
    for t in threads:
        t.start()
    return threads, results


def _finish(server: RunningServer, name: str, t_sig: float, rids: list[str]) -> None:
    code = server.proc.wait(DRAIN_S + 15)
    took = time.monotonic() - t_sig
    ids = {u["request_id"] for u in server.usage_records()}
    missing = [r for r in rids if r not in ids]
    bound_hit = "drain bound reached" in server.logs()
    OUTCOMES[name] = (f"exit {code} after {took:.1f}s (bound {DRAIN_S}s"
                      f"{', reached' if bound_hit else ''}); usage records "
                      f"{len(rids) - len(missing)}/{len(rids)}")
    print(f"\n{name} drain: {OUTCOMES[name]}")
    assert code == 0 and not missing and took < DRAIN_S + 5


def test_tts_drain() -> None:
    server = start("servers.tts", {"RYMI_TTS_TOKENS": REL_TOKEN,
                                   "RYMI_TTS_DRAIN_TIMEOUT_S": str(DRAIN_S)})
    # Long enough (about 3 s here) that a much faster machine is still mid-stream when
    # the signal comes: the polls below see both streams live, and neither has ended.
    text = " ".join(f"Sentence {i} of a reply that is still being spoken." for i in range(16))

    def call(i: int):
        with httpx.stream("POST", f"{server.url}/tts", json={"text": text}, timeout=60,
                          headers={**auth(), "X-Request-Id": f"drain-tts-{i}"}) as r:
            return r.status_code, len(r.read())  # raises if cut (no chunked terminator)

    try:
        threads, results = _in_threads(call, 2)
        assert wait_for(lambda: metric(server, "rymi_tts_streams") == 2, 30)
        t_sig = time.monotonic()
        server.signal()
        assert not results, "a stream ended before SIGTERM: nothing was drained"
        assert wait_for(lambda: httpx.get(f"{server.url}/readyz").status_code == 503, 5)
        r = httpx.post(f"{server.url}/tts", json={"text": "Hi."}, headers=auth())
        assert r.status_code == 503 and r.headers["retry-after"]
        for t in threads:
            t.join(60)
        print(f"\ntts: in-flight streams done {time.monotonic() - t_sig:.1f}s after SIGTERM")
        assert [s for s, _ in results] == [200, 200] and all(n > 0 for _, n in results)
        _finish(server, "tts", t_sig, ["drain-tts-0", "drain-tts-1"])
    finally:
        server.stop()


def test_a_tts_stream_cut_at_the_drain_bound_is_the_servers_cut() -> None:
    """A reply far longer than a 1 s drain bound: cut, its record says the server cut it
    (it said the client had disconnected), and no error traceback per cut request."""
    server = start("servers.tts", {"RYMI_TTS_TOKENS": REL_TOKEN,
                                   "RYMI_TTS_DRAIN_TIMEOUT_S": "1"})
    text = " ".join(f"Sentence {i} of a reply that goes on for a long while." for i in range(80))
    try:
        with httpx.stream("POST", f"{server.url}/tts", json={"text": text}, timeout=60,
                          headers={**auth(), "X-Request-Id": "cut-tts"}) as r:
            assert r.status_code == 200
            chunks = r.iter_raw()
            next(chunks)
            server.signal()
            with pytest.raises(httpx.HTTPError):  # cut: no chunked terminator
                for _ in chunks:
                    pass
        assert server.proc.wait(30) == 0
        record = next(u for u in server.usage_records() if u["request_id"] == "cut-tts")
        assert record.get("error") == "cut_at_shutdown" and "client_disconnected" not in record
        assert "drain bound reached" in server.logs()
        assert "Exception in ASGI application" not in server.logs()
    finally:
        server.stop()


def test_llm_drain(llm_server: RunningServer) -> None:
    server = start("servers.llm", {
        "RYMI_LLM_BACKEND": "upstream", "RYMI_LLM_UPSTREAM_URL": f"{llm_server.url}/v1",
        "RYMI_LLM_UPSTREAM_TOKEN": LLM_TOKEN, "RYMI_LLM_TOKENS": REL_TOKEN,
        "RYMI_LLM_DRAIN_TIMEOUT_S": str(DRAIN_S)}, ready_timeout=120)
    # min_tokens: the model may not stop early, so both calls are mid-stream at SIGTERM
    # even on a machine many times faster than this one (128 tokens: about 3 s here).
    body = {"stream": True, "max_tokens": 128, "min_tokens": 128, "temperature": 0,
            "messages": [{"role": "user", "content": "Count slowly from one to fifty."}]}

    def call(i: int):
        lines = []
        with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=body, timeout=120,
                          headers={**auth(), "X-Request-Id": f"drain-llm-{i}"}) as r:
            lines = [ln for ln in r.iter_lines() if ln]
        return r.status_code, lines

    try:
        threads, results = _in_threads(call, 2)
        assert wait_for(lambda: metric(server, "rymi_inflight") == 2, 60)
        t_sig = time.monotonic()
        server.signal()
        assert not results, "a call ended before SIGTERM: nothing was drained"
        assert wait_for(lambda: httpx.get(f"{server.url}/readyz").status_code == 503, 5)
        r = httpx.post(f"{server.url}/v1/chat/completions", json=body, headers=auth())
        assert r.status_code == 503 and r.headers["retry-after"]
        for t in threads:
            t.join(120)
        for status, lines in results:
            assert status == 200 and lines[-1] == "data: [DONE]", lines[-3:]
        _finish(server, "llm (proxy backend)", t_sig, ["drain-llm-0", "drain-llm-1"])
    finally:
        server.stop()


async def test_stt_drain() -> None:
    server = await asyncio.to_thread(start, "servers.stt", {
        "RYMI_STT_TOKENS": REL_TOKEN, "RYMI_STT_DRAIN_TIMEOUT_S": str(DRAIN_S)})
    speech = load_pcm("librivox_ss_880.wav")[: 16000 * 2 * 3]
    try:
        async def session(i: int) -> tuple[list[dict], int | None]:
            events: list[dict] = []
            async with connect(f"{server.ws_url}/stt", additional_headers={
                    **auth(), "X-Request-Id": f"drain-stt-{i}"}) as ws:
                async def reader():
                    try:
                        async for msg in ws:
                            events.append(json.loads(msg))
                    except Exception:  # noqa: BLE001 - the close code is checked
                        pass
                task = asyncio.create_task(reader())
                for j in range(0, len(speech), 3200):  # real time: mid-utterance at SIGTERM
                    await ws.send(speech[j:j + 3200])
                    await asyncio.sleep(0.1)
                await ws.send(silence(0.1))
                await asyncio.wait_for(task, 40)
                return events, ws.close_code

        tasks = [asyncio.create_task(session(i)) for i in range(2)]
        await asyncio.sleep(1.0)
        t_sig = time.monotonic()
        server.signal()
        await asyncio.sleep(0.3)
        with pytest.raises(InvalidStatus) as err:
            async with connect(f"{server.ws_url}/stt", additional_headers=auth()):
                pass
        assert err.value.response.status_code == 503
        for events, code in await asyncio.gather(*tasks):
            kinds = [e["type"] for e in events]
            assert code == 1013 and kinds[-1] == "error", kinds
            assert kinds.count("speech_started") == kinds.count("final"), kinds  # flushed
        await asyncio.to_thread(_finish, server, "stt", t_sig, ["drain-stt-0", "drain-stt-1"])
    finally:
        server.stop()
