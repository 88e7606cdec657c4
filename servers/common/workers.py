"""Several processes of one server on one port, for a server whose work is all I/O and
Python (the LLM proxy): one process runs its Python on one core, and a burst of
calls queues behind it; N processes share the burst out over N cores.

The supervisor binds one listening socket per worker to the same port with SO_REUSEPORT
(so a port in use fails here, once), and starts N copies of the same command, each with
its own socket inherited (``RYMI_LISTEN_FD``): the kernel spreads new connections over
the sockets. (One shared socket would not: the first worker to wake accepts a whole
burst of connections.) Prometheus runs in its multiprocess mode over a private
folder, so every scrape reports all workers together, and admission counts into one
count for all (``shared_count.py``), so max_inflight stays the server's limit. A worker
that dies takes the rest down with it and the supervisor exits 1: a half-strength server
that looks whole is the silent failure an orchestrator cannot see. SIGTERM is passed on,
and each worker drains as a single server does.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from types import FrameType

from . import shared_count
from .logs import configure_logging

log = logging.getLogger("rymi.server")

LISTEN_FD_ENV = "RYMI_LISTEN_FD"
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client reads it at import


def inherited_socket() -> socket.socket | None:
    """In a worker: its listening socket, bound by the supervisor; None in a single server."""
    fd = os.environ.get(LISTEN_FD_ENV)
    return socket.socket(fileno=int(fd)) if fd else None


def is_worker() -> bool:
    return LISTEN_FD_ENV in os.environ


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def supervise(module: str, argv: list[str], host: str, port: int, workers: int,
              stop_timeout_s: float, log_level: str = "info") -> int:
    """Run ``python -m module *argv`` ``workers`` times on one port until signalled;
    returns the exit code (0 after a clean drain, 1 if a worker failed)."""
    configure_logging(log_level)
    socks: list[socket.socket] = []
    try:
        while len(socks) < workers:  # port 0: the first socket's port for the others
            socks.append(listening_socket(host, socks[0].getsockname()[1] if socks else port))
    except OSError as exc:
        for sock in socks:
            sock.close()
        print(f"{module}: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
        return 1
    metrics_dir = tempfile.mkdtemp(prefix="rymi-metrics-")
    admission = shared_count.create()
    env = {**os.environ, METRICS_DIR_ENV: metrics_dir, shared_count.ENV: str(admission)}
    stopping: list[int] = []

    def forward(sig: int, frame: FrameType | None) -> None:
        stopping.append(sig)
        for child in children:
            if child.poll() is None:
                child.send_signal(sig)

    children: list[subprocess.Popen[bytes]] = []
    old = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for sock in socks:
            if stopping:  # signalled while starting: start no more
                break
            children.append(subprocess.Popen(
                [sys.executable, "-m", module, *argv], pass_fds=(sock.fileno(), admission),
                env={**env, LISTEN_FD_ENV: str(sock.fileno())}, preexec_fn=_die_with_parent))
            sock.close()  # its worker holds it now
        log.info("%s: %d workers on %s:%d (pids %s)", module, workers, host, port,
                 ", ".join(str(c.pid) for c in children))
        return _watch(children, stopping, stop_timeout_s)
    finally:
        for sock in socks:
            sock.close()  # (those not handed to a worker)
        for s, handler in old.items():
            signal.signal(s, handler)
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
        shutil.rmtree(metrics_dir, ignore_errors=True)
        os.close(admission)


def _watch(children: list[subprocess.Popen[bytes]], stopping: list[int],
           stop_timeout_s: float) -> int:
    failed = False
    deadline: float | None = None
    while any(c.poll() is None for c in children):
        if stopping and deadline is None:
            deadline = time.monotonic() + stop_timeout_s
        for child in children:
            code = child.poll()
            if code is not None and not stopping and not failed:
                # One worker gone (a crash, an OOM kill): down with all of it, loudly.
                log.error("worker %d exited with %d; stopping the others", child.pid, code)
                failed = True
                for other in children:
                    if other.poll() is None:
                        other.send_signal(signal.SIGTERM)
                deadline = time.monotonic() + stop_timeout_s
        if deadline is not None and time.monotonic() > deadline:
            break  # the finally kills what is left
        time.sleep(0.1)
    return 1 if failed or any(c.returncode != 0 for c in children) else 0


def _die_with_parent() -> None:
    """(In the forked worker, before exec.) Linux: SIGTERM the worker if the supervisor
    dies, even by SIGKILL, so no worker is left serving unsupervised."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
