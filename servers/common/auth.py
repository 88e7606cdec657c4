"""Bearer tokens on every request and on the WebSocket upgrade, compared in constant time.

A missing or wrong token gets HTTP 401 with the JSON error body. On a WebSocket
upgrade that is a real HTTP response on the handshake (the ASGI "websocket.http.response"
extension, which uvicorn supports), so a client sees status 401, not an accept-then-close.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from .body import take_small_body
from .errors import raw_error
from .usage import note_error

log = logging.getLogger("rymi.auth")

# Probes and scrapers send no token.
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class BearerTokens:
    def __init__(self, tokens: Iterable[str]) -> None:
        # Compare bytes of equal type; never keep a list that could be logged by repr.
        self._tokens = tuple(t.encode() for t in tokens if t)

    @property
    def enabled(self) -> bool:
        return bool(self._tokens)

    def __repr__(self) -> str:  # tokens never appear in logs or tracebacks
        return f"BearerTokens(count={len(self._tokens)})"

    def accepts(self, authorization: str | None) -> bool:
        if not self._tokens:
            return True
        if not authorization:
            return False
        scheme, _, presented = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return False
        # The header arrived as bytes and was decoded latin-1 (as ASGI headers are), so
        # encoding it back as latin-1 gives the bytes the client sent: a token written
        # as UTF-8 in the token file then matches the same UTF-8 bytes on the wire.
        try:
            given = presented.strip().encode("latin-1")
        except UnicodeEncodeError:  # not header text at all: no client sent this
            return False
        ok = False
        for token in self._tokens:  # check all, so timing does not tell which matched
            ok |= hmac.compare_digest(given, token)
        return ok


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


UNAUTHORIZED, _UNAUTHORIZED_HEADERS = raw_error(
    "missing or invalid bearer token", "authentication_error", "invalid_token")


class BearerAuthMiddleware:
    def __init__(self, app: ASGIApp, tokens: BearerTokens, metrics_auth: bool = False) -> None:
        self.app = app
        self.tokens = tokens
        self.open_paths = OPEN_PATHS - ({"/metrics"} if metrics_auth else set())

    def allows(self, scope: Scope) -> bool:
        """Whether this call passes: its token is good, or it needs none."""
        # "/metrics/" too: the router redirects it to "/metrics", which a scraper
        # configured with the slash then follows (a 401 here would look like bad auth).
        return (not self.tokens.enabled or scope["path"].rstrip("/") in self.open_paths
                or self.tokens.accepts(_header(scope, b"authorization")))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.allows(scope):
            return await self.app(scope, receive, send)
        headers = [*_UNAUTHORIZED_HEADERS, (b"www-authenticate", b'Bearer realm="rymi"')]
        note_error(scope, "invalid_token")
        if scope["type"] == "http":
            await take_small_body(scope, receive)
            await send({"type": "http.response.start", "status": 401, "headers": headers})
            await send({"type": "http.response.body", "body": UNAUTHORIZED})
            return
        await deny_websocket(scope, receive, send, 401, UNAUTHORIZED, headers)


async def deny_websocket(
    scope: Scope, receive: Receive, send: Send, status: int, body: bytes,
    headers: list[tuple[bytes, bytes]],
) -> None:
    """Refuse an upgrade with a real HTTP response, or 403-close where unsupported.
    The refusal's code goes into the usage record, as an HTTP answer's does."""
    with contextlib.suppress(ValueError, KeyError, TypeError):
        note_error(scope, json.loads(body)["error"]["code"])
    message = await receive()  # websocket.connect
    assert message["type"] == "websocket.connect"
    if "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": status,
                    "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008})
