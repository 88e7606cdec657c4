"""A TTS server with a common mistake, for the checker to catch: our real server's audio,
re-encoded on its way out the way a custom endpoint gets it wrong.

``/<mistake>/tts`` forwards the request to the real server (``upstream``) and answers its
PCM16 body as float32 samples, big-endian samples, two interleaved channels, or not at
all (a 200 with an empty body); ``lax-options`` drops the URL's query instead of refusing
what it does not know; ``endless`` repeats the audio without end. Every other answer (an error) is passed on as it came.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import numpy as np

MISTAKES = ("float32", "bigendian", "stereo", "empty", "lax-options", "endless")


def _wrong(pcm: bytes, mistake: str) -> bytes:
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
    if mistake == "float32":
        return (samples.astype("<f4") / 32768).tobytes()
    if mistake == "bigendian":
        return samples.astype(">i2").tobytes()
    if mistake == "stereo":
        return np.repeat(samples, 2).astype("<i2").tobytes()
    return pcm if mistake in ("lax-options", "endless") else b""


class BrokenTts:
    def __init__(self, upstream: str) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802  (/voices, /healthz)
                r = httpx.get(outer.upstream + "/" + self.path.split("/", 2)[-1])
                self._answer(r.status_code, r.headers.get("content-type", ""), r.content)

            def do_POST(self) -> None:  # noqa: N802
                mistake, _, rest = self.path.lstrip("/").partition("/")
                if mistake == "lax-options":
                    rest = rest.partition("?")[0]
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                try:
                    r = httpx.post(f"{outer.upstream}/{rest}", content=body, timeout=60,
                                   headers={"content-type": "application/json"})
                except httpx.HTTPError as exc:  # kept for the test's failure message
                    outer.errors.append(f"POST /{rest} {body[:80]!r}: {exc!r}")
                    self._answer(502, "text/plain", repr(exc).encode())
                    return
                if r.status_code != 200:
                    self._answer(r.status_code, r.headers.get("content-type", ""), r.content)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                data = _wrong(r.content, mistake)
                for _ in range(10_000 if mistake == "endless" else 1):  # until the reader goes
                    for i in range(0, len(data), 4800):
                        piece = data[i:i + 4800]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")

            def _answer(self, status: int, ctype: str, content: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args: object) -> None:
                pass

        self.upstream = upstream.rstrip("/")
        self.errors: list[str] = []  # what reaching the real server raised
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> BrokenTts:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
