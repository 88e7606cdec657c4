"""Same-origin pass-through to the three servers: HTTP streamed with httpx, the STT
WebSocket relayed frame by frame with the ``websockets`` client.

Nothing is buffered: each upstream chunk or frame is written to the browser as soon as it
arrives, so the latencies the page measures are the servers' own plus a hop on localhost.
The proxy never checks or invents a token: it forwards what the page sent, as
``Authorization: Bearer <token>``, and the servers decide (their check is unchanged).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import ssl
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from servers.common.errors import error_body

log = logging.getLogger("rymi.demo")
# httpx logs every request at info: one line per TTS clause and probe is noise here.
logging.getLogger("httpx").setLevel(logging.WARNING)

# The WebSocket subprotocol the page offers and we accept. The token travels beside it as
# a second offered value, ``rymi-demo.bearer.<base64url(token)>``, because a browser
# cannot set an Authorization header on a WebSocket; it is never echoed back.
SUBPROTOCOL = "rymi-demo"
BEARER_PREFIX = "rymi-demo.bearer."

# Request headers worth passing on; everything else (cookies, origin, ...) stays here.
FORWARD_REQUEST = ("authorization", "content-type", "content-length", "accept",
                   "x-request-id")
# Hop-by-hop or re-computed response headers that must not be copied.
DROP_RESPONSE = {"connection", "keep-alive", "transfer-encoding", "content-length",
                 "content-encoding", "server", "date"}


def ssl_context(ca_file: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if ca_file:
        ctx.load_verify_locations(cafile=ca_file)
    return ctx


def bearer_from_subprotocols(offered: list[str]) -> str | None:
    """The token the page packed into Sec-WebSocket-Protocol, or None."""
    for value in offered:
        if value.startswith(BEARER_PREFIX):
            packed = value[len(BEARER_PREFIX):]
            try:
                # validate: anything outside base64url is an error, not silently dropped
                token = base64.b64decode(packed + "=" * (-len(packed) % 4), altchars=b"-_",
                                         validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
            return token or None
    return None


def _bad_gateway(server: str, exc: Exception) -> JSONResponse:
    # Name the server and the kind of failure; the page shows this line as is.
    message = f"{server} server unreachable: {type(exc).__name__}: {exc}"
    return JSONResponse(error_body(message, "upstream_error", "bad_gateway"), status_code=502)


async def forward_http(request: Request, server: str, target: str) -> Response:
    """Send ``request`` to ``target`` and stream the answer back as it comes."""
    client: httpx.AsyncClient = request.app.state.http
    headers = {k: v for k, v in request.headers.items() if k in FORWARD_REQUEST}
    headers["accept-encoding"] = "identity"  # relay bytes verbatim, never re-encode
    body_sent = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        async for chunk in request.stream():
            yield chunk
        body_sent.set()

    has_body = request.method in ("POST", "PUT", "PATCH")
    if not has_body:
        body_sent.set()
    upstream_request = client.build_request(
        request.method, target, params=request.query_params, headers=headers,
        content=body() if has_body else None)
    state = request.app.state.server
    sending = asyncio.create_task(client.send(upstream_request, stream=True))
    upstream: httpx.Response | None = None
    try:
        # Until the server's headers come, nothing is written to the browser, so its
        # leaving would go unnoticed: watch for it, and cancel the request so the server
        # stops work nobody waits for (a barge-in aborts the LLM fetch in this window).
        while not (await asyncio.wait({sending}, timeout=0.1))[0]:
            if body_sent.is_set() and await request.is_disconnected():
                return Response(status_code=499)
        upstream = sending.result()
    except ClientDisconnect:
        # The page gave up while its body was on the way: no one is left to answer.
        return Response(status_code=499)
    except httpx.HTTPError as exc:
        log.warning("%s: %s %s failed: %s", server, request.method, target, exc)
        return _bad_gateway(server, exc)
    finally:
        if upstream is None:  # we give up on this request: end it at the server too
            if not sending.done():
                sending.cancel()
            elif not sending.cancelled() and sending.exception() is None:
                await sending.result().aclose()  # answered just as the page left
    state.enter()  # counted until the body is relayed, so a drain waits for it
    finished = False

    async def finish() -> None:  # idempotent: the relay and the background task both call it
        nonlocal finished
        if not finished:
            finished = True
            await upstream.aclose()
            state.leave()

    async def relay() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        except httpx.HTTPError as exc:
            # The server cut its stream (the contract's loud failure): cut ours too, so
            # the page sees an error rather than short audio or a truncated answer.
            log.warning("%s: stream cut by the server: %s", server, exc)
            raise
        finally:
            await finish()

    out_headers = {k: v for k, v in upstream.headers.items() if k not in DROP_RESPONSE}
    out_headers["cache-control"] = "no-store"
    out_headers["x-accel-buffering"] = "no"  # in case a reverse proxy sits in front
    return StreamingResponse(relay(), status_code=upstream.status_code, headers=out_headers,
                             background=BackgroundTask(finish))


def _close_code(code: int | None) -> int:
    # 1005/1006 describe a close without a code; they may not be sent on the wire.
    if code is None or code == 1005:
        return 1000
    return 1011 if code == 1006 else code


async def relay_websocket(websocket: WebSocket, target: str, ca_file: str | None) -> None:
    """Accept the browser, open the server's socket with its token, pump both ways."""
    offered = websocket.scope.get("subprotocols", [])
    token = bearer_from_subprotocols(offered)
    headers: dict[str, str] = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    elif websocket.headers.get("authorization"):  # a non-browser client may send it
        headers["Authorization"] = websocket.headers["authorization"]
    if rid := websocket.headers.get("x-request-id"):  # the call followed into the server's log
        headers["X-Request-Id"] = rid
    if query := websocket.url.query:
        target = f"{target}?{query}"
    options: dict[str, Any] = {"additional_headers": headers, "max_size": None,
                               "compression": None, "open_timeout": 10}
    if target.startswith("wss:"):
        options["ssl"] = ssl_context(ca_file)
    subprotocol = SUBPROTOCOL if SUBPROTOCOL in offered else None
    try:
        upstream = await connect(target, **options)
    except InvalidStatus as exc:
        # The browser cannot read a refused handshake's status, so accept and say why in
        # the STT error event shape, then close as the server's refusal means.
        status = exc.response.status_code
        body = exc.response.body.decode("utf-8", "replace")[:300] if exc.response.body else ""
        await websocket.accept(subprotocol=subprotocol)
        await websocket.send_json({"type": "error",
                                   "message": f"STT server refused: HTTP {status} {body}"})
        await websocket.close(code=1008 if status in (401, 403) else 1011)
        return
    except (TimeoutError, OSError, WebSocketException) as exc:
        await websocket.accept(subprotocol=subprotocol)
        await websocket.send_json({"type": "error", "message": f"STT server unreachable: {exc}"})
        await websocket.close(code=1011)
        return
    await websocket.accept(subprotocol=subprotocol)
    state = websocket.app.state.server
    state.enter()
    try:
        await _pump(websocket, upstream)
    finally:
        state.leave()


async def _pump(websocket: WebSocket, upstream: ClientConnection) -> None:
    async def browser_to_server() -> None:
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                if message.get("bytes") is not None:
                    await upstream.send(message["bytes"])
                elif message.get("text") is not None:
                    await upstream.send(message["text"])
        except (WebSocketDisconnect, ConnectionClosed):
            return

    async def server_to_browser() -> None:
        try:
            async for frame in upstream:
                if isinstance(frame, bytes):
                    await websocket.send_bytes(frame)
                else:
                    await websocket.send_text(frame)
        except ConnectionClosed:
            return

    up = asyncio.create_task(browser_to_server())
    down = asyncio.create_task(server_to_browser())
    done, pending = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
    if down in done:
        # The server closed (after `close`, a limit or an error): let the browser see its
        # code. Frames it sent before closing were all relayed already.
        up.cancel()
        try:
            await websocket.close(code=_close_code(upstream.close_code),
                                  reason=(upstream.close_reason or "")[:120])
        except RuntimeError:  # the browser went at the same moment
            pass
    else:
        # The browser left: close the server's socket so its session ends (no orphan).
        await upstream.close()
        down.cancel()
    await asyncio.gather(up, down, return_exceptions=True)
    await upstream.close()
