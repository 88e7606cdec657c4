"""``rymi-endpoints up`` as a user runs it: the TTS server (the quickest to load) and the
demo console, stopped by a closed terminal, by one of them dying, by ``up`` being killed;
refused before any start when a port is taken or not a port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import _clean_env
from tests.support.servers import REPO, child_pids, free_port

BANNER = "Rymi endpoints are up"


def start_up(tmp_path: Path, **env: str) -> tuple[subprocess.Popen, Path, dict[str, int]]:
    ports = {"tts": free_port(), "demo": free_port()}
    log = tmp_path / "up.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rymi_endpoints", "up", "tts"], cwd=REPO,
        stdout=log.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env={**os.environ, **_clean_env("RYMI_TTS_"), **_clean_env("RYMI_DEMO_"),
             "RYMI_TTS_PORT": str(ports["tts"]), "RYMI_DEMO_PORT": str(ports["demo"]), **env})
    return proc, log, ports


def wait_for(log: Path, text: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
        time.sleep(0.2)


@contextlib.contextmanager
def up_running(tmp_path: Path, until: str = BANNER,
               **env: str) -> Iterator[tuple[subprocess.Popen, Path, dict[str, int]]]:
    """``up`` started and past ``until`` in its output; killed at the end whatever
    happened (a test that failed half way leaves nothing running)."""
    proc, log, ports = start_up(tmp_path, **env)
    try:
        wait_for(log, until, proc)
        yield proc, log, ports
    finally:
        proc.kill()


def gone(pids: list[int], timeout: float = 40) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{p}").exists() and
                   Path(f"/proc/{p}/stat").read_text().split()[2] != "Z" for p in pids):
            return True
        time.sleep(0.2)
    return False


def test_a_closed_terminal_drains_both_and_exits_0(tmp_path):
    with up_running(tmp_path) as (proc, log, ports):
        text = log.read_text()
        assert f"http://localhost:{ports['tts']}/tts" in text
        assert f"http://localhost:{ports['demo']}/" in text
        assert "WARNING" not in text  # the demo on loopback: only this machine reaches it
        children = child_pids(proc.pid)
        assert len(children) == 2
        proc.send_signal(signal.SIGHUP)
        assert proc.wait(60) == 0, log.read_text()[-3000:]
        assert gone(children)


def test_an_open_server_behind_a_demo_on_the_network_is_warned_about(tmp_path):
    with up_running(tmp_path, "Ctrl-C stops all of them", RYMI_DEMO_HOST="0.0.0.0") as \
            (proc, log, _):
        assert "WARNING: the demo console listens on 0.0.0.0 and relays to tts with no " \
            "token" in log.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0


def test_one_server_dying_stops_the_others_and_fails(tmp_path):
    with up_running(tmp_path) as (proc, log, _):
        children = child_pids(proc.pid)
        os.kill(tts_child(proc.pid), signal.SIGKILL)
        assert proc.wait(60) == 1
        assert "tts: exited with -9; stopping the others" in log.read_text()
        assert gone(children)


def tts_child(up_pid: int) -> int:
    return next(p for p in child_pids(up_pid)
                if "servers.tts" in Path(f"/proc/{p}/cmdline").read_text())


@contextlib.contextmanager
def held_stopped(pid: int) -> Iterator[int]:
    """The process stopped (SIGSTOP) for the block; killed after it whatever happened:
    a stopped process takes no SIGTERM, and would outlive the suite."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_a_server_dying_during_the_drain_fails_the_run(tmp_path):
    """Ctrl-C, and a server dies instead of draining (the TTS server held stopped so its
    drain cannot end first, then killed): the run must not end as a clean 0."""
    with up_running(tmp_path) as (proc, log, _):
        children = child_pids(proc.pid)
        with held_stopped(tts_child(proc.pid)) as tts:
            proc.send_signal(signal.SIGINT)
            wait_for(log, "stopping: draining", proc)
            os.kill(tts, signal.SIGKILL)
            assert proc.wait(60) == 1, log.read_text()[-3000:]
        assert gone(children)


def test_a_second_ctrl_c_kills_a_server_still_draining(tmp_path):
    """The first Ctrl-C drains; a server that does not finish (held stopped here) is
    killed by the second, and up exits at once, failed, with nothing left running."""
    with up_running(tmp_path) as (proc, log, _):
        children = child_pids(proc.pid)
        with held_stopped(tts_child(proc.pid)):
            proc.send_signal(signal.SIGINT)
            wait_for(log, "stopping: draining", proc)
            time.sleep(1)
            assert proc.poll() is None  # waiting on the stopped server's drain
            proc.send_signal(signal.SIGINT)
            assert proc.wait(20) == 1, log.read_text()[-3000:]
        assert gone(children)


def test_up_killed_outright_takes_its_servers_with_it(tmp_path):
    with up_running(tmp_path) as (proc, _, _):
        children = child_pids(proc.pid)
        proc.kill()  # no handler runs: the kernel's parent-death signal must
        proc.wait(10)
        assert gone(children), "servers left holding their ports"


@pytest.mark.parametrize("port", ["taken", "eighty"])
def test_a_port_taken_or_not_a_port_is_refused_before_any_start(tmp_path, port):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        value = str(holder.getsockname()[1]) if port == "taken" else "eighty"
        proc, log, _ = start_up(tmp_path, RYMI_TTS_PORT=value)
        try:
            assert proc.wait(30) == 2
        finally:
            proc.kill()
    text = log.read_text()
    assert ("port in use for tts" if port == "taken" else "is not a port") in text, text
    assert "starting" not in text  # nothing was started


