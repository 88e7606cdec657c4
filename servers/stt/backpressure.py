"""Back-pressure on an STT session: when to stop reading the client's socket.

A client that sends faster than the server answers (audio past what decodes keep up
with, control messages whose answers it does not read) is not buffered without end:
the session stops reading, so the client's own sends slow down, and nothing accepted is
dropped. Limits still apply while a session holds.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from . import metrics
from .limits import Close

if TYPE_CHECKING:
    from .session import SttSession

TICK_S = 0.25  # how often limits and draining are checked while no frame arrives
# Answers (finals, errors) waiting to be written past which control frames are not read.
MAX_UNSENT_TURNS = 64
# Finals waiting for their decode past which audio is not read, however short: each is a
# whole encoder pass (0.56 s on tiny.en here, 1.4 s on base), and a client that sent a
# finalize after every 100 ms frame queued them faster than any machine decodes, lost
# its own at close (1011) and held every other caller's final behind them.
MAX_FINALS_WAITING = 4


async def hold_while_unanswered(session: SttSession, sender: asyncio.Task[None]
                                ) -> tuple[int | None, str | None] | None:
    """Back-pressure on control messages: each one gets an answer (a final, an error),
    and a client that sends them without reading the answers would queue one per
    message without end (90 MB/s of them). Past MAX_UNSENT_TURNS answers waiting, stop
    reading the socket until the client takes some; limits still apply, and a client
    that takes none for send_timeout_s is gone (the sender fails)."""
    outbox = session.outbox
    while len(outbox.pending) > MAX_UNSENT_TURNS and not session.abort.done():
        outbox.progress.clear()
        written = asyncio.ensure_future(outbox.progress.wait())
        await asyncio.wait({written, sender}, timeout=TICK_S,
                           return_when=asyncio.FIRST_COMPLETED)
        written.cancel()
        if sender.done():
            return None, None
        if (limit := session.limit(time.monotonic())) is not None:
            return limit
    return None


async def hold_while_backlogged(session: SttSession) -> Close | None:
    """Back-pressure: past max_buffered_s of audio awaiting its final, or
    MAX_FINALS_WAITING finals, stop reading the socket (the client's sends slow down;
    nothing is dropped) until decodes catch up. Limits still apply meanwhile, and a
    backlog that no decode shrinks for backlog_timeout_s is refused loudly (error event,
    close 1008) after its pending finals are sent, never left hanging."""
    s, turns = session.settings, session.turns
    progress = time.monotonic()
    while (turns.backlog_s > s.max_buffered_s or turns.finals_waiting > MAX_FINALS_WAITING) \
            and not session.abort.done():
        turns.backlog_changed.clear()
        try:
            await asyncio.wait_for(turns.backlog_changed.wait(), TICK_S)
            progress = time.monotonic()
        except TimeoutError:
            pass
        now = time.monotonic()
        limit = session.limit(now)
        if limit is None and (limit := session.limits.backlog_stalled(
                now, progress, turns.backlog_s, turns.finals_waiting)) is not None:
            metrics.BACKLOG_REFUSED.inc()
        if limit is not None:
            return limit
    return None
