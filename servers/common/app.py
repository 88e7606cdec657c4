"""The app factory every server uses: probes, metrics, shaped errors, auth, lifecycle.

A server hands in its routes and one ``startup`` coroutine that loads the model and
runs a warm-up inference. The process answers /healthz at once; /readyz turns 200
only when ``startup`` has returned, and 503 again while draining. A startup that
raises is fatal: the process logs one clear line and exits non-zero (see serve.py),
so no half-ready server is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, Router, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from . import metrics, shared_count
from .auth import BearerAuthMiddleware, BearerTokens, deny_websocket
from .config import ServerSettings
from .direct_routes import App, DirectRoutes, Endpoint
from .errors import EXCEPTION_HANDLERS, error_body, raw_error
from .lifecycle import LifecycleMiddleware
from .open_files import near_limit_note
from .state import ServerState
from .usage import note_error
from .workers import METRICS_DIR_ENV, REPLACES_ENV

log = logging.getLogger("rymi.server")

Startup = Callable[[Starlette], Awaitable[None]]
Shutdown = Callable[[Starlette], Awaitable[None]]


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    state: ServerState = request.app.state.server
    # Leaving (the drain delay): new work is still taken, but a balancer is told to go.
    why = "draining" if state.leaving else state.refusal()
    if why is None:
        return JSONResponse({"status": "ready"})
    return JSONResponse(error_body(f"not ready: {why}", "overloaded_error", why),
                        status_code=503, headers={"Retry-After": "1"})


def stop_serving(app: Starlette, why: str) -> None:
    """An engine that will not come back: stop saying ready and exit non-zero, so the
    orchestrator restarts the process instead of routing calls to a broken one."""
    state: ServerState = app.state.server
    if state.ready:
        state.ready = False
        state.fatal_error = why
        log.error("%s; exiting so the process is restarted", why)
        server = getattr(app.state, "uvicorn_server", None)
        if server is not None:
            server.should_exit = True


def _registry() -> CollectorRegistry:
    """This process's metrics; under ``workers.supervise``, every worker's together."""
    if not os.environ.get(METRICS_DIR_ENV):
        return REGISTRY
    registry = CollectorRegistry()
    metrics.WorkersCollector(registry)  # registers itself; the folder from the environment
    return registry


async def metrics_endpoint(request: Request) -> Response:
    registry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def create_app(
    *,
    settings: ServerSettings,
    channel: str,
    routes: Sequence[BaseRoute],
    startup: Startup | None = None,
    shutdown: Shutdown | None = None,
    max_inflight: int | None = None,
    direct_routes: Mapping[str, Endpoint] | None = None,
) -> Starlette:
    """``direct_routes``: hot POST paths served past Starlette's stack (see
    direct_routes.py); list them in ``routes`` too, so other methods get the 405."""
    state = ServerState(channel=channel, max_inflight=max_inflight or settings.max_inflight,
                        shared=shared_count.inherited())
    tokens = BearerTokens(settings.token_list())

    def ours(app: ASGIApp) -> ASGIApp:
        """Our middlewares around ``app``, outermost first (Starlette's stack has the
        same ones, sharing this state)."""
        auth = BearerAuthMiddleware(app, tokens=tokens, metrics_auth=settings.metrics_auth)
        return LifecycleMiddleware(auth, state=state, send_timeout_s=settings.send_timeout_s,
                                   body_timeout_s=settings.body_timeout_s,
                                   authorized=auth.allows)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(_start(app, state, startup))
        if REPLACES_ENV in os.environ:
            # A worker replacing a dead one shares the port with ready workers: it takes
            # the connections queued on its socket once it is ready, rather than answer
            # them 503 loading while its siblings had room.
            await asyncio.shield(task)
        try:
            yield
        finally:
            task.cancel()
            if shutdown is not None:
                await shutdown(app)

    app = App(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            *routes,
        ],
        middleware=[Middleware(ours)],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=lifespan,
    )
    if direct_routes:
        app.direct = ours(DirectRoutes(direct_routes))
        app.direct_paths = frozenset(direct_routes)
    app.router.default = _not_found_for(app.router)
    app.state.server = state
    app.state.settings = settings
    app.state.tokens = tokens
    app.state.metrics_registry = _registry()
    metrics.READY.labels(channel).set(0)  # (workers: the gauge is the least of them)
    if REPLACES_ENV in os.environ:
        metrics.WORKER_RESTARTS.inc()
    return app


def _not_found_for(router: Router) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """A WebSocket to an unknown path gets a shaped 404 on the handshake (Starlette's
    own answer is a close before accept, which uvicorn turns into a bare 403). Plain HTTP
    to a WebSocket path gets 426 Upgrade Required: it was a 404, and a customer checking
    the documented /stt with curl or a browser was told it did not exist."""
    http_not_found = router.not_found
    body, headers = raw_error("no WebSocket endpoint at this path", "not_found_error",
                              "not_found")
    ws_paths = {r.path for r in router.routes if isinstance(r, WebSocketRoute)}
    upgrade_body, upgrade_headers = raw_error(
        "this is a WebSocket endpoint: connect with ws:// or wss:// (an HTTP Upgrade)",
        "invalid_request_error", "upgrade_required")
    upgrade_headers += [(b"upgrade", b"websocket"), (b"connection", b"Upgrade")]

    async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await deny_websocket(scope, receive, send, 404, body, list(headers))
        elif scope["path"] in ws_paths:
            note_error(scope, "upgrade_required")
            await send({"type": "http.response.start", "status": 426,
                        "headers": upgrade_headers})
            await send({"type": "http.response.body", "body": upgrade_body})
        else:
            await http_not_found(scope, receive, send)

    return not_found


async def _start(app: Starlette, state: ServerState, startup: Startup | None) -> None:
    try:
        if startup is not None:
            await startup(app)
    except asyncio.CancelledError:
        raise
    except BaseException as exc:  # a model that cannot load is fatal, loudly
        state.fatal_error = f"{type(exc).__name__}: {exc}{near_limit_note()}"
        log.error("startup failed, exiting: %s", state.fatal_error)
        server = getattr(app.state, "uvicorn_server", None)
        if server is not None:
            server.should_exit = True
        return
    freeze_startup_heap()
    state.started = state.ready = True
    metrics.READY.labels(state.channel).set(1)
    log.info("%s ready", state.channel)


def freeze_startup_heap() -> None:
    """Leave what start-up made (modules, models, their Python objects) out of every later
    garbage collection, as vLLM's own server does. With vLLM and torch imported a process
    holds ~630k objects, and a full collection of them stops the event loop for ~400 ms
    (AVX2 EPYC): a stall in every stream and first token in flight, whenever Python
    decides. Frozen, a full collection walks only what serving made since."""
    gc.collect()
    gc.freeze()
