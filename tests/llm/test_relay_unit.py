"""The proxy's relay on hand-made byte streams: boundaries, [DONE] after errors, usage."""

from __future__ import annotations

import json
import time

import pytest

from servers.common.errors import ApiError
from servers.llm.backends import conform as conform_module
from servers.llm.backends import relay as relay_module
from servers.llm.backends.conform import conform_answer
from servers.llm.backends.relay import Framer, StreamState

# Every upstream's chunks carry the stream's id and created (one for all its chunks).
ID = b'"id":"chatcmpl-1","created":7,'
ROLE = b'data: {' + ID + b'"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n'
TEXT = b'data: {' + ID + b'"choices":[{"index":0,"delta":{"content":"Hi \\"error\\" [DONE]"}}]}\n\n'
STOP = b'data: {' + ID + b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
USAGE = (b'data: {' + ID + b'"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,'
         b'"total_tokens":7}}\n\n')
ERROR = b'data: {"error":{"message":"boom","type":"server_error","code":"x"}}\n\n'
DONE = b"data: [DONE]\n\n"
# OpenAI's own API, once usage is asked for, writes "usage":null into every chunk.
OPENAI_TEXT = b'data: {' + ID + b'"choices":[{"index":0,"delta":{"content":"Hi"}}],"usage":null}\n\n'
SPACED_TEXT = (b'data: {"id": "chatcmpl-1", "created": 7, "choices": [{"index": 0, '
               b'"delta": {"content": "!"}}], "usage": null}\n\n')


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
    stream = ROLE + TEXT + STOP + USAGE + DONE
    pieces = [stream[i:i + 7] for i in range(0, len(stream), 7)]
    out, state = relay(pieces)
    assert b"".join(out) == stream
    assert all(c.endswith(b"\n\n") for c in out)
    assert (state.prompt_tokens, state.completion_tokens, state.error) == (5, 2, None)


TOOL = (b'data: {' + ID + b'"choices":[{"index":0,"delta":{"content":null,"tool_calls":[{'
        b'"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]}}]}\n\n')
EMPTY_TOOLS = b'data: {' + ID + b'"choices":[{"index":0,"delta":{"content":"","tool_calls":[]}}]}\n\n'


def test_the_first_token_is_timed_whether_text_or_a_tool_call() -> None:
    _, text = relay([ROLE, EMPTY_TOOLS, TEXT, STOP, DONE])
    _, call = relay([ROLE, EMPTY_TOOLS, TOOL, STOP, DONE])
    _, none = relay([ROLE, EMPTY_TOOLS, STOP, DONE])
    assert text.ttft_s is not None and call.ttft_s is not None
    assert none.ttft_s is None  # the role, an empty text, an empty list: no token yet


SPACED_ROLE = (b'data: {"id": "chatcmpl-1", "created": 7, "choices": [{"index": 0, "delta": '
               b'{"role": "assistant", "content": ""}}], "usage": null}\n\n')


@pytest.mark.parametrize("role, text", [
    (ROLE, TEXT),  # compact, as vLLM writes it
    (SPACED_ROLE, SPACED_TEXT),  # with spaces, as Python's json.dumps writes it
])
def test_a_cut_streams_estimate_counts_text_events_only(role: bytes, text: bytes) -> None:
    """A stream cut before the upstream's usage: its record's estimate is the events
    with text, not the role chunk's "content":"" nor the finish chunk."""
    out, state = relay([role, text, text, text, STOP])  # cut: no usage, no [DONE]
    assert out[0] == role  # relayed as it came (what the count reads)
    assert state.text_events == 3


def test_done_after_an_error_event_is_dropped() -> None:
    out, state = relay([ROLE, TEXT, ERROR + DONE])
    assert b"".join(out) == ROLE + TEXT + ERROR
    assert state.error == "upstream_error_event"


def test_nothing_is_forwarded_after_done() -> None:
    out, state = relay([ROLE, TEXT + STOP + DONE + b": trailing comment\n\n", TEXT],
                       drop_usage=True)
    assert b"".join(out) == ROLE + TEXT + STOP + DONE and state.error is None


def test_usage_chunk_dropped_only_when_we_asked_for_it() -> None:
    out, state = relay([ROLE, TEXT, STOP, USAGE, DONE], drop_usage=True)
    assert b"".join(out) == ROLE + TEXT + STOP + DONE and state.completion_tokens == 2