def test_a_closed_connection_left_in_time_wait_is_no_port_in_use():
    """A restart right after Ctrl-C: the last run's connections the server closed wait in
    TIME_WAIT on its port; probed without SO_REUSEADDR, as uvicorn binds, that read "port
    in use" for 60 s."""
    from rymi_endpoints.up import in_use

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = listener.accept()
    conn.close()  # the server side closes first: its end waits in TIME_WAIT
    time.sleep(0.1)
    client.close()
    assert in_use("127.0.0.1", port)  # still listening
    listener.close()
    assert not in_use("127.0.0.1", port)


def test_a_server_bound_to_one_address_is_seen_ready_there(tmp_path):
    """RYMI_TTS_HOST=<one address> (a LAN one, here 127.0.0.2): up polled 127.0.0.1 only,
    found nothing there for 300 s, and stopped everything."""
    with up_running(tmp_path, RYMI_TTS_HOST="127.0.0.2") as (_, log, ports):
        assert "tts: ready" in log.read_text()
        # The demo console relays there too (it dialled 127.0.0.1: every call failed).
        import httpx
        r = httpx.get(f"http://127.0.0.1:{ports['demo']}/demo/servers", timeout=10)
        assert r.status_code == 200, r.text
        assert r.json()["tts"]["ready"] is True, r.json()


def test_the_urls_printed_name_the_public_host_with_the_scheme_tls_gives(monkeypatch, capsys):
    """With a certificate for a public name, URLs printed as localhost fail its check."""
    from rymi_endpoints.up import Child, _banner

    for key in [k for k in os.environ if k.startswith(("RYMI_TTS_", "RYMI_STT_", "RYMI_TLS"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("RYMI_PUBLIC_HOST", "voice.example.com")
    monkeypatch.setenv("RYMI_TLS_CERT", "server.pem")
    children = [Child("stt", None, 8101, "/stt", "ws"),  # type: ignore[arg-type]
                Child("tts", None, 8102, "/tts", "http")]  # type: ignore[arg-type]
    _banner(children)
    out = capsys.readouterr().out
    assert "wss://voice.example.com:8101/stt" in out
    assert "https://voice.example.com:8102/tts" in out


def _no_server_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("RYMI_")]:
        monkeypatch.delenv(key)


@pytest.mark.parametrize("raw,port", [("", 8002), ("   ", 8002), (" 8100 ", 8100),
                                      ("65535", 65535), ("1", 1)])
def test_a_blank_port_is_the_default_and_every_real_port_is_taken(
        monkeypatch: pytest.MonkeyPatch, raw: str, port: int) -> None:
    """A blank RYMI_TTS_PORT (a compose file's ``${PORT}`` unset) means unset, as the
    servers read it: up refused it as "not a port" while the server would have started."""
    from rymi_endpoints.up import port_of

    monkeypatch.setenv("RYMI_TTS_PORT", raw)
    assert port_of("tts", 8002) == port


@pytest.mark.parametrize("raw", ["0", "65536", "-1", "80a"])
def test_a_port_no_socket_can_have_is_refused_before_any_start(
        monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    """65536 passed the check and the server then failed to bind, after the others had
    started: refused first, with the variable named."""
    from rymi_endpoints.up import port_of

    monkeypatch.setenv("RYMI_TTS_PORT", raw)
    with pytest.raises(ValueError, match="RYMI_TTS_PORT"):
        port_of("tts", 8002)


def test_servers_locked_by_tokens_or_a_token_file_are_printed_locked_and_not_warned_about(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    """A token file locks a server as RYMI_<X>_TOKENS does: the banner said "NO AUTH
    (open)" for it, and a demo console on the network behind servers that all want a
    token is no open relay, so no warning (a false one trains people to skip the real)."""
    from rymi_endpoints.up import Child, _banner

    _no_server_env(monkeypatch)
    tokens = tmp_path / "tokens"
    tokens.write_text("t-1\n")
    monkeypatch.setenv("RYMI_TTS_TOKEN_FILE", str(tokens))
    monkeypatch.setenv("RYMI_STT_TOKENS", "t-2")
    monkeypatch.setenv("RYMI_DEMO_HOST", "0.0.0.0")
    children = [Child("stt", None, 8101, "/stt", "ws"),  # type: ignore[arg-type]
                Child("tts", None, 8102, "/tts", "http"),  # type: ignore[arg-type]
                Child("demo", None, 8100, "/", "http")]  # type: ignore[arg-type]
    _banner(children)
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert "bearer auth ON" in lines["STT"] and "bearer auth ON" in lines["TTS"], out
    assert "NO AUTH" not in out and "WARNING" not in out, out


def test_up_and_the_demo_console_agree_on_the_default_ports() -> None:
    """The demo console finds the servers ``up`` starts by their default ports, which the
    README gives Rymi: a port changed in one place only left the page relaying nowhere."""
    from rymi_endpoints.demo.config import UPSTREAMS
    from rymi_endpoints.up import SERVERS

    assert {name: spec[1] for name, spec in SERVERS.items()} == \
        {name: spec[0] for name, spec in UPSTREAMS.items()} == \
        {"stt": 8001, "tts": 8002, "llm": 8003}
