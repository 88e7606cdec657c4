"""Bounds on a request's head (servers/common/http_protocol.py), before auth: its size,
its time, and the contract's JSON body on what the HTTP parser itself refuses."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from tests.support.servers import RunningServer, start_server


@pytest.fixture(scope="module")
def quick_server():
    """One second for a head (and a body) to arrive."""
    server = start_server("tests.common.echo_server", env={
        "RYMI_ECHO_SERVER_TOKENS": "head-token", "RYMI_ECHO_SERVER_BODY_TIMEOUT_S": "1"},
        ready_timeout=30)
    yield server
    server.stop()


def exchange(port: int, chunks: list[bytes], pause_s: float = 0.0) -> tuple[int, dict, float]:
    """Send ``chunks`` (``pause_s`` apart) on one connection; the answer's status, JSON
    body, and when the server closed the connection (seconds after the first send)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        started = time.monotonic()
        try:
            for chunk in chunks:
                sock.sendall(chunk)
                time.sleep(pause_s)
        except OSError:  # refused and closed mid-send: read what it said
            pass
        data = b""
        while True:
            try:
                part = sock.recv(65536)
            except ConnectionResetError:
                break
            if not part:
                break
            data += part
        closed_after = time.monotonic() - started
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body), closed_after


def test_a_head_past_64_kib_is_431_before_auth(quick_server: RunningServer) -> None:
    lines = [b"X-Pad-%d: %s\r\n" % (i, b"a" * 1000) for i in range(200)]  # 200 KB
    status, body, _ = exchange(quick_server.port, [b"GET /stream HTTP/1.1\r\nHost: t\r\n",
                                                   *lines, b"\r\n"])
    assert status == 431 and body["error"]["code"] == "headers_too_large"
    # Past the bound in one read: it was measured only when a read left it unfinished.
    one = b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Pad: " + b"a" * 70_000 + b"\r\n\r\n"
    status, body, _ = exchange(quick_server.port, [one])
    assert status == 431 and body["error"]["code"] == "headers_too_large"
    # Big but within the bound: served (here: refused by auth, after the whole head).
    ok = httpx.get(f"{quick_server.url}/healthz", headers={"X-Pad": "a" * 30_000})
    assert ok.status_code == 200


def test_a_body_after_a_head_split_at_its_end_is_no_head(quick_server: RunningServer) -> None:
    """The head's blank line split across two reads, then 100 KB of body with it: the
    body is not counted as head (a 431 for a request within every bound)."""
    head = (b"POST /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
            b"Content-Length: 100000\r\n\r")
    status, body, _ = exchange(quick_server.port, [head, b"\n" + b"b" * 100_000],
                               pause_s=0.2)
    assert status == 401, body  # the whole head read, then the auth it lacks


def test_a_head_trickled_past_the_timeout_is_408(quick_server: RunningServer) -> None:
    lines = [b"GET /healthz HTTP/1.1\r\n", *(b"X-Slow-%d: 1\r\n" % i for i in range(8))]
    status, body, _ = exchange(quick_server.port, lines, pause_s=0.3)
    # The head never ends (no blank line): only the timeout can answer it.
    assert status == 408 and body["error"]["code"] == "header_timeout"


