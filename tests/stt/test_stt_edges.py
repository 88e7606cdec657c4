"""STT behaviours that no other test held (found by breaking the code on purpose): the
phone-band check's metric, thresholds and where it applies; a bad message answered
while an utterance waits for its final; compression declined."""

from __future__ import annotations

import json

import websockets

from tests.support.servers import metric, start_server

from .client import load_pcm, phone_band, silence, transcribe
from .conftest import CLEAN

NARROW = "rymi_stt_narrowband_sessions_total"


async def test_a_phone_call_is_counted_as_a_narrowband_session(
        url: str, auth: dict[str, str], stt_server) -> None:  # type: ignore[no-untyped-def]
    """The metric the README offers operators: one more per phone-band session, none for
    a wideband one."""
    pcm = load_pcm("jfk.wav")
    before = metric(stt_server, NARROW)
    await transcribe(url, phone_band(pcm) + silence(1), headers={**auth, "X-Request-Id":
                                                                 "r17-phone"})
    assert stt_server.wait_usage("r17-phone")["audio_band"] == "narrow"
    assert metric(stt_server, NARROW) == before + 1
    await transcribe(url, pcm + silence(1), headers={**auth, "X-Request-Id": "r17-wide"})
    assert stt_server.wait_usage("r17-wide")["audio_band"] == "wide"
    assert metric(stt_server, NARROW) == before + 1


async def test_a_vad_threshold_already_under_the_narrowband_one_is_kept_for_phone_calls(
        ) -> None:
    """RYMI_STT_VAD_THRESHOLD=0.3, under narrowband_vad_threshold (0.35): a phone call
    keeps the operator's 0.3 (the band check is off), never raised to 0.35."""
    server = start_server("servers.stt", env={**CLEAN, "RYMI_STT_VAD_THRESHOLD": "0.3",
                                              "RYMI_STT_DECODE_WORKERS": "1"})
    try:
        pcm = phone_band(load_pcm("jfk.wav")) + silence(1)
        await transcribe(server.ws_url + "/stt", pcm, headers={"X-Request-Id": "r17-low"})
        assert server.wait_usage("r17-low")["audio_band"] is None
    finally:
        server.stop()


async def test_a_bad_message_while_an_utterance_waits_is_answered_with_no_more_audio(
        url: str, auth: dict[str, str]) -> None:
    """Mid-utterance, no interims, and the client sends nothing after its bad message: the
    error still comes next, ahead of the utterance's final (not only once audio or a
    finalize wakes the writer)."""
    import asyncio
    import json

    import websockets

    pcm = load_pcm("jfk.wav")[:int(1.5 * 32000)]  # stops mid-word: the utterance stays open
    async with websockets.connect(url + "?interim=false", additional_headers=auth,
                                  ping_interval=None) as ws:
        await ws.send(pcm)
        assert json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] == "speech_started"
        await ws.send("{not json")
        answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert answer["type"] == "error" and "malformed JSON" in answer["message"], answer
        await ws.send(json.dumps({"type": "finalize"}))
        final = json.loads(await asyncio.wait_for(ws.recv(), 30))
        assert final["type"] == "final", final


def test_a_phone_calls_thresholds_move_the_vads_quiet_level_too() -> None:
    """The VAD starts its state afresh after 5 s under its quiet level, which is the
    segmenter's silence: narrowband speech held under the wide one would reset it
    mid-sentence. Both move to the narrowband values, and back once the audio is wide."""
    import numpy as np

    from servers.stt.band import NarrowbandThresholds
    from servers.stt.segmenter import SegmenterConfig, UtteranceSegmenter
    from servers.stt.vad import StreamingVad

    vad = StreamingVad(quiet_below=0.35)
    segmenter = UtteranceSegmenter(vad.probabilities, SegmenterConfig(threshold=0.5))
    band = NarrowbandThresholds(segmenter, vad, 0.35, 0.2)

    def samples(pcm: bytes) -> np.ndarray:
        return np.frombuffer(pcm, "<i2").astype(np.float32) / 32768

    band.before(samples(phone_band(load_pcm("jfk.wav"))))
    assert band.watch.band == "narrow"
    assert (segmenter.cfg.threshold, segmenter.cfg.neg, vad.quiet_below) == (0.35, 0.2, 0.2)
    band.before(samples(load_pcm("goforward.wav")))
    assert band.watch.band == "wide"
    assert (segmenter.cfg.threshold, vad.quiet_below) == (0.5, segmenter.cfg.neg)
    assert vad.quiet_below == SegmenterConfig(threshold=0.5).neg


