"""Chat completions through the upstream backend: a thin relay with bookkeeping."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from servers.common.errors import ApiError
from servers.common.usage import usage_of

from . import metrics
from .backends.relay import StreamState
from .backends.upstream import UpstreamBackend
from .schema import ChatRequest
from .sse import SSEResponse, unless_disconnected


async def complete(request: Request, req: ChatRequest, raw: dict[str, Any],
                   backend: UpstreamBackend) -> Response:
    started = time.monotonic()
    state = StreamState()
    try:
        # Waiting for the upstream's headers can take long (a queue upstream): a client
        # that leaves meanwhile cancels the upstream request too.
        opened = await unless_disconnected(request.receive, backend.open(req, raw))
        if opened is None:
            return _gone(request)
        resp, drop_usage = opened
        if not req.stream:
            data = await unless_disconnected(request.receive, backend.whole(resp, state))
            _account(request, backend, state, started)
            if data is None:  # the client left: whole() closed the upstream response
                return _gone(request)
            return Response(data, media_type="application/json")
    except ApiError as exc:
        metrics.ERRORS.labels(backend.name, exc.code, "before_stream").inc()
        usage_of(request).extra["error"] = exc.code
        raise
    return SSEResponse(_events(request, backend, resp, drop_usage, state, started))


async def _events(request: Request, backend: UpstreamBackend, resp: Any, drop_usage: bool,
                  state: StreamState, started: float) -> AsyncIterator[bytes]:
    try:
        # aclosing: the relay's own cleanup (closing the upstream response) runs now, when
        # the client leaves, not whenever the garbage collector gets to the generator.
        async with contextlib.aclosing(backend.relay(resp, drop_usage, state, started)) as relay:
            async for chunk in relay:
                yield chunk
    except (asyncio.CancelledError, GeneratorExit):  # the client left: upstream closed too
        usage_of(request).extra["client_disconnected"] = True
        raise
    finally:
        if state.error:
            metrics.ERRORS.labels(backend.name, state.error, "mid_stream").inc()
            usage_of(request).extra["error"] = state.error
        _account(request, backend, state, started)


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
