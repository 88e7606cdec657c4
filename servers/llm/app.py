"""Routes and wiring: POST /v1/chat/completions and GET /v1/models over one backend."""

from __future__ import annotations

import asyncio
import logging
import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from servers.common.app import create_app as create_common_app
from servers.common.errors import ApiError

from . import completions, metrics, proxy
from .backends import EngineBackend
from .backends.upstream import UpstreamBackend
from .backends.vllm_engine import VllmBackend
from .config import LlmSettings
from .errors import parse_request, read_chat_body
from .openapi import openapi_schema

log = logging.getLogger("rymi.llm")

# The time an engine is given to stop on its own before it is killed, once drained: at
# least a second, at most vLLM's own default (5 s, what its server gives).
TEARDOWN_MIN_S, TEARDOWN_MAX_S = 1.0, 5.0

Backend = EngineBackend | UpstreamBackend


def make_backend(settings: LlmSettings) -> Backend:
    return UpstreamBackend(settings) if settings.backend == "upstream" else VllmBackend(settings)


def reject_url_options(request: Request) -> None:
    """Rymi sends nothing per agent but the URL: an option this server does not know is
    a typo the customer must hear about, not something to ignore. The LLM takes none
    (model and sampling are in the body)."""
    if not request.scope["query_string"]:
        return
    for name in request.query_params:
        raise ApiError(400, f"unknown URL option {name!r}: this endpoint takes no URL "
                       f"options (the model and sampling settings go in the JSON body)",
                       "unknown_parameter", param=name)


def create_app(settings: LlmSettings, backend: Backend | None = None) -> Starlette:
    """``backend``: an engine double for fault-injection tests; by default the one
    ``settings`` names."""
    backend = backend or make_backend(settings)

    async def chat_completions(request: Request) -> Response | proxy.RelayedStream:
        reject_url_options(request)
        body = await read_chat_body(request, settings.max_body_bytes)
        req, raw = parse_request(body, settings, backend.served_name)
        if isinstance(backend, UpstreamBackend):
            return await proxy.complete(request, req, raw, backend)
        return await completions.complete(request, req, backend)

    async def list_models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{
            "id": backend.served_name, "object": "model", "created": started,
            "owned_by": "rymi-endpoints"}]})

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_schema(backend.served_name, settings))

    async def startup(app: Starlette) -> None:
        t0 = time.monotonic()
        await backend.start()
        if not isinstance(backend, UpstreamBackend):
            metrics.watch_engine(backend.running)
        if settings.warmup:
            await backend.warmup()
        if not isinstance(backend, UpstreamBackend):
            watchers.add(asyncio.ensure_future(completions.watch_engine(app, backend)))
        log.info("llm backend %s ready in %.1fs, serving %r", backend.name,
                 time.monotonic() - t0, backend.served_name)

    async def shutdown(app: Starlette) -> None:
        for watcher in watchers:  # first: a closed engine is no engine that died
            watcher.cancel()
        # The engine's teardown gets what is left of the drain bound, so the whole stop
        # fits the bound as serve.py says: it took vLLM's default 5 s more, past the
        # bound an orchestrator's grace period was sized for.
        left = app.state.server.drain_left(settings.drain_timeout_s)
        await backend.close(None if left is None else
                            min(TEARDOWN_MAX_S, max(TEARDOWN_MIN_S, left)))

    watchers: set[asyncio.Future[None]] = set()

    started = int(time.time())
    # A bare custom_llm_url (a host of its own) POSTs to the root.
    chat_paths = ("/v1/chat/completions", "/chat/completions", "/")
    routes = [
        *(Route(path, chat_completions, methods=["POST"]) for path in chat_paths),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/models", list_models, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
    # Every token passes this route: it is served past the router (direct_routes.py).
    app = create_common_app(settings=settings, channel="custom-llm", routes=routes,
                            startup=startup, shutdown=shutdown,
                            direct_routes=dict.fromkeys(chat_paths, chat_completions))
    app.state.backend = backend
    return app