def test_a_stream_not_yet_told_is_scored_at_the_configured_thresholds() -> None:
    """Silence (and hum) say nothing of the band: until a window does, the configured
    thresholds hold, not the narrowband ones."""
    import numpy as np

    from servers.stt.band import NarrowbandThresholds
    from servers.stt.segmenter import SegmenterConfig, UtteranceSegmenter
    from servers.stt.vad import StreamingVad

    vad = StreamingVad(quiet_below=0.35)
    segmenter = UtteranceSegmenter(vad.probabilities, SegmenterConfig(threshold=0.5))
    band = NarrowbandThresholds(segmenter, vad, 0.35, 0.2)
    band.before(np.zeros(16000, np.float32))
    assert band.watch.band == "unknown"
    assert (segmenter.cfg.threshold, vad.quiet_below) == (0.5, SegmenterConfig(threshold=0.5).neg)


async def test_a_hold_on_unread_answers_waits_for_the_next_write_not_the_last() -> None:
    """The hold waits for an answer written after it began: an event left set by an
    earlier write would have it loop without waiting, a core busy for as long as the
    client reads nothing. Counted in passes through the loop, not in time."""
    import asyncio
    import types

    from servers.stt import backpressure

    passes = 0

    def limit(_now: float) -> None:
        nonlocal passes
        passes += 1

    loop = asyncio.get_running_loop()
    outbox = types.SimpleNamespace(pending=[object()] * (backpressure.MAX_UNSENT_TURNS + 1),
                                   progress=asyncio.Event())
    outbox.progress.set()  # an answer written before the hold
    session = types.SimpleNamespace(outbox=outbox, abort=loop.create_future(), limit=limit)
    sender = asyncio.ensure_future(asyncio.sleep(60))
    loop.call_later(0.6, lambda: outbox.pending.clear())  # the client reads them at last
    try:
        assert await backpressure.hold_while_unanswered(session, sender) is None
    finally:
        sender.cancel()
    assert 1 <= passes <= 0.6 / backpressure.TICK_S + 2, passes


async def test_two_finalizes_in_one_stretch_of_speech_invent_nothing(url, auth) -> None:
    """A finalize 100 ms after another, the caller still speaking: the second made the
    rest of the cut word an utterance of its own, and tiny.en decoded its tenth of a
    second as "Thank you." (6 of 8 tries). The second finalize gets an empty final; the
    rest of the speech is decoded whole once it has been heard."""
    from .client import session

    pcm = silence(1.0) + load_pcm("lj002_0020.wav")
    at = [int(s * 16000) * 2 for s in (1.7, 1.8)]
    got = await session(url, auth, [pcm[:at[0]], {"type": "finalize"}, pcm[at[0]:at[1]],
                                    {"type": "finalize"}, pcm[at[1]:] + silence(2.0)])
    texts = [f["text"] for f in got.finals()]
    assert len(texts) == 3 and texts[0] and texts[1] == "" and texts[2], texts
    assert got.kinds().count("speech_started") == 2, got.kinds()


async def test_permessage_deflate_is_declined_so_a_byte_read_is_a_byte_of_work(url, auth):
    """A client's library offers compression by default (Python websockets does). PCM
    barely deflates (0.88), zeros deflate 370-1000x: 2 s of 16 KB control frames, 44
    bytes each on the wire, queued 35 s of work in the kernel's buffers. Declined, the
    session goes on uncompressed, as the standard's negotiation allows."""
    from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

    async with websockets.connect(url, additional_headers=auth,
                                  extensions=[ClientPerMessageDeflateFactory()]) as ws:
        assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
        assert ws.protocol.extensions == []
        await ws.send(load_pcm("cards_001.wav"))
        await ws.send(json.dumps({"type": "finalize"}))
        while (event := json.loads(await ws.recv()))["type"] != "final":
            pass
    assert "club" in event["text"].lower(), event
