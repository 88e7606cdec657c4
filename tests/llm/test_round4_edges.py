"""Edges of the relay's SSE reading (servers/llm/backends/sse_forms.py) that a mutation
round found no test to check: each test fails if one small rule changes.

The relay runs on hand-made byte streams, as in ``test_relay_unit.py``."""

from __future__ import annotations

import json

from .relay_util import DONE, ID, ROLE, STOP, TEXT, relay


def _one_line_each(out: list[bytes]) -> list[dict]:
    """The JSON events the client got, each checked to be one ``data: `` line."""
    events = b"".join(out).split(b"\n\n")[:-1]
    assert all(e.startswith(b"data: ") and b"\n" not in e for e in events), events
    return [json.loads(e[6:]) for e in events if e != b"data: [DONE]"]


def test_a_crlf_event_with_its_data_over_two_lines_is_one_event_wherever_it_splits() -> None:
    """A CR that ends a chunk is held as half a CRLF: ended as a line of its own, the CRLF
    made a blank line, and one JSON over two data lines became two halves (not JSON)."""
    split = TEXT.replace(b'"choices":', b'\ndata: "choices":', 1)
    stream = (ROLE + split + STOP + DONE).replace(b"\n", b"\r\n")
    for at in range(1, len(stream)):
        out, state = relay([stream[:at], stream[at:]])
        events = _one_line_each(out)
        assert state.error is None, at
        assert events[1] == json.loads(TEXT[6:]), at
        assert b"".join(out).endswith(DONE), at


def test_a_lone_cr_stream_that_opens_with_a_blank_line_is_read_whole() -> None:
    """A CR at the chunk's very start is a line end too (not a sign of no CR at all)."""
    lf = ROLE + TEXT + STOP + DONE
    out, state = relay([b"\r" + lf.replace(b"\n", b"\r")])
    assert state.error is None
    assert [e["choices"][0]["delta"] for e in _one_line_each(out)[:3]] == [
        {"role": "assistant", "content": ""}, {"content": 'Hi "error" [DONE]'}, {}]
    assert b"".join(out).endswith(DONE)


def test_fields_sent_as_events_of_their_own_are_dropped_not_taken_for_bad_json() -> None:
    """``retry:`` alone at the start (as many SSE servers send it) and an ``id:`` event
    after a data event in one chunk: each a one-line event, but not a data line, so not
    passed on as one (it was, then taken for an event that is not JSON)."""
    out, state = relay([b"retry: 3000\n\n", ROLE + b"id: 7\n\n", TEXT, STOP, DONE])
    assert state.error is None
    assert b"".join(out).startswith(ROLE + TEXT + STOP)
    assert b"retry" not in b"".join(out) and b"id: 7" not in b"".join(out)


def test_an_event_of_a_comment_and_an_id_is_dropped_whole() -> None:
    """Only an event that is all comment lines is a keep-alive passed on as it is; a
    comment with other fields and no data is no event to the client."""
    out, state = relay([ROLE, b": note\nid: 7\n\n", TEXT, STOP, DONE])
    assert state.error is None
    assert b"".join(out).startswith(ROLE + TEXT + STOP)
    assert b"note" not in b"".join(out) and b"id: 7" not in b"".join(out)


def test_an_event_named_error_with_blanks_after_its_name_is_still_an_error() -> None:
    out, state = relay([ROLE, b'event: error \ndata: {"message": "overloaded"}\n\n', DONE])
    err = json.loads(out[-1][len(b"data: "):])["error"]
    assert (err["message"], state.error) == ("overloaded", "upstream_error_event")
    assert b"[DONE]" not in b"".join(out)


def test_a_string_split_over_two_data_lines_reads_the_line_break_as_a_space() -> None:
    """SSE joins data lines with a line feed, which no JSON string may hold raw: the
    event goes on with a space there (as JSON), neither cut nor its words run together."""
    split = (b'data: {' + ID + b'"choices":[{"index":0,"delta":{"content":"Hello\n'
             b'data: there"}}]}\n\n')
    out, state = relay([ROLE, split, STOP, DONE])
    assert state.error is None
    assert _one_line_each(out)[1]["choices"][0]["delta"]["content"] == "Hello there"
