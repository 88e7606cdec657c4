"""Hypothesis-driven WebSocket sessions against the real STT server.

Each example is one session: random frame sizes (0, 1, odd, up to a few thousand bytes,
of speech, silence or noise) interleaved with finalize/close/keepalive, garbage JSON,
binary-as-text and text frames that are not UTF-8. Whatever the order, the server
answers with a valid event sequence (utterance order kept, every finalize answered by a
final, every bad control message by an error event) and a contract close code; it
never crashes and leaves no session behind (in-flight back to 0, /readyz 200).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.stt.checks import walk_events
from tests.stt.client import load_pcm
from tests.support.servers import RunningServer

from .conftest import metric, wait_for

SPEECH = load_pcm("librivox_ss_880.wav")[: 16000 * 2 * 4]  # 4 s of speech
CLOSE_CODES = {1000, 1007, 1008, 1009, 1011, 1013}

frame_sizes = st.one_of(st.sampled_from([0, 1, 2, 3, 319, 320, 321]),
                        st.integers(0, 9000))
audio = st.tuples(st.just("audio"), frame_sizes, st.sampled_from(["speech", "silence", "noise"]))
control = st.tuples(st.sampled_from(["finalize", "keepalive", "close"]), st.just(0),
                    st.just(""))
garbage = st.one_of(
    st.tuples(st.just("garbage"), st.just(0), st.text(max_size=40)),
    st.tuples(st.just("garbage"), st.just(0), st.sampled_from(
        ['{"type": 5}', "[]", "null", '{"type":"finalise"}', '{"type":', "{}", '"close"',
         '{"type":"finalize"', '{"type":"close","extra":' + "9" * 400 + "}"])),
)
as_text = st.tuples(st.just("binary_as_text"), st.integers(1, 600), st.just(""))
bad_utf8 = st.tuples(st.just("bad_utf8"), st.integers(0, 3), st.just(""))
pause = st.tuples(st.just("pause"), st.integers(0, 300), st.just(""))
actions = st.lists(st.one_of(audio, audio, control, garbage, as_text, bad_utf8, pause),
                   min_size=1, max_size=14)

STATS: Counter = Counter()


def _frame(size: int, kind: str, offset: int) -> bytes:
    if kind == "speech":
        start = (offset * 641) % max(1, len(SPEECH) - size)
        return SPEECH[start:start + size]
    if kind == "silence":
        return bytes(size)
    return bytes((i * 37 + offset) & 0xFF for i in range(size))


def _is_control_message(text: str) -> bool:
    try:
        obj = json.loads(text)
    except ValueError:
        return False
    return isinstance(obj, dict) and obj.get("type") in ("finalize", "close", "keepalive")


async def _session(url: str, headers: dict[str, str], plan: list) -> dict:
    sent = Counter()
    events: list[dict] = []
    code = None
    async with connect(url, additional_headers=headers, max_size=2**22,
                       close_timeout=5) as ws:
        async def reader() -> None:
            try:
                async for msg in ws:
                    assert isinstance(msg, str), f"binary from server: {msg[:40]!r}"
                    events.append(json.loads(msg))
            except ConnectionClosed:  # a non-1000 close: its code is checked below
                pass

        task = asyncio.create_task(reader())
        try:
            for i, (kind, n, arg) in enumerate(plan):
                if kind == "audio":
                    await ws.send(_frame(n, arg, i))
                elif kind in ("finalize", "keepalive", "close"):
                    await ws.send(json.dumps({"type": kind}))
                    sent[kind] += 1
                    if kind == "close":
                        break
                elif kind == "garbage":
                    await ws.send(arg)
                    sent["control" if _is_control_message(arg) else "garbage"] += 1
                    if _is_control_message(arg) and json.loads(arg)["type"] == "close":
                        break
                    if _is_control_message(arg) and json.loads(arg)["type"] == "finalize":
                        sent["finalize"] += 1
                elif kind == "binary_as_text":
                    await ws.send(_frame(n, "speech", i).decode("latin-1"))
                    sent["garbage"] += 1
                elif kind == "bad_utf8":
                    await ws.send("é".encode()[: 1] + bytes(n), text=True)  # truncated UTF-8
                    sent["bad_utf8"] += 1
                    break  # the protocol closes the connection (1007)
                elif kind == "pause":
                    await asyncio.sleep(n / 1000)
            else:
                await ws.send(json.dumps({"type": "close"}))
                sent["close"] += 1
        except ConnectionClosed:
            pass
        await asyncio.wait_for(task, 30)
        code = ws.close_code
    return {"sent": sent, "events": events, "code": code}


def check_sequence(result: dict) -> None:
    events, sent, code = result["events"], result["sent"], result["code"]
    assert code in CLOSE_CODES, (code, events)
    w = walk_events(events)
    if code == 1000:  # a clean close: everything was answered, in order
        assert not w.open_utterance and not w.expect_end, events
        assert w.finals >= sent["finalize"], (sent, events)
        assert w.errors >= sent["garbage"], (sent, events)
    if sent["bad_utf8"]:
        assert code in (1007, 1000), code


def test_fuzzed_websocket_sessions(stt_server: RunningServer) -> None:
    url = f"{stt_server.ws_url}/stt"

    @settings(max_examples=60, deadline=None, database=None, print_blob=True,
              suppress_health_check=list(HealthCheck))
    @given(plan=actions)
    def run(plan: list) -> None:
        result = asyncio.run(_session(url, stt_server.auth_headers, plan))
        STATS["sessions"] += 1
        STATS[f"close_{result['code']}"] += 1
        STATS["events"] += len(result["events"])
        check_sequence(result)

    run()
    print(f"\nSTT fuzz: {dict(STATS)}")
    assert STATS["sessions"] >= 60
    assert wait_for(lambda: metric(stt_server, "rymi_inflight",
                                   channel="custom-transcriber") == 0, 15)
    assert metric(stt_server, "rymi_stt_active_sessions") == 0
    assert httpx.get(f"{stt_server.url}/readyz").status_code == 200
