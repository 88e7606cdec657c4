"""Per-request bookkeeping as one ASGI middleware: request ids, admission, drain, usage.

Kept in pure ASGI (not BaseHTTPMiddleware) so streaming bodies and WebSockets pass
through untouched and byte counts are exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import metrics
from .answers import (
    bounded_body_read,
    counted,
    counted_in,
    internal_error,
    refuse,
    with_header,
)
from .auth import OPEN_PATHS
from .logs import REQUEST_ID
from .slow_client import SendWatch, SlowClient
from .state import ServerState
from .usage import UsageRecord

log = logging.getLogger("rymi.server")


def request_id_of(scope: Scope) -> tuple[str, bytes]:
    """The caller's X-Request-ID as text for the records (UTF-8 where it is) and as the
    bytes it sent, echoed as they came (re-encoded, "café" came back as other bytes)."""
    for key, value in scope.get("headers", []):
        if key == b"x-request-id":
            raw = value[:128]
            try:
                rid = raw.decode()
            except UnicodeDecodeError:
                rid = raw.decode("latin-1")
            if rid.strip() and rid.isprintable():  # a blank one would correlate nothing
                return rid, raw
    rid = os.urandom(16).hex()  # 128 random bits, as uuid4().hex, at a quarter of its cost
    return rid, rid.encode()


class LifecycleMiddleware:
    def __init__(self, app: ASGIApp, state: ServerState, send_timeout_s: float | None = None,
                 body_timeout_s: float | None = None,
                 authorized: Callable[[Scope], bool] | None = None) -> None:
        self.app = app
        self.state = state
        self.authorized = authorized
        self.send_timeout_s = send_timeout_s
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        rid, raw_rid = request_id_of(scope)
        REQUEST_ID.set(rid)  # (this request's task alone: each has its own context)
        rid_header = (b"x-request-id", raw_rid)
        if scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, with_header(send, rid_header))

        if self.authorized is not None and not self.authorized(scope):
            # A bad token is told so (the 401 from the auth layer inside), busy or not:
            # a 503 with Retry-After had it retried with the same token, and a caller
            # misconfigured during a rollout or a peak saw "busy", not "wrong key".
            return await self._admitted(scope, receive, send, kind, rid, rid_header)
        state = self.state
        # Not ready: the model is loading, or the engine died and the process is going.
        # Passed on, a chat request met a backend with no tokenizer yet and was told its
        # messages were bad (a 400 with no Retry-After, on every restart and rollout).
        reason = state.refusal() or (None if state.admit() else "over_capacity")
        if reason:
            metrics.child(metrics.REJECTED, state.channel, reason).inc()
            # A refused call is a finished one: its usage record says why, so the turn
            # that failed can be found by its request id, and rymi_requests_total has it.
            usage = self._usage(scope, kind, rid)
            usage.status, usage.extra["error"] = 503, reason
            try:
                return await refuse(scope, counted_in(receive, usage), counted(send, usage),
                                    reason, rid_header)
            finally:
                count_finished(usage, kind)
        released = False

        def release() -> None:  # once: at the response's last byte, or at the end
            nonlocal released
            if not released:
                released = True
                state.release()
        try:
            return await self._admitted(scope, receive, send, kind, rid, rid_header, release)
        finally:
            release()
            state.leave()

    async def _admitted(self, scope: Scope, receive: Receive, send: Send, kind: str,
                        rid: str, rid_header: tuple[bytes, bytes],
                        release: Callable[[], None] | None = None) -> None:
        usage = self._usage(scope, kind, rid)
        scope.setdefault("state", {})["usage"] = usage
        scope["state"]["request_id"] = rid

        body_done = kind != "http"

        async def counting_receive() -> Message:
            nonlocal body_done
            if body_done or self.body_timeout_s is None:
                message = await receive()  # later reads only wait for a disconnect
            else:
                message = await bounded_body_read(receive, usage.started, self.body_timeout_s)
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            usage.bytes_in += len(message.get("body", b"") or message.get("bytes", b"") or
                                  (message.get("text") or "").encode())
            return message

        watch = None if self.send_timeout_s is None or kind != "http" \
            else SendWatch(self.send_timeout_s)

        async def counting_send(message: Message) -> None:
            t = message["type"]
            if t == "http.response.body":  # the hot path: every SSE event, every PCM chunk
                usage.mark_out(len(message["body"]) if "body" in message else 0)
                if watch is None:
                    await send(message)
                else:
                    try:  # one timer per response, not one per write
                        await watch.send(send(message))
                    except SlowClient:
                        self._slow_client(usage, rid)
                        # Cut now: a graceful close waits for a buffer a stuck client
                        # never drains (its connection, fd and kernel buffer held).
                        abort = (scope.get("extensions") or {}).get("rymi.abort")
                        if abort is not None:
                            abort()
                        raise
                if release is not None and not message.get("more_body", False):
                    release()  # the answer is whole: what follows holds no slot
                return None
            if t == "http.response.start":
                usage.status = message["status"]
                message["headers"] = [*message.get("headers", []), rid_header]
            elif t in ("websocket.accept", "websocket.http.response.start"):
                message["headers"] = [*message.get("headers", []), rid_header]
                try:
                    await send(message)
                except OSError:  # hung up while the handshake waited (e.g. a model load)
                    usage.status, usage.extra["client_disconnected"] = 499, True
                    raise
                # Set once sent: a handshake nobody received was no session (101).
                usage.status = 101 if t == "websocket.accept" else message["status"]
                return None
            elif t == "websocket.send":
                usage.mark_out(len(message.get("bytes") or b"") +
                               len((message.get("text") or "").encode()))
            elif t == "websocket.close":
                usage.extra.setdefault("close_code", message.get("code", 1000))
            elif t == "websocket.http.response.body":  # a refused upgrade's (401, 400...)
                usage.mark_out(len(message.get("body", b"")))
            if self.send_timeout_s is None or t != "websocket.send":
                return await send(message)
            # A WebSocket may write from more than one task (events, then an error and
            # the close): a timeout per write, at the rate of transcript events.
            try:  # uvicorn's send waits while the client's socket is full (flow control)
                async with asyncio.timeout(self.send_timeout_s):
                    await send(message)
            except TimeoutError:
                self._slow_client(usage, rid)
                raise SlowClient(f"client read nothing for {self.send_timeout_s:g}s") from None

        try:
            await self.app(scope, counting_receive, counting_send)
        except ClientDisconnect:  # gone while sending its body: nothing to answer, no bug
            usage.extra["client_disconnected"] = True
            if usage.status is None:
                usage.status = 499  # as nginx logs it
        except Exception as exc:
            if kind == "http" and usage.status is None:
                # A bug before the first byte: answered here, shaped and with its request
                # id, rather than by Starlette's outermost error layer, which has neither.
                log.exception("request %s failed: %s", rid, exc)
                usage.extra["error"] = "internal_error"
                await internal_error(counting_send)
            else:  # after the 200 the connection is cut: a short answer never looks whole
                if not usage.extra.get("client_disconnected"):  # (not cut by us: gone)
                    usage.extra.setdefault("aborted", True)
                raise
        except BaseException as exc:
            usage.extra.setdefault("aborted", True)
            if isinstance(exc, asyncio.CancelledError) and self.state.draining:
                # uvicorn cancels what is left at the drain bound: the server cut it, not
                # the client (a hang-up ends a response without cancelling its task).
                usage.extra.pop("client_disconnected", None)
                usage.extra.setdefault("error", "cut_at_shutdown")
            if isinstance(exc, asyncio.CancelledError) and kind == "http" and \
                    usage.status is None and self.state.draining:
                # Cut at the drain bound before its first byte: the 503 a new request
                # gets while draining, not uvicorn's plain-text 500.
                usage.status = 503
                with contextlib.suppress(Exception):
                    await refuse(scope, receive, send, "draining", rid_header,
                                 take_body=False)  # (the app read it, or began to)
            raise
        finally:
            if watch is not None:
                watch.close()
            count_finished(usage, kind)

    def _usage(self, scope: Scope, kind: str, rid: str) -> UsageRecord:
        return UsageRecord(channel=self.state.channel, request_id=rid,
                           path=scope["path"], kind=kind, client_ip=_client_ip(scope))

    def _slow_client(self, usage: UsageRecord, rid: str) -> None:
        usage.extra["error"] = "client_not_reading"
        metrics.REJECTED.labels(self.state.channel, "client_not_reading").inc()
        log.warning("request %s: client read nothing for %gs; cutting it off",
                    rid, self.send_timeout_s)


def count_finished(usage: UsageRecord, kind: str) -> None:
    """The usage line, and the request counted with its status and times."""
    record = usage.finish()
    status = str(record.get("status") or "aborted")
    channel = usage.channel
    metrics.child(metrics.REQUESTS, channel, kind, status).inc()
    if usage.bytes_in:
        metrics.child(metrics.BYTES, channel, kind, "in").inc(usage.bytes_in)
    if usage.bytes_out:
        metrics.child(metrics.BYTES, channel, kind, "out").inc(usage.bytes_out)
    if kind == "http" or usage.status == 101:  # not a refused handshake's 0.2 ms
        metrics.child(metrics.DURATION, channel, kind).observe(record["total_s"])
        if usage.first_byte_s is not None:
            metrics.child(metrics.FIRST_BYTE, channel, kind).observe(usage.first_byte_s)


def _client_ip(scope: Scope) -> str | None:
    """The caller's address: uvicorn has already taken it from X-Forwarded-For when the
    peer is a trusted proxy (``forwarded_allow_ips``)."""
    client = scope.get("client")
    return client[0] if client else None
