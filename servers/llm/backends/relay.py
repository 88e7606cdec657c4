"""Cut an upstream's SSE byte stream at event boundaries and look only where it matters.

Bytes are forwarded as they arrive, cut only at event boundaries; an event is parsed
only when it may matter to the contract: an error (then the upstream's own ``[DONE]``
after it is dropped, as vLLM's server sends one), the usage chunk (counted for the
usage record, and dropped when the client did not ask for it), or the end (a stream
that ends without ``[DONE]`` was cut: we say so with an error event). An upstream that
ends its lines with CRLF is relayed with LF, as the contract writes them. Transport
failures are the caller's: this module only sees bytes.

Usage as the contract has it, whatever the upstream does: asked for, it is one chunk of
its own (``choices: []``) just before ``[DONE]``; not asked for, there is none. Some
upstreams put it on a choice chunk (the last, or every one), or send none at all: the
choice chunks are relayed without it, and the usage chunk is written here before
``[DONE]`` from the last usage seen (``usage: null`` if the upstream counted nothing).
An upstream's own usage chunk is held for that place too, wherever it came.
The stream's other rules (one id, role first, a finish_reason) are ``conform``'s.
"""

from __future__ import annotations

import logging
import re
import time

from ..sse import (
    error_event,
    event,
    event_data,
    first_not_json,
    json_or_none,
    total_added,
)
from .conform import Conformer
from .secret import blanked
from .sse_forms import NO_SPACE, canonical, lf_lines, one_data_line_each, utf8
from .upstream_errors import said

log = logging.getLogger("rymi.llm.upstream")

# An event never legitimately comes near this (a chunk is a token or a few); one that
# does is an upstream that never ends an event, which would otherwise be held in memory.
MAX_EVENT_BYTES = 4 << 20
# The first event that carries a token: text, a tool call (an answer that is only a call
# has no text; its TTFT was never taken), or a reasoning model's thinking.
_CONTENT = re.compile(rb'"(?:content|reasoning_content|reasoning)": ?"[^"]|"tool_calls": ?\[ ?\{')
# An error or usage that is there: OpenAI's own API writes "usage":null into every chunk
# once usage is asked for (we always ask), and those chunks need no parsing.
_PRESENT = re.compile(rb'"(?:error|usage)"\s*:(?!\s*null)')
# A chunk's model, as a key: inside content or arguments a quote is escaped.
_MODEL = re.compile(rb'"model"\s*:\s*"(?:[^"\\]|\\.)*"')


class StreamState:
    """What the relay learnt from the events it looked at."""

    def __init__(self) -> None:
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None
        self.ttft_s: float | None = None
        self.error: str | None = None
        # For a usage chunk we write ourselves: the usage that rode on a choice chunk.
        self.late_usage: dict[str, object] | None = None
        # The upstream's own usage chunk, held for its place just before [DONE]: one
        # that came before the finish chunk went out first, and the closing chunk made
        # for it was a second finish_reason ("stop", then the upstream's "length").
        self.usage_event: bytes | None = None
        # Events with text relayed: the completion's size where no usage came (a stream
        # cut by the client, the upstream or the drain), one token each as vLLM and
        # OpenAI stream them.
        self.text_events = 0

    def count(self, usage: dict[str, object]) -> None:
        """The upstream's token counts, where they are counts: a "5" or a -3 went on to
        the metrics and made a whole answer a 500."""
        self.prompt_tokens = _tokens(usage.get("prompt_tokens"))
        self.completion_tokens = _tokens(usage.get("completion_tokens"))


def _tokens(value: object) -> int | None:
    return value if type(value) is int and value >= 0 else None