@pytest.mark.parametrize("last", [b"data: [DONE]\n", b"data: [DONE]", b"data: [DONE]\r"])
def test_a_done_whose_blank_line_never_came_still_ends_the_stream(last: bytes) -> None:
    out, state = relay([ROLE, TEXT, STOP, USAGE, last])
    assert b"".join(out) == ROLE + TEXT + STOP + USAGE + DONE and state.error is None


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
    lf = ROLE + TEXT + STOP + USAGE + DONE
    crlf = lf.replace(b"\n", b"\r\n")
    for size in (1, 2, 5, 64):
        pieces = [crlf[i:i + size] for i in range(0, len(crlf), size)]
        out, state = relay(pieces)
        assert b"".join(out) == lf, size
        assert (state.completion_tokens, state.error) == (2, None)


def test_lone_cr_lines_are_relayed_with_lf_wherever_the_chunks_split() -> None:
    """SSE allows a bare CR as a line end: no event boundary was found, and a whole answer
    became upstream_incomplete."""
    lf = ROLE + TEXT + STOP + USAGE + DONE
    cr = lf.replace(b"\n", b"\r")
    for size in (1, 2, 5, 64, len(cr)):
        pieces = [cr[i:i + size] for i in range(0, len(cr), size)]
        out, state = relay(pieces)
        assert b"".join(out) == lf, size
        assert (state.completion_tokens, state.error) == (2, None)


def _fields(ev: bytes) -> bytes:
    """``ev`` with the fields SSE allows beside ``data:`` (as some upstreams write them)."""
    return b"id: 7\nevent: message\nretry: 3000\n: note\n" + ev


@pytest.mark.parametrize("size", [1, 3, 1000])
def test_events_with_other_sse_fields_are_read_as_sse_reads_them(size: int) -> None:
    """Read only where an event began with ``data:``: [DONE] was missed (then an
    upstream_incomplete error after it), usage not dropped, the fields forwarded."""
    stream = b"".join(_fields(e) for e in (ROLE, TEXT, STOP, USAGE, DONE))
    pieces = [stream[i:i + size] for i in range(0, len(stream), size)]
    out, state = relay(pieces, drop_usage=True)
    assert b"".join(out) == ROLE + TEXT + STOP + DONE
    assert (state.completion_tokens, state.error) == (2, None)


def test_data_over_several_lines_is_one_event_and_event_error_is_an_error() -> None:
    split = TEXT.replace(b'"choices":', b'\ndata: "choices":', 1)  # one JSON, two lines
    out, _ = relay([ROLE, split, STOP, DONE])
    assert json.loads(out[1][len(b"data: "):]) == json.loads(TEXT[len(b"data: "):])
    assert out[1].count(b"\n") == 2  # one line, as the contract writes events
    out, state = relay([ROLE, b'event: error\ndata: {"message": "overloaded"}\n\n', DONE])
    err = json.loads(out[-1][len(b"data: "):])["error"]
    assert err["message"] == "overloaded" and state.error == "upstream_error_event"
    assert b"[DONE]" not in b"".join(out) and sum(b'"error"' in c for c in out) == 1
    # A keep-alive comment goes on as it is (it keeps idle proxies from cutting).
    out, _ = relay([ROLE, b": keep-alive\n\n", TEXT, DONE])
    assert out[1] == b": keep-alive\n\n"


def test_chunks_with_a_null_usage_are_forwarded_unparsed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    inspected: list[bytes] = []
    inspect = relay_module._inspect

    def counting(ready: bytes, *args: object) -> tuple[bytes, bool]:
        inspected.append(ready)
        return inspect(ready, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(relay_module, "_inspect", counting)
    out, state = relay([ROLE, OPENAI_TEXT, SPACED_TEXT, STOP, USAGE, DONE], drop_usage=True)
    assert b"".join(out) == ROLE + OPENAI_TEXT + SPACED_TEXT + STOP + DONE
    assert inspected == [USAGE, DONE]  # only the events that carry something are parsed
    assert (state.prompt_tokens, state.completion_tokens, state.error) == (5, 2, None)


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


@pytest.mark.parametrize("split", [1, 5, 1000])
def test_data_without_a_space_comes_out_as_the_contract_writes_it(split: int) -> None:
    """SSE allows "data:{...}"; the contract (and gateways matching "data: ") has the
    space. It went out as the upstream wrote it, beside our own chunks with the space."""
    stream = (ROLE + TEXT + STOP + DONE).replace(b"data: ", b"data:")
    out, state = relay([stream[i:i + split] for i in range(0, len(stream), split)],
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
