"""Every limit answered with an error event and its close code, never a crash."""

from __future__ import annotations

import asyncio
import json
import re
import time

import httpx
import pytest
import websockets

from .client import Received, collect, silence


async def run(url: str, steps: list, rid: str | None = None) -> Received:
    got = Received()
    headers = {"X-Request-Id": rid} if rid else None
    async with websockets.connect(url, max_size=2**22, additional_headers=headers) as ws:
        reader = asyncio.create_task(collect(ws, got))
        for step in steps:
            if reader.done():  # the server closed: stop sending
                break
            if isinstance(step, bytes | str):
                try:
                    await ws.send(step)
                except websockets.ConnectionClosed:
                    break
            else:
                await asyncio.sleep(step)
        await asyncio.wait_for(reader, 30)
    return got


# 100000 bytes: past the 2x max_frame_bytes uvicorn once cut by itself, with no event.
@pytest.mark.parametrize("size", [40000, 100000])
async def test_oversized_frame_closes_1009_after_an_error_event(limits_server, size):
    got = await run(limits_server.ws_url + "/stt", [silence(0.5), bytes(size)], f"big-{size}")
    assert got.kinds()[-1] == "error" and "max_frame_bytes" in got.events[-1]["message"]
    assert got.close_code == 1009
    assert_cut(limits_server.wait_usage(f"big-{size}"), 1009, "frame_too_large",
               "max_frame_bytes")


async def test_a_frame_past_the_websocket_layers_own_limit_is_recorded_as_the_cut(
        limits_server):
    """Past 8x max_frame_bytes the WebSocket layer closes 1009 by itself: the record
    said the client hung up (client_disconnected, counted as a disconnect)."""
    from servers.stt.__main__ import WS_MAX_FACTOR

    limit = int(limits_server.env["RYMI_STT_MAX_FRAME_BYTES"])
    past = max(WS_MAX_FACTOR * limit, 1 << 20) + 2  # (the layer's, as __main__ sets it)
    got = await run(limits_server.ws_url + "/stt", [silence(0.5), bytes(past)], "layer")
    assert got.close_code == 1009, got.events
    record = limits_server.wait_usage("layer")
    assert_cut(record, 1009, "frame_too_large", "WebSocket layer")
    assert "client_disconnected" not in record, record



async def test_the_layers_cut_while_the_server_closes_is_recorded_as_its_metric_says():
    """The layer's 1009 read while the session ends (a final still decoding after the
    client's "close") was counted as 1009 in the metric, while the record said neither
    the cut nor the hang-up: one place now says it for both paths."""
    from servers.stt.__main__ import WS_MAX_FACTOR
    from tests.stt.conftest import CLEAN
    from tests.support.servers import metric, start_server

    from .client import load_pcm

    server = start_server("tests.stt.slow_stt", env={
        **CLEAN, "RYMI_STT_SLOW_DECODE_S": "3", "RYMI_STT_DECODE_WORKERS": "1",
        "RYMI_STT_INTERIM": "false", "RYMI_STT_MAX_FRAME_BYTES": "32000"})
    try:
        past = max(WS_MAX_FACTOR * 32000, 1 << 20) + 2
        pcm = load_pcm("cards_001.wav") + silence(1.0)
        chunks = [pcm[i:i + 32000] for i in range(0, len(pcm), 32000)]
        # The frame once the session is closing (its final 3 s from decoded): sent with
        # the rest, the layer may read it first and cut before the session has the close.
        got = await run(server.ws_url + "/stt", [
            *chunks, json.dumps({"type": "close"}), 1.0, bytes(past)], "closing-cut")
        assert got.close_code == 1009 and "final" not in got.kinds(), got.events
        record = server.wait_usage("closing-cut")
        assert_cut(record, 1009, "frame_too_large", "WebSocket layer")
        assert "client_disconnected" not in record, record
        assert metric(server, "rymi_stt_session_closes_total", code="1009") == 1
    finally:
        server.stop()


def assert_cut(record: dict, close_code: int, error: str, reason: str) -> None:
    """A session the server ended says which limit in its usage record (1008 alone is
    three of them), and the reason the client was given."""
    assert (record["close_code"], record.get("error")) == (close_code, error), record
    assert reason in record.get("close_reason", ""), record


async def test_a_frame_of_exactly_max_frame_bytes_is_taken(limits_server):
    """The limit is the largest frame accepted (its setting says so): one byte over is
    1009, the limit itself is audio like any other (1 s of silence, 32,000 bytes)."""
    limit = int(limits_server.env["RYMI_STT_MAX_FRAME_BYTES"])
    got = await run(limits_server.ws_url + "/stt", [
        bytes(limit), json.dumps({"type": "finalize"}), 0.3, json.dumps({"type": "close"})])
    assert got.kinds() == ["final", "utterance_end"] and got.close_code == 1000, got.events
    got = await run(limits_server.ws_url + "/stt", [bytes(limit + 2)])
    assert got.close_code == 1009 and f"{limit + 2} bytes" in got.events[-1]["message"]


