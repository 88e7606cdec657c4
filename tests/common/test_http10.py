"""An HTTP/1.0 client gets a streamed answer it can read: framed by the connection's
close, never chunked (RFC 9112 6.1: chunked is not sent to a 1.0 request)."""

from __future__ import annotations

import socket

from tests.support.servers import RunningServer

from .conftest import TOKENS

TOKEN = TOKENS.split(",")[0]


def raw_exchange(port: int, request: bytes) -> tuple[bytes, dict[bytes, bytes], bytes]:
    """-> (status line, headers, body as it came until the server closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        data = b""
        while part := sock.recv(65536):
            data += part
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines)}
    return status, headers, body


def stream_request(version: bytes, body: bytes = b"") -> bytes:
    return (b"POST /stream HTTP/%s\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (version, TOKEN.encode(), len(body), body))


def test_a_stream_to_http_10_is_close_delimited(echo_server: RunningServer):
    status, headers, body = raw_exchange(echo_server.port, stream_request(b"1.0"))
    assert status.split()[1] == b"200"
    assert b"transfer-encoding" not in headers and b"content-length" not in headers
    assert headers[b"connection"] == b"close"
    assert body == b"".join(b"chunk%d;" % i for i in range(10))  # no chunk sizes in it


def test_a_stream_to_http_11_is_still_chunked(echo_server: RunningServer):
    request = stream_request(b"1.1", b"ab").replace(b"Host: t", b"Host: t\r\nConnection: close")
    status, headers, body = raw_exchange(echo_server.port, request)
    assert status.split()[1] == b"200" and headers[b"transfer-encoding"] == b"chunked"
    assert body == b"2\r\nab\r\n" * 10 + b"0\r\n\r\n"


def test_a_sized_answer_to_http_10_keeps_its_length(echo_server: RunningServer):
    status, headers, body = raw_exchange(echo_server.port, b"GET /healthz HTTP/1.0\r\n\r\n")
    assert status.split()[1] == b"200" and b"transfer-encoding" not in headers
    assert int(headers[b"content-length"]) == len(body) > 0
