"""Server-sent events as the contract writes them, and a response that streams them.

Every event is ``data: <json>\\n\\n`` (LF only). A stream ends with ``data: [DONE]``
after success, and with one ``data: {"error": ...}`` event and no ``[DONE]`` after a
failure, so a cut stream never passes for a complete one.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

from starlette.types import Receive, Scope, Send

from servers.common.errors import error_body
from servers.common.streaming import until_disconnect

T = TypeVar("T")

DONE = b"data: [DONE]\n\n"
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # nginx and friends: do not buffer the stream
]


def event(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"


def error_event(message: str, type_: str, code: str) -> bytes:
    return event(error_body(message, type_, code))


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

    def delta(self, text: str, finish_reason: str | None = None) -> bytes:
        delta = {"content": text} if text else {}
        return self._chunk([{"index": 0, "delta": delta, "logprobs": None,
                             "finish_reason": finish_reason}])

    def usage(self, prompt_tokens: int, completion_tokens: int) -> bytes:
        return self._chunk([], usage=usage_dict(prompt_tokens, completion_tokens))


def usage_dict(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


class SSEResponse:
    """Stream events; a client that goes away cancels the producer at once.

    Starlette's StreamingResponse (ASGI spec 2.4) only notices a disconnect when its next
    write fails, i.e. after the engine's next token or the upstream's next chunk, which
    could be seconds for a stalled upstream. Here a second task listens for
    ``http.disconnect`` and cancels the producer, which aborts the engine request or
    closes the upstream connection (their ``finally`` blocks).
    """

    def __init__(self, events: AsyncIterator[bytes], headers: list[tuple[bytes, bytes]] | None
                 = None) -> None:
        self.events = events
        self.headers = [*SSE_HEADERS, *(headers or [])]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await until_disconnect(self._produce(send), receive, self.events)

    async def _produce(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        try:
            async for chunk in self.events:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:  # the client went away between our writes: nothing to tell it
            return


async def unless_disconnected(receive: Receive, work: Awaitable[T]) -> T | None:
    """Await ``work``; if the client leaves first, cancel it and return None.

    For non-streaming answers: the body is read already, so the next ``receive`` only
    returns on disconnect. Cancelling the work aborts the engine or upstream request.
    """
    task = await until_disconnect(work, receive)
    if task.cancelled():
        return None
    return task.result()  # finished (or failed) before the disconnect was seen