async def test_a_text_frame_is_measured_in_bytes(limits_server):
    """12,000 "€" are 36,000 bytes, past the 32,000 limit (counted as characters, the
    frame passed)."""
    got = await run(limits_server.ws_url + "/stt", [silence(0.2), "€" * 12_000])
    assert got.kinds()[-1] == "error" and "36000 bytes" in got.events[-1]["message"]
    assert got.close_code == 1009


async def test_idle_session_closes_1008(limits_server):
    got = await run(limits_server.ws_url + "/stt", [silence(0.2)], "idle")
    assert got.kinds() == ["error"] and "idle" in got.events[0]["message"]
    assert got.close_code == 1008
    assert_cut(limits_server.wait_usage("idle"), 1008, "idle_timeout", "idle_timeout_s")


async def test_session_longer_than_the_maximum_closes_1008(limits_server):
    steps: list = []
    for _ in range(100):  # streams without a pause (a frame every 50 ms) past max_session_s = 3
        steps += [silence(0.05), 0.05]
    got = await run(limits_server.ws_url + "/stt", steps, "long")
    assert got.kinds()[-1] == "error" and "max_session_s" in got.events[-1]["message"]
    assert got.close_code == 1008
    assert_cut(limits_server.wait_usage("long"), 1008, "session_too_long", "max_session_s")


async def test_over_capacity_handshake_gets_503_while_admitted_session_goes_on(limits_server):
    url = limits_server.ws_url + "/stt"
    async with websockets.connect(url) as first:
        with pytest.raises(websockets.InvalidStatus) as err:
            async with websockets.connect(url):
                pass
        response = err.value.response
        assert response.status_code == 503 and response.headers["Retry-After"]
        assert json.loads(response.body)["error"]["code"] == "over_capacity"
        await first.send(json.dumps({"type": "finalize"}))
        assert json.loads(await first.recv())["type"] == "final"
    for _ in range(50):  # the slot frees once the first session is gone
        if (await asyncio.to_thread(httpx.get, limits_server.url + "/readyz")).is_success:
            break
    async with websockets.connect(url) as again:
        await again.send(json.dumps({"type": "close"}))
        await asyncio.wait_for(again.wait_closed(), 10)
        assert again.close_code == 1000


async def test_sigterm_drains_open_sessions_with_1013():
    from tests.stt.conftest import CLEAN
    from tests.support.servers import start_server

    from .client import load_pcm

    server = start_server("servers.stt", env={**CLEAN, "RYMI_STT_DRAIN_TIMEOUT_S": "10"})
    try:
        got = Received()
        async with websockets.connect(server.ws_url + "/stt") as ws:
            reader = asyncio.create_task(collect(ws, got))
            await ws.send(load_pcm("cards_003.wav"))  # mid-utterance when the signal comes
            await asyncio.sleep(0.3)
            server.signal()
            await asyncio.wait_for(reader, 30)
        # The utterance in progress is flushed, then the session is told why it ends.
        assert got.kinds()[-3:] == ["final", "utterance_end", "error"]
        assert "draining" in got.events[-1]["message"]
        assert got.close_code == 1013
        assert server.proc.wait(30) == 0
    finally:
        server.stop()


def test_default_session_limit_follows_the_hardware(monkeypatch):
    from servers.common import cpus
    from servers.stt import config

    monkeypatch.setattr(cpus.os, "sched_getaffinity", lambda pid: {0, 1, 2})
    monkeypatch.setattr(cpus, "cpu_quota", lambda *a: None)  # (this box's own: none)
    assert config.SttSettings().session_limit() == 6  # 2 per usable core
    assert config.SttSettings(device="cuda").session_limit() == 32
    assert config.SttSettings(max_sessions=5).session_limit() == 5  # a set value wins
    # The common max_inflight bounds sessions where it is set (it was ignored).
    assert config.SttSettings(max_inflight=1).session_limit() == 1
    assert config.SttSettings(max_sessions=5, max_inflight=3).session_limit() == 3
    assert config.SttSettings(max_sessions=2, max_inflight=3).session_limit() == 2
    monkeypatch.setenv("RYMI_STT_MAX_INFLIGHT", "4")
    assert config.SttSettings().session_limit() == 4


async def test_sigterm_closes_a_session_that_never_pauses_with_1013():
    from tests.stt.conftest import CLEAN
    from tests.support.servers import start_server

    server = start_server("servers.stt", env={**CLEAN, "RYMI_STT_DRAIN_TIMEOUT_S": "4"})
    try:
        got = Received()
        async with websockets.connect(server.ws_url + "/stt") as ws:
            reader = asyncio.create_task(collect(ws, got))
            for i in range(200):  # 20 ms of silence every 20 ms, through the whole drain
                if reader.done():
                    break
                if i == 10:
                    server.signal()
                try:
                    await ws.send(silence(0.02))
                except websockets.ConnectionClosed:
                    break
                await asyncio.sleep(0.02)
            await asyncio.wait_for(reader, 30)
        assert got.kinds()[-1] == "error" and "draining" in got.events[-1]["message"]
        assert got.close_code == 1013
        assert server.proc.wait(30) == 0
    finally:
        server.stop()


