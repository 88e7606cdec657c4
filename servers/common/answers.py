"""The lifecycle middleware's own answers: refusals (503 with Retry-After, on HTTP or a
WebSocket handshake), the shaped 500 for a bug before the first byte, and the bounded
read of a request body (408 once it is overdue)."""

from __future__ import annotations

import asyncio
import time

from starlette.types import Message, Receive, Scope, Send

from .auth import deny_websocket
from .body import take_small_body
from .errors import ApiError, raw_error
from .usage import UsageRecord


async def bounded_body_read(receive: Receive, started: float, timeout_s: float) -> Message:
    """One read of the request body, refused with 408 once the body is overdue.

    A bare timer that cancels the read, not ``asyncio.timeout``: this runs on every
    request, and the context manager costs several times as much for the same bound.
    """
    task = asyncio.current_task()
    assert task is not None
    overdue = False

    def expire() -> None:
        nonlocal overdue
        overdue = True
        task.cancel()

    timer = asyncio.get_running_loop().call_later(
        max(0.0, started + timeout_s - time.monotonic()), expire)
    try:
        return await receive()
    except asyncio.CancelledError:
        if overdue and task.uncancel() == 0:
            raise ApiError(408, f"request body not received within {timeout_s:g} s",
                           "body_timeout") from None
        raise
    finally:
        timer.cancel()


async def internal_error(send: Send) -> None:
    body, headers = raw_error("internal server error", "server_error", "internal_error")
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def counted(send: Send, usage: UsageRecord) -> Send:
    """``send`` for a refusal: its error body counted in the usage record's bytes_out."""
    async def counting(message: Message) -> None:
        if message["type"] in ("http.response.body", "websocket.http.response.body"):
            usage.mark_out(len(message.get("body", b"")))
        await send(message)
    return counting


def counted_in(receive: Receive, usage: UsageRecord) -> Receive:
    """``receive`` for a refusal: the body it takes (and drops) counted in bytes_in."""
    async def counting() -> Message:
        message = await receive()
        usage.bytes_in += len(message.get("body", b""))
        return message
    return counting


def with_header(send: Send, header: tuple[bytes, bytes]) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), header]
        await send(message)
    return wrapped


_REFUSED = {"draining": "server is draining for shutdown",
            "loading": "server is loading its model; retry shortly",
            "not_ready": "server is not ready (see its log); retry shortly",
            "over_capacity": "server is at capacity; retry shortly"}


async def refuse(scope: Scope, receive: Receive, send: Send, reason: str,
                  rid_header: tuple[bytes, bytes], take_body: bool = True) -> None:
    """A 503 with Retry-After; ``take_body``: the request's body is not read yet."""
    text = _REFUSED[reason]
    body, headers = raw_error(text, "overloaded_error", reason)
    headers += [(b"retry-after", b"1"), rid_header]
    if scope["type"] == "http":
        if take_body:
            await take_small_body(scope, receive)
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    else:
        await deny_websocket(scope, receive, send, 503, body, headers)
