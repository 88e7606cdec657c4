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

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send


class DisconnectAwareStreamingResponse(StreamingResponse):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)
        producer = asyncio.ensure_future(self.stream_response(send))
        listener = asyncio.ensure_future(self.listen_for_disconnect(receive))
        try:
            await asyncio.wait({producer, listener}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (producer, listener):
                if not task.done():
                    task.cancel()
            await asyncio.gather(producer, listener, return_exceptions=True)
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                await aclose()
        error = None if producer.cancelled() else producer.exception()
        if error is not None and not isinstance(error, OSError):
            raise error  # an engine failure: the connection is cut, no terminator
        # OSError: the client vanished or stopped reading (SlowClient); nothing to tell it,
        # and the server closes the connection of a response left incomplete.
        if self.background is not None and not producer.cancelled():
            await self.background()
