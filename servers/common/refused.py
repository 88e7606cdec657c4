"""A request the protocol layer refuses before any app runs is still a finished request.

A broken or endless HTTP head (``http_protocol.py``: 400, 408, 431) and a WebSocket
handshake the websockets library rejects (``ws_protocol.py``: a bad Sec-WebSocket-Key
or -Version) are answered without the app, so they had no usage record and no count: a
flood of them showed nowhere. Each gets both here, as the app's own answers have
(``lifecycle.count_finished``), with its path and X-Request-ID where the head got that
far, and a probe's path apart (no records there, as for the app's answers).
"""

from __future__ import annotations

from .auth import OPEN_PATHS
from .lifecycle import count_finished, request_id_of
from .usage import UsageRecord

MAX_PATH = 256  # of a refused head's path in its record (431: the URL may be 64 KB)


def record_refused(channel: str, kind: str, status: int, code: str, *, path: str,
                   headers: list[tuple[bytes, bytes]], client: tuple[str, int] | None,
                   started: float, bytes_out: int) -> None:
    path = path.split("?", 1)[0][:MAX_PATH]
    if path in OPEN_PATHS:
        return
    rid, _ = request_id_of({"headers": headers})
    usage = UsageRecord(channel=channel, request_id=rid, path=path or "-", kind=kind,
                        client_ip=client[0] if client else None, started=started,
                        status=status, extra={"error": code})
    usage.mark_out(bytes_out)
    count_finished(usage, kind)
