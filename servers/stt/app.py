"""The STT app: the WebSocket route, option checks on the handshake, model loading.

``/stt`` and ``/`` take the same session. Bearer auth and capacity (503 when
``max_sessions`` are open) are refused on the handshake by the common middleware;
bad URL options are refused here, also as a real HTTP response (400), before accept.
A model asked for with ``?model=`` is loaded (or held) before accept too, so a session
never starts without its engine.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from servers.common.app import create_app as create_common_app
from servers.common.app import stop_serving
from servers.common.auth import deny_websocket
from servers.common.errors import raw_error
from servers.common.open_files import near_limit_note

from .config import SttSettings
from .engine import DecodeOptions
from .models import ModelCapacity, ModelNeverFits, ModelRegistry
from .options import OptionError, parse_options
from .scheduler import DecodeScheduler
from .session import SttContext, SttSession
from .vad import load_session

log = logging.getLogger("rymi.stt")


class SttEndpoint:
    """Raw ASGI so a bad URL gets a real 400 response on the handshake, before accept."""

    def __init__(self, app_state: dict) -> None:
        self.app_state = app_state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Set by start-up; the lifecycle middleware refuses every call (503 loading)
        # before start-up has ended.
        ctx: SttContext = self.app_state["ctx"]
        settings: SttSettings = self.app_state["settings"]
        registry: ModelRegistry = self.app_state["registry"]
        query = scope.get("query_string", b"").decode("latin-1")
        try:
            try:
                options = parse_options(query, settings, registry.models)
            except OptionError as exc:
                if exc.param != "model" or not registry.rescan():
                    raise
                options = parse_options(query, settings, registry.models)
        except OptionError as exc:
            body, headers = raw_error(exc.message, "invalid_request_error",
                                      "invalid_parameter", exc.param)
            return await deny_websocket(scope, receive, send, 400, body, headers)
        try:
            await registry.acquire(options.model)
        except ModelCapacity as exc:
            return await _busy(scope, receive, send, str(exc))
        except ModelNeverFits as exc:
            body, headers = raw_error(str(exc), "invalid_request_error", "model_unavailable",
                                      "model")
            return await deny_websocket(scope, receive, send, 400, body, headers)
        except Exception as exc:  # a broken model folder, out of memory: this handshake
            # gets a shaped 500 (uvicorn's own is plain text); the load is tried again
            # by the next one, and the sessions on other models go on.
            log.error("stt model %s failed to load: %s: %s%s", options.model,
                      type(exc).__name__, exc, near_limit_note())
            body, headers = raw_error(f"model {options.model!r} failed to load",
                                      "server_error", "model_load_failed", "model")
            return await deny_websocket(scope, receive, send, 500, body, headers)
        try:
            await SttSession(WebSocket(scope, receive, send), ctx, options).run()
        finally:
            registry.release(options.model)


async def _busy(scope: Scope, receive: Receive, send: Send, message: str) -> None:
    body, headers = raw_error(message, "overloaded_error", "over_capacity")
    await deny_websocket(scope, receive, send, 503, body, [*headers, (b"retry-after", b"1")])


def create_app(settings: SttSettings) -> Starlette:
    registry = ModelRegistry(settings)
    app_state: dict = {"settings": settings, "registry": registry}
    endpoint = SttEndpoint(app_state)

    async def startup(app: Starlette) -> None:
        loop = asyncio.get_running_loop()
        engine = await registry.load_default()
        vad_model = await loop.run_in_executor(None, load_session)
        # A warm-up decode per lane: the first real caller must not pay for lazy set-up.
        warm = (0.1 * np.sin(np.arange(16000, dtype=np.float32) * 0.05)).astype(np.float32)
        for interim in (False, True):
            await loop.run_in_executor(None, engine.transcribe, warm,
                                       DecodeOptions(interim=interim))
        scheduler = DecodeScheduler(registry, settings.final_workers(),
                                    interim_workers=settings.interim_workers(),
                                    share_cores=not settings.on_gpu(),
                                    on_broken=lambda why: stop_serving(app, why))
        app_state["ctx"] = SttContext(
            settings=settings, scheduler=scheduler, vad_model=vad_model,
            vad_pool=ThreadPoolExecutor(max_workers=2, thread_name_prefix="vad"),
            state=app.state.server)
        log.info("stt model %s ready (%s, finals: %d x %d threads, interims: %s, up to %d "
                 "sessions; also servable: %s)", settings.model, settings.compute_type,
                 settings.final_workers(), settings.threads_per_decode(),
                 f"{settings.decode_workers} x 1 thread at nice {settings.interim_nice}"
                 if settings.interim_lane() else "beside them", settings.session_limit(),
                 ", ".join(n for n in registry.served if n != settings.model) or "none")

    async def shutdown(app: Starlette) -> None:
        ctx: SttContext | None = app_state.get("ctx")
        if ctx is not None:
            ctx.scheduler.close()
            ctx.vad_pool.shutdown(wait=False, cancel_futures=True)

    return create_common_app(
        settings=settings, channel="custom-transcriber",
        routes=[WebSocketRoute("/stt", endpoint), WebSocketRoute("/", endpoint)],
        startup=startup, shutdown=shutdown, max_inflight=settings.session_limit())
