"""uvicorn's httptools protocol, with the bounds it lacks on a request's head.

httptools takes headers of any size, and uvicorn times nothing until a response has been
sent: before auth, one client could send 300 MB of headers (RSS 46 -> 349 MB, then a 200)
or hold a connection for ever by trickling a header line now and then. Here a head
(request line and headers) must stay under ``MAX_HEAD_BYTES`` and arrive within
``head_timeout_s`` of its first byte (of the connection, for the first request): else
431 or 408 and the connection is closed. uvicorn's own plain-text 400 for a request it
cannot parse gets the contract's JSON error body too.

Pipelining is bounded too. uvicorn parses every request of a read at once and queues
those it cannot run yet, and resumes reading after each response even with some still
queued: a client that sent requests back to back and never read an answer (no token
needed: a 401 is an answer) grew a server by 300-400 MB a connection. Here at most
``MAX_PIPELINED`` wait (more is no client but a flood: 400 and the connection closed),
and reading is paused while they wait. (The pause holds until the running request reads
its body: uvicorn resumes reading on every ``receive()``, so on a POST route the next
requests are parsed meanwhile and the bound is what holds the memory.)

A connection closed while the client still sends its request's body (an early 401, 413
or 503 to a caller that asked for ``Connection: close``, as nginx does by default) is
closed the lingering way: the answer's end is a FIN, and what still arrives is read and
dropped for up to ``LINGER_S``. A plain close with unread input is a reset, and a reset
drops the answer the client has not read yet: behind nginx, 257 of 300 early 413s to a
1.5 MB body were a 502 (nginx's ``lingering_close`` and Go's ``closeWriteAndWait`` do the
same for their own answers).

An HTTP/1.0 request's streamed answer is framed by the connection's close, not chunked:
uvicorn chunks any answer without a Content-Length, which RFC 9112 forbids toward a 1.0
client (one that takes it at its word, such as ``ab`` or ``http.client`` at 1.0, reads the
chunk sizes as audio). Such an answer cut short ends with a reset, not that close.

And a way to cut a connection at once: the scope's ``rymi.abort`` extension. uvicorn ends
a response left incomplete with ``transport.close()``, which waits for the write buffer
to drain: a client that stopped reading (the send timeout's cut) kept its connection, its
file descriptor and ~4 MB of kernel buffer for as long as it stayed stuck, beyond
``max_inflight``, and each cut logged an ERROR ("returned without completing response").
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .errors import raw_error
from .refused import record_refused

MAX_HEAD_BYTES = 64 * 1024  # nginx's default large_client_header_buffers is 4 x 8 KiB
MAX_PIPELINED = 8  # requests queued behind the one running, per connection
LINGER_S = 5.0  # how long a closing connection reads and drops a body still coming
_REASONS = {400: b"Bad Request", 408: b"Request Timeout",
            431: b"Request Header Fields Too Large"}


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    head_timeout_s = 30.0
    channel = "-"  # whose usage records and counts a refused head goes to

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._in_head = True
        self._head_timer: asyncio.TimerHandle | None = None
        self._tail = b""  # the head's last bytes so far: its end may span two reads
        self._flooded = False
        self._lingering: asyncio.TimerHandle | None = None
        self._head_began = time.monotonic()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_began = time.monotonic()
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_overdue)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._lingering is not None:
            self._lingering.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering is not None:
            return  # the rest of a body nobody will read: dropped, the answer is out
        # Counted before parsing, up to the head's end only (body bytes after it in the
        # same read are no head). Counted only when a read left the head unfinished, a
        # head that came in one read was never measured (70 KB: a 200).
        if self._in_head and not self.transport.is_closing():
            seen = self._tail + data
            end = seen.find(b"\r\n\r\n")
            self._head_bytes += len(data) if end < 0 else end + 4 - len(self._tail)
            self._tail = seen[-3:]
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse(431, f"request head larger than {MAX_HEAD_BYTES} bytes",
                             "headers_too_large")
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._in_head:  # the next request on a kept-alive connection
            self._in_head, self._head_bytes, self._tail = True, 0, b""
            self._head_began = time.monotonic()
            self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_overdue)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm()
        super().on_headers_complete()
        cycle, transport = self.cycle, self.transport
        if cycle is not None and cycle.scope is self.scope:  # (not an upgrade: no cycle)
            def abort() -> None:
                cycle.disconnected = True  # gone, as uvicorn counts it: no ERROR after it
                reset(transport)
            cycle.scope.setdefault("extensions", {})["rymi.abort"] = abort
            cycle.transport = _LingerOnClose(transport, self, cycle)  # (the cycle's close)
            if cycle.scope["http_version"] == "1.0":
                _close_delimited(cycle)
        if len(self.pipeline) > MAX_PIPELINED:
            # Raised out of the parser (as its callback error), which stops it parsing
            # the rest of this read; uvicorn then calls send_400_response.
            self._flooded = True
            raise OverflowError("too many requests pipelined")

    def on_response_complete(self) -> None:
        super().on_response_complete()  # resumes reading, starts the next queued request
        if self.pipeline:  # more queued: read on once they have run, not before
            self.flow.pause_reading()

    def send_400_response(self, msg: str) -> None:
        if self._flooded:
            self._refuse(400, f"more than {MAX_PIPELINED} requests pipelined without "
                         "reading an answer", "too_many_pipelined")
            return
        self._refuse(400, msg, "invalid_http")

    def _head_overdue(self) -> None:
        self._head_timer = None
        if self._in_head and self._head_bytes:  # a head begun and never finished
            self._refuse(408, f"request head not received within {self.head_timeout_s:g} s",
                         "header_timeout")
        elif self._in_head:  # nothing sent at all: nobody to answer
            self.transport.close()

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def linger(self) -> None:
        """Close after the answer with a FIN, reading and dropping what still comes."""
        transport = self.transport
        if self._lingering is not None or transport.is_closing():
            return
        if not transport.can_write_eof():  # (TLS): no half-close to make
            transport.close()
            return
        transport.write_eof()  # after what is buffered: the answer, whole
        self._lingering = self.loop.call_later(LINGER_S, transport.close)
        self.flow.resume_reading()

    def _refuse(self, status: int, message: str, code: str) -> None:
        self._in_head = False
        self._disarm()
        body, headers = raw_error(message, "invalid_request_error", code)
        head = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status])]
        head += [name + b": " + value + b"\r\n" for name, value in headers]
        self.transport.write(b"".join(head) + b"connection: close\r\n\r\n" + body)
        url = getattr(self, "url", b"") or b""  # (uvicorn's: this head's, as far as it got)
        record_refused(self.channel, "http", status, code, path=url.decode("latin-1"),
                       headers=getattr(self, "headers", []), client=self.client,
                       started=self._head_began, bytes_out=len(body))
        self.linger()  # the client may still be sending its head or body


class _LingerOnClose:
    """The transport as one request's cycle sees it: its ``close()`` while the request's
    body is still coming is a lingering one (uvicorn closes after an answer to a
    ``Connection: close`` request, read or not)."""

    def __init__(self, transport: asyncio.Transport, protocol: BoundedHttpToolsProtocol,
                 cycle: Any) -> None:
        self._transport, self._protocol, self._cycle = transport, protocol, cycle
        self.write, self.is_closing = transport.write, transport.is_closing  # (hot: bound)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def close(self) -> None:
        cycle = self._cycle
        if cycle.response_started and not cycle.response_complete and \
                cycle.scope["http_version"] == "1.0":
            # An answer cut short (the app failed mid-stream): toward HTTP/1.1 its chunks'
            # missing end says so; a 1.0 answer ends with the connection, so a FIN would
            # make short audio look whole. A reset says it was cut.
            cycle.disconnected = True  # (as uvicorn counts it: no second ERROR)
            reset(self._transport)
        elif cycle.more_body and self._protocol.transport is self._transport:
            self._protocol.linger()
        else:
            self._transport.close()


def reset(transport: asyncio.BaseTransport) -> None:
    """Cut the connection now, with a reset: ``abort()`` alone drops asyncio's buffer but
    closes the socket with a FIN, after which the kernel still sends what it holds (to a
    stuck client, for minutes) and the peer reads a clean end."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _close_delimited(cycle: Any) -> None:
    """Frame an HTTP/1.0 request's answer by closing the connection after it, where
    uvicorn would chunk it (no Content-Length; 1.0 connections are never kept alive)."""
    send = cycle.send
    delimited = False

    async def send_to_http_10(message: Any) -> None:
        nonlocal delimited
        if message["type"] == "http.response.start":
            names = {name.lower() for name, _ in message.get("headers", [])}
            delimited = (cycle.scope["method"] != "HEAD" and message["status"] not in (204, 304)
                         and not names & {b"content-length", b"transfer-encoding"})
            if delimited:  # uvicorn's own length check, made to pass: any length fits
                cycle.chunked_encoding, cycle.expected_content_length = False, 1 << 62
        elif delimited and not message.get("more_body", False):
            cycle.expected_content_length = len(message.get("body", b""))
        await send(message)

    cycle.send = send_to_http_10  # (run_asgi, not started yet, hands the app self.send)


def bounded_protocol(head_timeout_s: float, channel: str) -> type[BoundedHttpToolsProtocol]:
    """The protocol class for uvicorn's ``http`` option, with this server's timeout."""
    return type("BoundedHttp", (BoundedHttpToolsProtocol,),
                {"head_timeout_s": head_timeout_s, "channel": channel})
