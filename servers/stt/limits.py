"""When a session must end by itself: its length, silence on the wire, the drain, and a
backlog the decodes cannot shrink. Each answer is a WebSocket close code and the reason
the ``error`` event carries (CONTRACT.md, STT limits)."""

from __future__ import annotations

from servers.common.state import ServerState

from .config import SttSettings

Close = tuple[int, str]

# Mid-utterance a draining session gets this share of the drain bound to finish its turn.
DRAIN_SHARE = 0.7
# Kept at the drain bound's end for the last events and the close to go out.
DRAIN_MARGIN_S = 0.5


class SessionLimits:
    def __init__(self, settings: SttSettings, state: ServerState, started_at: float) -> None:
        self.settings, self.state, self.started_at = settings, state, started_at
        # The usage record's ``error`` for the limit that ended the session, if one did:
        # an operator asking why a call was cut finds it there, not only the close code.
        self.hit: str | None = None

    def check(self, now: float, *, mid_turn: bool) -> Close | None:
        """Length and drain: checked whether frames arrive or not, so a caller who streams
        without a pause still meets them."""
        s = self.settings
        if now - self.started_at >= s.max_session_s:
            self.hit = "session_too_long"
            return 1008, f"session exceeded max_session_s ({s.max_session_s:g} s)"
        if self._should_drain(now, mid_turn):
            return 1013, "server is draining for shutdown; reconnect"
        return None

    def idle(self, now: float, last_frame: float) -> Close | None:
        s = self.settings
        if now - last_frame >= s.idle_timeout_s:
            self.hit = "idle_timeout"
            return 1008, f"no frame for idle_timeout_s ({s.idle_timeout_s:g} s)"
        return None

    def backlog_stalled(self, now: float, progress: float, backlog_s: float,
                        finals: int) -> Close | None:
        s = self.settings
        if now - progress >= s.backlog_timeout_s:
            self.hit = "backlog_refused"
            # Both counts: a hold for the finals' number can have under a second of audio.
            return 1008, (f"audio arrives faster than it can be transcribed: {backlog_s:.1f} s "
                          f"of audio and {finals} ended utterance{'s' * (finals != 1)} waiting, "
                          f"none decoded for {s.backlog_timeout_s:g} s")
        return None

    def drain_left(self, now: float) -> float | None:
        """While draining, the time left before the server cuts every socket, less what
        the last events need to go out (so a final that cannot come is said, not cut);
        None when not draining."""
        # (From the server's drain, not the session's first look at it: a close that came
        # in the tick before was given flush_timeout_s, past the server's cut.)
        left = self.state.drain_left(self.settings.drain_timeout_s, now)
        return None if left is None else left - DRAIN_MARGIN_S

    def _should_drain(self, now: float, mid_turn: bool) -> bool:
        if not self.state.draining:
            return False
        # Between utterances a session can go at once; mid-utterance it gets most of the
        # drain bound to finish, then is flushed and closed.
        share = DRAIN_SHARE * self.settings.drain_timeout_s
        return not mid_turn or now - (self.state.drain_since or now) >= share
