"""The proxy's relay on hand-made byte streams: boundaries, [DONE] after errors, usage."""

from __future__ import annotations

import json

import pytest

from servers.llm.backends import relay as relay_module
from servers.llm.backends.relay import Framer, StreamState

ROLE = b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n'
TEXT = b'data: {"choices":[{"index":0,"delta":{"content":"Hi \\"error\\" [DONE]"}}]}\n\n'
USAGE = b'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}\n\n'
ERROR = b'data: {"error":{"message":"boom","type":"server_error","code":"x"}}\n\n'
DONE = b"data: [DONE]\n\n"
# OpenAI's own API, once usage is asked for, writes "usage":null into every chunk.
OPENAI_TEXT = b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}],"usage":null}\n\n'
SPACED_TEXT = b'data: {"choices": [{"index": 0, "delta": {"content": "!"}}], "usage": null}\n\n'


def relay(pieces: list[bytes], drop_usage: bool = False) -> tuple[list[bytes], StreamState]:
    """What the relay loop forwards: each feed's events until ``finished``, then, if
    the pieces ran out first, the end's."""
    state = StreamState()
    framer = Framer(drop_usage, state, 0.0)
    out = []
    for p in pieces:
        if events := framer.feed(p):
            out.append(events)
        if framer.finished:
            return out, state
    if events := framer.end():
        out.append(events)
    return out, state


def test_events_split_anywhere_are_forwarded_whole_and_unchanged() -> None:
    stream = ROLE + TEXT + USAGE + DONE
    pieces = [stream[i:i + 7] for i in range(0, len(stream), 7)]
    out, state = relay(pieces)
    assert b"".join(out) == stream
    assert all(c.endswith(b"\n\n") for c in out)
    assert (state.prompt_tokens, state.completion_tokens, state.error) == (5, 2, None)


def test_done_after_an_error_event_is_dropped() -> None:
    out, state = relay([ROLE, TEXT, ERROR + DONE])
    assert b"".join(out) == ROLE + TEXT + ERROR
    assert state.error == "upstream_error_event"


def test_nothing_is_forwarded_after_done() -> None:
    out, state = relay([ROLE, TEXT + DONE + b": trailing comment\n\n", TEXT])
    assert b"".join(out) == ROLE + TEXT + DONE and state.error is None


def test_usage_chunk_dropped_only_when_we_asked_for_it() -> None:
    out, state = relay([ROLE, TEXT, USAGE, DONE], drop_usage=True)
    assert b"".join(out) == ROLE + TEXT + DONE and state.completion_tokens == 2


def test_stream_without_done_ends_with_our_error_event() -> None:
    out, state = relay([ROLE, TEXT])
    last = json.loads(out[-1][len(b"data: "):])
    assert last["error"]["code"] == "upstream_incomplete" and DONE not in b"".join(out)


def test_an_event_that_never_ends_is_cut_at_the_bound(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(relay_module, "MAX_EVENT_BYTES", 1000)
    endless = b'data: {"choices":[{"index":0,"delta":{"content":"' + b"a" * 300
    out, state = relay([ROLE, endless, b"a" * 300, b"a" * 300, b"a" * 300, TEXT, DONE])
    assert out[0] == ROLE and len(out) == 2  # nothing after the error event
    last = json.loads(out[-1][len(b"data: "):])
    assert last["error"]["code"] == state.error == "upstream_bad_response"


@pytest.mark.parametrize("error,code", [
    (b'{"message":"boom","type":"InternalServerError","param":null,"code":500}', "500"),
    (b'"model crashed"', "upstream_error_event"),  # llama.cpp: a bare string
])
def test_an_error_event_not_in_our_shape_is_reshaped(error: bytes, code: str) -> None:
    out, state = relay([ROLE, b'data: {"error":' + error + b"}\n\n", DONE])
    err = json.loads(out[-1][len(b"data: "):])["error"]
    assert err["code"] == code and isinstance(err["type"], str) and err["message"]
    assert state.error == "upstream_error_event"


def test_crlf_lines_are_relayed_with_lf_wherever_the_chunks_split() -> None:
    lf = ROLE + TEXT + USAGE + DONE
    crlf = lf.replace(b"\n", b"\r\n")
    for size in (1, 2, 5, 64):
        pieces = [crlf[i:i + size] for i in range(0, len(crlf), size)]
        out, state = relay(pieces)
        assert b"".join(out) == lf, size
        assert (state.completion_tokens, state.error) == (2, None)


def test_chunks_with_a_null_usage_are_forwarded_unparsed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    inspected: list[bytes] = []
    inspect = relay_module._inspect

    def counting(ready: bytes, drop_usage: bool, state: StreamState) -> tuple[bytes, bool]:
        inspected.append(ready)
        return inspect(ready, drop_usage, state)

    monkeypatch.setattr(relay_module, "_inspect", counting)
    out, state = relay([ROLE, OPENAI_TEXT, SPACED_TEXT, USAGE, DONE], drop_usage=True)
    assert b"".join(out) == ROLE + OPENAI_TEXT + SPACED_TEXT + DONE
    assert inspected == [USAGE, DONE]  # only the events that carry something are parsed
    assert (state.prompt_tokens, state.completion_tokens, state.error) == (5, 2, None)
