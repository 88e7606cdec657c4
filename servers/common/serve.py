"""Run one app under uvicorn with TLS, JSON logs and a SIGTERM drain.

Drain: on the first SIGTERM, SIGINT or SIGHUP the server keeps its socket open but
answers new work with 503 (and /readyz with 503, so a balancer stops sending), lets
in-flight requests and sessions finish for up to ``drain_timeout_s``, then shuts down and exits 0.
What is still running at the bound is cut off within a second, and an app's own teardown
(the LLM's engine) gets what is left of the bound, a second at least, so the whole
shutdown fits ``drain_timeout_s`` plus those two seconds: an orchestrator's grace period
of preStop + drain_timeout_s + a few seconds is enough. A second signal stops at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import ssl
import sys
from types import FrameType
from typing import Any, NoReturn

import uvicorn
from starlette.applications import Starlette

from . import metrics
from .config import ServerSettings
from .http_protocol import bounded_protocol
from .listeners import bound_sockets
from .logs import configure_logging, fatal
from .open_files import raise_open_files_limit
from .state import ServerState, wait_idle
from .ws_protocol import bounded_ws_protocol

log = logging.getLogger("rymi.server")

# After the drain, what uvicorn still waits for open connections: the drain has already
# waited for in-flight work, so only work past the bound is left, and it is cut off.
CUT_OFF_S = 1
# The exit code of a server whose start-up failed (a model that cannot load, an upstream
# that cannot be reached): a supervisor does not replace such a worker (workers.py).
CANNOT_START = 3


class _Config(uvicorn.Config):
    def load(self) -> None:
        super().load()
        if self.ssl is not None:  # TLS 1.2 or newer, whatever the OpenSSL default
            self.ssl.minimum_version = ssl.TLSVersion.TLSv1_2


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, state: ServerState, drain_timeout_s: float,
                 drain_delay_s: float = 0.0):
        super().__init__(config)
        self.state = state
        self.drain_timeout_s = drain_timeout_s
        self.drain_delay_s = drain_delay_s
        self._drain_task: asyncio.Task[None] | None = None
        self.listening = "listening"

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        # Not after a failed start-up (it exits now): "listening" read as serving.
        if self.started and not self.state.fatal_error:
            log.info("%s", self.listening)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # A signal handler: it runs between any two bytecodes of the main thread, which
        # may hold a lock then. It sets flags and hands the rest to the loop: a gauge set
        # here waited for ever on prometheus_client's lock (one for every metric with
        # workers), held by the metric update the signal interrupted, and the worker
        # never exited (found in CI, still hung an hour on).
        state = self.state
        if state.draining or state.leaving or self._drain_task is None and not self.started:
            self.force_exit = state.draining or state.leaving
            self.should_exit = True
            return
        loop = asyncio.get_event_loop()
        if self.drain_delay_s > 0:
            state.leaving = True  # /readyz 503 at once; new work still taken a while
            loop.call_soon_threadsafe(self._leave, sig)
            return
        state.drain()
        loop.call_soon_threadsafe(self._begin_drain, sig)

    def _leave(self, sig: int) -> None:
        metrics.READY.labels(self.state.channel).set(0)  # as /readyz says now
        log.info("signal %s: not ready, still taking work for %.0fs before the drain",
                 signal.Signals(sig).name, self.drain_delay_s)
        asyncio.get_event_loop().call_later(self.drain_delay_s, self._end_delay, sig)

    def _end_delay(self, sig: int) -> None:
        if not self.should_exit:  # (not stopped meanwhile by a second signal)
            self.state.drain()
            self._begin_drain(sig)

    def _begin_drain(self, sig: int) -> None:
        metrics.READY.labels(self.state.channel).set(0)  # as /readyz says now
        log.info("signal %s: draining %d in-flight (up to %.0fs)",
                 signal.Signals(sig).name, self.state.inflight, self.drain_timeout_s)
        self._drain_task = asyncio.get_event_loop().create_task(self._drain())

    async def _drain(self) -> None:
        finished = await wait_idle(self.state, self.drain_timeout_s)
        if not finished:
            log.warning("drain bound reached with %d in flight; cutting them off",
                        self.state.inflight)
        self.should_exit = True


def bind(host: str, port: int) -> list[socket.socket]:
    """Sockets bound to the address, not yet listening (uvicorn listens once the app has
    started: until then a caller is refused at once, not queued behind a model's load)."""
    return bound_sockets(host, port)


def describe_auth(settings: ServerSettings, name: str) -> None:
    count = len(settings.token_list())
    if count:
        log.info("%s: bearer auth on (%d token%s)", name, count, "s" if count > 1 else "")
    else:
        log.warning("%s: NO BEARER TOKEN CONFIGURED - this endpoint is open to anyone who "
                    "can reach it. Set RYMI_*_TOKENS or RYMI_*_TOKEN_FILE.", name.upper())


def serve(app: Starlette, settings: ServerSettings, name: str,
          socks: list[socket.socket] | None = None, **uvicorn_options: Any) -> int:
    """Serve until drained; returns the process exit code. ``socks``: listening sockets
    to serve on (a worker's, inherited from ``workers.supervise``) instead of binding."""
    configure_logging(settings.log_level)
    describe_auth(settings, name)
    open_files = raise_open_files_limit()
    if 0 <= open_files < 4 * settings.max_inflight + 64:  # a call, its proxy's, spares
        log.warning("the open files limit (ulimit -n) is %d: past it new connections are "
                    "reset, health checks too; raise it (max_inflight is %d)", open_files,
                    settings.max_inflight)
    config = _Config(
        app,
        host=settings.host,
        port=settings.port,
        ssl_certfile=str(settings.tls_cert) if settings.tls_cert else None,
        ssl_keyfile=str(settings.tls_key) if settings.tls_key else None,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=CUT_OFF_S,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_keep_alive=settings.keepalive_s,
        lifespan="on",
        # Bounds on a request's head (size, time): httptools and uvicorn have none.
        http=bounded_protocol(settings.body_timeout_s, app.state.server.channel),
        ws=bounded_ws_protocol(app.state.server.channel),  # and a WebSocket's unread pongs
        **uvicorn_options,
    )
    if not socks:  # bound before the model loads: a port in use costs no load
        try:
            socks = bind(settings.host, settings.port)
        except OSError as exc:
            prefix = type(settings).model_config.get("env_prefix", "")
            fatal(f"{name}: cannot start: cannot listen on {settings.host!r} port "
                  f"{settings.port} ({prefix}HOST, {prefix}PORT): {exc.strerror or exc}")
            return CANNOT_START
    state: ServerState = app.state.server
    server = DrainingServer(config, state, settings.drain_timeout_s, settings.drain_delay_s)
    app.state.uvicorn_server = server
    host, port = socks[0].getsockname()[:2]  # the port itself where port 0 asked for any
    shown = f"[{host}]" if ":" in host else host
    server.listening = f"{name} listening on {settings.scheme}://{shown}:{port}"
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:  # (nohup: left ignored)
        # The terminal it was started from closed: drain as on SIGTERM. Python's default
        # was to die at once, every stream cut without an error event or [DONE].
        signal.signal(signal.SIGHUP, server.handle_exit)
    interrupted = False
    try:
        server.run(sockets=socks)
    except KeyboardInterrupt:  # uvicorn re-raises a Ctrl-C it caught once it has stopped
        interrupted = True
    if state.fatal_error and state.started:  # (the vLLM engine died while serving)
        fatal(f"{name}: stopped: {state.fatal_error}")
        return 1
    if state.fatal_error:
        fatal(f"{name}: cannot start: {state.fatal_error}")
        return CANNOT_START
    # Stopped by Ctrl-C while still starting is the stop asked for, not a failed start
    # (exit 1 made a worker supervisor, and make, report one).
    return 0 if server.started or interrupted else 1


def exit_now(code: int) -> NoReturn:
    """Exit once the server has stopped, without the interpreter's teardown: its logs
    flushed, its streams ended and its engine shut down by then. What the teardown did
    was wait on threads left running (STT: a decode the drain cut off) and print about
    thirty lines after the server's last word (vLLM: an AsyncLLM __del__ TypeError,
    triton's nanobind "leaked" lists), which buried why it stopped."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
