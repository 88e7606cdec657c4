"""Every limit answered with an error event and its close code, never a crash."""

from __future__ import annotations

import asyncio
import json
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
        assert kinds[-1] == "error" and "faster than it can be transcribed" in \
            got.events[-1]["message"]
        finals = [e for e in got.events if e["type"] == "final"]
        assert finals and all("clubs" in f["text"].lower() for f in finals), finals
        assert kinds.count("speech_started") == kinds.count("utterance_end") == len(finals)
        assert_cut(server.wait_usage("backlog"), 1008, "backlog_refused", "faster than")
    finally:
        server.stop()


@pytest.fixture(scope="module")
def slow_server():
    """Decodes 3 s slower than usual, one worker, a 1 s flush bound, 1 s of backlog
    before back-pressure, 1.5 s idle timeout."""
    from tests.stt.conftest import CLEAN
    from tests.support.servers import start_server

    server = start_server("tests.stt.slow_stt", env={
        **CLEAN, "RYMI_STT_SLOW_DECODE_S": "3", "RYMI_STT_DECODE_WORKERS": "1",
        "RYMI_STT_INTERIM": "false", "RYMI_STT_FLUSH_TIMEOUT_S": "1",
        "RYMI_STT_MAX_BUFFERED_S": "1", "RYMI_STT_IDLE_TIMEOUT_S": "1.5",
        "RYMI_STT_BACKLOG_TIMEOUT_S": "20"})
    yield server
    server.stop()


async def send_then_close(url: str, pcm: bytes, timeout: float = 60,
                          rid: str | None = None) -> Received:
    """The whole clip as one frame, then close; events until the server closes."""
    got = Received()
    headers = {"X-Request-Id": rid} if rid else None
    async with websockets.connect(url, max_size=2**22, additional_headers=headers) as ws:
        reader = asyncio.create_task(collect(ws, got))
        await ws.send(pcm)
        await ws.send(json.dumps({"type": "close"}))
        await asyncio.wait_for(reader, timeout)
    return got


async def test_a_final_not_decoded_within_the_flush_bound_is_an_error_and_1011(slow_server):
    """close flushes the pending final for flush_timeout_s at most; past it the caller
    is told its text is lost (error, close 1011), not dropped with no close frame."""
    from .client import load_pcm

    got = await send_then_close(slow_server.ws_url + "/stt", load_pcm("cards_001.wav"),
                                rid="flush-bound")
    assert got.kinds() == ["speech_started", "error"], got.events
    assert "flush_timeout_s" in got.events[-1]["message"]
    assert got.close_code == 1011
    record = slow_server.wait_usage("flush-bound")
    assert (record["close_code"], record.get("error")) == (1011, "final_lost"), record


async def test_back_pressure_is_not_counted_as_the_client_being_idle(slow_server):
    """Three utterances in one frame: reading stops while their finals decode (~10 s,
    past the 1.5 s idle timeout); the client sent everything, so it is not idle: every
    final comes, then close 1000."""
    from .client import load_pcm

    one = load_pcm("cards_001.wav") + silence(1.0)
    got = await send_then_close(slow_server.ws_url + "/stt", one * 3)
    kinds = got.kinds()
    assert "error" not in kinds, got.events
    finals = got.finals()
    assert len(finals) == 3 and all(" of " in f["text"].lower() for f in finals), finals
    assert got.close_code == 1000


async def test_a_client_waiting_for_its_finals_is_not_idle():
    """Three utterances in one frame, then the caller waits, sending nothing, as a client
    that streamed a call at full speed does. Their finals take ~6 s (no back-pressure
    here), past the 1.5 s idle timeout, which cut the session with them still to come
    (lost past the 1 s flush bound); the idle clock starts once they are out."""
    from tests.stt.conftest import CLEAN
    from tests.support.servers import start_server

    from .client import load_pcm

    server = start_server("tests.stt.slow_stt", env={
        **CLEAN, "RYMI_STT_SLOW_DECODE_S": "2", "RYMI_STT_DECODE_WORKERS": "1",
        "RYMI_STT_INTERIM": "false", "RYMI_STT_FLUSH_TIMEOUT_S": "1",
        "RYMI_STT_IDLE_TIMEOUT_S": "1.5"})
    one = load_pcm("cards_001.wav") + silence(1.0)
    got = Received()
    try:
        async with websockets.connect(server.ws_url + "/stt", max_size=2**22) as ws:
            reader = asyncio.create_task(collect(ws, got))
            await ws.send(one * 3)
            await asyncio.wait_for(reader, 60)
    finally:
        server.stop()
    finals = got.finals()
    assert len(finals) == 3 and all(" of " in f["text"].lower() for f in finals), got.events
    assert got.kinds()[-1] == "error" and "idle_timeout_s" in got.events[-1]["message"]
    assert got.kinds().count("error") == 1 and got.close_code == 1008


