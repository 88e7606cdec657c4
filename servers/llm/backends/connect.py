"""Opening a connection to the upstream: directly or through an HTTP proxy, TLS or not.

Through a proxy a plain-http upstream is asked in absolute form (the proxy reads our
requests); an https upstream gets a CONNECT tunnel with TLS inside it, end to end.
TLS verifies against the system's trust store, or the bundle SSL_CERT_FILE names.
Host names are looked up once for many connections, and kept briefly (``resolve.py``).
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import unquote, urlsplit

from servers.common.logs import shown_url

from .resolve import Resolver, connect

P = TypeVar("P", bound=asyncio.Protocol)

_MAX_PROXY_ANSWER = 16 * 1024


class TransportError(Exception):
    """The exchange failed below HTTP: there is no upstream answer to relay."""


class Unreachable(TransportError):
    """No connection: refused, unknown host, failed TLS, or a proxy that said no."""


class ConnectTimeout(TransportError, TimeoutError):
    """The connection (or the proxy's tunnel) took longer than the connect timeout."""


@dataclass(frozen=True)
class Origin:
    host: str
    port: int
    tls: bool
    path: str  # the base path, e.g. /v1, without a trailing slash
    # The URL's query, "?" included, put after every request's path: Azure's deployment
    # URLs carry ?api-version=, which was dropped without a word.
    query: str = ""

    @classmethod
    def parse(cls, url: str) -> Origin:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"upstream URL must be http:// or https:// with a host: "
                             f"{shown_url(url)!r}")
        tls = parts.scheme == "https"
        return cls(parts.hostname, parts.port or (443 if tls else 80), tls,
                   parts.path.rstrip("/"), f"?{parts.query}" if parts.query else "")

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == (443 if self.tls else 80) else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host_header}"


@dataclass(frozen=True)
class Proxy:
    host: str
    port: int
    authorization: str | None  # a Proxy-Authorization value, from user:password@

    @classmethod
    def parse(cls, url: str) -> Proxy:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"only http:// proxies are supported: {shown_url(url)!r}")
        auth = None
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            auth = "Basic " + base64.b64encode(pair.encode()).decode()
        return cls(parts.hostname, parts.port or 80, auth)


async def open_connection(factory: Callable[[], P], origin: Origin, proxy: Proxy | None,
                          timeout_s: float, tls: ssl.SSLContext | None = None,
                          resolver: Resolver | None = None) -> P:
    """A connected protocol from ``factory``; Unreachable or ConnectTimeout if not.
    ``tls``: the context for an https origin (default: the system's trust store);
    ``resolver``: the lookups to share (default: one of its own)."""
    where = f"{proxy.host}:{proxy.port} (proxy)" if proxy else f"{origin.host}:{origin.port}"
    try:
        async with asyncio.timeout(timeout_s):
            context = (tls or _tls_context()) if origin.tls else None
            return await _open(factory, origin, proxy, context, resolver or Resolver())
    except TimeoutError:
        raise ConnectTimeout(f"connecting to {where} took over {timeout_s:g} s") from None
    except ssl.SSLError as exc:
        raise Unreachable(f"TLS with {origin.host} failed: {exc.reason or exc}") from None
    except OSError as exc:
        raise Unreachable(f"cannot connect to {where}: {exc.strerror or exc}") from None


async def _open(factory: Callable[[], P], origin: Origin, proxy: Proxy | None,
                context: ssl.SSLContext | None, resolver: Resolver) -> P:
    loop = asyncio.get_running_loop()
    if proxy is None:
        tls = {"ssl": context, "server_hostname": origin.host} if context else {}
        _, protocol = await connect(factory, origin.host, origin.port, resolver, **tls)
        return protocol
    if context is None:  # plain http through the proxy: it forwards our requests
        _, protocol = await connect(factory, proxy.host, proxy.port, resolver)
        return protocol
    transport, handshake = await connect(_TunnelAnswer, proxy.host, proxy.port, resolver)
    try:
        host = f"[{origin.host}]" if ":" in origin.host else origin.host
        target = f"{host}:{origin.port}"
        head = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
        if proxy.authorization:
            head += f"Proxy-Authorization: {proxy.authorization}\r\n"
        transport.write((head + "\r\n").encode("latin-1"))
        status_line = await handshake.answer
        if status_line.split(b" ", 2)[1:2] != [b"200"]:
            raise Unreachable(f"the proxy refused the tunnel to {target}: "
                              f"{status_line.decode('latin-1', 'replace')[:200]}")
        protocol = factory()
        tunnelled = await loop.start_tls(transport, protocol, context,
                                         server_hostname=origin.host)
        protocol.connection_made(tunnelled)
        return protocol
    except BaseException:
        transport.close()
        raise


_context: ssl.SSLContext | None = None


def _tls_context() -> ssl.SSLContext:
    """One verifying context per process (building one reads the whole trust store)."""
    global _context
    if _context is None:
        _context = ssl.create_default_context()
    return _context


class _TunnelAnswer(asyncio.Protocol):
    """Reads the proxy's answer to CONNECT, up to its blank line."""

    def __init__(self) -> None:
        self.answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._data = b""

    def data_received(self, data: bytes) -> None:
        self._data += data
        if self.answer.done():
            return
        if b"\r\n\r\n" in self._data:
            self.answer.set_result(self._data.split(b"\r\n", 1)[0])
        elif len(self._data) > _MAX_PROXY_ANSWER:
            self.answer.set_exception(Unreachable("the proxy's answer to CONNECT has no end"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answer.done():
            self.answer.set_exception(Unreachable("the proxy closed the connection on CONNECT"))


def env_proxy_for(url: str) -> str | None:
    """The HTTP(S)_PROXY that applies to ``url`` (NO_PROXY honoured), as curl would pick."""
    parts = urlsplit(url)
    if urllib.request.proxy_bypass_environment(parts.hostname or ""):
        return None
    return urllib.request.getproxies_environment().get(parts.scheme)
