"""The listening sockets of a multi-worker server: one per worker on one port
(SO_REUSEPORT), bound by the supervisor and inherited by its worker (``RYMI_LISTEN_FD``)."""

from __future__ import annotations

import os
import socket

LISTEN_FD_ENV = "RYMI_LISTEN_FD"


def inherited_socket() -> socket.socket | None:
    """In a worker: its listening socket, bound by the supervisor; None in a single server."""
    fd = os.environ.get(LISTEN_FD_ENV)
    return socket.socket(fileno=int(fd)) if fd else None


def is_worker() -> bool:
    return LISTEN_FD_ENV in os.environ


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def not_in_use(host: str, port: int) -> None:
    """Raise if anything listens on the port. SO_REUSEPORT lets our sockets join any
    other socket that set it (another server's workers, a killed supervisor's): traffic
    was split with it, in silence. A socket without it is refused by every listener."""
    if port == 0:
        return
    probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no use
        probe.bind((host, port))
    finally:
        probe.close()
