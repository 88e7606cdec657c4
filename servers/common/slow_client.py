"""Cut off a client that stops reading, at the cost of one timer per response.

uvicorn's ``send`` waits while the client's socket is full (flow control). A client that
takes nothing for ``send_timeout_s`` is treated as gone, so a stream never buffers or
holds engine work without bound. ``asyncio.timeout`` around every write would do the
same, but it arms and disarms a loop timer per write: ~10 µs each, paid on every SSE
event and PCM chunk of every stream, the hot path of the LLM proxy. Here one timer per
response wakes every ``timeout_s`` and looks at whether a write has been waiting that
long; writes themselves only note when they start and end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable


class SlowClient(OSError):
    """The client took none of what we sent for ``send_timeout_s``: treated as gone.

    An OSError, as a vanished client's failed write is, so every handler that already
    stops work for a client that left (and uvicorn, which then closes the connection)
    does the same for one that stopped reading.
    """


class SendWatch:
    """Bounds the writes of one response. Its writes come from one task at a time (an
    HTTP response body has one producer), which is the task a stuck write cancels."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._loop = asyncio.get_running_loop()
        self._since: float | None = None  # when the write in progress began
        self._task: asyncio.Task | None = None
        self._fired = False
        self._timer: asyncio.TimerHandle | None = None

    async def send(self, write: Awaitable[None]) -> None:
        """Await ``write``; SlowClient if it waited ``timeout_s`` for the client."""
        if self._timer is None:
            self._timer = self._loop.call_later(self.timeout_s, self._check)
        self._since, self._task = self._loop.time(), asyncio.current_task(self._loop)
        try:
            await write
        except asyncio.CancelledError:
            # Ours only if the watch fired and nobody else cancelled the task too.
            if self._fired and self._task is not None and self._task.uncancel() == 0:
                self._fired = False  # a later write is watched afresh
                raise SlowClient(f"client read nothing for {self.timeout_s:g}s") from None
            raise
        finally:
            self._since = None

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _check(self) -> None:
        since = self._since
        now = self._loop.time()
        if since is not None and now - since >= self.timeout_s and self._task is not None:
            self._fired, self._timer = True, None  # the next write arms a new one
            self._task.cancel()
            return
        wait = self.timeout_s if since is None else since + self.timeout_s - now
        self._timer = self._loop.call_later(wait, self._check)
