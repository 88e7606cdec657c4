"""The audio stream: framing at every contract rate, seamless resampling, early first chunk."""

from __future__ import annotations

import asyncio
import socket
import statistics

import httpx
import numpy as np
import pytest
import soxr

from servers.common.audio import SUPPORTED_RATES, float_to_int16
from servers.tts.engine import PiperEngine, Style
from servers.tts.pool import SynthesisPool
from servers.tts.stream import SynthesisStream
from servers.tts.text import plan
from servers.tts.voices import read_voice
from tests.support.servers import RunningServer

from .conftest import FOUR_SENTENCES
from .rawhttp import collect, post_chunks


def test_every_rate_is_chunked_pcm16_of_consistent_duration(client: httpx.Client) -> None:
    durations = {}
    for rate in SUPPORTED_RATES:
        r = client.post("/tts", json={"text": FOUR_SENTENCES, "format": f"pcm_{rate}"})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/octet-stream"
        assert r.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in r.headers
        assert len(r.content) % 2 == 0
        samples = np.frombuffer(r.content, dtype="<i2")
        assert np.abs(samples).max() > 3000  # speech, not silence
        durations[rate] = len(samples) / rate
    # piper varies phoneme durations a little from run to run (noise_w): allow 15%.
    middle = statistics.median(durations.values())
    assert all(abs(d - middle) / middle < 0.15 for d in durations.values()), durations
    assert 5.0 < middle < 15.0


def test_default_format_is_pcm_24000_and_root_path_serves_too(client: httpx.Client) -> None:
    a = client.post("/", json={"text": "One two three."})
    assert a.status_code == 200
    seconds = len(a.content) / 2 / 24000
    assert 0.7 < seconds < 3.0


