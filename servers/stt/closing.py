"""How an STT session ends: its pending finals sent within a bound, the lost ones said.

Whatever ends a session (the client's ``close``, a limit, the drain, an engine failure),
every utterance it accepted gets its final or an error event saying it is lost, then the
reason and the close code: no text is dropped in silence, and a client that leaves
meanwhile is not waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from servers.common.usage import note_error

if TYPE_CHECKING:
    from .session import SttSession

log = logging.getLogger("rymi.stt")

# How long a session whose write failed reads on for the close that explains it (while
# closing, ``end``'s own reader has it at once).
CLOSE_READ_S = 0.1


async def end(session: SttSession, sender: asyncio.Task[None], code: int,
          message: str | None) -> int | None:
    """Send the pending finals, then ``message`` and the close; returns the close
    code sent, or None when the client left meanwhile (nobody to tell)."""
    began, bound = time.monotonic(), session.settings.flush_timeout_s
    # Draining, the server cuts every socket at its bound: a final that would come
    # after it is said lost (error event, 1011) before, not cut without a word.
    left = session.limits.drain_left(time.monotonic())
    if left is not None and left < bound:
        bound, why_late = max(0.0, left), "not decoded before the drain bound"
    else:
        why_late = f"not decoded within flush_timeout_s ({bound:g} s)"
    # The engine failed (1011): no decode is started, but what is known still goes
    # out (finals decoded, finalize answers), each awaited final as an error.
    if not session.abort.done():
        session.force_end("close")
    drained = asyncio.ensure_future(session.outbox.drained())
    gone = asyncio.ensure_future(_until_gone(session))
    await asyncio.wait({drained, sender, session.abort, gone}, timeout=bound,
                       return_when=asyncio.FIRST_COMPLETED)
    finished = drained.done()
    drained.cancel()
    gone.cancel()
    if sender.done() or (gone.done() and not gone.cancelled()):
        return None  # the client left: stop waiting at once (decodes are cancelled)
    if not finished:
        # Finals that will not come (the engine failed, or decodes did not finish in
        # time): each of their turns ends with an error and the close says the server
        # failed, so no text is lost in silence. With every final decoded, what is left
        # unsent waits on the client's reading alone: nothing is lost, and the close
        # keeps its code (a client that read its finals a moment late got 1011, and a
        # log line of "0 final(s) lost").
        why = session.abort.result() if session.abort.done() else why_late
        lost = session.outbox.abandon({"type": "error", "message":
                                       f"the final of this utterance is lost: {why}"})
        if lost or session.abort.done():
            log.warning("stt session closing with %d final(s) lost: %s", lost, why)
            if not session.abort.done():  # (an engine failure is noted as engine_error)
                note_error(session.ws, "final_lost")
            code = 1011
    if message:
        session.outbox.notice({"type": "error", "message": message})
    session.outbox.stop()
    try:  # only writes are left; a client that takes none of them is gone
        await asyncio.wait_for(sender, session.settings.flush_timeout_s)
    except TimeoutError:
        log.warning("stt session closing (%d): the client did not take the rest in %.1f s "
                    "(flush_timeout_s: %g s, for its answers, then for the writes); dropped "
                    "without its close", code, time.monotonic() - began,
                    session.settings.flush_timeout_s)
        note_error(session.ws, "client_not_reading")  # (after a limit's: the first wins)
        return None
    await session.ws.close(code)
    return code


async def _until_gone(session: SttSession) -> None:
    """Read (and drop) what the client sends after the session began to end, until it
    disconnects: a caller that leaves is not waited for."""
    try:
        while (message := await session.ws.receive())["type"] != "websocket.disconnect":
            pass
        session.client_close_code = message.get("code")  # a hang-up after its "close"
    except (RuntimeError, OSError):  # the socket is gone already: the same answer
        pass


async def read_close(session: SttSession, receive: asyncio.Future[Any]) -> None:
    """The session's write failed: the socket is closing. Its close is often read
    already (the WebSocket layer's own 1009 for a frame past its limit is queued before
    the write fails): take its code, briefly, so the record says the cut, not that the
    client hung up. Frames queued before it are dropped: nobody is left to answer."""
    if not receive.done():
        await asyncio.wait({receive}, timeout=CLOSE_READ_S)
    if not receive.done():
        receive.cancel()
        return
    if receive.cancelled() or receive.exception() is not None:
        return
    message = receive.result()
    if message["type"] == "websocket.disconnect":
        session.client_close_code = message.get("code")
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_until_gone(session), CLOSE_READ_S)