async def test_a_final_the_drain_bound_cuts_off_is_said_lost_before_the_cut():
    """Decodes 15 s slower, a 3 s drain bound, SIGTERM mid-utterance: the session ends at
    0.7 of the bound and its final cannot come before the server cuts the sockets. It
    waited for it the whole flush_timeout_s, so the cut (1012) came first and 4 s of
    accepted speech ended without a word; now the loss is said (error event) and the
    close is sent before the bound. And the process exits at the bound (plus uvicorn's
    1 s cut-off), not when the decode it cut off ends (~17 s after the signal)."""
    from tests.stt.conftest import CLEAN
    from tests.support.servers import start_server

    from .client import load_pcm

    server = start_server("tests.stt.slow_stt", env={
        **CLEAN, "RYMI_STT_SLOW_DECODE_S": "15", "RYMI_STT_DECODE_WORKERS": "1",
        "RYMI_STT_INTERIM": "false", "RYMI_STT_DRAIN_TIMEOUT_S": "3"})
    try:
        got = Received()
        pcm = load_pcm("ls_2412_153948_0000.wav")
        async with websockets.connect(server.ws_url + "/stt") as ws:
            reader = asyncio.create_task(collect(ws, got))
            for i in range(0, len(pcm), 3200):  # real time, 100 ms a frame
                if reader.done():
                    break
                if i == 3200 * 20:  # 2 s in: mid-utterance
                    server.signal()
                    signalled = time.monotonic()
                try:
                    await ws.send(pcm[i:i + 3200])
                except websockets.ConnectionClosed:
                    break
                await asyncio.sleep(0.1)
            await asyncio.wait_for(reader, 30)
        kinds = got.kinds()
        assert "speech_started" in kinds and got.close_code == 1011, (kinds, got.close_code)
        lost = [e for e in got.events if e["type"] == "error" and "is lost" in e["message"]]
        assert lost and "drain bound" in lost[0]["message"], got.events
        assert server.proc.wait(30) == 0
        assert time.monotonic() - signalled < 8  # 3 s bound + 1 s cut-off + start-up slack
    finally:
        server.stop()


async def test_a_backlog_no_decode_shrinks_is_refused_after_its_finals():
    """Decodes 2 s slower than usual, 1 worker, max_buffered_s 1, backlog_timeout_s 1: a
    burst of three utterances stops being read, then is refused loudly (1008), and the
    finals of what was accepted still come first: nothing is dropped in silence."""
    from tests.stt.conftest import CLEAN
    from tests.support.servers import start_server

    from .client import load_pcm

    server = start_server("tests.stt.slow_stt", env={
        **CLEAN, "RYMI_STT_SLOW_DECODE_S": "2", "RYMI_STT_DECODE_WORKERS": "1",
        "RYMI_STT_INTERIM": "false", "RYMI_STT_MAX_BUFFERED_S": "1",
        "RYMI_STT_BACKLOG_TIMEOUT_S": "1"})
    try:
        got = Received()
        one = load_pcm("cards_001.wav") + silence(1.0)
        async with websockets.connect(server.ws_url + "/stt", max_size=2**22,
                                      additional_headers={"X-Request-Id": "backlog"}) as ws:
            reader = asyncio.create_task(collect(ws, got))
            for _ in range(3):
                try:
                    await ws.send(one)
                except websockets.ConnectionClosed:
                    break
            await asyncio.wait_for(reader, 60)
        kinds = got.kinds()
        assert got.close_code == 1008, kinds
        message = got.events[-1]["message"]
        assert kinds[-1] == "error" and "faster than it can be transcribed" in message
        # What was held, said in both counts (the finals' count alone can hold under 1 s).
        assert re.search(r": \d+\.\d s of audio and \d+ ended utterances? waiting", message), \
            message
        finals = [e for e in got.events if e["type"] == "final"]
        assert finals and all("clubs" in f["text"].lower() for f in finals), finals
        assert kinds.count("speech_started") == kinds.count("utterance_end") == len(finals)
        assert_cut(server.wait_usage("backlog"), 1008, "backlog_refused", "faster than")
    finally:
        server.stop()


def test_the_drain_bound_counts_from_the_servers_drain_not_the_sessions_first_look():
    """A session learnt of the drain at its next tick (0.25 s): a close that came in
    between was given flush_timeout_s (30 s) for its final, past the server's cut at
    drain_timeout_s (20 s), and a final decoded after the cut was lost without a word."""
    from servers.common.state import ServerState
    from servers.stt.config import SttSettings
    from servers.stt.limits import DRAIN_MARGIN_S, DRAIN_SHARE, SessionLimits

    settings, state = SttSettings(drain_timeout_s=20), ServerState(channel="stt")
    limits = SessionLimits(settings, state, started_at=time.monotonic())
    assert limits.drain_left(time.monotonic()) is None
    state.drain()
    since = state.drain_since
    assert since is not None
    assert limits.drain_left(since + 1) == pytest.approx(19 - DRAIN_MARGIN_S)
    share = DRAIN_SHARE * 20
    assert limits.check(since + share - 0.1, mid_turn=True) is None
    closing = limits.check(since + share, mid_turn=True)
    assert closing is not None and closing[0] == 1013
