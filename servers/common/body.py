"""Reading a request body with a size bound, straight from ASGI ``receive``.

Every POST of every server reads its body here, before any work: a declared
Content-Length over the bound is refused before a byte of it is read, and a body that
grows past it is refused before it is all buffered. The common case, a small body that
came in one message, costs one ``receive`` and nothing else.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.types import Receive, Scope

from .errors import ApiError


async def bounded_body(request: Request, limit: int, too_large: Callable[[], ApiError]) -> bytes:
    for key, value in request.scope["headers"]:
        if key == b"content-length":
            if value.isdigit() and int(value) > limit:
                raise too_large()
            break
    receive = request.receive
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()  # as Starlette's request.stream() does
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large()
        if not message.get("more_body", False):
            if not chunks:
                return chunk
            chunks.append(chunk)
            return b"".join(chunks)
        chunks.append(chunk)


# A refused request's body is read first up to this size (Go's net/http server discards up
# to 256 KiB after its handler the same way).
SMALL_BODY = 64 * 1024
SMALL_BODY_WAIT_S = 1.0


async def take_small_body(scope: Scope, receive: Receive) -> None:
    """Before an early answer (401, 503): read and drop a small request body not read yet.

    A Go reverse proxy (Caddy, Traefik) that got our answer while it was still sending the
    body lost the answer 1 time in 100 (Caddy: "aborting with incomplete response ... use
    of closed network connection"; the client: a 401 with an empty body). With the body
    taken first, the proxy has sent it all before the answer comes. A large or chunked
    body is not waited for, nor a body that does not come within SMALL_BODY_WAIT_S.
    """
    if scope["type"] != "http":
        return
    headers = dict(scope["headers"])
    length = headers.get(b"content-length", b"0")
    # Expect: 100-continue: the body waits for our word, and a refusal is that word.
    if not length.isdigit() or not 0 < int(length) <= SMALL_BODY or b"expect" in headers:
        return
    try:
        async with asyncio.timeout(SMALL_BODY_WAIT_S):
            while (message := await receive())["type"] == "http.request" and \
                    message.get("more_body", False):
                pass
    except TimeoutError:
        pass


def parse_json(data: str | bytes) -> Any:
    """``json.loads``, where JSON nested past the decoder's depth (``"[" * 1000``) is a
    ValueError like any other bad JSON: json.loads raises RecursionError, which a caller
    catching ValueError let through (a 500, or an STT session dropped in silence)."""
    try:
        return json.loads(data, parse_int=_int)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _int(digits: str) -> int | float:
    """A JSON integer; one past int()'s 4,300 digits is infinite (no bound takes it, so
    the field is refused by name), not a parse error calling valid JSON invalid."""
    if len(digits) <= 4300:
        return int(digits)
    return float("-inf") if digits.startswith("-") else float("inf")
