"""The proxy's upstream client against small real servers on loopback: keep-alive, the
three ways a body ends, 1xx, a stale pooled connection, stalls, back-pressure, TLS, and
HTTP proxies (absolute form for http, a CONNECT tunnel for https).

Each server is an asyncio stream server whose handler plays one upstream's part byte by
byte, so what goes over the wire is exactly what the test says.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Awaitable, Callable

import pytest
import trustme

from servers.llm.backends.connect import Unreachable
from servers.llm.backends.exchange import HIGH_WATER, Disconnected, UpstreamTimeout
from servers.llm.backends.http_client import UpstreamClient

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK_JSON = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}'


class Server:
    """Counts connections and keeps the request heads it read."""

    def __init__(self, handler: Handler, tls: ssl.SSLContext | None = None) -> None:
        self.handler, self.tls = handler, tls
        self.connections = 0
        self.heads: list[bytes] = []

    async def __aenter__(self) -> Server:
        async def serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self.handler(r, w)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                w.close()

        self.server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()

    async def read_request(self, r: asyncio.StreamReader) -> bytes:
        head = await r.readuntil(b"\r\n\r\n")
        self.heads.append(head)
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                await r.readexactly(int(line.split(b":")[1]))
        return head


def client(url: str, **kw: object) -> UpstreamClient:
    opts: dict = {"connect_timeout_s": 2.0, "read_timeout_s": 2.0, **kw}
    return UpstreamClient(url, {"Authorization": "Bearer up-token"}, **opts)


async def body_of(c: UpstreamClient, path: str = "/x") -> tuple[int, bytes]:
    resp = await c.request("POST", path, b'{"a":1}')
    try:
        return resp.status, await resp.read()
    finally:
        resp.close()


def run(coro: Awaitable[None]) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


async def ok_json_forever(srv: Server, r: asyncio.StreamReader,
                          w: asyncio.StreamWriter) -> None:
    """An upstream that answers every request on the connection with ``{}``."""
    while True:
        await srv.read_request(r)
        w.write(OK_JSON)


def test_requests_share_one_kept_alive_connection() -> None:
    async def main() -> None:
        async with Server(lambda r, w: ok_json_forever(srv, r, w)) as srv:
            c = client(f"http://127.0.0.1:{srv.port}/v1")
            assert [await body_of(c) for _ in range(3)] == [(200, b"{}")] * 3
            await c.aclose()
        assert srv.connections == 1
        head = srv.heads[0]
        assert head.startswith(b"POST /v1/x HTTP/1.1\r\n")
        assert b"\r\nAuthorization: Bearer up-token\r\n" in head
        assert b"\r\nContent-Length: 7\r\n" in head
    run(main())


def test_the_upstream_urls_query_goes_with_every_request() -> None:
    """Azure's deployment URLs carry ?api-version=, which was dropped without a word."""
    async def main() -> None:
        async with Server(lambda r, w: ok_json_forever(srv, r, w)) as srv:
            c = client(f"http://127.0.0.1:{srv.port}/openai/deployments/gpt4o/"
                       "?api-version=2024-10-21")
            await body_of(c, "/chat/completions")
            await body_of(c, "/models")
            await c.aclose()
        assert [h.split(b" ")[1] for h in srv.heads] == [
            b"/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21",
            b"/openai/deployments/gpt4o/models?api-version=2024-10-21"]
    run(main())


