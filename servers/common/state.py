"""The server's state in one process: what probes and the drain read, and the count of
work in flight that admission limits (across worker processes when there are several)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from . import metrics
from .shared_count import SharedCount


@dataclass
class ServerState:
    """What probes and the drain logic read. One per process."""

    channel: str
    max_inflight: int = 64
    ready: bool = False
    draining: bool = False
    # When the drain began (monotonic): the bound every session must finish by counts
    # from here, not from when a session first noticed it.
    drain_since: float | None = None
    # Signalled, and in the drain delay: /readyz says 503 while new work is still taken.
    leaving: bool = False
    inflight: int = 0
    # Of those, the ones holding an admission slot: a response's slot is freed once its
    # last byte is written, its teardown after it (the usage line, an engine stream's
    # close) still in flight for the drain.
    admitted: int = 0
    fatal_error: str | None = None
    # Start-up ran to its end: a fatal error after it is not a start-up failure
    # (serve.py's exit code tells the two apart).
    started: bool = False
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    # With several worker processes: the count that max_inflight limits, across all.
    shared: SharedCount | None = None

    def __post_init__(self) -> None:
        self.idle.set()

    def drain(self) -> None:
        """Refuse new work from now; in-flight work has the drain bound to finish."""
        self.drain_since = time.monotonic()
        self.draining = True

    def drain_left(self, bound_s: float, now: float | None = None) -> float | None:
        """Seconds left of a drain bound of ``bound_s`` (negative once past it); None
        when not draining."""
        if not self.draining:
            return None
        now = time.monotonic() if now is None else now
        return (self.drain_since or now) + bound_s - now

    def refusal(self) -> str | None:
        """Why new work is refused now (the 503's error code, /readyz's reason), or None
        where it is taken (max_inflight aside)."""
        if self.draining:
            return "draining"
        if self.fatal_error or (self.started and not self.ready):
            return "not_ready"  # the engine died and the process is going
        return None if self.ready else "loading"

    def admit(self) -> bool:
        """Take an admission slot, unless the server already has max_inflight of them."""
        if self.shared is not None:
            if not self.shared.add_below(self.max_inflight):
                return False
        elif self.admitted >= self.max_inflight:
            return False
        self.admitted += 1
        self._count_in()
        return True

    def enter(self) -> None:
        """Count work in, with no admission slot (the demo's relays, after their response:
        a drain waits for them)."""
        self._count_in()

    def _count_in(self) -> None:
        self.inflight += 1
        self.idle.clear()
        metrics.child(metrics.INFLIGHT, self.channel).inc()

    def release(self) -> None:
        """Free an admission slot (once per ``admit``): a caller whose next turn came as
        soon as it had read the last one's end was refused over its own finished turn."""
        if self.shared is not None:
            self.shared.sub()
        self.admitted -= 1

    def leave(self) -> None:
        """Count work out (after its slot is released): the drain waits for this."""
        self.inflight -= 1
        metrics.child(metrics.INFLIGHT, self.channel).dec()
        if self.inflight == 0:
            self.idle.set()


async def wait_idle(state: ServerState, timeout: float) -> bool:
    """Wait until no request or session is in flight; False if the bound ran out."""
    try:
        await asyncio.wait_for(state.idle.wait(), timeout)
        return True
    except TimeoutError:
        return False
