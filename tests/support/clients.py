"""Clients that misbehave on purpose, at the socket level (what HTTP libraries won't do)."""

from __future__ import annotations

import socket
import time


def half_body(port: int, path: str, request_id: str, token: str) -> None:
    """Declare 100 bytes of body, send 12, hang up: a client gone mid-upload."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall((f"POST {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}"
                      f"\r\nX-Request-ID: {request_id}\r\nContent-Type: application/json\r\n"
                      "Content-Length: 100\r\n\r\n{\"messages\":").encode())
        time.sleep(0.3)

