"""Server-sent events as the contract writes them, and a response that streams them.

Every event is ``data: <json>\\n\\n`` (LF only). A stream ends with ``data: [DONE]``
after success, and with one ``data: {"error": ...}`` event and no ``[DONE]`` after a
failure, so a cut stream never passes for a complete one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from servers.common.body import parse_json
from servers.common.errors import error_body
from servers.common.streaming import HangUp, stream_until_hang_up
from servers.common.usage import usage_of

from . import metrics

T = TypeVar("T")

DONE = b"data: [DONE]\n\n"
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # nginx and friends: do not buffer the stream
]


def compact_json(obj: Any) -> bytes:
    """``obj`` as compact UTF-8 JSON. A lone surrogate (an upstream that split a
    surrogate pair across its escapes) has no UTF-8: that one is written escaped, as
    JSON allows, and the client reads back just what the upstream sent."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return json.dumps(obj, separators=(",", ":")).encode()


def event(obj: Any) -> bytes:
    return b"data: " + compact_json(obj) + b"\n\n"


def error_event(message: str, type_: str, code: str, param: str | None = None) -> bytes:
    return event(error_body(message, type_, code, param))


class ChunkWriter:
    """Builds the chat.completion.chunk events of one stream: one id, one created."""

    def __init__(self, model: str, completion_id: str | None = None) -> None:
        self.id = completion_id or f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.model = model

    def _chunk(self, choices: list[dict[str, Any]], **extra: Any) -> bytes:
        return event({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                      "model": self.model, "choices": choices, **extra})

    def role(self) -> bytes:
        return self._chunk([{"index": 0, "delta": {"role": "assistant", "content": ""},
                             "logprobs": None, "finish_reason": None}])

    def delta(self, text: str, finish_reason: str | None = None,
              tool_calls: list[dict[str, Any]] | None = None, reasoning: str = "") -> bytes:
        delta: dict[str, Any] = {"content": text} if text else {}
        if reasoning:
            delta["reasoning"] = reasoning
        if tool_calls:
            delta["tool_calls"] = tool_calls
        return self._chunk([{"index": 0, "delta": delta, "logprobs": None,
                             "finish_reason": finish_reason}])

    def usage(self, prompt_tokens: int, completion_tokens: int) -> bytes:
        return self._chunk([], usage=usage_dict(prompt_tokens, completion_tokens))


def usage_dict(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def total_added(usage: object) -> dict[str, Any] | None:
    """An upstream's usage that counts both sides but leaves out the total the contract
    has, with the total; None for any other (nothing to add, or nothing to add it from)."""
    if isinstance(usage, dict) and "total_tokens" not in usage and \
            type(usage.get("prompt_tokens")) is int and type(usage.get("completion_tokens")) is int:
        return {**usage, **usage_dict(usage["prompt_tokens"], usage["completion_tokens"])}
    return None


def event_data(ev: bytes) -> bytes:
    """An upstream event's ``data:`` value (a comment is left as it is)."""
    payload = ev.strip()
    return payload[5:].strip() if payload.startswith(b"data:") else payload


def json_or_none(data: bytes) -> object:
    try:
        return parse_json(data)
    except ValueError:
        return None


def first_not_json(ready: bytes) -> int | None:
    """Where the first event of ``ready`` (whole ``data: ...`` events, one line each)
    that is neither a JSON object nor ``[DONE]`` starts, or None. An upstream's
    ``data: {not json`` or ``data: 12`` went to the client as it was, and its SDK failed
    mid-answer. Counts first (no raw line break is in JSON, so ``}\n\n`` ends only an
    event): a parse only where they disagree."""
    end = len(ready) - 2
    if ready.find(b"\n\n") == end and ready.startswith(b"data: {") and ready[end - 1] == 125:
        return None  # one event, a JSON object's braces (nearly every chunk: 0.4 us a call)
    events, done = ready.count(b"\n\n"), ready.count(b"data: [DONE]\n\n")
    if ready.count(b"data: {") + done == events and ready.count(b"}\n\n") + done == events:
        return None
    at = 0
    for ev in ready.split(b"\n\n")[:-1]:
        payload = event_data(ev)
        # (An empty data line is no event to SSE: clients skip it, as before.)
        if not (ev.startswith(b":") or payload in (b"[DONE]", b"") or payload.startswith(b"{")
                and payload.endswith(b"}") and isinstance(json_or_none(payload), dict)):
            return at
        at += len(ev) + 2
    return None


CUT_AT_SHUTDOWN = "shutting_down"


async def end_cut_at_shutdown(request: Request, backend: str, send: Send) -> None:
    """A stream still running at the drain bound is cancelled by the server (a hang-up
    never gets here: HangUp absorbs it). It ends as any failure after streaming began
    does, with one error event and no ``[DONE]``, rather than with a bare cut the client
    can only guess at. Best effort: the client may be gone, the write may be refused."""
    usage = usage_of(request).extra
    usage.pop("client_disconnected", None)  # (what the events' cancellation assumed)
    usage["error"] = CUT_AT_SHUTDOWN
    metrics.ERRORS.labels(backend, CUT_AT_SHUTDOWN, "mid_stream").inc()
    body = error_event("the server shut down before this answer was finished (its drain "
                       "bound was reached); retry on another server", "server_error",
                       CUT_AT_SHUTDOWN)
    with contextlib.suppress(Exception):
        await send({"type": "http.response.body", "body": body, "more_body": True})


class SSEResponse:
    """Stream events; a client that goes away stops the producer at once (HangUp):
    the engine request is aborted in the events' ``finally``. ``on_cut(send)`` ends a
    stream the server cancels at its drain bound (end_cut_at_shutdown)."""

    def __init__(self, events: AsyncIterator[bytes],
                 on_cut: Callable[[Send], Awaitable[None]]) -> None:
        self.events = events
        self.on_cut = on_cut

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = {"type": "http.response.start", "status": 200, "headers": SSE_HEADERS}
        try:
            await stream_until_hang_up(send, receive, start, self.events)
        except OSError:  # the client went away between our writes: nothing to tell it
            return
        except asyncio.CancelledError:
            await self.on_cut(send)
            raise


async def unless_disconnected(receive: Receive, work: Awaitable[T]) -> T | None:
    """Await ``work``; if the client leaves first, cancel it and return None.

    For waits before the response (the body is read already, so ``receive`` only
    returns at a disconnect). Cancelling the work aborts the engine request.
    """
    async with HangUp(receive):
        return await work
    return None  # the client hung up: HangUp absorbed the cancellation
