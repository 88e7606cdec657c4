"""The checker's rules on hand-made answers: what a broken server writes must fail."""

from __future__ import annotations

import json

import pytest

from rymi_endpoints.check.client import Target
from rymi_endpoints.check.llm import _chunks, models_url
from rymi_endpoints.check.report import Report
from rymi_endpoints.check.sse import parse_sse


def _stream(*chunks: dict) -> bytes:
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + \
        b"data: [DONE]\n\n"


def _chunk(delta: dict, finish: str | None = None, **fields: object) -> dict:
    return {"id": "c1", "object": "chat.completion.chunk", "created": 7, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **fields}


def _outcomes(raw: bytes) -> dict[str, str]:
    report = Report()
    _chunks(report, parse_sse(raw), "stream", include_usage=False)
    return {r.rule: r.outcome for r in report.results}


def test_a_well_formed_stream_passes() -> None:
    got = _outcomes(_stream(_chunk({"role": "assistant", "content": ""}),
                            _chunk({"content": "Hi"}), _chunk({}, "stop")))
    assert got["stream.one_id"] == got["stream.finish_reason_last"] == "pass", got


@pytest.mark.parametrize("broken,rule", [
    # No created anywhere: {None} is one value, and passed.
    ("no_created", "stream.one_id"),
    # An empty finish_reason is no reason: it passed as "not None".
    ("empty_finish", "stream.finish_reason_last"),
])
def test_what_a_broken_server_writes_fails(broken: str, rule: str) -> None:
    chunks = [_chunk({"role": "assistant", "content": ""}), _chunk({"content": "Hi"}),
              _chunk({}, "" if broken == "empty_finish" else "stop")]
    if broken == "no_created":
        for c in chunks:
            del c["created"]
    assert _outcomes(_stream(*chunks))[rule] == "fail"


@pytest.mark.parametrize("url,models", [
    ("https://gw.example/v1/chat/completions", "https://gw.example/v1/models"),
    # Behind a path prefix: /v1/models at the root was a 404 for a correct server.
    ("https://gw.example/llm/v1/chat/completions?x=1", "https://gw.example/llm/v1/models"),
    ("https://llm.example/", "https://llm.example/v1/models"),  # a host of its own
])
def test_the_models_url_sits_beside_the_chat_url(url: str, models: str) -> None:
    assert models_url(Target(url, None, None)) == models


def test_a_ca_file_that_does_not_exist_is_said_as_such(tmp_path) -> None:
    """It was reported as the channel failing ("reachable: FileNotFoundError")."""
    import subprocess
    import sys

    from tests.support.servers import REPO

    proc = subprocess.run([sys.executable, "-m", "rymi_endpoints", "check", "--tts",
                           "https://127.0.0.1:9/tts", "--ca", str(tmp_path / "nope.pem"),
                           "--json", str(tmp_path / "r.json")],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--ca" in proc.stdout and "no such file" in proc.stdout


def test_a_refusal_probe_answered_with_the_work_is_not_read() -> None:
    """A server that synthesises what it should refuse streams minutes of audio: the
    probe reads the head, reports the 200 and hangs up, rather than reading it all (the
    check of one such server took as long as its audio)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import httpx

    from rymi_endpoints.check.client import check_error

    written, hung_up = [], threading.Event()

    class Endless(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["content-length"]))
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for _ in range(2000):  # ~20 s of audio written at 10 ms a chunk, at most
                    self.wfile.write(b"12c0\r\n" + bytes(4800) + b"\r\n")
                    self.wfile.flush()
                    written.append(1)
                    hung_up.wait(0.01)
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                hung_up.set()

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Endless)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        report = Report()
        with httpx.Client() as client:
            check_error(report, "tts", "error.text_too_long_413", client,
                        f"http://127.0.0.1:{httpd.server_address[1]}/tts", 413,
                        json={"text": "long"})
        assert hung_up.wait(20), "the probe read the whole answer"
    finally:
        httpd.shutdown()
    (result,) = report.results
    assert result.outcome == "fail" and "HTTP 200" in result.evidence, result
    assert len(written) < 2000
