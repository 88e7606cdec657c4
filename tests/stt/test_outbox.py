"""A finalize racing the previous final's write (servers/stt/session.py, outbox.py).

The contract: every ``finalize`` is answered by exactly one ``final``. A finalize that
arrives while the sender is inside the write of the utterance's own final cannot be that
final's (it is already on the wire): it gets one of its own. The window is one socket
write, wider on a slow client network, so no end-to-end test can aim at it: a send that
holds the final's write open (the slow socket) opens it here.
"""

from __future__ import annotations

import asyncio
import types
from typing import Any

from servers.stt.outbox import Outbox
from servers.stt.session import SttSession

EMPTY = {"type": "final", "text": "", "confidence": 0.0, "language_code": "en-US"}


async def test_a_finalize_during_the_finals_write_gets_a_final_of_its_own() -> None:
    sent: list[dict[str, Any]] = []
    writing, release = asyncio.Event(), asyncio.Event()

    async def slow_send(event: dict[str, Any]) -> None:
        if event["type"] == "final" and not release.is_set():
            writing.set()
            await release.wait()  # the final's write takes a moment
        sent.append(event)

    outbox = Outbox(slow_send)
    session = types.SimpleNamespace(  # what _finalize reads of a session
        segmenter=types.SimpleNamespace(force_start=lambda: None, force_end=lambda: None),
        turns=types.SimpleNamespace(on_segment=lambda event: None,
                                    final_event=lambda result: dict(EMPTY)),
        outbox=outbox)
    session.force_end = lambda: SttSession.force_end(session)  # type: ignore[arg-type]
    runner = asyncio.create_task(outbox.run())
    try:
        turn = outbox.open_turn(1)
        turn.set_final({**EMPTY, "text": "hello", "confidence": 0.9})
        await asyncio.wait_for(writing.wait(), 5)
        assert turn.final_out  # on the wire
        SttSession._finalize(session)  # type: ignore[arg-type]
        release.set()
        await asyncio.wait_for(outbox.drained(), 5)
    finally:
        outbox.stop()
        await asyncio.wait_for(runner, 5)
    assert [(e["type"], e.get("text")) for e in sent] == [
        ("speech_started", None), ("final", "hello"), ("utterance_end", None), ("final", ""), ("utterance_end", None)]
