"""Chat completions over an engine backend: our own SSE framing, or one JSON object.

The first delta is awaited before any byte is sent, so everything that can fail up to
the first token (a prompt that is too long, a bad sampling value, a dead engine) is an
HTTP error. After that, a failure is one error event and no ``[DONE]``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from servers.common.app import stop_serving
from servers.common.errors import ApiError
from servers.common.usage import usage_of

from . import metrics
from .answer import Answer
from .backends import Delta, EngineBackend, EngineError
from .schema import ChatRequest
from .sse import (
    DONE,
    ChunkWriter,
    SSEResponse,
    end_cut_at_shutdown,
    error_event,
    unless_disconnected,
    usage_dict,
)

log = logging.getLogger("rymi.llm")
STALL_S = 60.0  # no output this long with requests running: a stuck engine, said


def _api_error(exc: EngineError) -> ApiError:
    return ApiError(exc.status, exc.message, exc.code, param=exc.param)


def _engine_error(exc: Exception) -> EngineError:
    """An exception the backend did not map (a bug, ours or the engine's) still ends the
    request the contract's way: a shaped 500, or the error event mid-stream."""
    if isinstance(exc, EngineError):
        return exc
    log.error("generation failed: %s: %s", type(exc).__name__, exc)
    return EngineError(500, f"generation failed: {type(exc).__name__}", "engine_error")


def _check_fatal(request: Request, exc: EngineError) -> None:
    if exc.code == "engine_dead":
        engine_died(request.app)


async def watch_engine(app: Starlette, backend: EngineBackend, every_s: float = 0.5,
                       stall_s: float = STALL_S) -> None:
    """Notice an engine that dies while no request is running (its process OOM-killed):
    found only by the next call, /readyz said 200 until then and that caller got a 500.

    And one that is stuck: requests running and no output for ``stall_s`` (its process
    stopped, a hung GPU). Callers waited with no limit and nothing said so; now an error
    line and ``rymi_llm_engine_stalled`` do (not /readyz: on a CPU a long prefill on a
    large model can take a minute of no output, and it ends)."""
    seen, since, stalled = backend.progress(), time.monotonic(), False
    while not backend.dead():
        await asyncio.sleep(every_s)
        now, made = time.monotonic(), backend.progress()
        if made != seen or not backend.running():
            if stalled:  # (its requests gone with nothing made is no progress)
                log.warning("the engine is making progress again" if made != seen else
                            "the stalled requests ended (their callers left) with no "
                            "output made: the engine may still be stuck")
                metrics.ENGINE_STALLED.set(0)  # (1 only while requests run)
            seen, since, stalled = made, now, False
        elif not stalled and now - since >= stall_s:
            stalled = True
            metrics.ENGINE_STALLED.set(1)
            log.error("the engine has made no output for %.0f s with %d request(s) running "
                      "(its process stopped or hung?)", now - since, backend.running())
    engine_died(app)


def engine_died(app: Starlette) -> None:
    """A dead engine never comes back."""
    stop_serving(app, "the vLLM engine died")


async def complete(request: Request, req: ChatRequest, backend: EngineBackend) -> Response:
    started = time.monotonic()
    rid = request.scope.get("state", {}).get("request_id") or uuid.uuid4().hex
    stream = backend.generate(req, rid, on_prompt=functools.partial(_prompt_taken, request,
                                                                     backend))
    try:
        # Prefill of a long prompt, or a queue in the engine, can take a while: a client
        # that leaves before the first token aborts the request too.
        first = await unless_disconnected(request.receive, anext(stream))
        if first is None:
            await stream.aclose()
            _prefill_spent(request, backend)
            return _gone(request)
    except StopAsyncIteration:
        _prefill_spent(request, backend)
        usage_of(request).extra.update(error="engine_error", model=backend.served_name)
        raise ApiError(500, "the engine produced no output", "engine_error") from None
    except Exception as raised:
        exc = _engine_error(raised)
        await stream.aclose()
        _prefill_spent(request, backend)
        _check_fatal(request, exc)
        metrics.ERRORS.labels(backend.name, exc.code, "before_stream").inc()
        usage_of(request).extra.update(error=exc.code, model=backend.served_name)
        raise _api_error(exc) from None
    ttft = time.monotonic() - started
    if req.stream:
        return SSEResponse(_events(request, req, backend, first, stream, started, ttft),
                           on_cut=functools.partial(end_cut_at_shutdown, request, backend.name))
    answer = await unless_disconnected(
        request.receive, _whole(request, backend, first, stream, started, ttft))
    if answer is None:  # the client left: the engine request is aborted already
        await stream.aclose()
        return _gone(request)
    return answer


def _prompt_taken(request: Request, backend: EngineBackend, prompt_tokens: int) -> None:
    """The engine took the prompt: its prefill is spent whether or not a token follows."""
    usage_of(request).extra.update(model=backend.served_name, prompt_tokens=prompt_tokens,
                                   completion_tokens=0)


def _prefill_spent(request: Request, backend: EngineBackend) -> None:
    """Ended before its first token: the prompt the engine took (in the record since
    ``_prompt_taken``) is counted in the metric too, as any answer's is by _account.
    (A caller that hung up during a long prefill was in the record, not in the sum.)"""
    metrics.record_tokens(backend.name, usage_of(request).extra.get("prompt_tokens"),
                          None, None, 0.0)


def _gone(request: Request) -> Response:
    """Nobody will read this: mark the usage record (status 499, as nginx logs it)."""
    usage_of(request).extra["client_disconnected"] = True
    return Response(status_code=499)


async def _events(request: Request, req: ChatRequest, backend: EngineBackend, first: Delta,
                  stream: AsyncIterator[Delta], started: float, ttft: float
                  ) -> AsyncIterator[bytes]:
    out = ChunkWriter(backend.served_name)
    last, calls = first, _calls_begun(first)
    try:
        # Role and first text in one write: one syscall, and the role chunk never waits.
        yield out.role() + _chunk(out, first)
        async for d in stream:
            last = d
            if d.text or d.finish_reason or d.tool_calls or d.reasoning:
                calls += _calls_begun(d)
                yield _chunk(out, d)
        if req.include_usage:
            yield out.usage(last.prompt_tokens, last.completion_tokens)
        yield DONE
    except Exception as raised:
        exc = _engine_error(raised)
        _check_fatal(request, exc)
        metrics.ERRORS.labels(backend.name, exc.code, "mid_stream").inc()
        usage_of(request).extra["error"] = exc.code
        yield error_event(exc.message, "server_error", exc.code)
    except (asyncio.CancelledError, GeneratorExit):  # the client left: the engine aborts
        usage_of(request).extra["client_disconnected"] = True
        raise
    finally:
        await stream.aclose()
        _account(request, backend, last, started, ttft, calls)


def _chunk(out: ChunkWriter, d: Delta) -> bytes:
    return out.delta(d.text, d.finish_reason, d.tool_calls, d.reasoning)


def _calls_begun(d: Delta) -> int:
    """Tool calls that ``d`` opens (each call's first part carries its id)."""
    return sum(1 for part in d.tool_calls or () if part.get("id"))


async def _whole(request: Request, backend: EngineBackend, first: Delta,
                 stream: AsyncIterator[Delta], started: float, ttft: float) -> Response:
    answer, last = Answer(), first
    answer.add(first)
    try:
        async for d in stream:
            answer.add(d)
            last = d
    except Exception as raised:
        exc = _engine_error(raised)
        _check_fatal(request, exc)
        metrics.ERRORS.labels(backend.name, exc.code, "before_stream").inc()
        usage_of(request).extra["error"] = exc.code
        raise _api_error(exc) from None
    finally:
        await stream.aclose()
        _account(request, backend, last, started, ttft, len(answer.calls))
    body: dict[str, Any] = {
        "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion",
        "created": int(time.time()), "model": backend.served_name,
        "choices": [{"index": 0, "message": answer.message(), "logprobs": None,
                     "finish_reason": last.finish_reason or "stop"}],
        "usage": usage_dict(last.prompt_tokens, last.completion_tokens),
    }
    return JSONResponse(body)


def _account(request: Request, backend: EngineBackend, last: Delta, started: float,
             ttft: float, tool_calls: int = 0) -> None:
    total = time.monotonic() - started
    if tool_calls:  # whether the agent ended or transferred the call, in the record
        usage_of(request).extra["tool_calls"] = tool_calls
    usage_of(request).extra.update(model=backend.served_name, prompt_tokens=last.prompt_tokens,
                                   completion_tokens=last.completion_tokens,
                                   cached_tokens=last.cached_tokens,
                                   ttft_s=round(ttft, 4), finish_reason=last.finish_reason)
    metrics.record_tokens(backend.name, last.prompt_tokens, last.completion_tokens, ttft, total,
                          cached=last.cached_tokens)
