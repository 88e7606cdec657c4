"""Edges of the STT server that a mutation round found no test to check: the
cut-mid-speech rule's resets (segmenter) and what a back-pressure refusal says (its
counts, and its record when the WebSocket layer cuts the socket while it closes).

The segmenter runs on real audio and the real Silero model, as in test_segmenter.py;
the refusals need a server that cannot keep up (tests/stt/slow_stt.py, fault injection)."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Iterator

import numpy as np
import pytest
import websockets
from websockets.client import ClientProtocol
from websockets.uri import parse_uri

from tests.support.servers import RunningServer

from .client import Received, collect, load_pcm, silence
from .test_segmenter import audio, feed, segmenter

# "ask" alone (jfk.wav 3.2-3.85 s): one window over the threshold, under min_speech_ms,
# and (at this quiet level) no window of it quiet.
ASK = audio("jfk.wav", tail_s=0)[int(16000 * 3.2):int(16000 * 3.85)]
NO_QUIET = {"neg_threshold": 0.01}  # an operator's vad_neg_threshold: silence is zeros


def test_a_short_word_that_opens_the_stream_is_taken_by_a_finalize() -> None:
    """No finalize has cut anything yet: the rule that holds back the rest of a cut word
    is not in force at the start, quiet window or none."""
    seg = segmenter(**NO_QUIET)
    assert feed(seg, ASK, (512,)) == [] and not seg.speaking
    started = seg.force_start()
    assert started is not None and started.kind == "started"
    assert seg.force_end().forced


def test_a_finalize_in_a_pause_does_not_hold_back_the_word_after_it() -> None:
    """The caller had stopped (a silence run under way) when the finalize came: what
    follows is a word of its own, taken by the next finalize, not the cut word's rest."""
    seg = segmenter(**NO_QUIET)
    x = audio("librivox_ss_870.wav", tail_s=0)
    assert [e.kind for e in feed(seg, x[:16000 * 2], (512,))] == ["started"]
    feed(seg, np.zeros(16000 // 5, np.float32), (512,))  # 200 ms: a pause, no endpoint
    assert seg.speaking and seg.in_silence
    assert seg.force_start() is None and seg.force_end().forced
    assert feed(seg, ASK, (512,)) == []
    started = seg.force_start()
    assert started is not None and started.kind == "started"


def test_the_rest_of_a_cut_sentence_once_started_ends_the_rule() -> None:
    """A finalize cut mid-speech; the speech went on and started its own utterance, which
    ended at its endpoint: a short word straight after it is the caller's, taken by a
    finalize (the rule is for the cut word's rest only, not every word after)."""
    seg = segmenter(**NO_QUIET)
    x = audio("librivox_ss_870.wav", tail_s=0)
    feed(seg, x[:16000 * 2], (512,))
    assert seg.force_start() is None and seg.force_end().forced  # mid-speech
    assert [e.kind for e in feed(seg, x[16000 * 2:16000 * 4], (512,))] == ["started"]
    window, kinds = np.zeros(512, np.float32), []
    while "ended" not in kinds:  # silence up to the endpoint, and not a window more
        kinds = [e.kind for e in seg.push(window)]
        assert len(kinds) <= 1 or kinds == ["paused"], kinds
    assert not seg.speaking
    assert feed(seg, ASK, (512,)) == []
    started = seg.force_start()
    assert started is not None and started.kind == "started"


@pytest.fixture(scope="module")
def backlogged() -> Iterator[RunningServer]:
    """Decodes 4 s slower than usual on one worker: one utterance of 1.1 s is past
    max_buffered_s (1 s), and nothing decodes within backlog_timeout_s (1 s)."""
    from tests.stt.conftest import CLEAN
    from tests.support.servers import start_server

    server = start_server("tests.stt.slow_stt", env={
        **CLEAN, "RYMI_STT_SLOW_DECODE_S": "4", "RYMI_STT_DECODE_WORKERS": "1",
        "RYMI_STT_INTERIM": "false", "RYMI_STT_MAX_BUFFERED_S": "1",
        "RYMI_STT_BACKLOG_TIMEOUT_S": "1", "RYMI_STT_MAX_FRAME_BYTES": "131072"})
    yield server
    server.stop()


async def _one_utterance(server: RunningServer, rid: str, then: list[bytes]) -> Received:
    got = Received()
    async with websockets.connect(server.ws_url + "/stt", max_size=2**22,
                                  additional_headers={"X-Request-Id": rid}) as ws:
        reader = asyncio.create_task(collect(ws, got))
        for frame in [load_pcm("cards_001.wav") + silence(1.0), *then]:
            await ws.send(frame)
        await asyncio.wait_for(reader, 60)
    return got


REFUSAL = (r"audio arrives faster than it can be transcribed: \d+\.\d s of audio and "
           r"1 ended utterance waiting, none decoded for 1 s")


async def test_a_refused_backlog_says_how_many_utterances_it_held(backlogged) -> None:  # type: ignore[no-untyped-def]
    """One ended utterance waits: the refusal counts it, in the singular, after its
    final (the count the hold went by, not a zero or a plural)."""
    got = await _one_utterance(backlogged, "round4-one", [])
    assert got.close_code == 1008, got.events
    assert got.kinds() == ["speech_started", "final", "utterance_end", "error"], got.kinds()
    assert "clubs" in got.events[1]["text"].lower(), got.events
    assert re.fullmatch(REFUSAL, got.events[-1]["message"]), got.events[-1]


async def test_the_layers_cut_while_a_refusal_closes_keeps_the_refusal_in_the_record(
        backlogged) -> None:  # type: ignore[no-untyped-def]
    """A frame past the WebSocket layer's limit (8x max_frame_bytes) arrives while the
    server holds the session, and is read once the refusal has begun to close it: the
    record keeps the refusal's error and reason (the first said), with the layer's
    1009 as its close code, and no hang-up."""
    got = await _one_utterance(backlogged, "round4-cut", [bytes((1 << 20) + 2)])
    assert got.close_code == 1009, got.events
    record = backlogged.wait_usage("round4-cut")
    assert (record["close_code"], record["error"]) == (1009, "backlog_refused"), record
    assert re.fullmatch(REFUSAL, record["close_reason"]), record
    assert "client_disconnected" not in record, record


@pytest.mark.parametrize("name", ["silence", "speech", "speech then close"])
def test_a_whole_frame_read_with_the_start_of_one_past_the_layers_limit_is_taken(
        limits_server: RunningServer, name: str) -> None:
    """Both in one read (a client that sent them back to back): uvicorn closed 1009 and
    dropped the whole frame before it, so its audio was lost (the record said 0 s, and
    the refusal test above met a session that never held). It is handed on first.
    Speech gets a speech_started whose write fails on the closing socket: the record
    said the client hung up, not the cut (the close was read already, and not looked at);
    with the client's "close" read before the cut, the same write fails while closing."""
    from servers.stt.__main__ import WS_MAX_FACTOR

    limit = int(limits_server.env["RYMI_STT_MAX_FRAME_BYTES"])
    frame = silence(0.5) if name == "silence" else load_pcm("cards_001.wav")[:limit]
    client = ClientProtocol(parse_uri(limits_server.ws_url + "/stt"), max_size=None)
    request = client.connect()
    request.headers["X-Request-Id"] = f"layer-coalesced-{name.replace(' ', '-')}"
    client.send_request(request)
    with socket.create_connection(("127.0.0.1", limits_server.port), timeout=10) as sock:
        sock.sendall(b"".join(client.data_to_send()))
        while client.handshake_exc is None and client.state.name == "CONNECTING":
            client.receive_data(sock.recv(65536))
        assert client.handshake_exc is None
        client.send_binary(frame)
        if name.endswith("close"):
            client.send_text(b'{"type": "close"}')
        client.send_binary(bytes(max(WS_MAX_FACTOR * limit, 1 << 20) + 2))
        *whole, past = client.data_to_send()  # one serialised frame each
        sock.sendall(b"".join(whole) + past[:64])  # whole frames, and the next one's header
        while client.close_rcvd is None and (data := sock.recv(65536)):
            client.receive_data(data)
    assert client.close_rcvd is not None and client.close_rcvd.code == 1009
    record = limits_server.wait_usage(f"layer-coalesced-{name.replace(' ', '-')}")
    assert (record.get("close_code"), record.get("error")) == (1009, "frame_too_large"), record
    assert "client_disconnected" not in record, record
    assert record["audio_seconds"] == len(frame) / 32000, record
