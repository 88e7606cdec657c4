"""One exchange with the upstream: the answer's status and headers, then its body as it
arrives, handed from the connection's callbacks to the task that relays it.

The connection (``http_client.Connection``) feeds it; the relay reads it with ``next()``,
which wakes once per arrival whatever the number of chunks that came meanwhile.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from .connect import TransportError

if TYPE_CHECKING:
    from .http_client import Connection

HIGH_WATER = 256 * 1024  # unread bytes at which the upstream's socket is left unread
MAX_WHOLE_BODY = 32 * 1024 * 1024  # a non-streamed answer bigger than this is refused


class Disconnected(TransportError):
    """The upstream closed the connection before its answer was whole."""


class BadResponse(TransportError):
    """What came back is not an HTTP/1.x answer we can read."""


class UpstreamTimeout(TransportError, TimeoutError):
    """No byte from the upstream for the read timeout."""


class Response:
    """One exchange: status and headers once they came, then the body as it arrives.

    ``close()`` it when done: a whole answer gives its connection back to the pool,
    anything else closes the connection, which is how the upstream learns we left.
    """

    def __init__(self, conn: Connection) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}  # lower-case names
        self.complete = False
        self.received = False  # any byte of the answer
        self._conn = conn
        self._buf: list[bytes] = []
        self._unread = 0
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None

    async def next(self) -> bytes | None:
        """The body bytes that arrived since the last call, or None at its end."""
        while not self._buf:
            if self._error is not None:
                raise self._error
            if self.complete:
                return None
            self._waiter = self._conn.loop.create_future()  # (inline: once per chunk)
            try:
                await self._waiter
            finally:
                self._waiter = None
        data = self._buf[0] if len(self._buf) == 1 else b"".join(self._buf)
        self._buf.clear()
        if self._unread >= HIGH_WATER:
            self._conn.resume()
        self._unread = 0
        return data

    async def read(self) -> bytes:
        """The whole body (bounded by MAX_WHOLE_BODY)."""
        parts, size = [], 0
        while (data := await self.next()) is not None:
            size += len(data)
            if size > MAX_WHOLE_BODY:
                raise BadResponse(f"answer larger than {MAX_WHOLE_BODY} bytes")
            parts.append(data)
        return b"".join(parts)

    def close(self) -> None:
        self._conn.finish(self)

    async def _head(self) -> None:
        while not self.status:
            if self._error is not None:
                raise self._error
            await self._wait()

    async def _wait(self) -> None:
        self._waiter = self._conn.loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _feed(self, data: bytes) -> None:
        self._buf.append(data)
        self._unread += len(data)
        if self._unread >= HIGH_WATER:
            self._conn.pause()
        self._wake()

    def _end(self) -> None:
        self.complete = True
        self._wake()

    def _fail(self, exc: BaseException) -> None:
        if not self.complete and self._error is None:
            self._error = exc
            self._wake()

    @property
    def close_delimited(self) -> bool:
        return "content-length" not in self.headers and "transfer-encoding" not in self.headers


class Replayed:
    """A body already read, served as an exchange's: the stream a whole answer stands
    for (``conform.answer_as_stream``), relayed as if the upstream had streamed it."""

    complete = True

    def __init__(self, body: bytes) -> None:
        self._body: bytes | None = body

    async def next(self) -> bytes | None:
        body, self._body = self._body, None
        return body

    async def read(self) -> bytes:
        return await self.next() or b""

    def close(self) -> None:
        self._body = None
