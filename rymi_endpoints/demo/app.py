"""The demo console's app: the page (static files, no build step) and a same-origin proxy
to the STT, TTS and LLM servers.

Same origin matters twice: the browser needs no CORS from the servers (whose contract has
none), and one certificate on this app gives the page the secure context the microphone
requires, whatever the servers themselves serve.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from servers.common.state import ServerState

from .config import DemoSettings
from .proxy import forward_http, relay_websocket, ssl_context

STATIC = Path(__file__).parent / "static"


def _settings(request: Request | WebSocket) -> DemoSettings:
    return request.app.state.settings


def _ca(settings: DemoSettings) -> str | None:
    return str(settings.upstream_ca) if settings.upstream_ca else None


async def index(request: Request) -> Response:
    # no-store: a demo is often restarted with a changed page; never show a stale one.
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    if request.app.state.server.draining:
        return JSONResponse({"status": "draining"}, status_code=503)
    return JSONResponse({"status": "ready"})


async def servers(request: Request) -> Response:
    """Each server's /readyz, so the page can show which of the three is up."""
    settings = _settings(request)
    client: httpx.AsyncClient = request.app.state.http

    async def probe(base: str) -> dict[str, object]:
        url = base.replace("wss://", "https://").replace("ws://", "http://") + "/readyz"
        try:
            r = await client.get(url, timeout=2)
            return {"url": base, "ready": r.status_code == 200, "status": r.status_code}
        except httpx.HTTPError as exc:
            return {"url": base, "ready": False, "error": type(exc).__name__}

    names = ("stt", "tts", "llm")
    found = await asyncio.gather(*(probe(getattr(settings, f"{n}_url")) for n in names))
    return JSONResponse(dict(zip(names, found, strict=True)))


async def tts(request: Request) -> Response:
    return await forward_http(request, "TTS", f"{_settings(request).tts_url}/tts")


async def voices(request: Request) -> Response:
    # /tts/voices rather than /voices: it also exists behind a by-path proxy (deploy/).
    return await forward_http(request, "TTS", f"{_settings(request).tts_url}/tts/voices")


async def llm(request: Request) -> Response:
    # Named routes only: a catch-all /v1/{path} also took /v1/%2e%2e/metrics to the
    # server's root, past what the page needs.
    path = request.url.path
    return await forward_http(request, "LLM", f"{_settings(request).llm_url}{path}")


async def stt(websocket: WebSocket) -> None:
    settings = _settings(websocket)
    await relay_websocket(websocket, f"{settings.stt_url}/stt", _ca(settings))


def create_app(settings: DemoSettings) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # One pooled client: keep-alive connections to the servers save a handshake per
        # TTS clause. trust_env off: an HTTP(S)_PROXY variable must not reroute localhost.
        timeout = httpx.Timeout(settings.upstream_timeout_s, connect=5.0)
        async with httpx.AsyncClient(timeout=timeout, verify=ssl_context(_ca(settings)),
                                     trust_env=False) as client:
            app.state.http = client
            yield

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/demo/servers", servers),
            WebSocketRoute("/stt", stt),
            Route("/tts", tts, methods=["POST"]),
            Route("/voices", voices, methods=["GET"]),
            Route("/v1/chat/completions", llm, methods=["POST"]),
            Route("/v1/models", llm, methods=["GET"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    # serve.py's drain reads this: in-flight proxied streams and sessions are counted.
    app.state.server = ServerState(channel="demo")
    app.state.server.ready = True
    return app