class Framer:
    """Whole events out of the upstream's chunks, one ``feed`` per chunk.

    ``finished`` turns true at ``[DONE]`` or after an error event: nothing after it is
    forwarded (what follows ``[DONE]`` is only read, so the connection can be reused).
    """

    def __init__(self, drop_usage: bool, state: StreamState, started: float,
                 model: bytes | None = None, served: str = "") -> None:
        self.drop_usage, self.state, self.started = drop_usage, state, started
        # The ``"model":...`` every chunk carries instead of the upstream's, where the
        # server is set to serve under a name of its own; None: the upstream's, as is.
        self._model = (lambda _m: model) if model is not None else None
        self.finished = False
        self._pending = b""
        self._cr_ended = False  # the last chunk ended on a CR (maybe half a CRLF)
        self._no_space = False  # the upstream writes "data:{...}"
        self._conform = Conformer(served)

    def feed(self, chunk: bytes) -> bytes:
        """The whole events that ``chunk`` completes, ready to forward (maybe none)."""
        # Every SSE chunk of every stream passes here: bytes.find rather than ``in``
        # (which first tries the needle as an int, raising and clearing a TypeError),
        # no copy when the chunk ends on an event boundary, as it nearly always does.
        if self._cr_ended:  # the last chunk's CR ended its line: this LF is its CRLF's
            self._cr_ended = False
            chunk = chunk[1:] if chunk.startswith(b"\n") else chunk
        pending = self._pending + chunk if self._pending else chunk
        if 13 in pending:  # CRLF lines, or (SSE allows it) lone CRs
            self._cr_ended = pending.endswith(b"\r")
            pending = lf_lines(pending)
        # "data:{...}", as SSE allows: an upstream writes every event one way, so the
        # stream's first event tells (two byte compares, not a scan of every chunk). Once
        # told, every batch is rewritten: a held event's head was rewritten already, and
        # hid the events after it in the batch it began (only those went out as written).
        if self._no_space or (pending.startswith(b"data:") and len(pending) > 5
                              and pending[5] != 32):
            self._no_space = True
            pending = NO_SPACE.sub(b"data: ", pending)
        if pending.endswith(b"\n\n"):
            ready, self._pending = pending, b""
        else:
            end = pending.rfind(b"\n\n")
            if end < 0:
                if len(pending) > MAX_EVENT_BYTES:  # no event ends: held without bound
                    return self._fail(f"the upstream sent an event longer than "
                                      f"{MAX_EVENT_BYTES} bytes", "upstream_bad_response")
                self._pending = pending
                return b""
            ready, self._pending = pending[:end + 2], pending[end + 2:]
        if not ready.isascii():  # (50 ns for the usual English chunk)
            ready = utf8(ready)
        if not one_data_line_each(ready):
            ready = canonical(ready)
        if (bad := first_not_json(ready)) is not None:
            log.warning("the upstream sent an event that is not JSON: %r", ready[bad:bad + 120])
            ready = ready[:bad]  # what came before it goes on, then the error event
        ready = self._conform.feed(ready)
        state = self.state
        if state.ttft_s is None and _CONTENT.search(ready):
            state.ttft_s = time.monotonic() - self.started
        state.text_events += _text_events(ready)
        # Parsing happens only for the few events that carry one of these with a value.
        if ready.find(b"[DONE]") >= 0 or ((ready.find(b'"error"') >= 0 or
                                           ready.find(b'"usage"') >= 0)
                                          and _PRESENT.search(ready)):
            ready, done = _inspect(ready, self.drop_usage, state, self._conform)
            self.finished = done or state.error is not None
        if self._model:
            ready = _MODEL.sub(self._model, ready)
        if bad is not None and not self.finished:
            ready += self._fail("the upstream sent an event that is not JSON",
                                "upstream_bad_response")
        return ready

    def end(self) -> bytes:
        """The upstream's body ended: an error event if that was before ``[DONE]``."""
        # A [DONE] whose blank line never came (the body ended) is the end all the same.
        last, self._cr_ended = b"", False  # (no LF comes after the body's last CR)
        if not self.finished and event_data(self._pending) == b"[DONE]":
            last += self.feed(b"\n\n"[self._pending.endswith(b"\n"):])
        if self.finished:
            return last
        return last + self._fail("the upstream ended the stream before [DONE]",
                                 "upstream_incomplete")

    def _fail(self, message: str, code: str) -> bytes:
        log.warning("upstream stream failed: %s", message)  # (as a broken connection is)
        self.finished, self._pending = True, b""
        self.state.error = code
        return error_event(message, "upstream_error", code)


def _text_events(ready: bytes) -> int:
    """Events of ``ready`` with text: counts, not a parse (0.2 us a chunk), compact JSON
    as vLLM writes it first, then JSON with spaces as Python's json.dumps writes it."""
    n = ready.count(b'"content":"')
    if n:
        return n - ready.count(b'"content":""')
    return ready.count(b'"content": "') - ready.count(b'"content": ""')


def _inspect(ready: bytes, drop_usage: bool, state: StreamState,
             conform: Conformer) -> tuple[bytes, bool]:
    """Look at each event of ``ready``; returns what to forward and whether [DONE] came."""
    kept: list[bytes] = []
    for ev in ready.split(b"\n\n")[:-1]:
        payload = event_data(ev)
        if payload == b"[DONE]":
            if state.error is None:
                if not conform.finish_seen:
                    kept.append(conform.closing_chunk())
                if not drop_usage:
                    kept.append(state.usage_event or _usage_event(state, conform))
                kept.append(ev + b"\n\n")
            return b"".join(kept), True
        if b'"error"' in payload or b'"usage"' in payload:
            obj = json_or_none(payload)
            if isinstance(obj, dict) and obj.get("error") is not None:
                state.error = "upstream_error_event"
                kept.append(_in_our_shape(obj["error"]) or ev + b"\n\n")
                return b"".join(kept), False
            usage = obj.get("usage") if isinstance(obj, dict) else None
            if isinstance(usage, dict):
                state.count(usage)
                if obj.get("choices"):  # on a choice chunk: relayed without it, kept
                    state.late_usage = usage
                    del obj["usage"]
                    kept.append(event(obj))
                    continue
                if not drop_usage:  # (held for its place, as the module's doc says)
                    if (mended := total_added(usage)) is not None:
                        obj["usage"] = mended
                    state.usage_event = event(obj) if mended is not None else ev + b"\n\n"
                continue
        kept.append(ev + b"\n\n")
    return b"".join(kept), False


def _usage_event(state: StreamState, conform: Conformer) -> bytes:
    """The usage chunk the upstream did not send as one (see the module's doc)."""
    usage = state.late_usage  # with a total where it lacks one, as an upstream's own chunk
    return conform.chunk({"choices": [], "usage": total_added(usage) or usage})


def _in_our_shape(err: object) -> bytes | None:
    """The upstream's error event rewritten to the contract's shape, where it is not in
    it (vLLM's server writes an integer code, llama.cpp a bare string); None if it is."""
    if isinstance(err, dict) and all(isinstance(err.get(k), str) and err[k] and
                                     blanked(err[k]) == err[k]
                                     for k in ("message", "type", "code")) \
            and (err.get("param") is None or said(err["param"]) == err["param"]):
        return None
    if not isinstance(err, dict):
        err = {"message": str(err)}
    return error_event(blanked(str(err.get("message") or "the upstream failed mid-stream")),
                       said(err.get("type")) or "upstream_error",
                       said(err.get("code")) or "upstream_error_event", said(err.get("param")))
