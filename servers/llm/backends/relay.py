"""Cut an upstream's SSE byte stream at event boundaries and look only where it matters.

Bytes are forwarded as they arrive, cut only at event boundaries; an event is parsed
only when it may matter to the contract: an error (then the upstream's own ``[DONE]``
after it is dropped, as vLLM's server sends one), the usage chunk (counted for the
usage record, and dropped when only we asked for it), or the end (a stream that ends
without ``[DONE]`` was cut: we say so with an error event). Transport failures are the
caller's: this module only sees bytes.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator

from ..sse import error_event

_DRAIN_S = 2.0
_CONTENT = re.compile(rb'"content": ?"[^"]')  # the first event that carries text
# An error or usage that is there: OpenAI's own API writes "usage":null into every chunk
# once usage is asked for (we always ask), and those chunks need no parsing.
_PRESENT = re.compile(rb'"(?:error|usage)"\s*:(?!\s*null)')


class StreamState:
    """What the relay learnt from the events it looked at."""

    def __init__(self) -> None:
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None
        self.ttft_s: float | None = None
        self.error: str | None = None


async def frame(chunks: AsyncIterator[bytes], drop_usage: bool, state: StreamState,
                started: float) -> AsyncIterator[bytes]:
    """Whole events out of ``chunks``; an error event (and no ``[DONE]``) if it ends early."""
    pending = b""
    async for chunk in chunks:
        pending += chunk
        end = pending.rfind(b"\n\n")
        if end < 0:
            continue
        ready, pending = pending[:end + 2], pending[end + 2:]
        if state.ttft_s is None and _CONTENT.search(ready):
            state.ttft_s = time.monotonic() - started
        done = False
        # Three substring scans per read are all the hot path pays; parsing happens
        # only for the few events that carry one of these with a value.
        if b"[DONE]" in ready or ((b'"error"' in ready or b'"usage"' in ready)
                                  and _PRESENT.search(ready)):
            ready, done = _inspect(ready, drop_usage, state)
        if ready:
            yield ready
        if state.error:
            return  # after an error event: close, never a [DONE]
        if done:
            await _drain(chunks)  # read the body's end so the connection is reused
            return
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
    except Exception:  # noqa: BLE001 - best effort: the answer is complete already
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
