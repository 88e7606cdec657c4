"""The upstream's host name, looked up once per name and kept a few seconds.

asyncio looks a host name up for every new connection, in its default thread pool
(``getaddrinfo`` blocks): a burst of calls that opens 32 connections to ``vllm`` made 32
lookups queued on a handful of threads (4 ms for ``localhost`` on 2 cores; against a
cluster's DNS, with its search domains, a round trip or several each). Here everyone
waiting for a name shares one lookup, and its answer is kept ``TTL_S``: long enough
for a burst, short enough to follow a Service or DNS change (aiohttp keeps 10 s too).
A failed lookup is not kept: the next connection asks again.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable
from typing import Any, TypeVar

P = TypeVar("P", bound=asyncio.Protocol)

TTL_S = 10.0

Address = tuple[int, Any]  # (family, sockaddr)


class Resolver:
    def __init__(self, ttl_s: float = TTL_S) -> None:
        self.ttl_s = ttl_s
        self.lookups = 0  # (getaddrinfo calls made, for the tests)
        self._cache: dict[tuple[str, int], tuple[float, asyncio.Future[list[Address]]]] = {}

    async def addresses(self, host: str, port: int) -> list[Address]:
        """The addresses to try, in getaddrinfo's order; OSError if there are none."""
        literal = _literal(host, port)
        if literal is not None:
            return [literal]
        loop = asyncio.get_running_loop()
        key = (host, port)
        cached = self._cache.get(key)
        if cached is None or loop.time() - cached[0] > self.ttl_s \
                or cached[1].get_loop() is not loop:
            self.lookups += 1
            future = asyncio.ensure_future(self._lookup(host, port))
            cached = self._cache[key] = (loop.time(), future)
            future.add_done_callback(lambda f: self._forget_failure(key, f))
        # (shielded: one waiter cancelled, by its connect timeout, cancels no one else's)
        return await asyncio.shield(cached[1])

    async def _lookup(self, host: str, port: int) -> list[Address]:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port,
                                                            type=socket.SOCK_STREAM)
        return [(family, sockaddr) for family, _, _, _, sockaddr in infos]

    def _forget_failure(self, key: tuple[str, int],
                        future: asyncio.Future[list[Address]]) -> None:
        failed = future.cancelled() or future.exception() is not None
        if failed and self._cache.get(key, (0.0, None))[1] is future:
            del self._cache[key]


def _literal(host: str, port: int) -> Address | None:
    if "%" in host:  # an IPv6 address with a scope: getaddrinfo fills in its scope id
        return None
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if ip.version == 6:
        return socket.AF_INET6, (host, port, 0, 0)
    return socket.AF_INET, (host, port)


async def connect(factory: Callable[[], P], host: str, port: int, resolver: Resolver,
                  **tls: Any) -> tuple[asyncio.Transport, P]:
    """``loop.create_connection`` to ``host``, its addresses tried in turn, the lookup
    through ``resolver``. ``tls``: ``ssl`` and ``server_hostname``, as for
    create_connection (the name a certificate is checked against is still ``host``)."""
    loop = asyncio.get_running_loop()
    error: OSError | None = None
    for family, sockaddr in await resolver.addresses(host, port):
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, sockaddr)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        except BaseException:
            sock.close()
            raise
        try:
            return await loop.create_connection(factory, sock=sock, **tls)
        except BaseException:
            sock.close()
            raise
    raise error or OSError(f"no address for {host}")
