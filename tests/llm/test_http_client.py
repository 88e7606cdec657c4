"""The proxy's upstream client against small real servers on loopback: keep-alive, the
three ways a body ends, 1xx, a stale pooled connection, stalls and back-pressure. (TLS
and HTTP proxies: test_http_client_tls.py.)"""

from __future__ import annotations

import asyncio

import pytest

from servers.llm.backends.connect import Unreachable
from servers.llm.backends.exchange import HIGH_WATER, Disconnected, UpstreamTimeout

from .wire_server import OK_JSON, Server, body_of, client, ok_json_forever, run


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
            # (its words go to the log: the setting to change, named)
            with pytest.raises(UpstreamTimeout, match=r"for 0\.3 s \(RYMI_LLM_UPSTREAM_TIMEOUT_S\)"):
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
        timeout = 2.0  # (a quarter of it, either side, is the slack on a busy machine)
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
