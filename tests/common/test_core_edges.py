"""Edges of the shared core on real processes: secrets, unknown paths, a handler's bug,
the client's address behind a proxy, the drain's bound, the dev certificate's names."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import websockets

from rymi_endpoints.certs import make_dev_certs
from rymi_endpoints.settings_table import markdown_table
from tests.support.clients import half_body
from tests.support.servers import REPO, start_server

from .conftest import TOKENS

TOKEN = TOKENS.split(",")[0]
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _run_echo(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os
    return subprocess.run([sys.executable, "-m", "tests.common.echo_server", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("content", [None, "", "# only a comment\n\n"])
def test_a_token_file_without_tokens_stops_start_up(tmp_path: Path, content: str | None):
    path = tmp_path / "tokens.txt"
    if content is not None:
        path.write_text(content)
    proc = _run_echo(env={"RYMI_ECHO_SERVER_TOKEN_FILE": str(path)})
    # A file meant to lock the server must never leave it open: one line, exit 2.
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "RYMI_ECHO_SERVER_TOKEN_FILE" in proc.stderr and str(path) in proc.stderr


def test_a_port_in_use_is_an_error_and_never_said_to_be_listened_on():
    import socket
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = str(holder.getsockname()[1])
        proc = _run_echo(env={"RYMI_ECHO_SERVER_PORT": port, "RYMI_ECHO_SERVER_HOST": "127.0.0.1"})
    assert proc.returncode != 0
    assert "address already in use" in proc.stderr.lower(), proc.stderr
    assert "listening on" not in proc.stderr  # it was logged before the bind failed
    # Found before the app starts: an LLM loaded its engine (30 s, 3 GB) first, then
    # exited, and again in a supervisor's restart loop.
    assert "application startup" not in proc.stderr.lower(), proc.stderr


def test_a_host_that_cannot_be_listened_on_is_named():
    proc = _run_echo(env={"RYMI_ECHO_SERVER_HOST": "bogus.invalid"})
    assert proc.returncode == 3, proc.stderr
    assert "cannot listen on 'bogus.invalid'" in proc.stderr
    assert "RYMI_ECHO_SERVER_HOST" in proc.stderr


def _echo_until(said: str, log: Path, code: str = "", **env: str) -> subprocess.Popen:
    """The echo server as its own process (``code`` run first), once its log has
    ``said`` (a regular expression) or 30 s have passed."""
    import os
    start = code + "; import runpy, sys; sys.argv = ['echo']; " \
        "runpy.run_module('tests.common.echo_server', run_name='__main__')"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-c", start], cwd=REPO, stdout=out,
                                stderr=subprocess.STDOUT, env={**os.environ, **env})
    for _ in range(300):
        if re.search(said, log.read_text()):
            break
        time.sleep(0.1)
    return proc


def test_every_address_is_ipv4_and_ipv6_and_the_port_is_the_bound_one(tmp_path: Path):
    """``::`` answered on IPv6 only where the system binds v6-only; port 0 was logged
    as ":0", and an IPv6 address unbracketed (no URL)."""
    log = tmp_path / "echo.log"
    proc = _echo_until("listening on", log, "import sys", RYMI_ECHO_SERVER_HOST="::",
                       RYMI_ECHO_SERVER_PORT="0")
    try:
        said = re.search(r"echo listening on http://\[::\]:(\d+)", log.read_text())
        assert said, log.read_text()[-2000:]
        for host in ("127.0.0.1", "[::1]"):
            r = httpx.get(f"http://{host}:{said[1]}/healthz", timeout=10)
            assert r.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)



def test_secrets_are_never_flags():
    proc = _run_echo("--tokens", "visible-in-ps")
    assert proc.returncode == 2 and "unrecognized arguments: --tokens" in proc.stderr
    table = markdown_table()
    assert "`--tokens`" not in table and "`--upstream-token`" not in table
    assert table.count("(env only: a secret)") >= 2


def test_a_url_saved_with_a_trailing_slash_is_the_same_endpoint(echo_server):
    r = httpx.post(f"{echo_server.url}/stream/", headers=AUTH, content=b"x", timeout=30)
    assert r.status_code == 200 and r.content == b"x" * 10, r.headers
    assert httpx.get(f"{echo_server.url}/healthz/", timeout=10).status_code == 200


def test_a_bug_before_the_first_byte_is_a_shaped_500_with_its_request_id(echo_server):
    r = httpx.get(f"{echo_server.url}/boom", headers={**AUTH, "X-Request-ID": "bug-1"})
    assert r.status_code == 500
    assert r.json() == {"error": {"message": "internal server error", "type": "server_error",
                                  "code": "internal_error"}}
    assert r.headers["x-request-id"] == "bug-1"
    record = echo_server.wait_usage("bug-1")
    assert record["status"] == 500 and record["error"] == "internal_error"
    assert "request bug-1 failed" in echo_server.logs()  # the traceback is logged once
    assert httpx.get(f"{echo_server.url}/healthz").status_code == 200  # still serving


async def test_a_refused_upgrade_carries_its_request_id(echo_server):
    with pytest.raises(websockets.InvalidStatus) as info:
        async with websockets.connect(f"{echo_server.ws_url}/ws",
                                      additional_headers={"X-Request-ID": "ws-deny-1"}):
            pass
    assert info.value.response.status_code == 401
    assert info.value.response.headers["x-request-id"] == "ws-deny-1"


async def test_a_websocket_to_an_unknown_path_is_a_shaped_404(echo_server):
    with pytest.raises(websockets.InvalidStatus) as info:
        async with websockets.connect(f"{echo_server.ws_url}/nowhere", additional_headers=AUTH):
            pass
    response = info.value.response
    assert response.status_code == 404
    assert b'"code": "not_found"' in response.body or b'"code":"not_found"' in response.body


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD"])
def test_plain_http_to_a_websocket_path_is_told_to_upgrade(echo_server, method):
    """curl or a browser on the documented /stt was told "Not Found" (404)."""
    r = httpx.request(method, f"{echo_server.url}/ws", headers={**AUTH, "X-Request-ID":
                                                              f"plain-{method}"})
    assert r.status_code == 426 and r.headers["upgrade"] == "websocket"
    if method != "HEAD":
        assert r.json()["error"]["code"] == "upgrade_required"
    assert echo_server.wait_usage(f"plain-{method}")["error"] == "upgrade_required"
    assert httpx.get(f"{echo_server.url}/nowhere", headers=AUTH).status_code == 404


def test_client_ip_comes_from_a_trusted_proxy_only(echo_server):
    forwarded = {**AUTH, "X-Forwarded-For": "203.0.113.7"}
    r = httpx.post(f"{echo_server.url}/stream", content=b"x",
                   headers={**forwarded, "X-Request-ID": "via-proxy"})
    assert r.status_code == 200
    # The test client is on loopback, which the default trusts as a proxy.
    assert echo_server.wait_usage("via-proxy")["client_ip"] == "203.0.113.7"

    untrusting = start_server("tests.common.echo_server", env={
        "RYMI_ECHO_SERVER_FORWARDED_ALLOW_IPS": "192.0.2.1",
        "RYMI_ECHO_SERVER_CHUNK_DELAY_S": "0"}, ready_timeout=30)
    try:
        httpx.post(f"{untrusting.url}/stream", content=b"x",
                   headers={**forwarded, "X-Request-ID": "not-a-proxy"})
        assert untrusting.wait_usage("not-a-proxy")["client_ip"] == "127.0.0.1"
    finally:
        untrusting.stop()


def test_the_drain_bound_is_the_whole_shutdown():
    # A stream of 10 x 1 s against a 1 s drain: it is cut off at the bound, and the process
    # is gone soon after (uvicorn's own graceful wait no longer adds a second bound).
    server = start_server("tests.common.echo_server", env={
        "RYMI_ECHO_SERVER_CHUNK_DELAY_S": "1", "RYMI_ECHO_SERVER_DRAIN_TIMEOUT_S": "1"},
        ready_timeout=30)
    got: dict[str, object] = {}

    def stream() -> None:
        try:
            with httpx.stream("POST", f"{server.url}/stream", timeout=30) as r:
                got["body"] = b"".join(r.iter_raw())
        except httpx.HTTPError as exc:
            got["error"] = exc

    t = threading.Thread(target=stream)
    t.start()
    time.sleep(0.5)
    server.signal(signal.SIGTERM)
    signalled = time.monotonic()
    code = server.proc.wait(30)
    took = time.monotonic() - signalled
    t.join(10)
    print(f"\nshutdown took {took:.2f}s with a 1 s drain bound")
    assert code == 0
    assert "error" in got  # cut: a stream that did not finish never looks complete
    assert took < 1 + 4  # the bound plus uvicorn's cut-off second, with room for a slow box
    assert "cutting them off" in server.logs()
    assert '"level": "error"' not in server.logs()  # the cut it meant is no error


def test_dev_certificate_is_made_anew_for_new_names(tmp_path: Path):
    first = make_dev_certs(tmp_path)
    before = first["cert"].read_bytes()
    assert make_dev_certs(tmp_path)["cert"].read_bytes() == before  # idempotent
    again = make_dev_certs(tmp_path, ("localhost", "voice.internal"))
    assert again["cert"].read_bytes() != before  # --name is honoured, not ignored
    from cryptography import x509
    cert = x509.load_pem_x509_certificate(again["cert"].read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "voice.internal" in san.get_values_for_type(x509.DNSName)


def test_a_blank_path_setting_is_unset(monkeypatch: pytest.MonkeyPatch):
    from servers.common.config import load_settings
    from tests.common.echo_server import EchoSettings
    # A compose file's `RYMI_TLS_CERT: ""` means "no TLS", not "the current directory".
    for name in ("RYMI_TLS_CERT", "RYMI_ECHO_SERVER_TLS_KEY", "RYMI_TOKEN_FILE"):
        monkeypatch.setenv(name, "")
    settings = load_settings(EchoSettings, [])
    assert settings.tls_cert is None and settings.tls_key is None
    assert settings.token_file is None and settings.scheme == "http"


def test_the_start_up_heap_is_frozen_out_of_garbage_collection_once_ready() -> None:
    """A full collection over what start-up made (vLLM and torch: ~630k objects) stalls
    the loop ~400 ms; once ready, collections must walk only what serving made."""
    import asyncio
    import gc

    from servers.common.app import create_app
    from servers.common.config import ServerSettings

    made: list[object] = []

    async def startup(app) -> None:
        made.extend([{"weights": i}] for i in range(1000))  # what a model load leaves

    async def main() -> tuple[int, int]:
        app = create_app(settings=ServerSettings(), channel="test", routes=[], startup=startup)
        gc.unfreeze()
        before = gc.get_freeze_count()
        async with app.router.lifespan_context(app):
            while not app.state.server.ready:
                await asyncio.sleep(0.01)
            return before, gc.get_freeze_count()

    try:
        before, after = asyncio.run(main())
    finally:
        gc.unfreeze()
    assert before == 0 and after >= len(made) + 1000


def test_a_client_gone_mid_body_is_499_not_a_server_error(echo_server):
    """Ordinary client behaviour: no 500 in the metrics, no traceback in the log."""
    half_body(echo_server.port, "/stream", "half-body-1", TOKEN)
    record = echo_server.wait_usage("half-body-1")
    assert record["status"] == 499 and record["client_disconnected"] is True
    assert "error" not in record
    assert "request half-body-1 failed" not in echo_server.logs()


@pytest.mark.parametrize("given", ["", "   ", "a\tb"])
def test_a_blank_request_id_is_replaced_by_one_of_ours(echo_server, given: str):
    """Blank or unprintable (a tab splits a log line's fields): one of ours instead."""
    import socket

    with socket.create_connection(("127.0.0.1", echo_server.port), timeout=10) as sock:
        # (raw: httpx will not send a blank header value)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                     b"X-Request-ID: " + given.encode() + b"\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head and (part := sock.recv(65536)):
            head += part
    (rid,) = [line.split(b":", 1)[1].strip().decode() for line in head.split(b"\r\n")
              if line.lower().startswith(b"x-request-id:")]
    assert len(rid) == 32 and all(c in "0123456789abcdef" for c in rid), rid


@pytest.mark.parametrize("lowered_hard", [False, True])
def test_the_open_files_limit_is_raised_or_said(tmp_path: Path, lowered_hard: bool):
    """At the soft limit uvloop resets new connections, health checks too, with nothing
    in the log: a server raises it to the hard limit, and says so where that is low."""
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    hard = 64 if lowered_hard else hard
    log = tmp_path / "echo.log"
    # A soft limit of 64, as a strict container might give.
    proc = _echo_until("listening on", log, "import resource; resource.setrlimit("
                       f"resource.RLIMIT_NOFILE, (64, {hard}))", RYMI_ECHO_SERVER_PORT="0")
    try:
        limits = Path(f"/proc/{proc.pid}/limits").read_text()
        soft = next(line.split()[3] for line in limits.splitlines()
                    if line.startswith("Max open files"))
        assert soft == ("65536" if hard == resource.RLIM_INFINITY else str(hard)), limits
        said = "open files limit (ulimit -n) is 64" in log.read_text()
        assert said is lowered_hard, log.read_text()[-2000:]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