def test_chunked_and_close_delimited_bodies_arrive_whole() -> None:
    async def main() -> None:
        async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await srv.read_request(r)
            if srv.connections == 1:  # chunked, in pieces, after a 103
                w.write(b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
                        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel")
                await w.drain()
                await asyncio.sleep(0.05)
                w.write(b"lo\r\n6\r\n world\r\n0\r\n\r\n")
            else:  # HTTP/1.0 style: the body ends where the connection does
                w.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
            await w.drain()
            if srv.connections == 1:
                await r.read()  # keep the connection open

        async with Server(handler) as srv:
            c = client(f"http://127.0.0.1:{srv.port}")
            assert await body_of(c) == (200, b"hello world")
            c._idle.clear()  # the next request on a connection of its own
            assert await body_of(c) == (200, b"until the end")
            await c.aclose()
    run(main())


def test_a_pooled_connection_the_upstream_dropped_is_retried_once_on_a_new_one() -> None:
    async def main() -> None:
        async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await srv.read_request(r)
            w.write(OK_JSON)
            await srv.read_request(r)  # the second request on this connection: dropped
            w.transport.abort()

        async with Server(handler) as srv:
            c = client(f"http://127.0.0.1:{srv.port}")
            assert await body_of(c) == (200, b"{}")
            assert await body_of(c) == (200, b"{}")
            await c.aclose()
        assert srv.connections == 2 and len(srv.heads) == 3
    run(main())


# Nothing back, or an answer begun: either way the request was read on a connection of
# its own, and may have been acted on. (Only a kept-alive connection may have been closed
# before our request reached the upstream.) Sent again, a chat request would be generated,
# and billed, twice.
@pytest.mark.parametrize("sent", [b"", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial"])
def test_a_request_dropped_on_a_new_connection_is_not_sent_again(sent: bytes) -> None:
    async def main() -> None:
        async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await srv.read_request(r)
            w.write(sent)
            await w.drain()
            w.transport.abort()

        async with Server(handler) as srv:
            c = client(f"http://127.0.0.1:{srv.port}")
            with pytest.raises(Disconnected):
                await body_of(c)
            await c.aclose()
        assert srv.connections == 1 and len(srv.heads) == 1
    run(main())


def test_a_pooled_connection_that_dies_after_answering_began_is_not_retried() -> None:
    """The upstream began its answer to the second request on a kept-alive connection
    (a status line cut short): the request reached it, so it is not sent again."""
    async def main() -> None:
        async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await srv.read_request(r)
            w.write(OK_JSON)
            await srv.read_request(r)
            w.write(b"HTTP/1.1 200 OK\r\nContent-Le")
            await w.drain()
            w.transport.abort()

        async with Server(handler) as srv:
            c = client(f"http://127.0.0.1:{srv.port}")
            assert await body_of(c) == (200, b"{}")
            with pytest.raises(Disconnected):
                await body_of(c)
            await c.aclose()
        assert len(srv.heads) == 2
    run(main())


def test_a_connection_idle_past_the_idle_timeout_is_not_reused() -> None:
    """A NAT or load balancer may have dropped it without a word: the next request
    goes on a new connection."""
    async def main() -> None:
        async with Server(lambda r, w: ok_json_forever(srv, r, w)) as srv:
            c = client(f"http://127.0.0.1:{srv.port}", idle_timeout_s=0.1)
            assert await body_of(c) == (200, b"{}")
            await asyncio.sleep(0.3)
            assert await body_of(c) == (200, b"{}")
            await c.aclose()
        assert srv.connections == 2
    run(main())


def test_silence_past_the_read_timeout_is_a_timeout_and_closes_the_connection() -> None:
    async def main() -> None:
        closed = asyncio.Event()

        async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await srv.read_request(r)
            w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n")
            await w.drain()
            await r.read()  # returns when the client closes
            closed.set()

        async with Server(handler) as srv:
            c = client(f"http://127.0.0.1:{srv.port}", read_timeout_s=0.3)
            resp = await c.request("POST", "/x", b"{}")
            assert await resp.next() == b"hi"
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            with pytest.raises(UpstreamTimeout):
                await resp.next()
            assert 0.25 <= loop.time() - t0 < 2
            resp.close()
            await asyncio.wait_for(closed.wait(), 5)
            await c.aclose()
    run(main())


def test_reading_pauses_while_the_reader_is_behind() -> None:
    async def main() -> None:
        sent = asyncio.Event()

        async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await srv.read_request(r)
            size = 64 * HIGH_WATER  # more than the kernel buffers on both sides hold
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
            for _ in range(size // 65536):
                w.write(b"x" * 65536)
                await w.drain()  # waits while the client does not read
            sent.set()

        async with Server(handler) as srv:
            c = client(f"http://127.0.0.1:{srv.port}", read_timeout_s=0.5)
            resp = await c.request("POST", "/x", b"{}")
            await asyncio.sleep(1.0)  # longer than the read timeout: paused is not stalled
            assert resp._conn._paused and not sent.is_set()
            assert resp._unread < 2 * HIGH_WATER
            assert len(await resp.read()) == 64 * HIGH_WATER
            resp.close()
            await c.aclose()
    run(main())


def test_the_read_timeout_counts_from_when_a_slow_reader_read_on() -> None:
    """A reader behind for longer than the read timeout, then an upstream that sends its
    next byte within the timeout of that: a healthy upstream, and no timeout (the wait
    was counted from the upstream's last byte, before the pause, and the first check
    after the reader read on failed the answer)."""
    async def main() -> None:
        timeout = 1.0  # (a quarter of it, either side, is the slack on a busy machine)
        resumed = asyncio.Event()

        async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await srv.read_request(r)
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (HIGH_WATER + 5)
                    + b"x" * HIGH_WATER)  # the last byte reaches HIGH_WATER: paused
            await w.drain()
            await resumed.wait()
            # Past the stall check due 2 timeouts after the pause, within a timeout of
            # the reader's resuming (its next check is due 1 timeout after that).
            await asyncio.sleep(0.75 * timeout)
            w.write(b"hello")
            await r.read()

        async with Server(handler) as srv:
            c = client(f"http://127.0.0.1:{srv.port}", read_timeout_s=timeout)
            resp = await c.request("POST", "/x", b"{}")
            while not resp._conn._paused:
                await asyncio.sleep(0.01)
            await asyncio.sleep(1.5 * timeout)  # the reader is behind
            first = await resp.next()  # reads on: resumed
            resumed.set()
            assert first is not None and len(first + await resp.read()) == HIGH_WATER + 5
            resp.close()
            await c.aclose()
    run(main())


def test_a_connection_left_paused_is_not_given_to_the_next_request() -> None:
    """An answer that completed while its reader was HIGH_WATER behind, closed unread:
    its paused connection went back to the pool, and the next request on it waited for
    good (a paused connection is never a stalled one)."""
    async def main() -> None:
        async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            if srv.connections == 1:
                await srv.read_request(r)
                w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % HIGH_WATER
                        + b"x" * HIGH_WATER)  # the last byte reaches HIGH_WATER: paused
            await ok_json_forever(srv, r, w)

        async with Server(handler) as srv:
            c = client(f"http://127.0.0.1:{srv.port}", read_timeout_s=1.0)
            resp = await c.request("POST", "/x", b"{}")
            while not resp.complete:
                await asyncio.sleep(0.01)
            resp.close()  # (a reader done at [DONE], the rest of the body unread)
            assert await asyncio.wait_for(body_of(c), 5) == (200, b"{}")
            await c.aclose()
    run(main())


def test_nobody_listening_is_unreachable() -> None:
    async def main() -> None:
        async with Server(lambda r, w: asyncio.sleep(0)) as srv:
            port = srv.port
        c = client(f"http://127.0.0.1:{port}")
        with pytest.raises(Unreachable):
            await body_of(c)
    run(main())


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def tls_pair(ca: trustme.CA) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server)
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    return server, trusting


def test_https_upstream_verifies_its_certificate(ca: trustme.CA) -> None:
    async def main() -> None:
        server_ctx, trusting = tls_pair(ca)

        async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            while True:
                await srv.read_request(r)
                w.write(OK_JSON)

        async with Server(handler, tls=server_ctx) as srv:
            c = client(f"https://localhost:{srv.port}/v1", tls=trusting)
            assert await body_of(c) == (200, b"{}")
            assert srv.heads[0].startswith(b"POST /v1/x HTTP/1.1\r\nHost: localhost:")
            await c.aclose()
            untrusting = client(f"https://localhost:{srv.port}/v1",
                                tls=ssl.create_default_context())
            with pytest.raises(Unreachable, match="TLS"):
                await body_of(untrusting)
    run(main())


async def _tunnel(r: asyncio.StreamReader, w: asyncio.StreamWriter, port: int) -> None:
    up_r, up_w = await asyncio.open_connection("127.0.0.1", port)

    async def pipe(a: asyncio.StreamReader, b: asyncio.StreamWriter) -> None:
        while data := await a.read(65536):
            b.write(data)
            await b.drain()
        b.close()

    await asyncio.gather(pipe(r, up_w), pipe(up_r, w), return_exceptions=True)


def test_https_through_a_proxy_goes_in_a_connect_tunnel(ca: trustme.CA) -> None:
    async def main() -> None:
        server_ctx, trusting = tls_pair(ca)

        async def upstream(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            while True:
                await up.read_request(r)
                w.write(OK_JSON)

        async def proxy_handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            head = await r.readuntil(b"\r\n\r\n")
            proxy.heads.append(head)
            w.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await _tunnel(r, w, up.port)

        async with Server(upstream, tls=server_ctx) as up, Server(proxy_handler) as proxy:
            c = client(f"https://localhost:{up.port}/v1", tls=trusting,
                       proxy=f"http://user:p%40ss@127.0.0.1:{proxy.port}")
            assert [await body_of(c) for _ in range(2)] == [(200, b"{}")] * 2
            await c.aclose()
        connect = proxy.heads[0]
        assert connect.startswith(f"CONNECT localhost:{up.port} HTTP/1.1\r\n".encode())
        auth = base64.b64encode(b"user:p@ss")
        assert b"Proxy-Authorization: Basic " + auth in connect
        assert proxy.connections == 1 and len(up.heads) == 2  # one tunnel, kept alive
        assert b"Proxy-Authorization" not in up.heads[0]  # TLS inside: the proxy sees none
    run(main())


def test_plain_http_through_a_proxy_is_asked_in_absolute_form() -> None:
    async def main() -> None:
        async def proxy_handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await proxy.read_request(r)
            w.write(OK_JSON)

        async with Server(proxy_handler) as proxy:
            c = client("http://upstream.internal:8000/v1", proxy=f"127.0.0.1:{proxy.port}")
            assert await body_of(c) == (200, b"{}")
            await c.aclose()
        assert proxy.heads[0].startswith(
            b"POST http://upstream.internal:8000/v1/x HTTP/1.1\r\nHost: upstream.internal:8000")
    run(main())


def test_a_proxy_that_refuses_the_tunnel_is_unreachable(ca: trustme.CA) -> None:
    async def main() -> None:
        async def proxy_handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await r.readuntil(b"\r\n\r\n")
            w.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
            await w.drain()

        async with Server(proxy_handler) as proxy:
            c = client("https://api.example.com/v1", proxy=f"http://127.0.0.1:{proxy.port}")
            with pytest.raises(Unreachable, match="407"):
                await body_of(c)
    run(main())