def test_the_next_head_on_a_kept_alive_connection_is_timed_too(
        quick_server: RunningServer) -> None:
    """The head timer starts again for each request of a connection: behind Caddy or
    nginx every connection is kept alive, and a second head trickled a line at a time
    held it for ever (the slowloris hole the first request's timer closes)."""
    with socket.create_connection(("127.0.0.1", quick_server.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        first = _whole_response(sock)
        assert first.startswith(b"HTTP/1.1 200"), first[:100]
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
        started, data = time.monotonic(), b""
        sock.settimeout(0.3)
        while time.monotonic() - started < 4 and b"\r\n\r\n" not in data:
            try:
                sock.sendall(b"X-Slow: 1\r\n")
                data += sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
        took = time.monotonic() - started
    assert data.startswith(b"HTTP/1.1 408") and b'"header_timeout"' in data, data[:200]
    assert took < 3.5, took  # the 1 s bound, not the 4 s this waits at most


def _whole_response(sock: socket.socket) -> bytes:
    """One response with a Content-Length, head and body: under load its body came in a
    segment of its own, and was read as the start of the next response (CI54)."""
    data = b""
    while b"\r\n\r\n" not in data or len(data) < _response_length(data):
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    return data


def _response_length(data: bytes) -> int:
    head, _, _ = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    return len(head) + 4 + length


def test_a_request_the_parser_refuses_gets_the_json_error_body(
        quick_server: RunningServer) -> None:
    smuggle = (b"POST /stream HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    status, body, _ = exchange(quick_server.port, [smuggle])
    assert status == 400 and body["error"]["code"] == "invalid_http"
    assert httpx.get(f"{quick_server.url}/healthz").status_code == 200  # still serving


def _pipelined(port: int, requests: int, answers: int | None = None) -> bytes:
    """``requests`` requests with no token written back to back before reading any
    answer; everything the server said until it closed (or gave ``answers`` answers)."""
    one = b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(one * requests)
        except OSError:
            pass
        data = b""
        # A client that pipelines a few reads its answers (its half-close would end the
        # connection for uvicorn before the last one); a flood reads until it is closed.
        while (requests > 3 and answers is None) or data.count(b"HTTP/1.1 ") < (
                answers or requests):
            try:
                part = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not part:
                break
            data += part
    return data


def test_a_pipelining_flood_is_refused_not_queued(quick_server: RunningServer) -> None:
    """uvicorn parsed every request of a read and queued them all, reading on after each
    answer: requests sent back to back and never read (no token needed, a 401 is an
    answer) grew a server by 300-400 MB a connection. Past 8 queued: 400, closed."""
    data = _pipelined(quick_server.port, 2000)
    answers = data.count(b"HTTP/1.1 ")
    assert answers <= 10, answers  # the one running, 8 queued, the refusal
    assert b'"too_many_pipelined"' in data
    few = _pipelined(quick_server.port, 3)  # a few pipelined, as HTTP/1.1 allows: answered
    assert few.count(b"HTTP/1.1 401") == 3, few[:300]
    assert httpx.get(f"{quick_server.url}/healthz").status_code == 200  # still serving
    # The bound itself: one running and 8 queued are all answered; a 10th is refused.
    nine = _pipelined(quick_server.port, 9, answers=9)
    assert nine.count(b"HTTP/1.1 401") == 9 and b"too_many_pipelined" not in nine
    ten = _pipelined(quick_server.port, 10, answers=10)
    assert b'"too_many_pipelined"' in ten, ten[-300:]


def test_an_early_answer_to_a_body_still_coming_is_not_lost_to_a_reset(
        quick_server: RunningServer) -> None:
    """A 401 to a large body with ``Connection: close`` (nginx's default to its
    upstreams): uvicorn closed with the body unread, the kernel sent a reset, and the
    reset dropped the answer the client had not read yet (behind nginx, 257 of 300 early
    413s were a 502). Now the close is a FIN, and the rest of the body is read and
    dropped."""
    body = b"x" * 1_500_000
    with socket.create_connection(("127.0.0.1", quick_server.port), timeout=10) as sock:
        sock.sendall(b"POST /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                     b"Authorization: Bearer wrong\r\nContent-Length: %d\r\n\r\n" % len(body)
                     + body[:300_000])  # past what uvicorn reads (64 KiB) before it pauses:
        # unread input at the close, so the old close was a reset every time (with 100 KB
        # it was all read half the time, and the test caught the bug only then)
        time.sleep(0.5)  # the 401 is sent, and the connection closed, meanwhile
        sock.sendall(body[300_000:400_000])  # still sending, as a proxy relaying a body
        time.sleep(0.2)
        data = b""
        while part := sock.recv(65536):  # a reset raised ConnectionResetError (here or
            # at the sendall above)
            data += part
    assert data.startswith(b"HTTP/1.1 401 ") and data.endswith(b'"invalid_token"}}')


def test_each_refused_head_is_a_finished_request_with_its_record(
        quick_server: RunningServer) -> None:
    """A head the HTTP layer refuses never reaches the app: it had no usage record and no
    count, so a flood of them showed nowhere. Each is one record and one count now (a
    probe's path apart, as the app's own answers there)."""
    from tests.support.servers import metric, settled_metric

    def count(status: str) -> float:
        return metric(quick_server, "rymi_requests_total", status=status)

    before = {s: count(s) for s in ("400", "408", "431")}
    pad = [b"X-Pad-%d: %s\r\n" % (i, b"a" * 1000) for i in range(80)]  # 80 KB
    assert exchange(quick_server.port, [b"GET /stream?x=1 HTTP/1.1\r\nHost: t\r\n"
                                        b"X-Request-Id: head-431\r\n", *pad])[0] == 431
    assert exchange(quick_server.port, [b"GET /stream HTTP/1.1\r\nX-Request-Id: head-408\r\n"
                                        b"X-Slow: 1\r\n", b"X-Slow: 2\r\n"], 0.6)[0] == 408
    assert exchange(quick_server.port, [b"NOT HTTP AT ALL\r\n\r\n"])[0] == 400
    assert exchange(quick_server.port, [b"GET /healthz HTTP/1.1\r\n", *pad])[0] == 431
    for rid, status, code in (("head-431", 431, "headers_too_large"),
                              ("head-408", 408, "header_timeout")):
        record = quick_server.wait_usage(rid)
        assert (record["status"], record["error"], record["path"], record["kind"]) == \
            (status, code, "/stream", "http")
        assert record["bytes_in"] == 0 and record["bytes_out"] > 0
        assert record["first_byte_s"] <= record["total_s"]
    (broken,) = [r for r in quick_server.usage_records() if r.get("error") == "invalid_http"
                 and r["status"] == 400 and r["path"] == "-"]
    assert broken["client_ip"] == "127.0.0.1"
    assert settled_metric(quick_server, "rymi_requests_total", before["431"] + 1,
                          status="431") == before["431"] + 1  # (not the probe's)
    assert count("408") == before["408"] + 1 and count("400") == before["400"] + 1
    assert not [r for r in quick_server.usage_records() if r["path"] == "/healthz"]
