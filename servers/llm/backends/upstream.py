"""Proxy to any OpenAI-compatible upstream through one pooled httpx client.

Bytes are forwarded as they arrive, cut only at event boundaries; an event is parsed
only when it may matter to the contract: an error (then the upstream's own ``[DONE]``
after it is dropped, as vLLM's server sends one), the usage chunk (counted for the
usage record, and dropped when only we asked for it), or the end (a stream that ends
without ``[DONE]`` was cut: we say so with an error event).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from servers.common.errors import ApiError

from ..config import LlmSettings
from ..schema import ChatRequest
from ..sse import error_event
from .upstream_errors import map_status, map_transport, stream_failure

log = logging.getLogger("rymi.llm.upstream")

_FORWARDED = frozenset(ChatRequest.model_fields)  # standard fields only: extras are ignored
_DRAIN_S = 2.0
_CONTENT = re.compile(rb'"content": ?"[^"]')  # the first event that carries text


class StreamState:
    """What the relay learnt from the events it looked at."""

    def __init__(self) -> None:
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None
        self.ttft_s: float | None = None
        self.error: str | None = None


class UpstreamBackend:
    name = "upstream"

    def __init__(self, settings: LlmSettings) -> None:
        self.settings = settings
        self.upstream_model = settings.upstream_model or ""
        self.served_name = settings.served_model_name or settings.upstream_model or ""
        token = settings.upstream_token.get_secret_value()
        self.client = httpx.AsyncClient(
            base_url=settings.upstream_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"} if token else {},
            timeout=httpx.Timeout(settings.upstream_timeout_s,
                                  connect=settings.upstream_connect_timeout_s),
            # One pool for the process: keep-alive connections, as many as we admit.
            limits=httpx.Limits(max_connections=settings.max_inflight,
                                max_keepalive_connections=settings.max_inflight,
                                keepalive_expiry=120),
        )

    async def start(self) -> None:
        if not self.settings.upstream_check:
            self.served_name = self.served_name or self.upstream_model or "upstream"
            return
        try:
            r = await self.client.get("/models")
        except httpx.HTTPError as exc:
            raise RuntimeError(f"upstream {self.settings.upstream_url} unreachable: "
                               f"{type(exc).__name__}: {exc}") from None
        if r.status_code != 200:
            raise RuntimeError(f"upstream {self.settings.upstream_url}/models answered "
                               f"{r.status_code}: {r.text[:200]}")
        models = [m.get("id") for m in r.json().get("data", []) if isinstance(m, dict)]
        self.upstream_model = self.upstream_model or (models[0] if models else "")
        self.served_name = self.served_name or self.upstream_model or "upstream"
        log.info("upstream %s serves %s", self.settings.upstream_url, models[:5])

    async def warmup(self) -> None:
        """Nothing to load: start() opened a pooled connection already."""

    async def close(self) -> None:
        await self.client.aclose()

    def body(self, req: ChatRequest, raw: dict[str, Any]) -> tuple[bytes, bool]:
        """The upstream body, and whether we must drop a usage chunk the client did not ask for."""
        out = {k: v for k, v in raw.items() if k in _FORWARDED}
        if self.upstream_model:
            out["model"] = self.upstream_model
        drop_usage = False
        if req.stream and not req.include_usage and self.settings.upstream_force_usage:
            out["stream_options"] = {**(raw.get("stream_options") or {}), "include_usage": True}
            drop_usage = True
        return json.dumps(out, separators=(",", ":")).encode(), drop_usage

    async def open(self, req: ChatRequest, raw: dict[str, Any]) -> tuple[httpx.Response, bool]:
        """Send the request; any failure before a 200 becomes an ApiError."""
        content, drop_usage = self.body(req, raw)
        request = self.client.build_request(
            "POST", "/chat/completions", content=content,
            headers={"Content-Type": "application/json"})
        try:
            resp = await self.client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise map_transport(exc) from None
        if resp.status_code != 200:
            try:
                detail = await resp.aread()
            except httpx.HTTPError:
                detail = b""
            finally:
                await resp.aclose()
            raise map_status(resp.status_code, detail, resp.headers)
        return resp, drop_usage

    async def whole(self, resp: httpx.Response, state: StreamState) -> bytes:
        try:
            data = await resp.aread()
        except httpx.HTTPError as exc:
            raise map_transport(exc) from None
        finally:
            await resp.aclose()
        try:
            usage = json.loads(data).get("usage") or {}
            state.prompt_tokens = usage.get("prompt_tokens")
            state.completion_tokens = usage.get("completion_tokens")
        except (ValueError, AttributeError):
            raise ApiError(502, "upstream answered with a body that is not JSON",
                           "upstream_bad_response") from None
        return data

    async def relay(self, resp: httpx.Response, drop_usage: bool, state: StreamState,
                    started: float) -> AsyncIterator[bytes]:
        pending = b""
        done = False
        chunks = resp.aiter_raw()
        try:
            async for chunk in chunks:
                pending += chunk
                end = pending.rfind(b"\n\n")
                if end < 0:
                    continue
                ready, pending = pending[:end + 2], pending[end + 2:]
                if state.ttft_s is None and _CONTENT.search(ready):
                    state.ttft_s = time.monotonic() - started
                if b"[DONE]" in ready or b'"error"' in ready or b'"usage"' in ready:
                    ready, done = _inspect(ready, drop_usage, state)
                if ready:
                    yield ready
                if state.error:
                    return  # after an error event: close, never a [DONE]
                if done:
                    await _drain(chunks)  # read the body's end so the connection is reused
                    return
        except httpx.HTTPError as exc:
            state.error = "upstream_timeout" if isinstance(exc, httpx.TimeoutException) \
                else "upstream_disconnected"
            yield stream_failure(state.error, exc)
            return
        finally:
            await resp.aclose()  # also on client disconnect: the upstream request ends now
        state.error = "upstream_incomplete"
        yield error_event("the upstream ended the stream before [DONE]", "upstream_error",
                          state.error)


async def _drain(chunks: AsyncIterator[bytes]) -> None:
    """Consume what follows [DONE] (normally just the chunked terminator), briefly.

    A response closed before its end cannot go back to the pool: the next request would
    pay a new TCP connect. An upstream that keeps talking after [DONE] is cut off.
    """
    try:
        async with asyncio.timeout(_DRAIN_S):
            async for _ in chunks:
                pass
    except (TimeoutError, httpx.HTTPError):
        pass


def _inspect(ready: bytes, drop_usage: bool, state: StreamState) -> tuple[bytes, bool]:
    """Look at each event of ``ready``; returns what to forward and whether [DONE] came."""
    kept: list[bytes] = []
    for ev in ready.split(b"\n\n")[:-1]:
        payload = ev.strip()
        if payload.startswith(b"data:"):
            payload = payload[5:].strip()
        if payload == b"[DONE]":
            if state.error is None:
                kept.append(ev + b"\n\n")
            return b"".join(kept), True
        if b'"error"' in payload or b'"usage"' in payload:
            try:
                obj = json.loads(payload)
            except ValueError:
                obj = None
            if isinstance(obj, dict) and obj.get("error") is not None:
                state.error = "upstream_error_event"
                kept.append(ev + b"\n\n")
                return b"".join(kept), False
            usage = obj.get("usage") if isinstance(obj, dict) else None
            if isinstance(usage, dict):
                state.prompt_tokens = usage.get("prompt_tokens")
                state.completion_tokens = usage.get("completion_tokens")
                if drop_usage and not obj.get("choices"):
                    continue
        kept.append(ev + b"\n\n")
    return b"".join(kept), False
