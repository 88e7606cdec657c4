"""One structured usage record per finished request or session.

It mirrors Rymi's ``provider_usage`` event: channel, bytes in/out, tokens or audio
seconds, first-byte and total time, status and request id. The lifecycle middleware
creates the record and counts bytes; handlers add what only they know (tokens,
audio seconds, characters) through ``usage_of(request).extra``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import HTTPConnection
from starlette.types import Scope

log = logging.getLogger("rymi.usage")


@dataclass
class UsageRecord:
    channel: str
    request_id: str
    path: str
    kind: str  # "http" or "websocket"
    client_ip: str | None = None
    started: float = field(default_factory=time.monotonic)
    bytes_in: int = 0
    bytes_out: int = 0
    first_byte_s: float | None = None
    status: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def mark_out(self, n: int) -> None:
        if n and self.first_byte_s is None:
            self.first_byte_s = time.monotonic() - self.started
        self.bytes_out += n

    def finish(self) -> dict[str, Any]:
        # A shallow copy (not dataclasses.asdict, which deep-copies): this runs once per
        # request on the event loop, and the line is only encoded if it will be written.
        rec = {k: v for k, v in vars(self).items() if k not in ("started", "extra")}
        rec.update(self.extra)
        rec["total_s"] = round(time.monotonic() - self.started, 4)
        if self.first_byte_s is not None:
            rec["first_byte_s"] = round(self.first_byte_s, 4)
        rec["event"] = "provider_usage"
        if log.isEnabledFor(logging.INFO):
            log.info(json.dumps(rec, separators=(",", ":")))
        return rec


def usage_of(conn: HTTPConnection | Scope) -> UsageRecord:
    scope = conn.scope if isinstance(conn, HTTPConnection) else conn
    return scope["state"]["usage"]


def note_error(conn: HTTPConnection | Scope, code: str) -> None:
    """Say which error answered this request in its record (the first said wins)."""
    scope = conn.scope if isinstance(conn, HTTPConnection) else conn
    usage = (scope.get("state") or {}).get("usage")
    if usage is not None:
        usage.extra.setdefault("error", code)