def test_an_http_10_client_gets_the_audio_unchunked(tts_server: RunningServer) -> None:
    """A 1.0 client (ab, http.client at 1.0) would read chunk sizes as samples."""
    payload = b'{"text": "One two three.", "format": "pcm_16000"}'
    with socket.create_connection(("127.0.0.1", tts_server.port), timeout=60) as sock:
        sock.sendall(b"POST /tts HTTP/1.0\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload))
        data = b""
        while part := sock.recv(65536):  # the server's close ends the answer
            data += part
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.split()[1] == b"200", data[:300]
    assert b"transfer-encoding" not in head.lower() and b"content-length" not in head.lower()
    assert len(body) % 2 == 0 and 0.7 < len(body) / 2 / 16000 < 3.0
    assert np.abs(np.frombuffer(body, dtype="<i2")).max() > 3000  # speech, not silence


def test_every_chunk_is_whole_samples_and_the_stream_ends_cleanly(
        tts_server: RunningServer) -> None:
    """Chunks as the server framed them on its socket (no re-chunking proxy between)."""
    for rate in (8000, 22050, 44100):
        reply = collect(tts_server.port, {"text": FOUR_SENTENCES, "format": f"pcm_{rate}"})
        sizes = [len(c) for c in reply.chunks]
        assert (reply.status, reply.terminated) == (200, True), (rate, sizes)
        assert len(sizes) >= 4, (rate, sizes)  # one per piece at least
        assert all(n % 2 == 0 and n > 0 for n in sizes), (rate, sizes)


def test_no_chunk_holds_more_than_half_a_second_so_a_caller_playing_it_keeps_it_moving(
        tts_server: RunningServer) -> None:
    """A piece of 300 characters is ~20 s of audio (40 s spoken slowly). Written as one
    chunk, its write waited on a caller reading at playback speed for all of it, past
    send_timeout_s once the kernel's buffers were full: cut off as a client that reads
    nothing (seen: 172 s of a 0.5-speed reply at 48 kHz, then no terminator)."""
    text = ("Your replacement device was shipped from our regional warehouse this morning "
            "and the courier expects to deliver it to your front door before the end of the "
            "week without any extra charge and with a signature required at the door.")
    rate = 24000
    reply = collect(tts_server.port, {"text": text, "format": f"pcm_{rate}"})
    assert reply.status == 200 and reply.terminated
    sizes = [len(c) for c in reply.chunks]
    assert sum(sizes) / 2 / rate > 8  # long pieces: at most two (the first cut early)
    assert max(sizes) <= rate  # 0.5 s of 16-bit samples
    assert all(n % 2 == 0 for n in sizes)


def test_first_chunk_arrives_while_later_sentences_are_still_synthesised(
        tts_server: RunningServer) -> None:
    text = " ".join(f"This is sentence number {i} of a long answer." for i in range(1, 25))
    replies = post_chunks(tts_server.port, {"text": text})
    reply = next(replies)
    rid = reply.headers["x-request-id"]
    next(replies)  # the first chunk
    # The request is not finished (no usage record yet) when its first audio is here.
    assert not any(u["request_id"] == rid for u in tts_server.usage_records())
    first = reply.chunks[0]
    assert np.abs(np.frombuffer(first, dtype="<i2")).max() > 1000  # it is speech
    for _ in replies:
        pass
    assert reply.terminated
    assert len(reply.chunks) >= 24  # one per piece, written as each was ready
    rest = b"".join(reply.chunks[1:])
    record = tts_server.wait_usage(rid)
    assert record["pieces_total"] == record["pieces_synthesized"] == record["pieces_finished"] == 24
    assert record["characters"] == len(text)
    assert record["audio_seconds"] == pytest.approx((len(first) + len(rest)) / 2 / 24000, abs=0.01)


def test_a_silent_first_piece_sends_no_silence_ahead(tts_server: RunningServer) -> None:
    """"_" makes no sound: no sentence gap follows it, so the first chunk is the speech."""
    reply = collect(tts_server.port, {"text": "_. Hello there, this is the second sentence."})
    assert (reply.status, reply.terminated) == (200, True)
    first = np.abs(np.frombuffer(reply.chunks[0], dtype="<i2"))
    assert first.max() > 1000  # speech, not the 0.2 s gap alone
    assert first[:2400].max() > 0  # not led by the gap (100 ms at 24 kHz)


async def test_streaming_resample_matches_one_shot_resample(voice_path) -> None:
    """The production stream path over the real voice, compared with resampling the same
    native audio in one go: equal up to rounding, so chunk boundaries add no clicks."""
    voice = read_voice("joe", voice_path)
    assert voice is not None

    class Recording(PiperEngine):
        native: list[np.ndarray] = []

        def synthesize(self, v, text, style, withdrawn):  # type: ignore[no-untyped-def]
            audio = super().synthesize(v, text, style, withdrawn)
            self.native.append(audio)
            return audio

    engine = Recording()
    pool = SynthesisPool(workers=1, queue_size=4)
    pool.start()
    try:
        pieces = plan(FOUR_SENTENCES, "en-US")
        stream = SynthesisStream(engine=engine, pool=pool, voice=voice, pieces=pieces,
                                 style=Style(), out_rate=24000, gain=1.6,
                                 sentence_silence_s=0.2)
        chunks = [await stream.first_chunk()] + [c async for c in stream.rest()]
    finally:
        await asyncio.to_thread(pool.stop)
    streamed = np.frombuffer(b"".join(chunks), dtype="<i2").astype(np.float64)

    silence = np.zeros(int(voice.sample_rate * 0.2), dtype=np.float32)
    native = np.concatenate([x for a in engine.native[:-1] for x in (a, silence)]
                            + [engine.native[-1]])
    reference = float_to_int16(soxr.resample(
        float_to_int16(native * 1.6).astype(np.float32) / 32768.0,
        voice.sample_rate, 24000, quality="HQ")).astype(np.float64)
    assert len(chunks) == len(pieces)
    assert abs(len(streamed) - len(reference)) <= 2
    n = min(len(streamed), len(reference))
    assert np.max(np.abs(streamed[:n] - reference[:n])) <= 3  # int16 rounding only
