"""The STT wire protocol against the real server: event order, finalize answers, control."""

from __future__ import annotations

import asyncio
import json
import socket

import httpx
import pytest
import websockets

from tests.support.servers import metric

from .checks import assert_well_ordered
from .client import Received, collect, load_pcm, send_paced, session, silence, transcribe

TWO = "two_utterances_librivox_ss_870_librivox_ss_880.wav"


async def test_two_utterances_give_two_finals_without_finalize(url, auth):
    got = await transcribe(url, load_pcm(TWO), speed=0, chunk_bytes=3201, tail_s=1.0,
                           headers=auth)
    assert_well_ordered(got.events)
    assert got.kinds().count("speech_started") == 2
    finals = got.finals()
    assert len(finals) == 2 and all(f["text"] for f in finals)
    assert "dashwood" in finals[0]["text"].lower() and "young man" in finals[1]["text"].lower()
    assert all(f["language_code"] == "en-US" and 0 < f["confidence"] <= 1 for f in finals)
    assert got.close_code == 1000


@pytest.mark.parametrize("clip", ["noise_silence.wav", "noise_white.wav"])
async def test_noise_gives_no_words_and_no_speech_started(url, auth, clip):
    got = await session(url, auth, [load_pcm(clip), {"type": "finalize"}])
    # The finalize is still answered: one empty final, then utterance_end.
    assert got.kinds() == ["final", "utterance_end"]
    assert got.finals()[0]["text"] == ""


@pytest.mark.parametrize("control", ["finalize", "close"])
async def test_a_short_word_before_a_finalize_or_close_is_not_lost(url, auth, control):
    """"Ask" alone (jfk.wav, 3.2-3.85 s) is under min_speech_ms, so it starts no
    utterance by itself, and the finalize (or close) after it discarded it: an empty
    final for a caller's one-word answer. The finalize ends it as an utterance now."""
    pcm = load_pcm("jfk.wav")
    word = pcm[int(3.2 * 16000) * 2:int(3.85 * 16000) * 2] + silence(0.5)
    steps = [silence(0.5), word] + ([{"type": "finalize"}, 1.0] if control == "finalize" else [])
    got = await session(url, auth, steps)
    assert got.kinds() == ["speech_started", "final", "utterance_end"], got.events
    assert got.finals()[0]["text"].lower().startswith("as")  # "Ask!" offline, "As." here


