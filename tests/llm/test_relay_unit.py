"""The proxy's relay on hand-made byte streams: event boundaries, [DONE] after errors,
line ends, SSE fields. (Streams held to the contract's rules: test_conform_unit.py.)"""

from __future__ import annotations

import json

import pytest

from servers.llm.backends import relay as relay_module

from .relay_util import DONE, ERROR, ID, OPENAI_TEXT, ROLE, SPACED_TEXT, STOP, TEXT, USAGE, relay


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


@pytest.mark.parametrize("together", [False, True])
def test_a_usage_chunk_sent_before_the_finish_goes_out_after_it(together: bool) -> None:
    """Usage is the last chunk before [DONE], whatever the upstream's order. Sent before
    the finish chunk, it went out first, with a closing chunk made for it: the client
    saw two finish_reasons ("stop", then the upstream's "length")."""
    length = STOP.replace(b'"stop"', b'"length"')
    pieces = [ROLE, TEXT, USAGE, length, DONE]
    out, state = relay([b"".join(pieces)] if together else pieces)
    assert b"".join(out) == ROLE + TEXT + length + USAGE + DONE and state.error is None
    assert state.completion_tokens == 2


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


def test_an_event_ending_its_chunk_on_a_cr_goes_out_with_that_chunk() -> None:
    """A CR at a chunk's end was held as maybe half a CRLF: a CR-only upstream's every
    event waited for the next chunk (its first words one chunk late). It ends its line
    now; an LF opening the next chunk is that CRLF's second half, not a blank line."""
    from servers.llm.backends.relay import Framer, StreamState

    framer = Framer(False, StreamState(), 0.0)
    assert framer.feed(ROLE.replace(b"\n", b"\r")) == ROLE
    assert framer.feed(TEXT.replace(b"\n", b"\r\n")[:-1]) == TEXT  # ends on the CR ...
    assert framer.feed(b"\n" + STOP) == STOP  # ... and its LF is no empty event


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


@pytest.mark.parametrize("code, status", [("404", 404), (404, 404), ("²", 502), ("500", 502),
                                          ("bad", 502)])
def test_a_first_event_error_is_said_with_the_upstreams_4xx_else_502(code: object,
                                                                    status: int) -> None:
    from servers.llm.backends.upstream_errors import refused_at_first_event

    first = b"data: " + json.dumps({"error": {"message": "no", "code": code}}).encode()
    assert refused_at_first_event(first + b"\n\n", "upstream_error").status == status


@pytest.mark.parametrize("bad", [b"data: {not json\n\n", b"data: 12\n\n", b"data: [1, 2]\n\n",
                                 b'data: {"a": 1} trailing\n\n'])
def test_an_event_that_is_no_json_object_ends_the_stream_with_an_error(bad: bytes) -> None:
    """It went to the client as it came, and the client's SDK failed mid-answer on it."""
    for pieces in ([ROLE, TEXT, bad, STOP, DONE], [ROLE, TEXT + bad + STOP + DONE]):
        out, state = relay(pieces)
        sent = b"".join(out)
        assert sent.startswith(ROLE + TEXT) and bad not in sent and DONE not in sent
        objs = [json.loads(ev[6:]) for ev in sent.split(b"\n\n")[:-1]]
        assert objs[-1]["error"]["code"] == "upstream_bad_response"
        assert state.error == "upstream_bad_response"
    # Comments, [DONE] and JSON with the words in it are none of that.
    tricky = b'data: {' + ID + b'"choices":[{"index":0,"delta":{"content":"data: 12"}}]}\n\n'
    out, state = relay([ROLE, b": ping\n\n", tricky, b"data: \n\n", STOP, DONE], drop_usage=True)
    assert b"".join(out) == ROLE + b": ping\n\n" + tricky + b"data: \n\n" + STOP + DONE
    assert state.error is None


@pytest.mark.parametrize("usage", [{"prompt_tokens": "5", "completion_tokens": 2},
                                   {"prompt_tokens": 5, "completion_tokens": -3},
                                   {"prompt_tokens": True, "completion_tokens": 2.5}])
