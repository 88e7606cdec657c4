"""A minimal server on the shared core, for testing the core itself as a real process.

It has what the three real servers have (auth, probes, drain, usage records, TLS) with
no model: ``startup`` sleeps ``RYMI_ECHO_SERVER_WARMUP_S`` to stand in for a warm-up.
"""

from __future__ import annotations

import asyncio
import sys

from pydantic_settings import SettingsConfigDict
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from servers.common.app import create_app
from servers.common.config import ServerSettings, load_settings
from servers.common.serve import serve


class EchoSettings(ServerSettings):
    model_config = SettingsConfigDict(env_prefix="RYMI_ECHO_SERVER_", extra="ignore")
    warmup_s: float = 0.0
    chunk_delay_s: float = 0.2
    fail_startup: bool = False
    accept_delay_s: float = 0.0  # a WebSocket handshake's wait, as for a model's load
    linger_s: float = 0.0  # /linger's work after its last byte


async def stream(request: Request) -> StreamingResponse:
    """Echo the body back in 10 chunks, slowly, so a test can act mid-stream."""
    body = await request.body()
    delay = request.app.state.settings.chunk_delay_s

    async def chunks():
        for i in range(10):
            yield body or f"chunk{i};".encode()
            await asyncio.sleep(delay)
    return StreamingResponse(chunks(), media_type="application/octet-stream")


class Linger:
    """A whole answer, then work after its last byte (as an engine stream's close and a
    usage line come after [DONE]): what admission and the drain each count."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"whole"})
        await asyncio.sleep(scope["app"].state.settings.linger_s)


async def boom(request: Request) -> StreamingResponse:
    """A bug in a handler before its first byte (fault injection for the 500 path)."""
    raise RuntimeError("a bug in the handler")


async def echo_ws(ws: WebSocket) -> None:
    await asyncio.sleep(ws.app.state.settings.accept_delay_s)
    await ws.accept()
    async for text in ws.iter_text():
        await ws.send_text(text)
        if text == "close":
            await ws.close(1000)
            return


def build(settings: EchoSettings):
    async def startup(app) -> None:
        await asyncio.sleep(settings.warmup_s)
        if settings.fail_startup:
            raise FileNotFoundError("model file missing: /nonexistent/model.bin")
    return create_app(settings=settings, channel="echo", startup=startup, routes=[
        Route("/stream", stream, methods=["POST"]),
        Route("/boom", boom, methods=["GET"]),
        Route("/linger", Linger(), methods=["GET"]),
        WebSocketRoute("/ws", echo_ws),
    ])


def main(argv: list[str] | None = None) -> int:
    settings = load_settings(EchoSettings, argv, prog="echo")
    return serve(build(settings), settings, "echo")


if __name__ == "__main__":
    sys.exit(main())
