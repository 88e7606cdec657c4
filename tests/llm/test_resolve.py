"""The upstream client's host name lookups (servers/llm/backends/resolve.py): one lookup
for a burst of new connections, kept for its TTL, a failure not kept, none for an IP."""

from __future__ import annotations

import asyncio
import socket

import pytest

from servers.llm.backends.connect import Unreachable
from servers.llm.backends.resolve import Address, Resolver
from tests.llm.test_http_client import OK_JSON, Server, body_of, client, run


async def _answer_one(srv: Server, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    await srv.read_request(r)
    await asyncio.sleep(0.05)  # held, so the burst's requests overlap
    w.write(OK_JSON)


def test_a_burst_of_new_connections_makes_one_lookup() -> None:
    async def main() -> None:
        async with Server(lambda r, w: _answer_one(srv, r, w)) as srv:
            c = client(f"http://localhost:{srv.port}")
            results = await asyncio.gather(*[body_of(c) for _ in range(32)])
            assert results == [(200, b"{}")] * 32
            assert srv.connections == 32  # all at once: 32 connections, one lookup
            assert c.resolver.lookups == 1
            await c.aclose()
    run(main())


def test_an_ip_address_needs_no_lookup() -> None:
    async def main() -> None:
        async with Server(lambda r, w: _answer_one(srv, r, w)) as srv:
            c = client(f"http://127.0.0.1:{srv.port}")
            assert await body_of(c) == (200, b"{}")
            assert c.resolver.lookups == 0
            await c.aclose()
    run(main())


def test_an_answer_is_kept_for_its_ttl_only() -> None:
    async def main() -> None:
        resolver = Resolver(ttl_s=0.2)
        first = await resolver.addresses("localhost", 80)
        assert await resolver.addresses("localhost", 80) == first
        assert resolver.lookups == 1
        await asyncio.sleep(0.3)
        await resolver.addresses("localhost", 80)
        assert resolver.lookups == 2
    run(main())


class _FailsOnce(Resolver):
    """(Fault injection: a DNS that fails the first lookup, as a flaky cluster DNS does.)"""

    async def _lookup(self, host: str, port: int) -> list[Address]:
        if self.lookups == 1:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return await super()._lookup(host, port)


def test_a_failed_lookup_is_not_kept() -> None:
    async def main() -> None:
        async with Server(lambda r, w: _answer_one(srv, r, w)) as srv:
            c = client(f"http://localhost:{srv.port}")
            c.resolver = _FailsOnce()
            with pytest.raises(Unreachable, match="name resolution"):
                await body_of(c)
            assert await body_of(c) == (200, b"{}")  # asked again, not the failure kept
            assert c.resolver.lookups == 2
            await c.aclose()
    run(main())
