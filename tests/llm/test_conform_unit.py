"""The proxy holds an upstream's stream and answer to the contract: usage where the contract
puts it, the role first, one id and created, a shaped error; a stream that keeps the
rules is not parsed."""

from __future__ import annotations

import json
import time
from itertools import pairwise

import pytest

from servers.common.errors import ApiError
from servers.llm.backends import conform as conform_module
from servers.llm.backends.conform import conform_answer
from servers.llm.backends.relay import Framer, StreamState

from .relay_util import DONE, ID, OPENAI_TEXT, ROLE, STOP, TEXT, USAGE, relay


def _chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> bytes:
    obj: dict = {"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 7,
                 "model": "up-model",
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage is not None:
        obj["usage"] = usage
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def _events(out: list[bytes]) -> list[dict | str]:
    """The relayed events, parsed ("[DONE]" as itself; comments left out)."""
    events = [e for e in b"".join(out).split(b"\n\n")[:-1] if not e.startswith(b":")]
    return [e[6:].decode() if e == DONE[:-2] else json.loads(e[6:]) for e in events]


def _usage(p: int, c: int) -> dict:
    return {"prompt_tokens": p, "completion_tokens": c}


@pytest.mark.parametrize("upstream", ["on the last choice chunk", "on every choice chunk"])
def test_usage_on_choice_chunks_comes_out_as_the_contracts_usage_chunk(upstream: str) -> None:
    every = upstream == "on every choice chunk"
    stream = [_chunk({"role": "assistant", "content": ""}, usage=_usage(5, 0) if every else None),
              _chunk({"content": "Hi"}, usage=_usage(5, 1) if every else None),
              _chunk({}, "stop", usage=_usage(5, 2)), DONE]
    for drop_usage in (False, True):
        out, state = relay(stream, drop_usage=drop_usage)
        events = _events(out)
        assert events[-1] == "[DONE]" and (state.prompt_tokens, state.completion_tokens) == (5, 2)
        choice_chunks = [e for e in events[:-1] if isinstance(e, dict) and e["choices"]]
        assert len(choice_chunks) == 3 and not any("usage" in e for e in choice_chunks)
        assert choice_chunks[-1]["choices"][0]["finish_reason"] == "stop"
        usage_chunks = [e for e in events if isinstance(e, dict) and "usage" in e]
        if drop_usage:  # not asked for: none at all
            assert usage_chunks == [] and len(events) == 4
            continue
        assert len(events) == 5 and usage_chunks == [events[-2]]
        assert events[-2] == {"id": "chatcmpl-up", "object": "chat.completion.chunk",
                              "created": 7, "model": "up-model", "choices": [],
                              "usage": {"prompt_tokens": 5, "completion_tokens": 2,
                                        "total_tokens": 7}}


def test_an_upstream_that_counts_nothing_gets_a_null_usage_chunk_when_asked() -> None:
    stream = [_chunk({"role": "assistant", "content": ""}), _chunk({"content": "Hi"}),
              _chunk({}, "stop"), DONE]
    out, _ = relay([b": ping\n\n", *stream])
    events = _events(out)
    assert events[-2] == {"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 7,
                          "model": "up-model", "choices": [], "usage": None}
    assert events[-1] == "[DONE]" and len(events) == 5
    out, _ = relay(stream, drop_usage=True)  # not asked for: the stream as it came
    assert b"".join(out) == b"".join(stream)


def test_a_usage_chunk_sent_unasked_is_dropped() -> None:
    """An upstream that sends usage although nobody asked (upstream_force_usage off)."""
    out, state = relay([ROLE, TEXT, STOP, USAGE, DONE], drop_usage=True)
    assert b"".join(out) == ROLE + TEXT + STOP + DONE and state.completion_tokens == 2


def _loose(i: int, delta: dict, **fields: object) -> bytes:
    """A chunk as an upstream that breaks the stream's rules writes it: its own id."""
    obj = {"id": f"up-{i}", "object": "chat.completion.chunk", "created": 100 + i,
           "model": "up-model", "choices": [{"index": 0, "delta": delta}], **fields}
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


@pytest.mark.parametrize("split", ["an event per chunk", "all in one chunk", "7 bytes"])
def test_a_stream_that_breaks_the_rules_comes_out_keeping_them(split: str) -> None:
    """A new id and created per chunk, no role, no finish_reason: the relay gives every
    chunk the first's id and created, the role to the first, and a closing chunk."""
    stream = [_loose(0, {"content": "Hel"}), _loose(1, {"content": "lo"}),
              _loose(2, {}, usage=_usage(5, 2)).replace(b'[{"index": 0, "delta": {}}]', b"[]"),
              DONE]
    whole = b"".join(stream)
    pieces = {"an event per chunk": stream, "all in one chunk": [whole],
              "7 bytes": [whole[i:i + 7] for i in range(0, len(whole), 7)]}[split]
    for drop_usage in (False, True):
        events = _events(relay(pieces, drop_usage=drop_usage)[0])
        assert events[-1] == "[DONE]"
        chunks = events[:-1]
        assert {(c["id"], c["created"], c["model"]) for c in chunks} == {("up-0", 100, "up-model")}
        assert [c["choices"][0]["delta"] for c in chunks[:3]] == [
            {"role": "assistant", "content": "Hel"}, {"content": "lo"}, {}]
        assert chunks[2]["choices"][0]["finish_reason"] == "stop"
        assert len(chunks) == (3 if drop_usage else 4)
        if not drop_usage:
            # and the total the upstream left out (the contract's usage has it)
            assert chunks[3]["choices"] == [] and chunks[3]["usage"] == {**_usage(5, 2),
                                                                         "total_tokens": 7}


def test_the_role_goes_to_the_first_chunk_with_a_choice() -> None:
    """Azure's OpenAI sends a first chunk with no choices (its prompt filter results,
    with an empty id and object, created 0): it goes, and the stream's id and created are
    the first real chunk's (it went out as a chunk with object "" and created 0)."""
    filters = b'data: {"id":"","object":"","created":0,"model":"","choices":[]}\n\n'
    out, _ = relay([filters, _loose(1, {"content": "Hi"}), STOP, DONE], drop_usage=True)
    events = _events(out)
    assert events[-1] == "[DONE]" and all(e["choices"] for e in events[:-1])
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": "Hi"}
    assert {(e["id"], e["created"]) for e in events[:-1]} == {("up-1", 101)}


def test_a_chunk_with_no_id_gets_the_streams() -> None:
    no_id = b'data: {"choices":[{"index":0,"delta":{"content":"x"}}]}\n\n'
    events = _events(relay([no_id, no_id, STOP, DONE], drop_usage=True)[0])
    ids = {(e["id"], e["created"]) for e in events[:-1]}
    assert len(ids) == 1 and next(iter(ids))[0].startswith("chatcmpl-")
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"


def test_a_first_chunk_that_says_created_0_gets_the_time() -> None:
    """A first chunk with no role (parsed and rewritten) and created 0, as an upstream
    that fills in no time writes it: 0 is no time (1970), so the stream gets now's."""
    zero = (b'data: {"id":"up-0","object":"chat.completion.chunk","created":0,'
            b'"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n')
    before = int(time.time())
    events = _events(relay([zero, STOP, DONE], drop_usage=True)[0])
    assert events[-1] == "[DONE]"
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": "Hi"}
    (created,) = {e["created"] for e in events[:-1]}  # one for the whole stream
    assert before <= created <= time.time() + 1


def test_a_stream_that_keeps_the_rules_is_not_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hot path: conforming chunks pass on byte searches alone."""
    parsed: list[bytes] = []
    real = conform_module.json_or_none
    monkeypatch.setattr(conform_module, "json_or_none",
                        lambda payload: parsed.append(payload) or real(payload))
    stream = [ROLE, TEXT, OPENAI_TEXT, STOP, DONE]
    out, _ = relay(stream, drop_usage=True)
    assert b"".join(out) == b"".join(stream) and parsed == []
    out, _ = relay([b"".join(stream)], drop_usage=True)  # several events in one chunk
    assert b"".join(out) == b"".join(stream) and parsed == []


@pytest.mark.parametrize("cuts", [range(0, 400, 1), range(0, 400, 5), [20], [13], [20, 25],
                                  range(0, 400, 37)])
def test_data_without_a_space_comes_out_as_the_contract_writes_it(cuts: range) -> None:
    """SSE allows "data:{...}"; the contract (and gateways matching "data: ") has the
    space. It went out as the upstream wrote it, beside our own chunks with the space;
    and where a read ended inside the first event, the events after its end in the next
    read went out as written ([DONE] too)."""
    stream = (ROLE + TEXT + STOP + DONE).replace(b"data: ", b"data:")
    bounds = [0, *(c for c in cuts if 0 < c < len(stream)), len(stream)]
    out, state = relay([stream[a:b] for a, b in pairwise(bounds)],
                       drop_usage=True)
    assert b"".join(out) == ROLE + TEXT + STOP + DONE and state.error is None


def test_chunks_made_for_an_upstream_that_sent_none_are_one_stream() -> None:
    """An upstream that sends [DONE] alone: the closing and usage chunks made for it had
    an id each and no role."""
    state = StreamState()
    framer = Framer(False, state, 0.0, served="rymi")
    events = _events([framer.feed(DONE)])
    assert events[-1] == "[DONE]" and len(events) == 3
    assert len({(e["id"], e["created"]) for e in events[:-1]}) == 1
    assert {e["model"] for e in events[:-1]} == {"rymi"}
    assert events[0]["choices"][0]["delta"] == {"role": "assistant"}
    assert events[0]["choices"][0]["finish_reason"] == "stop" and events[1]["choices"] == []


@pytest.mark.parametrize("answer", [
    {"choices": []},  # the SDK's choices[0] raised IndexError
    {"choices": [{"index": 0, "finish_reason": "stop"}]},  # no message: an AttributeError
    {"choices": [None]},
    {"error": "quota gone"},
])
def test_an_answer_without_a_message_is_no_answer(answer: dict) -> None:
    with pytest.raises(ApiError) as err:
        conform_answer(answer)
    assert err.value.status == 502 and err.value.code == "upstream_bad_response"


def test_an_answers_usage_is_an_object_or_null() -> None:
    answer = {"choices": [{"index": 0, "message": {"content": "ok"}}], "usage": "n/a"}
    assert conform_answer(answer) and answer["usage"] is None


def test_bytes_that_are_no_utf8_are_replaced_not_passed_on() -> None:
    """An upstream's bad byte (a cut multi-byte character): passed on, the client's
    decoder failed on the whole stream. Each is U+FFFD; good text is untouched."""
    bad = b'data: {' + ID + b'"choices":[{"index":0,"delta":{"content":"caf\xc3 ok"}}]}\n\n'
    good = b'data: {' + ID + '"choices":[{"index":0,"delta":{"content":"café"}}]}\n\n'.encode()
    out, _ = relay([ROLE, bad, good, STOP, DONE])
    data = b"".join(out)
    events = [json.loads(line[6:]) for line in data.decode("utf-8").split("\n\n")
              if line.startswith("data: {")]
    assert [e["choices"][0]["delta"].get("content") for e in events[1:3]] == [
        "caf\ufffd ok", "café"]
