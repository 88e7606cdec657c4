"""RYMI_LLM_WORKERS at the edges: a port already taken, the drain, a replacement's start.

Against the fault double, as tests/llm/test_workers.py (helpers in workers_util.py).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.llm.fault_upstream import FaultUpstream
from tests.llm.workers_util import replacement, wait_all_ready, workers_env
from tests.support.servers import REPO, child_pids, free_port, start_server

CHAT = {"model": "x", "messages": [{"role": "user", "content": "fault:ok"}]}


def test_a_port_another_server_holds_is_refused(fault_upstream: FaultUpstream) -> None:
    """SO_REUSEPORT let the workers join a listener that had set it too (another server's
    workers, a killed supervisor's): traffic was split with it, in silence."""
    port = free_port()
    other = socket.socket()
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    other.bind(("127.0.0.1", port))
    other.listen()
    try:
        env = {**os.environ, **workers_env(fault_upstream), "RYMI_LLM_PORT": str(port),
               "RYMI_LLM_HOST": "127.0.0.1"}
        done = subprocess.run([sys.executable, "-m", "servers.llm"], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=60)
    finally:
        other.close()
    assert done.returncode == 1 and "cannot listen on" in done.stderr, done.stderr[-2000:]



def test_no_writable_temporary_folder_is_one_line_not_a_traceback(fault_upstream) -> None:  # type: ignore[no-untyped-def]
    """The workers' metrics folder is made in the temporary directory: with none that
    can be written (a read-only root, no /tmp mount) the supervisor ended in a traceback."""
    env = {**os.environ, **workers_env(fault_upstream), "RYMI_LLM_PORT": str(free_port()),
           "RYMI_LLM_HOST": "127.0.0.1"}
    # (tempfile falls back to /tmp past a bad TMPDIR; named outright, it is used as is)
    start = ("import sys, tempfile; tempfile.tempdir = '/proc/no-such-folder'; "
             "from servers.llm.__main__ import main; sys.exit(main([]))")
    done = subprocess.run([sys.executable, "-c", start], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "cannot start: no folder for the workers' metrics" in done.stderr
    assert "set TMPDIR" in done.stderr

def _sockets_of(pid: int) -> list[str]:
    fds = Path(f"/proc/{pid}/fd")
    links = (os.readlink(fd) for fd in fds.iterdir() if fd.is_symlink())
    return [link for link in links if link.startswith("socket:")]


def test_calls_during_a_drain_are_answered_whichever_worker_they_reach(
        fault_upstream: FaultUpstream) -> None:
    """One worker drains a stream, the other, idle, is done at once: the connections the
    kernel queued on its socket hung until the drain ended, then were reset."""
    server = start_server("servers.llm", env=workers_env(fault_upstream), ready_timeout=120)
    try:
        wait_all_ready(server)
        body = {"model": "x", "stream": True,
                "messages": [{"role": "user", "content": "fault:hold"}]}
        held = threading.Event()

        def hold() -> None:
            try:
                with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=body,
                                  timeout=60) as r:
                    for _ in r.iter_lines():
                        held.set()
            except httpx.HTTPError:  # cut at the end of the test
                pass

        threading.Thread(target=hold, daemon=True).start()
        assert held.wait(20)
        assert len(_sockets_of(server.proc.pid)) == 2  # the supervisor's, one per worker
        server.signal(signal.SIGTERM)
        time.sleep(1.0)  # the idle worker is gone by now
        # The supervisor let go of its copies: the draining worker's socket dies with it.
        # Kept, the last one took connections past the drain bound and reset them.
        assert _sockets_of(server.proc.pid) == []
        answers = []
        for _ in range(8):  # new connections, spread by the kernel over both sockets
            try:
                with httpx.Client() as fresh:
                    answers.append(fresh.post(f"{server.url}/v1/chat/completions",
                                              json=CHAT, timeout=5).status_code)
            except httpx.HTTPError as exc:
                answers.append(type(exc).__name__)
        assert answers == [503] * 8, answers
    finally:
        server.stop(60)


def test_a_replacement_takes_calls_only_when_ready_and_outlives_an_outage(
        fault_upstream: FaultUpstream) -> None:
    """A replacement's start met the upstream down for a moment: it exited 3, and the
    supervisor stopped the healthy worker with it (exit 1). Once it starts, it answered
    the connections queued on its socket 503 loading while its sibling had room."""
    server = start_server("servers.llm", env=workers_env(fault_upstream), ready_timeout=120)
    try:
        wait_all_ready(server)
        victim, other = pids = child_pids(server.proc.pid)
        fault_upstream.state.models_down_until = time.monotonic() + 3
        os.kill(victim, signal.SIGKILL)
        statuses = []
        deadline = time.monotonic() + 8  # the outage, a retry, the replacement's start
        while time.monotonic() < deadline:
            with httpx.Client() as fresh:
                statuses.append(fresh.post(f"{server.url}/v1/chat/completions", json=CHAT,
                                           timeout=30).status_code)
        replacement(server, victim, set(pids))
        wait_all_ready(server)
        assert server.proc.poll() is None and other in child_pids(server.proc.pid)
        assert set(statuses) == {200}, statuses
        assert "could not start; another in" in server.logs()
        # One series for the server, none left by the dead worker's pid (they piled up).
        scrape = httpx.get(f"{server.url}/metrics", timeout=10).text
        engine = [ln for ln in scrape.splitlines() if ln.startswith("rymi_llm_engine_requests")]
        assert len(engine) == 1 and "pid=" not in engine[0], engine
    finally:
        fault_upstream.state.models_down_until = 0.0
        server.stop()


def test_a_killed_supervisors_metrics_folder_is_cleared_by_the_next(
        fault_upstream: FaultUpstream) -> None:
    """A supervisor killed outright cannot remove its folder: one was left per kill."""
    import tempfile
    from pathlib import Path

    from servers.common.metrics_folder import PREFIX as METRICS_PREFIX

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    left = Path(tempfile.mkdtemp(prefix=f"{METRICS_PREFIX}{gone.pid}-"))
    (left / "counter_1.db").write_bytes(b"\0" * 8)
    server = start_server("servers.llm", env=workers_env(fault_upstream), ready_timeout=120)
    try:
        wait_all_ready(server)
        assert not left.exists()
        server.proc.kill()  # the supervisor, outright: its workers follow it (PDEATHSIG)
        server.proc.wait(10)
        mine = [p for p in Path(tempfile.gettempdir()).glob(
            f"{METRICS_PREFIX}{server.proc.pid}-*")]
        assert mine, "the killed supervisor's folder (left, as it cannot remove it)"
        again = start_server("servers.llm", env=workers_env(fault_upstream), ready_timeout=120)
        again.stop()
        assert not any(p.exists() for p in mine)
    finally:
        server.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_while_the_workers_start_is_a_clean_exit(
        fault_upstream: FaultUpstream, sig: signal.Signals) -> None:
    """A worker signalled while still importing dies of the signal (it has no handler
    yet, and had accepted nothing): the supervisor called that a failure, exit 1 and an
    error line for each worker, for a Ctrl-C in the first second."""
    server = start_server("servers.llm", env=workers_env(fault_upstream), wait_ready=False)
    deadline = time.monotonic() + 30
    while len(child_pids(server.proc.pid)) < 2:
        assert time.monotonic() < deadline and server.proc.poll() is None, server.logs()
        time.sleep(0.01)
    pids = child_pids(server.proc.pid)
    server.signal(sig)
    assert server.proc.wait(30) == 0, server.logs()[-3000:]
    assert "exited with" not in server.logs(), server.logs()[-3000:]
    assert all(not os.path.exists(f"/proc/{pid}") for pid in pids)


def test_an_upstream_down_for_long_is_waited_out_not_taken_for_a_crash_loop(tmp_path) -> None:
    """Each replacement that could not start counted as a death: five tries (10 s of an
    upstream restarting) stopped the whole server, its healthy worker with it. The
    supervisor's policy, on children that exit as such a replacement does (exit 3)."""
    from servers.common import shared_count, workers
    from servers.common.serve import CANNOT_START

    class Exited:
        def __init__(self, pid: int) -> None:
            self.pid = pid

    admission = shared_count.create(2)
    socks = workers.listening_sockets("127.0.0.1", 0)
    port = socks[0].getsockname()[1]
    try:
        pool = workers._Pool("m", [], "127.0.0.1", [socks], admission, {})
        started: list[int] = []
        pool.start = lambda slot, replacing=None: (  # type: ignore[method-assign]
            started.append(pool.socks[slot][0].fileno()),
            pool.children.update({slot: Exited(1)}))
        waits = []
        for pid in range(1000, 1010):  # ten tries in a row that could not start
            child = Exited(pid)
            assert pool._why_not_replace(CANNOT_START, child) is None  # type: ignore[arg-type]
            before = time.monotonic()
            pool._replace(0, child, CANNOT_START, str(tmp_path))  # type: ignore[arg-type]
            waits.append(round(pool.due.pop(0)[0] - before))
            # Through a short outage the slot keeps its socket (what queues there is
            # served once a try starts); past two tries it has none till the next try: a
            # share of new connections hung on it for as long as the outage lasted.
            closed = pool.socks[0][0].fileno() == -1
            assert closed is (pid - 1000 + 1 >= workers.CLOSE_AFTER_TRIES)
            pool.retry(0, pid)  # (when due): a socket on the port, then the start
            assert pool.socks[0][0].getsockname()[1] == port and started[-1] != -1
        assert waits == [2, 4, 8, 16, 30, 30, 30, 30, 30, 30] and pool.restarts == []
        # A worker that started and died is a death again, and tries start over.
        pool._replace(0, Exited(2000), -9, str(tmp_path))  # type: ignore[arg-type]
        assert len(pool.restarts) == 1 and pool.failed_starts == {}
    finally:
        pool.let_go_of_sockets()
        os.close(admission)


def test_a_removed_metrics_folder_is_said_and_made_again(fault_upstream: FaultUpstream) -> None:
    """A /tmp cleaner that removed it: a worker's next new metric failed its request and
    /metrics answered empty, in silence. The supervisor holds a lock on it (tmpfiles
    skips a locked folder) and, if it goes anyway, makes it again and says so."""
    import fcntl
    import shutil

    from tests.llm.workers_util import metrics_dir

    server = start_server("servers.llm", env=workers_env(fault_upstream), ready_timeout=120)
    try:
        wait_all_ready(server)
        folder = metrics_dir(server)
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            with pytest.raises(BlockingIOError):  # the supervisor's shared lock
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
        shutil.rmtree(folder)
        deadline = time.monotonic() + 5
        while "metrics folder" not in server.logs() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "was removed (a temporary-files cleaner?)" in server.logs()
        assert folder.is_dir()
        r = httpx.post(f"{server.url}/v1/chat/completions", json=CHAT, timeout=30)
        assert r.status_code == 200
    finally:
        server.stop()


RESOLVE_BOTH = '''import socket
_real = socket.getaddrinfo
def _resolve(host, *args, **kwargs):
    if host != "dual.test":
        return _real(host, *args, **kwargs)
    return [*_real("127.0.0.1", *args, **kwargs), *_real("::1", *args, **kwargs)]
socket.getaddrinfo = _resolve
'''


def test_workers_listen_on_every_address_a_name_resolves_to(
        fault_upstream: FaultUpstream, tmp_path: Path) -> None:
    """As a single server does: ``localhost`` where it is 127.0.0.1 and ::1 (a client
    that tries ::1 first, Node's fetch, found nothing there), each worker on both. (This
    machine's hosts file gives localhost one address: a name made to give both.)"""
    (tmp_path / "sitecustomize.py").write_text(RESOLVE_BOTH)
    server = start_server("servers.llm", env={
        **workers_env(fault_upstream), "RYMI_LLM_HOST": "dual.test",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}, ready_timeout=120)
    try:
        wait_all_ready(server)
        for pid in child_pids(server.proc.pid):
            fds = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            (listen,) = [v for v in fds if v.startswith(b"RYMI_LISTEN_FD=")]
            assert len(listen.split(b"=")[1].split(b",")) == 2, listen
        for host in ("127.0.0.1", "[::1]"):
            for _ in range(4):  # new connections, spread over both workers
                r = httpx.get(f"http://{host}:{server.port}/v1/models", timeout=10)
                assert r.status_code == 200, (host, r.text)
    finally:
        server.stop()