def test_usage_counts_that_are_no_counts_are_not_counted(usage: dict) -> None:
    """A "5" reached the metrics' counter and made the whole answer a 500."""
    odd = b"data: " + json.dumps({"id": "chatcmpl-1", "created": 7, "choices": [],
                                  "usage": usage}).encode() + b"\n\n"
    out, state = relay([ROLE, TEXT, STOP, odd, DONE])
    assert b"".join(out).endswith(DONE) and state.error is None  # relayed, not failed
    assert state.prompt_tokens in (None, 5) and state.completion_tokens in (None, 2)
    assert state.prompt_tokens is None or state.completion_tokens is None


def test_an_upstream_errors_fields_are_strings_and_the_token_is_blanked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Its type, code and param went on as they came (an integer type, a list param, a
    dict code as its repr) and a key echoed there was never blanked."""
    from servers.llm.backends import secret
    from servers.llm.backends.upstream_errors import map_status, refused_at_first_event

    monkeypatch.setattr(secret, "_token", "sk-up-123")
    odd = {"error": {"message": "weird sk-up-123", "type": 7, "param": ["x"],
                     "code": {"a": 1}}}
    echo = {"error": {"message": "no", "type": "sk-up-123", "param": "sk-up-123",
                      "code": "bad sk-up-123"}}
    for body in (odd, echo):
        raw = json.dumps(body).encode()
        for err in (map_status(400, raw, {}), refused_at_first_event(b"data: " + raw + b"\n\n",
                                                                     "upstream_error")):
            said = json.dumps(err.body())
            assert "sk-up-123" not in said and "{'a'" not in said, said
            fields = json.loads(said)["error"]
            assert all(isinstance(fields[k], str) for k in ("message", "type", "code"))
            assert fields.get("param") is None or isinstance(fields["param"], str)
        out, _ = relay([ROLE, TEXT, b"data: " + raw + b"\n\n", DONE])
        said = b"".join(out).decode()
        assert "sk-up-123" not in said and "{'a'" not in said, said
        last = json.loads(said.split("\n\n")[-2][6:])["error"]
        assert all(isinstance(last[k], str) for k in ("message", "type", "code")), last


@pytest.mark.parametrize("body, said", [
    ({"error": {"message": "m", "type": "t", "code": "c", "param": "p"}}, ("m", "t", "c", "p")),
    ({"error": "llama says no"}, ("llama says no", None, None, None)),
    # An older vLLM server's: the fields at the top, not the whole JSON as the message.
    ({"object": "error", "message": "too long", "type": "BadRequestError", "param": None,
      "code": 400}, ("too long", "BadRequestError", "400", None)),
    ({"detail": "Not authenticated"}, ("Not authenticated", None, None, None)),
])
def test_an_upstream_error_body_is_read_in_each_shape_servers_write(body: dict,
                                                                   said: tuple) -> None:
    from servers.llm.backends.upstream_errors import error_parts

    assert error_parts(json.dumps(body).encode()) == said


@pytest.mark.parametrize("usage, written", [
    ({"prompt_tokens": 5, "completion_tokens": 2},  # no total: added
     {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}),
    ({"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 9},  # the upstream's own
     {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 9}),
    ({"prompt_tokens": True, "completion_tokens": 2},  # no count: nothing added from it
     {"prompt_tokens": True, "completion_tokens": 2}),
])
def test_usage_on_a_choice_chunk_becomes_a_chunk_by_the_usage_chunks_rule(
        usage: dict, written: dict) -> None:
    """Usage that rode on the last choice chunk is written as its own chunk before [DONE]
    by the rule an upstream's usage chunk follows: a total added where none came, and
    only from counts (a bool was added up into a total of 3)."""
    last = b"data: " + json.dumps({"id": "chatcmpl-1", "created": 7, "choices": [
        {"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage}).encode() + b"\n\n"
    out, state = relay([ROLE, TEXT, last, DONE])
    events = [json.loads(e[6:]) for e in b"".join(out).split(b"\n\n") if e.startswith(b"data: {")]
    assert [e["usage"] for e in events if "usage" in e] == [written]
    assert events[-1]["choices"] == [] and b"".join(out).endswith(DONE)
