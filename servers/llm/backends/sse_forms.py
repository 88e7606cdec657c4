"""An upstream's SSE bytes in the one form the contract writes, for the relay to read.

SSE allows more than ``data: <json>`` events ending in LF: CRLF or lone-CR line ends, no
space after the colon, ``id:``/``event:``/``retry:`` fields, comments, data split over
lines. Upstreams write all of these; each is rewritten here, and only when present (the
checks are counts and byte compares: every chunk of every stream passes through them).
"""

from __future__ import annotations

import re

from ..sse import event, json_or_none

NO_SPACE = re.compile(rb"^data:(?! )", re.M)  # the contract writes "data: <json>"


def utf8(ready: bytes) -> bytes:
    """``ready`` as UTF-8: bytes that are none (an upstream's bug) each made U+FFFD, as
    a browser shows them. Passed on, the client's decoder failed on the whole stream:
    the caller heard nothing of an answer one character of which was bad."""
    try:
        ready.decode()
    except UnicodeDecodeError:
        return ready.decode(errors="replace").encode()
    return ready


def one_data_line_each(ready: bytes) -> bool:
    """Whether each event of ``ready`` is one ``data:`` line, as nearly every upstream
    writes them (JSON has no raw line break): counts, not a scan (a regex search cost
    3.5 us a chunk). Else an event holds another field SSE allows (id, event, retry), a
    comment, or a second data line."""
    events = ready.count(b"\n\n")
    return (ready.count(b"\n") == 2 * events and ready.startswith(b"data:")
            and ready.count(b"\n\ndata:") == events - 1)


def lf_lines(pending: bytes) -> bytes:
    """Line ends as LF: CRLF, and a lone CR, as SSE allows (an upstream that ended lines
    with CR alone never ended an event: a whole answer became upstream_incomplete). A CR
    that ends the chunk ends its line now, whether or not an LF follows in the next (the
    caller drops that LF): held, a CR-only upstream's every event waited for the next."""
    return pending.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def canonical(ready: bytes) -> bytes:
    """Each event of ``ready`` as the contract writes it, ``data: <json>``, from any form
    SSE allows: its data lines joined (JSON split over lines made one line), ``id:``,
    ``retry:`` and comments in an event dropped (a keep-alive, all comment, goes on as
    it is), and an ``event: error`` made the error event it is. (Read only at
    the start of an event, those fields hid [DONE], errors and usage from the relay.)"""
    out: list[bytes] = []
    for ev in ready.split(b"\n\n")[:-1]:
        data: list[bytes] = []
        kind = b""
        for line in ev.split(b"\n"):
            name, _, value = line.partition(b":")
            value = value[1:] if value.startswith(b" ") else value
            if name == b"data":
                data.append(value)
            elif name == b"event":
                kind = value.strip()
        if not data:  # a keep-alive comment goes on (it keeps idle proxies from cutting)
            if ev.startswith(b":") and all(line.startswith(b":") for line in ev.split(b"\n")):
                out.append(ev + b"\n\n")
            continue
        payload = b"\n".join(data)
        if kind == b"error" or b"\n" in payload:
            obj = json_or_none(payload)
            if kind == b"error" and not (isinstance(obj, dict) and "error" in obj):
                obj = {"error": obj if obj is not None else payload.decode(errors="replace")}
            if obj is not None:
                out.append(event(obj))
                continue
            payload = payload.replace(b"\n", b" ")
        out.append(b"data: " + payload + b"\n\n")
    return b"".join(out)