async def test_finalize_mid_speech_is_answered_by_that_utterance(url, auth):
    pcm = load_pcm("librivox_ss_870.wav")
    got = await session(url, auth, [pcm[: len(pcm) // 2], {"type": "finalize"}, 1.0])
    assert got.kinds().count("speech_started") == 1
    assert len(got.finals()) == 1 and "dashwood" in got.finals()[0]["text"].lower()


async def test_finalize_while_auto_endpointed_utterance_decodes_gets_one_final(url, auth):
    # The endpoint is found (0.8 s of silence) and its decode is running when the finalize
    # arrives: that final answers it, no second (empty) one follows.
    got = await session(url, auth, [load_pcm("goforward.wav") + silence(0.8),
                                    {"type": "finalize"}, 1.0])
    assert len(got.finals()) == 1 and "forward" in got.finals()[0]["text"].lower()


async def test_each_finalize_gets_exactly_one_final(url, auth):
    got = await session(url, auth, [{"type": "finalize"}, {"type": "finalize"},
                                    load_pcm("cards_003.wav"), {"type": "finalize"},
                                    {"type": "finalize"}])
    finals = got.finals()
    assert len(finals) == 4
    assert [bool(f["text"]) for f in finals] == [False, False, True, False]
    # An empty final is no certainty: a caller gating on confidence must not take it.
    assert [f["confidence"] == 0.0 for f in finals] == [True, True, False, True]
    assert 0.0 < finals[2]["confidence"] <= 1.0


async def test_close_flushes_pending_final_then_closes_1000(stt_server, url, auth):
    closed = metric(stt_server, "rymi_stt_finals_total", trigger="close")
    endpointed = metric(stt_server, "rymi_stt_speech_end_to_utterance_end_seconds_count")
    got = await session(url, auth, [load_pcm("cards_002.wav")])  # no trailing silence
    assert got.kinds()[-2:] == ["final", "utterance_end"] and got.text()
    assert got.close_code == 1000
    # Counted as the close's, not as a turn the endpoint ended (its latency was the wait
    # for the close, in the endpoint's histogram).
    assert metric(stt_server, "rymi_stt_finals_total", trigger="close") == closed + 1
    assert metric(stt_server, "rymi_stt_speech_end_to_utterance_end_seconds_count") == \
        endpointed


async def test_interims_while_speaking_at_real_time_pace(url, auth):
    pcm = load_pcm("ls_2412_153948_0000.wav")[: 16000 * 2 * 3]  # 3 s of speech, paced
    got = Received()
    async with websockets.connect(url, additional_headers=auth) as ws:
        reader = asyncio.create_task(collect(ws, got))
        await send_paced(ws, pcm, chunk_bytes=640, speed=1.0)
        # Still mid-utterance (no silence sent): wait for the hypothesis, however busy
        # the machine is, then end the utterance.
        for _ in range(600):
            if "interim" in got.kinds():
                break
            await asyncio.sleep(0.1)
        await ws.send(json.dumps({"type": "finalize"}))
        await ws.send(json.dumps({"type": "close"}))
        await asyncio.wait_for(reader, 60)
    assert_well_ordered(got.events)
    kinds = got.kinds()
    assert kinds[0] == "speech_started" and "interim" in kinds, kinds
    assert kinds[-2:] == ["final", "utterance_end"]
    interim = [e["text"] for e in got.events if e["type"] == "interim"][-1]
    assert interim.split()[0].lower().strip(",.") in got.finals()[0]["text"].lower()


async def test_interim_false_gets_no_interims_at_real_time_pace(url, auth):
    """``?interim=false`` beside an ``interim=true`` session on the same audio at the same
    time: the second proves interims were due (at full speed none comes before the final,
    so a check there could not fail); the first gets none, and costs no interim decode."""
    pcm = load_pcm("ls_2412_153948_0000.wav")[: 16000 * 2 * 3]
    got = {False: Received(), True: Received()}
    async with websockets.connect(f"{url}?interim=false", additional_headers=auth) as off, \
            websockets.connect(f"{url}?interim=true", additional_headers=auth) as on:
        readers = [asyncio.create_task(collect(off, got[False])),
                   asyncio.create_task(collect(on, got[True]))]
        await asyncio.gather(send_paced(off, pcm, chunk_bytes=640, speed=1.0),
                             send_paced(on, pcm, chunk_bytes=640, speed=1.0))
        for _ in range(600):
            if "interim" in got[True].kinds():
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # as long again as any interim of the other could take
        for ws in (off, on):
            await ws.send(json.dumps({"type": "finalize"}))
            await ws.send(json.dumps({"type": "close"}))
        await asyncio.wait_for(asyncio.gather(*readers), 60)
    assert "interim" in got[True].kinds(), got[True].kinds()
    assert got[False].kinds() == ["speech_started", "final", "utterance_end"], \
        got[False].kinds()


async def test_real_time_pace_gives_the_same_transcript_as_full_speed(url, auth):
    pcm = load_pcm("goforward.wav")
    paced = await transcribe(url, pcm, speed=1.0, chunk_bytes=640, tail_s=0.8, headers=auth)
    fast = await transcribe(url, pcm, speed=0, chunk_bytes=1001, tail_s=0.8, headers=auth)
    assert paced.text() and paced.text() == fast.text()


async def test_bearer_token_checked_on_the_handshake(url):
    with pytest.raises(websockets.InvalidStatus) as err:
        async with websockets.connect(url):
            pass
    assert err.value.response.status_code == 401
    assert json.loads(err.value.response.body)["error"]["type"] == "authentication_error"


async def test_root_path_serves_the_same_session(stt_server, auth):
    got = await session(stt_server.ws_url + "/", auth, [{"type": "finalize"}])
    assert got.kinds() == ["final", "utterance_end"]


async def test_audio_is_counted_in_the_metrics_while_the_call_goes_on(stt_server, auth):
    """Counted at a session's end, an hour's call showed no audio until it hung up."""
    before = metric(stt_server, "rymi_stt_audio_seconds_total") or 0.0
    async with websockets.connect(stt_server.ws_url + "/stt", additional_headers=auth) as ws:
        await send_paced(ws, silence(2.0), chunk_bytes=640, speed=0)
        await ws.send(json.dumps({"type": "finalize"}))  # answered once all is read
        assert json.loads(await ws.recv())["type"] == "final"
        during = metric(stt_server, "rymi_stt_audio_seconds_total") - before
        await ws.send(json.dumps({"type": "close"}))
    assert during == pytest.approx(2.0, abs=0.001)


async def test_usage_record_and_metrics(stt_server, url, auth):
    heard_before = metric(stt_server, "rymi_stt_audio_seconds_total") or 0.0
    await transcribe(url, load_pcm("cards_003.wav"), tail_s=0.8, headers=auth)
    await asyncio.sleep(0.3)
    record = stt_server.usage_records()[-1]
    assert record["channel"] == "custom-transcriber" and record["close_code"] == 1000
    assert record["audio_seconds"] == pytest.approx(1.54 + 0.8, abs=0.05)
    assert "client_disconnected" not in record  # it said close: no dropped call
    # The audio received, in /metrics too (capacity planning had only the log records).
    heard = metric(stt_server, "rymi_stt_audio_seconds_total") - heard_before
    assert heard == pytest.approx(record["audio_seconds"], abs=0.001)
    assert record["finals"] == 1 and record["bytes_in"] > 0
    logs = stt_server.logs()
    assert "stt-test-token" not in logs
    # One record a call, not a line a decode (two a second of speech) and four a
    # connection from the protocol libraries.
    for chatter in ("Processing audio with duration", '"WebSocket /', "connection open",
                    "connection closed"):
        assert chatter not in logs, chatter
    text = httpx.get(stt_server.url + "/metrics").text
    for name in ("rymi_stt_finalize_to_final_seconds", "rymi_stt_decode_seconds",
                 "rymi_stt_speech_end_to_utterance_end_seconds", "rymi_stt_active_sessions",
                 "rymi_stt_queue_wait_seconds", "rymi_stt_real_time_factor"):
        assert name in text


async def test_a_client_that_reads_no_answers_is_not_read_either(stt_server, auth):
    """Every finalize is answered; a client that sends them and reads nothing would queue
    one answer per message on the server without end (90 MB/s) once the sockets' buffers
    are full. The server stops reading instead, so the client's sends stall; once the
    client reads, every answer comes, in order, and the session goes on."""
    frame = json.dumps({"type": "finalize", "pad": "x" * 2000})
    # Uncompressed, and a small receive buffer: the answers (~130 bytes) fill the
    # server's ~4 MB send buffer after ~32,000 finalizes; 100,000 is 200 MB read.
    sent, limit = 0, 100_000
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", stt_server.port))
    got = Received()
    async with websockets.connect(stt_server.ws_url + "/stt", sock=sock, compression=None,
                                  additional_headers=auth) as ws:
        while sent < limit:
            stalled = asyncio.ensure_future(ws.send(frame))
            done, _ = await asyncio.wait({stalled}, timeout=3.0)
            if not done:
                break  # the server is not reading: our send waits for the socket
            sent += 1
        assert sent < limit, "the server read every frame while none of its answers was taken"
        reader = asyncio.create_task(collect(ws, got))
        await asyncio.wait_for(stalled, 60)  # reading again, the server takes it too
        await ws.send(json.dumps({"type": "close"}))
        await asyncio.wait_for(reader, 60)
    assert got.kinds() == ["final", "utterance_end"] * (sent + 1)
    assert got.close_code == 1000


async def _usage_record(server, rid: str) -> dict:  # type: ignore[no-untyped-def]
    """One session's record, written a moment after its socket is gone: polled."""
    deadline = asyncio.get_running_loop().time() + 10
    while not (records := [u for u in server.usage_records() if u["request_id"] == rid]):
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    return records[0]


async def test_a_dropped_call_is_said_in_its_record(stt_server, url, auth):
    """A connection gone with no close frame (a dropped call) left a record just like a
    clean close: 101, no close code, nothing to tell it from a caller that said goodbye,
    where TTS and LLM records say client_disconnected."""
    rid = "stt-dropped-1"
    ws = await websockets.connect(url, additional_headers={**auth, "X-Request-ID": rid})
    await ws.send(load_pcm("cards_003.wav")[:32000])
    await asyncio.sleep(0.3)
    ws.transport.abort()  # the TCP connection gone, no close frame
    records = [await _usage_record(stt_server, rid)]
    assert records[0]["client_disconnected"] is True, records
    # No close frame: 1006 (RFC 6455 7.1.5); 1005 would be a close frame with no code.
    assert records[0]["client_close_code"] == 1006, records
    assert records[0]["audio_seconds"] == 1.0


async def test_a_close_frame_without_a_code_is_told_from_a_dropped_call(stt_server, url, auth):
    """uvicorn reported a connection lost with no close frame as 1005, the code of a
    close frame that carries no status: the two read the same in the record."""
    rid = "stt-no-code-close"
    ws = await websockets.connect(url, additional_headers={**auth, "X-Request-ID": rid})
    await ws.send(load_pcm("cards_003.wav")[:32000])
    await asyncio.sleep(0.3)
    ws.transport.write(b"\x88\x80\x00\x00\x00\x00")  # a masked close frame, empty payload
    await asyncio.sleep(0.3)
    ws.transport.abort()
    record = await _usage_record(stt_server, rid)
    assert record["client_disconnected"] is True, record
    assert record["client_close_code"] == 1005, record


async def test_a_call_dropped_after_its_close_message_has_its_close_code(stt_server, url, auth):
    """Gone while its session was ending (after "close"), the record said
    client_disconnected with no close code (null), unlike any other dropped call."""
    rid = "stt-dropped-2"
    ws = await websockets.connect(url, additional_headers={**auth, "X-Request-ID": rid})
    await ws.send(load_pcm("cards_003.wav")[:32000])
    await ws.send(json.dumps({"type": "close"}))
    ws.transport.abort()
    records = [await _usage_record(stt_server, rid)]
    assert records[0]["client_disconnected"] is True, records
    assert records[0]["client_close_code"] == 1006, records
