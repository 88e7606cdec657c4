"""uvicorn's websockets-sansio protocol, with reading paused while its pongs go unread.

uvicorn answers each ping at once and pauses reading only for data frames (until the
app takes them): a client that sent pings and read nothing had its pongs pile up in the
server's write buffer, about one byte of memory per byte sent (400 MB of pings: +370 MB,
held until the socket closed; 250 MB at 4 MB/s, past the idle close). Here reading
stops once the write buffer is over its high-water mark, and goes on when it drains.

A connection lost with no close frame is reported to the app as 1006 (RFC 6455 7.1.5,
"abnormal closure"): uvicorn says 1005 once the handshake is done, which is the code
of a close frame that carried no status, so a dropped call read as a polite goodbye.

Frames read in the same chunk as one the parser refuses (past ws_max_size) are handed to
the app before the close: uvicorn dropped them, so a client whose legal frame and an
oversized one arrived together lost the audio of the legal one (the record said 0 s).

What uvicorn logs of a session's text frame (one that is not UTF-8, closed 1007) carries
the session's request id, as the app's own lines do.

A handshake the websockets library refuses itself (a bad Sec-WebSocket-Key or -Version,
before auth) was answered in plain text: it gets the contract's JSON error body too, and
its usage record and counts (``refused.py``), as the app's own refusals have.
"""

from __future__ import annotations

import contextlib
import email.utils
import http
import logging
import time
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.datastructures import Headers
from websockets.exceptions import InvalidState
from websockets.http11 import Request, Response

from .errors import raw_error
from .logs import REQUEST_ID
from .refused import record_refused


class BoundedWebSocketProtocol(WebSocketsSansIOProtocol):
    channel = "-"  # whose usage records and counts a refused handshake goes to

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held_for_writes = False
        self.conn.reject = _json_reject  # what its accept() refuses with, and a 500
        self._began = time.monotonic()
        self.logger = _SessionLogger(self.logger, self)

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        response = self.response
        if response.status_code != 101:  # refused by the library: the app never ran
            record_refused(self.channel, "websocket", response.status_code,
                           _reject_code(response.status_code),
                           path=event.path, client=self.client, started=self._began,
                           headers=[(k.lower().encode("latin-1"), v.encode("latin-1"))
                                    for k, v in event.headers.raw_items()],
                           bytes_out=len(response.body))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conn.close_rcvd is None:
            # uvicorn picks 1006 only before the handshake; nothing else it does here
            # reads the flag, and it sets it again itself.
            self.handshake_complete = False
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self.conn.receive_data(data)
        if self.conn.parser_exc is None:
            return self.handle_events()
        # The frames before the refused one were the client's, whole: handed on first.
        # One that uvicorn would answer with a close of its own (a text frame not UTF-8)
        # meets a connection already closing; the refusal's close is the one sent.
        with contextlib.suppress(InvalidState):
            self.handle_events()
        self.handle_parser_exception()

    def handle_ping(self) -> None:
        super().handle_ping()
        # Checked at every ping, not once: the app's receive() resumes reading by itself.
        if not self.writable.is_set():
            self._held_for_writes = True
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._held_for_writes:
            self._held_for_writes = False
            if not self.read_paused:  # else the app's next receive() resumes it
                self.transport.resume_reading()


class _SessionLogger:
    """uvicorn's logger, for one connection: what it logs from the protocol's callbacks
    (a text frame that is not UTF-8) carries the session's request id, as the app's own
    lines do. Set only when a line is logged: set around every text frame, it cost a
    keepalive flood 7% of its frames."""

    def __init__(self, logger: logging.Logger, protocol: BoundedWebSocketProtocol) -> None:
        self._logger, self._protocol = logger, protocol

    def __getattr__(self, name: str) -> Any:
        return getattr(self._logger, name)

    def exception(self, *args: Any, **kwargs: Any) -> None:
        scope = getattr(self._protocol, "scope", None) or {}
        token = REQUEST_ID.set((scope.get("state") or {}).get("request_id"))
        try:
            self._logger.exception(*args, **kwargs)
        finally:
            REQUEST_ID.reset(token)


def _reject_code(status: int) -> str:
    return "internal_error" if status >= 500 else "invalid_websocket_handshake"


def _json_reject(status: http.HTTPStatus | int, text: str) -> Response:
    status = http.HTTPStatus(status)
    body, headers = raw_error(text.strip(), "server_error" if status >= 500 else
                              "invalid_request_error", _reject_code(status))
    return Response(status.value, status.phrase, Headers([
        ("Date", email.utils.formatdate(usegmt=True)), ("Connection", "close"),
        *((name.decode(), value.decode()) for name, value in headers)]), body)


def bounded_ws_protocol(channel: str) -> type[BoundedWebSocketProtocol]:
    """The protocol class for uvicorn's ``ws`` option, counting into this channel."""
    return type("BoundedWebSocket", (BoundedWebSocketProtocol,), {"channel": channel})
