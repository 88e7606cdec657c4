"""A streaming response that stops its producer the moment the client hangs up.

Starlette's StreamingResponse (ASGI spec 2.4, which uvicorn speaks) notices a hang-up
only when its next write fails, i.e. after the next chunk exists: for TTS that is the
end of the piece being synthesised, which can be seconds of engine work nobody hears.
Here a second task listens for ``http.disconnect`` and cancels the producer at once,
so the body iterator's ``finally`` (which withdraws queued work) runs within
milliseconds of the hang-up. A failure of the producer itself is re-raised, so the
server closes the connection without the chunked terminator (a cut stream never
passes for a short one).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

T = TypeVar("T")


async def until_disconnect(produce: Awaitable[T], receive: Receive,
                           body: AsyncIterator[bytes] | None = None) -> asyncio.Future[T]:
    """Run ``produce`` until it ends or the client hangs up, whichever is first.

    On a hang-up the producer is cancelled at once, and ``body`` (the response's async
    iterator) is closed, so its ``finally`` blocks (aborting the engine request, closing
    an upstream connection, withdrawing queued work) run now rather than at the next
    write or whenever the garbage collector gets to it. Returns the finished producer
    task, for the caller to inspect its outcome.
    """
    producer = asyncio.ensure_future(produce)
    listener = asyncio.ensure_future(_wait_disconnect(receive))
    try:
        await asyncio.wait({producer, listener}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (producer, listener):
            if not task.done():
                task.cancel()
        await asyncio.gather(producer, listener, return_exceptions=True)
        aclose = getattr(body, "aclose", None)
        if aclose is not None:
            await aclose()
    return producer


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class DisconnectAwareStreamingResponse(StreamingResponse):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)
        producer = await until_disconnect(self.stream_response(send), receive,
                                          self.body_iterator)
        error = None if producer.cancelled() else producer.exception()
        if error is not None and not isinstance(error, OSError):
            raise error  # an engine failure: the connection is cut, no terminator
        # OSError: the client vanished or stopped reading (SlowClient); nothing to tell it,
        # and the server closes the connection of a response left incomplete.
        if self.background is not None and not producer.cancelled():
            await self.background()
