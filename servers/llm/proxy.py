"""Chat completions through the upstream backend: a thin relay with bookkeeping."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from servers.common.errors import ApiError
from servers.common.streaming import until_disconnect
from servers.common.usage import usage_of

from . import metrics
from .backends.relay import StreamState
from .backends.upstream import UpstreamBackend
from .schema import ChatRequest
from .sse import SSE_HEADERS, unless_disconnected


async def complete(request: Request, req: ChatRequest, raw: dict[str, Any],
                   backend: UpstreamBackend) -> Response | RelayedStream:
    started = time.monotonic()
    state = StreamState()
    if req.stream:
        return RelayedStream(request, req, raw, backend, state, started)
    try:
        # Waiting for the upstream can take long (a queue upstream): a client that
        # leaves meanwhile cancels the upstream request too.
        opened = await unless_disconnected(request.receive, backend.open(req, raw))
        if opened is None:
            return _gone(request)
        data = await unless_disconnected(request.receive, backend.whole(opened[0], state))
        _account(request, backend, state, started)
        if data is None:  # the client left: whole() closed the upstream response
            return _gone(request)
        return Response(data, media_type="application/json")
    except ApiError as exc:
        _failed_before_stream(request, backend, exc)
        raise


class RelayedStream:
    """The streamed answer: the upstream request, then its events, in one task that a
    hang-up cancels at once (closing the upstream request, whether it is still waiting
    for the upstream's headers or relaying). One listener per request rather than one
    per phase: each task hop on this path costs tens of µs before the first token.

    A failure before the 200 (the upstream refused, timed out, answered 4xx) is answered
    here as a shaped HTTP error, before any byte of the stream is sent.
    """

    def __init__(self, request: Request, req: ChatRequest, raw: dict[str, Any],
                 backend: UpstreamBackend, state: StreamState, started: float) -> None:
        self.request, self.req, self.raw, self.backend = request, req, raw, backend
        self.state, self.started = state, started
        self.response_started = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        producer = await until_disconnect(self._run(send), receive)
        if producer.cancelled():  # the client left; the upstream request is closed
            if not self.response_started:
                await _gone(self.request)(scope, receive, send)
            return
        error = producer.exception()
        if isinstance(error, ApiError) and not self.response_started:
            await error.response()(scope, receive, send)  # the upstream said no: shaped
        elif error is not None and not isinstance(error, OSError):
            raise error  # a bug: the app's 500, or after the 200 a cut (no terminator)
        # OSError: the client vanished or stopped reading; nothing to tell it.

    async def _run(self, send: Send) -> None:
        request, backend, state = self.request, self.backend, self.state
        try:
            resp, drop_usage = await backend.open(self.req, self.raw)
        except ApiError as exc:
            _failed_before_stream(request, backend, exc)
            raise
        try:
            await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
            self.response_started = True
            # aclosing: the relay's own cleanup (closing the upstream response) runs now,
            # when the client leaves, not whenever the garbage collector gets to it.
            async with contextlib.aclosing(
                    backend.relay(resp, drop_usage, state, self.started)) as relay:
                async for chunk in relay:
                    await send({"type": "http.response.body", "body": chunk,
                                "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (asyncio.CancelledError, OSError):  # the client left: upstream closed too
            usage_of(request).extra["client_disconnected"] = True
            raise
        finally:
            if state.error:
                metrics.ERRORS.labels(backend.name, state.error, "mid_stream").inc()
                usage_of(request).extra["error"] = state.error
            _account(request, backend, state, self.started)


def _failed_before_stream(request: Request, backend: UpstreamBackend, exc: ApiError) -> None:
    metrics.ERRORS.labels(backend.name, exc.code, "before_stream").inc()
    usage_of(request).extra["error"] = exc.code


def _gone(request: Request) -> Response:
    """Nobody will read this: mark the usage record (status 499, as nginx logs it)."""
    usage_of(request).extra["client_disconnected"] = True
    return Response(status_code=499)


def _account(request: Request, backend: UpstreamBackend, state: StreamState,
             started: float) -> None:
    usage_of(request).extra.update(model=backend.served_name, prompt_tokens=state.prompt_tokens,
                                   completion_tokens=state.completion_tokens,
                                   ttft_s=None if state.ttft_s is None else round(state.ttft_s, 4))
    metrics.record_tokens(backend.name, state.prompt_tokens, state.completion_tokens,
                          state.ttft_s, time.monotonic() - started)
