"""The proxy's relay on hand-made byte streams: boundaries, [DONE] after errors, usage."""

from __future__ import annotations

import json

import pytest

from servers.llm.backends import relay as relay_module
from servers.llm.backends.relay import StreamState, frame

ROLE = b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n'
TEXT = b'data: {"choices":[{"index":0,"delta":{"content":"Hi \\"error\\" [DONE]"}}]}\n\n'
USAGE = b'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}\n\n'
ERROR = b'data: {"error":{"message":"boom","type":"server_error","code":"x"}}\n\n'
DONE = b"data: [DONE]\n\n"
# OpenAI's own API, once usage is asked for, writes "usage":null into every chunk.
OPENAI_TEXT = b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}],"usage":null}\n\n'
SPACED_TEXT = b'data: {"choices": [{"index": 0, "delta": {"content": "!"}}], "usage": null}\n\n'


async def relay(pieces: list[bytes], drop_usage: bool = False) -> tuple[list[bytes], StreamState]:
    async def body():
        for p in pieces:
            yield p

    state = StreamState()
    out = [c async for c in frame(body(), drop_usage, state, 0.0)]
    return out, state


@pytest.mark.asyncio
async def test_events_split_anywhere_are_forwarded_whole_and_unchanged() -> None:
    stream = ROLE + TEXT + USAGE + DONE
    pieces = [stream[i:i + 7] for i in range(0, len(stream), 7)]
    out, state = await relay(pieces)
    assert b"".join(out) == stream
    assert all(c.endswith(b"\n\n") for c in out)
    assert (state.prompt_tokens, state.completion_tokens, state.error) == (5, 2, None)


@pytest.mark.asyncio
async def test_done_after_an_error_event_is_dropped() -> None:
    out, state = await relay([ROLE, TEXT, ERROR + DONE])
    assert b"".join(out) == ROLE + TEXT + ERROR
    assert state.error == "upstream_error_event"


@pytest.mark.asyncio
async def test_usage_chunk_dropped_only_when_we_asked_for_it() -> None:
    out, state = await relay([ROLE, TEXT, USAGE, DONE], drop_usage=True)
    assert b"".join(out) == ROLE + TEXT + DONE and state.completion_tokens == 2


@pytest.mark.asyncio
async def test_stream_without_done_ends_with_our_error_event() -> None:
    out, state = await relay([ROLE, TEXT])
    last = json.loads(out[-1][len(b"data: "):])
    assert last["error"]["code"] == "upstream_incomplete" and DONE not in b"".join(out)


@pytest.mark.asyncio
async def test_chunks_with_a_null_usage_are_forwarded_unparsed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    inspected: list[bytes] = []
    inspect = relay_module._inspect

    def counting(ready: bytes, drop_usage: bool, state: StreamState) -> tuple[bytes, bool]:
        inspected.append(ready)
        return inspect(ready, drop_usage, state)

    monkeypatch.setattr(relay_module, "_inspect", counting)
    out, state = await relay([ROLE, OPENAI_TEXT, SPACED_TEXT, USAGE, DONE], drop_usage=True)
    assert b"".join(out) == ROLE + OPENAI_TEXT + SPACED_TEXT + DONE
    assert inspected == [USAGE, DONE]  # only the events that carry something are parsed
    assert (state.prompt_tokens, state.completion_tokens, state.error) == (5, 2, None)
