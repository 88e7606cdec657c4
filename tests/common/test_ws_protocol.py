"""The WebSocket protocol's bounds (servers/common/ws_protocol.py), on the echo server:
a client that sends pings and reads nothing, and a text frame that is not UTF-8."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import time

import pytest

from tests.support.servers import RunningServer, start_server

TOKEN = "ws-token"


@pytest.fixture(scope="module")
def echo() -> RunningServer:
    server = start_server("tests.common.echo_server", env={"RYMI_ECHO_SERVER_TOKENS": TOKEN},
                          ready_timeout=30)
    yield server
    server.stop()


def _opened(port: int, path: str = "/ws", token: str = TOKEN, rid: str = "") -> socket.socket:
    """A raw socket past the handshake of ``path``, reading as little as the kernel
    allows (``rid``: the X-Request-ID it sends)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n".encode() +
                 b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n" +
                 (f"X-Request-ID: {rid}\r\n".encode() if rid else b"") +
                 b"Authorization: Bearer " + token.encode() + b"\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return struct.pack("!BB", 0x80 | opcode, 0x80 | len(payload)) + mask + masked


def answer_to(port: int, frames: bytes, **opened: str) -> bytes:
    """Everything the server writes back to ``frames`` on a fresh socket, until it
    closes the connection (or is silent for 5 s)."""
    sock = _opened(port, **opened)
    sock.sendall(frames)
    sock.settimeout(5)
    data = b""
    try:
        while part := sock.recv(4096):
            data += part
    except (TimeoutError, ConnectionResetError):
        pass
    sock.close()
    return data


def test_pings_sent_and_never_read_stop_being_read(echo: RunningServer) -> None:
    """Each ping was answered at once and reading went on: a client that read no pong
    grew the server about a byte per byte it sent (400 MB: +370 MB). Reading now stops
    once the pongs fill the write buffer, so the sender is held by TCP."""
    pings = frame(0x9, b"p" * 125) * 1000
    sock = _opened(echo.port)
    sent, started = 0, time.monotonic()
    sock.settimeout(2)  # a send blocked this long: the server stopped reading
    try:
        while sent < 64 << 20 and time.monotonic() - started < 20:
            sock.sendall(pings)
            sent += len(pings)
    except TimeoutError:
        pass
    finally:
        sock.close()
    # Kernel buffers on both sides hold a few MB; 64 MB went through before.
    assert sent < 24 << 20, f"{sent >> 20} MB of pings read without a pong read"


def test_a_text_frame_that_is_not_utf8_is_closed_with_no_traceback(
        echo: RunningServer) -> None:
    data = answer_to(echo.port, frame(0x1, b"\xff\xfe"), rid="not-utf8")
    assert data[:2] == b"\x88\x02" and struct.unpack("!H", data[2:4])[0] == 1007, data
    time.sleep(0.2)
    lines = [line for line in echo.logs().splitlines() if "Invalid UTF-8" in line]
    assert lines and all('"level": "warning"' in line and "Traceback" not in line
                         for line in lines), lines
    # uvicorn's line, logged outside the session's task, with the session's id.
    assert '"request_id": "not-utf8"' in lines[-1], lines


@pytest.mark.parametrize("bad", [b"Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13",
                                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                 b"Sec-WebSocket-Version: 99"])
def test_a_handshake_the_library_refuses_gets_the_json_error(echo: RunningServer,
                                                             bad: bytes) -> None:
    """Refused by websockets itself (before auth), it was plain text; and as the app never
    ran, it had no usage record and no count either."""
    rid = f"refused-{len(bad)}"
    with socket.create_connection(("127.0.0.1", echo.port), timeout=10) as sock:
        sock.sendall(b"GET /ws?x=1 HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nX-Request-Id: " + rid.encode() + b"\r\n" +
                     bad + b"\r\n\r\n")
        data = b""
        while part := sock.recv(4096):
            data += part
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    assert status in (400, 426) and b"application/json" in head, data
    assert json.loads(body)["error"]["code"] == "invalid_websocket_handshake"
    record = echo.wait_usage(rid)
    assert (record["status"], record["kind"], record["path"], record["error"],
            record["bytes_out"]) == (status, "websocket", "/ws", "invalid_websocket_handshake",
                                     len(body))


def test_a_bad_frame_read_with_the_start_of_one_past_the_limit_is_closed_cleanly(
        echo: RunningServer) -> None:
    """The frames read before one past ws_max_size are handed on first (a whole audio
    frame was dropped). A text frame among them that is not UTF-8 made uvicorn answer
    1007 on a connection already closing: "Fatal error on transport", the socket cut
    with no close frame. The refusal's 1009 is the close sent."""
    past = struct.pack("!BBQ", 0x82, 0x80 | 127, 1 << 40) + os.urandom(4)  # 1 TB, masked
    data = answer_to(echo.port, frame(0x1, b"\xff\xfe") + past)
    assert data[:1] == b"\x88" and struct.unpack("!H", data[2:4])[0] == 1009, data
    time.sleep(0.2)
    assert "Fatal error on transport" not in echo.logs()
