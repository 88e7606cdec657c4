"""A tiny HTTP/1.1 client over a raw socket that keeps the server's chunk framing.

httpx hands back network reads, not HTTP chunks; these tests need the chunks themselves
(each a whole number of samples) and whether the terminating zero-size chunk came.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class ChunkedReply:
    status: int
    headers: dict[str, str]
    chunks: list[bytes] = field(default_factory=list)
    terminated: bool = False  # the zero-size chunk arrived: a clean end


class _Reader:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed")
        self.buf += data

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def post_chunks(port: int, body: dict, path: str = "/tts", token: str | None = None,
                timeout: float = 60) -> Iterator[ChunkedReply]:
    """Yields the reply after the headers, then again after every chunk (same object)."""
    payload = json.dumps(body).encode()
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"{auth}Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head + payload)
        reader = _Reader(sock)
        status = int(reader.line().split()[1])
        headers = {}
        while line := reader.line():
            key, _, value = line.decode("latin-1").partition(":")
            headers[key.strip().lower()] = value.strip()
        reply = ChunkedReply(status, headers)
        yield reply
        if headers.get("transfer-encoding") != "chunked":
            return
        try:
            while True:
                size = int(reader.line().split(b";")[0], 16)
                if size == 0:
                    reply.terminated = True
                    return
                reply.chunks.append(reader.exactly(size))
                reader.exactly(2)  # CRLF after the chunk
                yield reply
        except (ConnectionError, OSError):
            return  # aborted: terminated stays False


def collect(port: int, body: dict, **kw: object) -> ChunkedReply:
    replies = post_chunks(port, body, **kw)  # type: ignore[arg-type]
    reply = next(replies)
    for _ in replies:  # read to the end (or the abort)
        pass
    return reply
