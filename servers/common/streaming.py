"""Stop a request's work the moment the client hangs up, and a streaming response that does.

Starlette's StreamingResponse (ASGI spec 2.4, which uvicorn speaks) notices a hang-up
only when its next write fails, i.e. after the next chunk exists: for TTS that is the
end of the piece being synthesised, which can be seconds of engine work nobody hears;
for the LLM a stalled upstream or a long prefill. ``HangUp`` listens for
``http.disconnect`` beside the work and cancels it at once, so the body iterator's
``finally`` (aborting the engine request, closing the upstream connection, withdrawing
queued work) runs within milliseconds of the hang-up.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send


class HangUp:
    """``async with HangUp(receive) as hang_up:`` cancels the block when the client hangs
    up; afterwards ``hang_up.hung_up`` says whether it did (that cancellation stops at
    the block; any other, a shutdown, goes on).

    The work runs in the request's own task (so its writes come from that task, as
    SendWatch expects), beside one listener task, with no hop between tasks per request
    or chunk. Once the body is read, ``receive`` only returns at a disconnect or once the
    response is complete: so ``disarm()`` before the response's last write. The listener
    is then left to end by itself at that return, which is cheaper than cancelling it.
    """

    def __init__(self, receive: Receive) -> None:
        self.hung_up = False
        self._receive = receive
        self._task: asyncio.Task | None = None
        self._listener: asyncio.Task | None = None

    async def __aenter__(self) -> HangUp:
        self._task = asyncio.current_task()
        self._listener = asyncio.get_running_loop().create_task(_wait_disconnect(self._receive))
        self._listener.add_done_callback(self._heard)
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: object) -> bool:
        self.disarm()
        # Ours to absorb only if no other cancellation is pending on the task.
        return (kind is asyncio.CancelledError and self.hung_up and self._task is not None
                and self._task.uncancel() == 0)

    def disarm(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.remove_done_callback(self._heard)

    def _heard(self, listener: asyncio.Task) -> None:
        # (Already scheduled when disarm() came: disarmed still means no cancelling.)
        if listener is not self._listener or listener.cancelled() or \
                listener.exception() is not None or self._task is None:
            return
        self.hung_up = True
        self._task.cancel()


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def stream_until_hang_up(send: Send, receive: Receive, start: dict,
                               body: AsyncIterator[bytes]) -> bool:
    """Send ``start``, then each chunk of ``body``, then the end; False if the client hung
    up first (``body`` is closed then, so its ``finally`` runs now, not whenever the
    garbage collector gets to it). A failure of ``body`` is raised, so the server closes
    the connection without the chunked terminator (a cut stream never passes for a
    short one); OSError (the client vanished or stopped reading) is left to the caller.
    """
    try:
        async with HangUp(receive) as hang_up:
            await send(start)
            async for chunk in body:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            hang_up.disarm()
            await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        aclose = getattr(body, "aclose", None)
        if aclose is not None:
            await aclose()
    return not hang_up.hung_up


class DisconnectAwareStreamingResponse(StreamingResponse):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)
        start = {"type": "http.response.start", "status": self.status_code,
                 "headers": self.raw_headers}
        try:
            whole = await stream_until_hang_up(send, receive, start, self.body_iterator)
        except OSError:
            # The client vanished or stopped reading (SlowClient): nothing to tell it, and
            # the server closes the connection of a response left incomplete.
            return
        if self.background is not None and whole:
            await self.background()
