"""Listening addresses as an operator writes them (a literal, ``::``, a name), and the
sockets of a multi-worker server: one set per worker on one port (SO_REUSEPORT), bound by
the supervisor and inherited by its worker (``RYMI_LISTEN_FD``)."""

from __future__ import annotations

import ipaddress
import os
import socket

LISTEN_FD_ENV = "RYMI_LISTEN_FD"  # the worker's sockets' fds, comma-separated
BACKLOG = 2048


def addresses(host: str, port: int) -> list[tuple[socket.AddressFamily, str]]:
    """(family, address) to bind for a host: a literal is itself; a name is each address
    it resolves to (``localhost``: 127.0.0.1 and ::1, as uvicorn bound it)."""
    try:
        ipaddress.ip_address(host)
        return [(socket.AF_INET6 if ":" in host else socket.AF_INET, host)]
    except ValueError:  # a name
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
        return list(dict.fromkeys((family, addr[0]) for family, *_, addr in infos))


def bound_sockets(host: str, port: int, share_port: bool = False) -> list[socket.socket]:
    """A socket bound on each of the host's addresses, not yet listening, inheritable.
    ``::`` is every address, IPv4 too, whatever the system's default. ``share_port``:
    SO_REUSEPORT, for the workers' sockets on one port."""
    socks: list[socket.socket] = []
    try:
        for family, address in addresses(host, port):
            sock = socket.socket(family, socket.SOCK_STREAM)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if share_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:  # dual-stack for "::" alone: else v4 is bound too
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(host != "::"))
            # port 0: the first one's port for the rest
            sock.bind((address, socks[0].getsockname()[1] if len(socks) > 1 else port))
            sock.set_inheritable(True)
    except OSError:
        for sock in socks:
            sock.close()
        raise
    return socks


def listening_sockets(host: str, port: int) -> list[socket.socket]:
    """One worker's sockets: listening at once (a worker that is starting has its
    connections queued, not refused), sharing the port with the other workers'."""
    socks = bound_sockets(host, port, share_port=True)
    for sock in socks:
        sock.listen(BACKLOG)
    return socks


def inherited_sockets() -> list[socket.socket]:
    """In a worker: its listening sockets, bound by the supervisor; none in a single
    server."""
    fds = os.environ.get(LISTEN_FD_ENV, "")
    return [socket.socket(fileno=int(fd)) for fd in fds.split(",") if fd]


def is_worker() -> bool:
    return LISTEN_FD_ENV in os.environ


def not_in_use(host: str, port: int) -> None:
    """Raise if anything listens on the port at any of the host's addresses. SO_REUSEPORT
    lets our sockets join any other socket that set it (another server's workers, a
    killed supervisor's): traffic was split with it, in silence. A socket without it is
    refused by every listener."""
    if port == 0:
        return
    for sock in bound_sockets(host, port):  # (SO_REUSEADDR: TIME_WAIT is no use)
        sock.close()
