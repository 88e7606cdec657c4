"""Idle keep-alive: a caller's next turn reuses its connection (no new TCP/TLS handshake).

Turns of a call come seconds apart; uvicorn's default keep-alive (5 s) would close the
connection in between. ``keepalive_s`` (75 s by default) sets it for every server.
"""

from __future__ import annotations

import socket
import time

from tests.support.servers import start_server

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"


def _ask(sock: socket.socket) -> bytes:
    """One request on ``sock``; the answer's head and body, or b"" if the server had closed."""
    sock.sendall(REQUEST)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += sock.recv(4096)
    return head


def _closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(0.5)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False


def test_default_keepalive_outlasts_uvicorns_five_seconds(echo_server) -> None:
    with socket.create_connection(("127.0.0.1", echo_server.port)) as sock:
        assert _ask(sock).startswith(b"HTTP/1.1 200")
        time.sleep(5.5)  # past uvicorn's own default
        assert not _closed_by_server(sock)
        assert _ask(sock).startswith(b"HTTP/1.1 200")  # the same connection, reused


def test_keepalive_setting_closes_an_idle_connection() -> None:
    server = start_server("tests.common.echo_server",
                          env={"RYMI_ECHO_SERVER_KEEPALIVE_S": "0.5"}, ready_timeout=30)
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            assert _ask(sock).startswith(b"HTTP/1.1 200")
            time.sleep(1.5)
            assert _closed_by_server(sock)
    finally:
        server.stop()
