"""Chat completions through the upstream backend: a thin relay with bookkeeping."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from servers.common.errors import ApiError
from servers.common.streaming import HangUp
from servers.common.usage import usage_of

from . import metrics
from .backends.relay import Framer, StreamState
from .backends.upstream import UpstreamBackend
from .backends.upstream_errors import OUR_CODES
from .schema import ChatRequest
from .sse import SSE_HEADERS, end_cut_at_shutdown


async def complete(request: Request, req: ChatRequest, raw: dict[str, Any],
                   backend: UpstreamBackend) -> Response | RelayedStream:
    started = time.monotonic()
    state = StreamState()
    if req.stream:
        return RelayedStream(request, req, raw, backend, state, started)
    try:
        # Waiting for the upstream can take long (a queue upstream): a client that
        # leaves meanwhile closes the upstream request too.
        async with HangUp(request.receive) as hang_up:
            resp, _ = await backend.open(req, raw)
            data = await backend.whole(resp, state)
    except ApiError as exc:
        _failed_before_stream(request, backend, exc)
        raise
    finally:
        _account(request, backend, state, started)
    if hang_up.hung_up:
        return _gone(request)
    return Response(data, media_type="application/json")


class RelayedStream:
    """The streamed answer: the upstream request, then its events, in the request's own
    task, which a hang-up cancels at once (closing the upstream request, whether it is
    still waiting for the upstream's headers or relaying).

    A failure before the 200 (the upstream refused, timed out, answered 4xx, or its
    first event was an error) is answered here as a shaped HTTP error, before any byte
    of the stream is sent.
    """

    def __init__(self, request: Request, req: ChatRequest, raw: dict[str, Any],
                 backend: UpstreamBackend, state: StreamState, started: float) -> None:
        self.request, self.req, self.raw, self.backend = request, req, raw, backend
        self.state, self.started = state, started

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request, backend, state = self.request, self.backend, self.state
        began = False
        try:
            async with HangUp(receive) as hang_up:
                try:
                    resp, drop_usage = await backend.open(self.req, self.raw)
                    framer = Framer(drop_usage, state, self.started, backend.model_field,
                                    backend.served_name)
                    first = await backend.first(resp, framer)
                except ApiError as exc:
                    _failed_before_stream(request, backend, exc)
                    hang_up.disarm()
                    await exc.response()(scope, receive, send)  # the upstream said no
                    return

                await send({"type": "http.response.start", "status": 200,
                            "headers": SSE_HEADERS})
                began = True
                # The end of the response is no hang-up: disarmed before the last write.
                await backend.relay(resp, framer, send, hang_up.disarm, first)
        except OSError:  # the client vanished or stopped reading: nothing to tell it
            usage_of(request).extra["client_disconnected"] = True
            return  # the server closes a connection whose response is not complete
        except asyncio.CancelledError:  # the drain bound (HangUp absorbs a hang-up)
            if began:
                await end_cut_at_shutdown(request, backend.name, send)
            raise
        finally:
            if state.error:
                metrics.ERRORS.labels(backend.name, state.error, "mid_stream").inc()
                usage_of(request).extra["error"] = state.error
            if began:
                _account(request, backend, state, self.started)
        if hang_up.hung_up:
            if began:
                usage_of(request).extra["client_disconnected"] = True
            else:
                await _gone(request)(scope, receive, send)


def _failed_before_stream(request: Request, backend: UpstreamBackend, exc: ApiError) -> None:
    # A 4xx here is the upstream's own, passed through with whatever code it wrote: the
    # caller gets that code, the metric its status, so the label's values stay bounded.
    label = f"upstream_{exc.status}" if exc.status < 500 else \
        exc.code if exc.code in OUR_CODES else "upstream_error_event"
    metrics.ERRORS.labels(backend.name, label, "before_stream").inc()
    # The model too, streamed or not: a refused stream's record had none.
    usage_of(request).extra.update(error=exc.code, model=backend.served_name)


def _gone(request: Request) -> Response:
    """Nobody will read this: mark the usage record (status 499, as nginx logs it)."""
    usage_of(request).extra["client_disconnected"] = True
    return Response(status_code=499)


def _account(request: Request, backend: UpstreamBackend, state: StreamState,
             started: float) -> None:
    extra = usage_of(request).extra
    extra.update(model=backend.served_name, prompt_tokens=state.prompt_tokens,
                 completion_tokens=state.completion_tokens,
                 ttft_s=None if state.ttft_s is None else round(state.ttft_s, 4))
    if state.completion_tokens is None and state.text_events:
        # The upstream's usage comes last: a stream cut before it (a barge-in, the most
        # common end of an answer in a call) recorded nothing of what was generated.
        extra["completion_tokens_estimated"] = state.text_events
        metrics.record_estimated(backend.name, state.text_events)
    metrics.record_tokens(backend.name, state.prompt_tokens, state.completion_tokens,
                          state.ttft_s, time.monotonic() - started)
