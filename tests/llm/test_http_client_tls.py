"""The proxy's upstream client over TLS and through HTTP proxies: certificates verified,
absolute form for http, a CONNECT tunnel for https, a refused tunnel."""

from __future__ import annotations

import asyncio
import base64
import ssl

import pytest
import trustme

from servers.llm.backends.connect import Unreachable

from .wire_server import OK_JSON, Server, body_of, client, ok_json_forever, run


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
        async with Server(lambda r, w: ok_json_forever(srv, r, w), tls=server_ctx) as srv:
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

        async def proxy_handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            head = await r.readuntil(b"\r\n\r\n")
            proxy.heads.append(head)
            w.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await _tunnel(r, w, up.port)

        async with Server(lambda r, w: ok_json_forever(up, r, w), tls=server_ctx) as up, Server(proxy_handler) as proxy:
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
