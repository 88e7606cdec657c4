"""The order events leave a session in: one utterance at a time, finals before the next onset.

Each ``Turn`` is one utterance (or a lone answer such as the empty final a finalize gets
when nothing is pending, or an error notice). The sender drains turns strictly in order:
a turn's ``speech_started``, then its newest interim while it lasts, then its ``final``
and ``utterance_end``. So the next utterance's ``speech_started`` can never overtake the
previous utterance's final, and interims that went stale while waiting are coalesced to
the newest one instead of piling up.

One exception: the answer to a bad control message (an error, ``notice(now=True)``) goes
out at once, even while an utterance waits for its final. Queued behind that final it
came late, and past the session's back-pressure bound (64 unsent answers) reading
stopped while the final waited for audio that was no longer read: nothing moved again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Event = dict[str, Any]
SendEvent = Callable[[Event], Awaitable[None]]


@dataclass(eq=False)
class Turn:
    speech_started: bool = False  # an utterance (True) or a lone answer/notice (False)
    utterance: int = 0
    interim: str | None = None  # newest unsent hypothesis
    last_interim: str = ""  # last hypothesis sent (interims go out only when it changes)
    final: Event | None = None
    notice: Event | None = None  # a lone event with no utterance_end (an error)
    urgent: bool = False  # a notice sent ahead of the turn the writer waits on
    final_out: bool = False  # the sender has begun writing the final
    # Wall times the metrics need, filled by the session.
    finalize_at: float | None = None
    speech_end_at: float | None = None
    trigger: str = "endpoint"  # what ended the utterance: its endpoint, a finalize, a close
    sent: asyncio.Event = field(default_factory=asyncio.Event)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def closed(self) -> bool:
        """The final (or notice) is known: nothing more may be added."""
        return self.final is not None or self.notice is not None

    def set_interim(self, text: str) -> None:
        if not self.closed and text and text != self.last_interim:
            self.interim = text
            self._changed.set()

    def set_final(self, event: Event) -> None:
        if not self.closed:
            self.final = event
            self.interim = None
            self._changed.set()


class Outbox:
    def __init__(self, send: SendEvent,
                 on_final: Callable[[Turn, float], None] | None = None) -> None:
        self._send = send
        self._on_final = on_final
        self._turns: asyncio.Queue[Turn | None] = asyncio.Queue()
        self.pending: list[Turn] = []  # turns whose final/notice is not sent yet
        self.progress = asyncio.Event()  # set as each turn's last event is written
        self._writing: Turn | None = None  # the turn the writer waits on

    def open_turn(self, utterance: int) -> Turn:
        return self._put(Turn(speech_started=True, utterance=utterance))

    def answer(self, event: Event, finalize_at: float | None = None) -> Turn:
        turn = Turn(finalize_at=finalize_at)
        turn.set_final(event)
        return self._put(turn)

    def notice(self, event: Event, now: bool = False) -> Turn:
        """A lone event (an error) in turn; ``now``: ahead of an utterance that waits."""
        turn = self._put(Turn(notice=event))
        if now and self._writing is not None:
            turn.urgent = True
            self._writing._changed.set()
        return turn

    def last_open(self) -> Turn | None:
        """The newest turn whose final is not sent yet (what a finalize answers)."""
        for turn in reversed(self.pending):
            if turn.notice is None:
                return turn
        return None

    async def drained(self) -> None:
        while self.pending:
            await self.pending[-1].sent.wait()

    def abandon(self, error: Event) -> int:
        """Give up on every final still awaited: each such turn ends with ``error``
        instead (no final, no utterance_end). Returns how many there were."""
        lost = [turn for turn in self.pending if not turn.closed]
        for turn in lost:
            turn.notice = error
            turn.interim = None
            turn._changed.set()
        return len(lost)

    def stop(self) -> None:
        self._turns.put_nowait(None)

    def _put(self, turn: Turn) -> Turn:
        self.pending.append(turn)
        self._turns.put_nowait(turn)
        return turn

    async def run(self) -> None:
        """The one task that writes to the socket."""
        while (turn := await self._turns.get()) is not None:
            if turn.sent.is_set():
                continue  # an urgent notice, written already
            self._writing = turn
            if turn.speech_started:
                await self._send({"type": "speech_started"})
            while True:
                if turn.notice is not None:
                    await self._send(turn.notice)
                    break
                if turn.final is not None:
                    turn.final_out = True
                    await self._send(turn.final)
                    await self._send({"type": "utterance_end"})
                    if self._on_final is not None:
                        self._on_final(turn, time.monotonic())
                    break
                if turn.interim is not None:
                    text, turn.interim = turn.interim, None
                    turn.last_interim = text
                    await self._send({"type": "interim", "text": text})
                    continue
                if urgent := [t for t in self.pending if t.urgent and not t.sent.is_set()]:
                    for notice in urgent:
                        await self._send(notice.notice or {})
                        self._done(notice)
                    continue
                turn._changed.clear()
                await turn._changed.wait()
            self._writing = None
            self._done(turn)

    def _done(self, turn: Turn) -> None:
        self.pending.remove(turn)
        turn.sent.set()
        self.progress.set()
