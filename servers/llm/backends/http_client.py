"""A pooled HTTP/1.1 client for one upstream origin, on asyncio protocols and httptools.

Why not aiohttp (or httpx): on the proxy's path the client library was most of what we
added to every request. In one run on 2 cores, a bare ASGI proxy on uvicorn added 0.34 /
0.18 / 4.0 ms to the first token at 1 / 8 / 32 clients with a client like this one, and
0.92 / 2.9 / 9.4 ms with aiohttp (request and response objects, multidicts, a stream
reader, a timer re-armed on every chunk). httptools is the parser uvicorn itself uses;
what is left here is the connection and the pool (the exchange: exchange.py).

What it does: keep-alive connections to one origin, one request at a time on each (no
pipelining); bodies by Content-Length, chunked or close-delimited (httptools); reading
paused while the reader has ``exchange.HIGH_WATER`` bytes unread; a request on a kept-alive
connection that the upstream had closed meanwhile is sent once more on a new one; and
two bounds, the connect (``connect.py``) and the first byte and every gap between
chunks after it (one timer per exchange, re-armed only when it fires).
"""

from __future__ import annotations

import asyncio
import ssl

import httptools

from .connect import Origin, Proxy, open_connection
from .exchange import BadResponse, Disconnected, Response, UpstreamTimeout
from .resolve import Resolver


class Connection(asyncio.Protocol):
    """One kept-alive connection; httptools calls the ``on_*`` methods as it parses."""

    def __init__(self, pool: UpstreamClient) -> None:
        self.pool = pool
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.resp: Response | None = None
        self.closed = False
        self.reused = False
        self.keep_alive = False
        self.idle_since = 0.0
        self._header_list: list[tuple[bytes, bytes]] = []
        self._last_read = 0.0
        self._paused = False
        self._timer: asyncio.TimerHandle | None = None

    def send(self, raw: bytes) -> Response:
        assert self.transport is not None and self.resp is None
        self.resp = Response(self)
        self._last_read = self.loop.time()
        self._timer = self.loop.call_later(self.pool.read_timeout_s, self._check_stall)
        self.transport.write(raw)
        return self.resp

    def finish(self, resp: Response) -> None:
        if self.resp is not resp:
            return
        self.resp = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        # Not one left paused (its reader stopped with HIGH_WATER unread): nothing would
        # resume it, and the next request on it would wait for good.
        if resp.complete and self.keep_alive and not self.closed and not self._paused:
            self.pool.release(self)
        else:
            self.close()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.closed = True

    def pause(self) -> None:
        if not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self._paused and self.transport is not None:
            self._paused = False
            self._last_read = self.loop.time()  # the wait was the reader's, not the upstream's
            self.transport.resume_reading()

    def _check_stall(self) -> None:
        resp, timeout = self.resp, self.pool.read_timeout_s
        if resp is None:
            return
        left = self._last_read + timeout - self.loop.time()
        if self._paused or left > 0:
            self._timer = self.loop.call_later(timeout if self._paused else left,
                                               self._check_stall)
            return
        self._timer = None
        resp._fail(UpstreamTimeout(f"no byte from the upstream for {timeout:g} s "
                                   "(RYMI_LLM_UPSTREAM_TIMEOUT_S)"))
        self.close()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        resp = self.resp
        if resp is None:  # nothing was asked: a broken upstream, this connection is done
            self.close()
            return
        self._last_read = self.loop.time()
        resp.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            resp._fail(BadResponse(f"unreadable answer: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        resp = self.resp
        if resp is None or resp.complete:
            return
        if resp.status and resp.close_delimited and exc is None:
            resp._end()  # a body without a length ends where the connection does
        else:
            resp._fail(Disconnected("the upstream closed the connection"
                                    + (f" ({exc})" if exc else "")))

    # httptools
    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_list.append((name, value))

    def on_headers_complete(self) -> None:
        headers, self._header_list = self._header_list, []
        status = self.parser.get_status_code()
        if status < 200 or self.resp is None:  # 1xx: informational, the answer follows
            return
        self.resp.headers = {n.decode("latin-1").lower(): v.decode("latin-1")
                             for n, v in headers}
        self.resp.status = status
        self.resp._wake()

    def on_body(self, body: bytes) -> None:
        if self.resp is not None:
            self.resp._feed(body)

    def on_message_complete(self) -> None:
        if self.resp is not None and self.resp.status:  # not the end of a 1xx
            self.keep_alive = self.parser.should_keep_alive()
            self.resp._end()


class UpstreamClient:
    """Requests to one origin (``base_url``'s scheme, host and port) over a keep-alive pool.

    ``headers`` go on every request. A connection idle for ``idle_timeout_s`` is not
    reused (a NAT or load balancer on the way may have dropped it without a word).
    ``tls``: the context for an https upstream (default: the system's trust store, or
    the bundle SSL_CERT_FILE names).
    """

    def __init__(self, base_url: str, headers: dict[str, str], *, connect_timeout_s: float,
                 read_timeout_s: float, proxy: str | None = None, idle_timeout_s: float = 60.0,
                 tls: ssl.SSLContext | None = None) -> None:
        self.origin = Origin.parse(base_url)
        self.tls = tls
        self.proxy = Proxy.parse(proxy) if proxy else None
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.idle_timeout_s = idle_timeout_s
        extra = dict(headers)
        if self.proxy is not None and not self.origin.tls and self.proxy.authorization:
            extra["Proxy-Authorization"] = self.proxy.authorization  # it reads our requests
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in extra.items()).encode("latin-1")
        # Through a proxy, a plain-http request names the whole URL (absolute form).
        self._prefix = self.origin.url if self.proxy is not None and not self.origin.tls \
            else ""
        self._idle: list[Connection] = []
        self.resolver = Resolver()  # a burst of new connections makes one lookup

    async def request(self, method: str, path: str, body: bytes = b"",
                      content_type: str = "application/json") -> Response:
        """Send; returns once the status and headers came. TransportError if not."""
        raw = self._head(method, path, body, content_type) + body
        for attempt in (0, 1):
            conn = await self._acquire()
            resp = conn.send(raw)
            try:
                await resp._head()
                return resp
            except Disconnected:
                resp.close()
                # A kept-alive connection the upstream closed while it sat in our pool:
                # the request never reached it, so it goes once more on a new one.
                if attempt or not conn.reused or resp.received:
                    raise
            except BaseException:
                resp.close()
                raise
        raise AssertionError("unreachable")

    def release(self, conn: Connection) -> None:
        conn.idle_since = conn.loop.time()
        self._idle.append(conn)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _head(self, method: str, path: str, body: bytes, content_type: str) -> bytes:
        head = (f"{method} {self._prefix}{self.origin.path}{path}{self.origin.query} HTTP/1.1\r\n"
                f"Host: {self.origin.host_header}\r\n").encode("latin-1") + self._fixed
        if body or method == "POST":
            head += (f"Content-Type: {content_type}\r\n"
                     f"Content-Length: {len(body)}\r\n").encode("latin-1")
        return head + b"\r\n"

    async def _acquire(self) -> Connection:
        now = asyncio.get_running_loop().time()
        while self._idle:
            conn = self._idle.pop()  # the most recent: the likeliest to be alive
            if not conn.closed and now - conn.idle_since < self.idle_timeout_s:
                conn.reused = True
                return conn
            conn.close()
        return await open_connection(lambda: Connection(self), self.origin, self.proxy,
                                     self.connect_timeout_s, self.tls, self.resolver)