async def test_a_client_gone_after_close_frees_its_session_before_the_final_decodes():
    """The caller sends close and leaves while its final decodes (20 s here): the
    session ends at once, not after the decode or the flush bound (60 s), since it holds
    one of max_sessions meanwhile."""
    from tests.stt.conftest import CLEAN
    from tests.support.servers import metric, start_server

    from .client import load_pcm

    server = start_server("tests.stt.slow_stt", env={
        **CLEAN, "RYMI_STT_SLOW_DECODE_S": "20", "RYMI_STT_DECODE_WORKERS": "1",
        "RYMI_STT_INTERIM": "false", "RYMI_STT_FLUSH_TIMEOUT_S": "60"})
    try:
        async with websockets.connect(server.ws_url + "/stt") as ws:
            await ws.send(load_pcm("cards_001.wav"))
            await ws.send(json.dumps({"type": "close"}))
            await asyncio.sleep(0.5)
            assert metric(server, "rymi_stt_active_sessions") == 1
            ws.transport.abort()
        for _ in range(100):  # up to 10 s, half the decode's time
            if metric(server, "rymi_stt_active_sessions") == 0:
                break
            await asyncio.sleep(0.1)
        assert metric(server, "rymi_stt_active_sessions") == 0
        assert metric(server, "rymi_stt_session_closes_total", code="disconnect") == 1
    finally:
        server.stop()


async def test_a_model_that_fails_to_load_is_a_shaped_500_and_the_server_goes_on(models_dir):
    from rymi_endpoints.models import load_catalog
    from rymi_endpoints.models.prepare import prepare
    from tests.stt.conftest import CLEAN
    from tests.support.servers import start_server

    from .client import load_pcm

    prepare(load_catalog()["whisper-base"], models_dir, show_progress=False)
    server = start_server("tests.stt.broken_model_stt",
                          env={**CLEAN, "RYMI_STT_MODELS_DIR": str(models_dir)})
    try:
        for _ in range(2):  # not remembered as loaded, nor as broken: tried again
            with pytest.raises(websockets.InvalidStatus) as err:
                async with websockets.connect(server.ws_url + "/stt?model=base"):
                    pass
            response = err.value.response
            assert response.status_code == 500
            error = json.loads(response.body)["error"]
            assert error["code"] == "model_load_failed" and error["param"] == "model"
        assert "injected load failure" in server.logs()
        got = await send_then_close(server.ws_url + "/stt",
                                    load_pcm("cards_001.wav") + silence(1.0))
        assert got.close_code == 1000 and "club" in got.finals()[0]["text"].lower()
    finally:
        server.stop()


def test_a_session_held_for_back_pressure_is_not_cut_by_keepalive_pings(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A hold stops reading the socket, the client's pong with it: uvicorn's pings (every
    20 s, 20 s to answer) cut a session held 40 s with 1011 and no event, its accepted
    audio lost (seen with four full-speed sessions on one decode worker). The session's
    own limits find a peer that is gone, each with its event."""
    import servers.stt.__main__ as stt_main
    seen: dict[str, object] = {}
    monkeypatch.setattr(stt_main, "create_app", lambda settings: object())
    monkeypatch.setattr(stt_main, "serve", lambda app, settings, name, **kw: seen.update(kw) or 0)
    assert stt_main.main([]) == 0
    assert seen["ws_ping_interval"] is None and seen["ws_ping_timeout"] is None
