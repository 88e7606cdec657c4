"""Several processes of one server on one port, for a server whose work is all I/O and
Python (the LLM proxy): one process runs its Python on one core, and a burst of
calls queues behind it; N processes share the burst out over N cores.

The supervisor binds one listening socket per worker to the same port with SO_REUSEPORT
(a port in use fails here, once: probed first without it, as SO_REUSEPORT would join
another listener that set it), and starts N copies of the same command, each with
its own socket inherited (``RYMI_LISTEN_FD``): the kernel spreads new connections over
the sockets. (One shared socket would not: the first worker to wake accepts a whole
burst of connections.) Prometheus runs in its multiprocess mode over a private
folder, so every scrape reports all workers together, and admission counts into one
count for all (``shared_count.py``), so max_inflight stays the server's limit. SIGTERM
and SIGINT are passed on as SIGTERM, and each worker drains as a single server does.

A worker that dies (a crash, an OOM kill) loses the calls it was serving, and only
those: the supervisor takes back its share of the admission count and its live
metrics, starts a replacement on the same socket (connections that arrive meanwhile
wait in its backlog until it is ready), logs an error and counts
``rymi_worker_restarts_total``; a replacement that cannot start (its upstream down for
a while) is tried again after ``RETRY_START_S``, then twice as long each time. Where a
replacement cannot help, the server stops with exit code 1, loudly, for the
orchestrator to see: a first worker that failed to start (its replacement would fail
the same way), or more than ``MAX_RESTARTS`` deaths in ``RESTART_WINDOW_S`` (a crash
loop that a restart hides). Once the server stops, each listening socket lives as long
as its worker: new connections reach the workers still draining (503), and are refused
once none is left, never queued on a socket nobody accepts on. The metrics folder:
``metrics_folder.py``.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from types import FrameType

from prometheus_client import multiprocess

from . import metrics_folder, shared_count
from .listeners import LISTEN_FD_ENV, listening_sockets, not_in_use
from .logs import configure_logging, fatal
from .serve import CANNOT_START

log = logging.getLogger("rymi.server")

METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client reads it at import
REPLACES_ENV = "RYMI_WORKER_REPLACES"  # the pid of the dead worker this one replaces

# More workers dying than this in the window is a crash loop, not bad luck: stop loudly.
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0
RETRY_START_S = 2.0  # before another try at a replacement that could not start,
MAX_RETRY_START_S = 30.0  # doubled at each failed try up to this
CLOSE_AFTER_TRIES = 3  # failed tries in a row (~6 s) before the slot's socket closes


def supervise(module: str, argv: list[str], host: str, port: int, workers: int,
              stop_timeout_s: float, log_level: str = "info") -> int:
    """Run ``python -m module *argv`` ``workers`` times on one port until signalled;
    returns the exit code (0 after a clean drain, 1 if the server had to stop)."""
    configure_logging(log_level)
    socks: list[list[socket.socket]] = []  # a slot's: one per address of the host
    try:
        not_in_use(host, port)
        while len(socks) < workers:  # port 0: the first socket's port for the others
            socks.append(listening_sockets(host, socks[0][0].getsockname()[1] if socks
                                           else port))
    except OSError as exc:
        for sock in (s for slot in socks for s in slot):
            sock.close()
        fatal(f"{module}: cannot listen on {host}:{port}: {exc.strerror or exc}")
        return 1
    try:
        metrics_dir, held = metrics_folder.make()
    except OSError as exc:  # (a read-only root with no /tmp: a traceback before)
        for sock in (s for slot in socks for s in slot):
            sock.close()
        fatal(f"{module}: cannot start: no folder for the workers' metrics in the "
              f"temporary directory (set TMPDIR to a writable one): {exc}")
        return 1
    admission = shared_count.create(workers)
    pool = _Pool(module, argv, host, socks, admission,
                 {**os.environ, METRICS_DIR_ENV: metrics_dir, shared_count.FD_ENV: str(admission)})
    old = {s: signal.signal(s, pool.forward) for s in (signal.SIGTERM, signal.SIGINT,
                                                       signal.SIGHUP)
           if signal.getsignal(s) is not signal.SIG_IGN}
    try:
        for slot in range(workers):
            if pool.stopping:  # signalled while starting: start no more
                break
            pool.start(slot)
            pool.first.add(pool.children[slot].pid)
        log.info("%s: %d workers on %s:%d (pids %s)", module, workers, host, port,
                 ", ".join(str(c.pid) for c in pool.children.values()))
        return pool.watch(stop_timeout_s, metrics_dir)
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        for child in pool.children.values():
            if child.poll() is None:
                child.kill()
                child.wait()
        pool.let_go_of_sockets()
        shutil.rmtree(metrics_dir, ignore_errors=True)
        os.close(held)
        os.close(admission)


class _Pool:
    """The workers, one per slot (its listening sockets, its share of the admission
    count); a worker that dies is replaced in its slot."""

    def __init__(self, module: str, argv: list[str], host: str,
                 socks: list[list[socket.socket]], admission: int,
                 env: dict[str, str]) -> None:
        self.module, self.argv, self.socks = module, argv, socks
        self.admission, self.env = admission, env
        self.children: dict[int, subprocess.Popen[bytes]] = {}
        self.stopping: list[int] = []
        self.gone: set[int] = set()  # slots whose worker died while stopping (not replaced)
        self.restarts: list[float] = []  # when, for the crash-loop bound
        self.first: set[int] = set()  # the pids of the first workers
        self.due: dict[int, tuple[float, int]] = {}  # slot: (when to start, the dead pid)
        self.failed_starts: dict[int, int] = {}  # slot: replacements in a row that could not
        self.failed = False  # the server stops because a worker could not go on
        self.address = host, socks[0][0].getsockname()[1]  # (a retry's new sockets: the same)

    def start(self, slot: int, replacing: int | None = None) -> None:
        fds = [sock.fileno() for sock in self.socks[slot]]
        env = {**self.env, LISTEN_FD_ENV: ",".join(map(str, fds)),
               shared_count.SLOT_ENV: str(slot)}
        if replacing is not None:
            env[REPLACES_ENV] = str(replacing)
        # A session of its own: a signal to the whole group (systemd's default
        # KillMode, Ctrl-C) must reach it once, through forward(); a second one is
        # "stop now" to a draining server, and every stream was cut at once.
        child = self.children[slot] = subprocess.Popen(
            [sys.executable, "-m", self.module, *self.argv], pass_fds=(*fds, self.admission),
            env=env, preexec_fn=die_with_parent, start_new_session=True)
        if self.stopping:  # signalled while it was being started: it drains too
            child.send_signal(signal.SIGTERM)

    def retry(self, slot: int, dead: int) -> None:
        """Another try at a slot whose replacement could not start (on a new socket where
        its own was closed)."""
        try:
            if self.socks[slot][0].fileno() == -1:
                self.socks[slot] = listening_sockets(*self.address)
        except OSError as exc:  # (the port taken meanwhile): the next try, in a while
            self.due[slot] = (time.monotonic() + MAX_RETRY_START_S, dead)
            log.error("cannot listen again for worker slot %d: %s", slot, exc)
            return
        self.start(slot, replacing=dead)

    def forward(self, sig: int, frame: FrameType | None) -> None:
        # As SIGTERM, whichever came: a worker drains on either (a second one of either
        # is "stop now"), and one still importing dies of SIGTERM quietly, where SIGINT
        # was a KeyboardInterrupt traceback, or a fatal error in Python's own start-up.
        self.stopping.append(sig)
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    def watch(self, stop_timeout_s: float, metrics_dir: str) -> int:
        deadline: float | None = None
        while True:
            metrics_folder.keep(metrics_dir)
            if self.stopping and deadline is None:
                deadline = time.monotonic() + stop_timeout_s
                self.let_go_of_sockets()
            for slot, (when, dead) in list(self.due.items()):
                if self.stopping or self.failed:  # no try now; said and counted out
                    del self.due[slot]
                    self.gone.add(slot)
                elif time.monotonic() >= when:
                    del self.due[slot]
                    self.retry(slot, dead)
            for slot, child in list(self.children.items()):
                code = child.poll()
                if code is None or slot in self.gone:
                    continue
                if self.stopping or self.failed:  # no replacement now; said, counted out
                    self._bury(slot, child, code, metrics_dir)
                    continue
                if slot in self.due:
                    continue
                why = self._why_not_replace(code, child)
                if why is None:
                    self._replace(slot, child, code, metrics_dir)
                    continue
                # Replacing would not help: down with all of it, loudly.
                log.error("worker %d exited with %d; %s: stopping the others",
                          child.pid, code, why)
                self.failed = True
                self.gone.add(slot)  # said above: not again as a death while stopping
                for other in self.children.values():
                    if other.poll() is None:
                        other.send_signal(signal.SIGTERM)
                deadline = time.monotonic() + stop_timeout_s
                self.let_go_of_sockets()
            if all(c.poll() is not None for c in self.children.values()):
                break
            if deadline is not None and time.monotonic() > deadline:
                break  # supervise's finally kills what is left
            time.sleep(0.1)
        clean = all(self._clean(c.returncode) for c in self.children.values())
        return 0 if clean and not self.failed else 1

    def let_go_of_sockets(self) -> None:
        """Our copies of the listening sockets, closed once the server stops (no worker
        is started from then on): each socket lives as long as its worker and dies with
        it. Kept until the last worker was buried, the last socket took new connections
        for a second past the drain bound and reset them, where a refusal is retried."""
        for slot in range(len(self.socks)):
            self._close(slot)

    def _close(self, slot: int) -> None:
        for sock in self.socks[slot]:
            sock.close()

    def _clean(self, code: int | None) -> bool:
        """Exited 0, or ended by the SIGTERM we sent (forwarded, or to stop the others
        once one failed): a worker signalled while it was still importing (before it
        could drain) had accepted nothing, and a stop in the first second was a failed
        exit 1 and an error line for each worker."""
        return code == 0 or (bool(self.stopping or self.failed) and code == -signal.SIGTERM)

    def _why_not_replace(self, code: int, child: subprocess.Popen[bytes]) -> str | None:
        # At the first start, a worker that cannot start is the settings (its replacement
        # would fail the same way); a replacement may have met a passing outage (its
        # upstream down for a second), as the first workers did not: it is retried.
        if code == CANNOT_START and child.pid in self.first:
            return "it could not start, and its replacement would not either"
        now = time.monotonic()
        self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW_S]
        if len(self.restarts) >= MAX_RESTARTS:
            return (f"{len(self.restarts)} workers replaced in the last "
                    f"{RESTART_WINDOW_S:.0f} s already")
        return None

    def _count_out(self, slot: int, child: subprocess.Popen[bytes], metrics_dir: str) -> int:
        """A dead worker's admissions taken back and its live gauges dropped; returns how
        many requests it had in flight."""
        lost = shared_count.clear(self.admission, slot)
        multiprocess.mark_process_dead(child.pid, metrics_dir)
        return lost

    def _bury(self, slot: int, child: subprocess.Popen[bytes], code: int,
              metrics_dir: str) -> None:
        """A worker that died while the server stops: its in-flight count and live
        gauges go with it (else /metrics shows its streams as running), and a death
        other than a clean exit is logged."""
        self.gone.add(slot)
        # Its socket goes too (where still ours): the kernel went on queueing new
        # connections on it, and they hung until the last worker was done, then were
        # reset. Now they go to the workers still draining, which answer 503.
        self._close(slot)
        lost = self._count_out(slot, child, metrics_dir)
        # A worker that could not start served nothing: its own line says why (with N
        # workers failing alike, each was also an ERROR of requests "lost with it").
        if not self._clean(code) and code != CANNOT_START:
            log.error("worker %d exited with %d while stopping, %d request%s in flight "
                      "lost with it", child.pid, code, lost, "" if lost == 1 else "s")

    def _replace(self, slot: int, child: subprocess.Popen[bytes], code: int,
                 metrics_dir: str) -> None:
        lost = self._count_out(slot, child, metrics_dir)
        if code == CANNOT_START:  # a replacement that could not start: again, in a while.
            # Not a death for the crash-loop bound: an upstream down for a minute (a vLLM
            # restarting) stopped the whole server, its healthy worker with it.
            tries = self.failed_starts[slot] = self.failed_starts.get(slot, 0) + 1
            wait = min(RETRY_START_S * 2 ** (tries - 1), MAX_RETRY_START_S)
            self.due[slot] = (time.monotonic() + wait, child.pid)
            if tries >= CLOSE_AFTER_TRIES:
                # An outage that lasts: the slot's socket goes until a try starts. The
                # kernel went on giving it a share of the new connections, which hung
                # with nobody to accept them for as long as the upstream stayed down; the
                # other workers' sockets take them all now. (Through a short one they
                # wait in its backlog and are served once a replacement is ready.)
                self._close(slot)
            log.error("worker %d could not start; another in %.0f s", child.pid, wait)
            return
        self.failed_starts.pop(slot, None)
        self.restarts.append(time.monotonic())
        self.start(slot, replacing=child.pid)
        log.error("worker %d exited with %d, %d request%s in flight lost with it; "
                  "started worker %d in its place", child.pid, code, lost,
                  "" if lost == 1 else "s", self.children[slot].pid)


def die_with_parent() -> None:
    """(In the forked worker, before exec.) Linux: SIGTERM the worker if the supervisor
    dies, even by SIGKILL, so no worker is left serving unsupervised."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
