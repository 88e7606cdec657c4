"""Small real servers on loopback for the upstream client's tests: each is an asyncio
stream server whose handler plays one upstream's part byte by byte, so what goes over the
wire is exactly what the test says."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable

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
