"""Hot POST routes served by a chain of their own, beside Starlette's stack.

On the way to a route Starlette adds an error middleware, an exception middleware, a
router that tries each route's pattern in turn, and a ``request_response`` wrapper, and
wraps every ``send`` twice more on the way out. For most routes that is nothing; for the
LLM proxy it is a measurable part of what the proxy adds to every token's way (its whole
job is to add nothing). So ``App`` sends POSTs to the given paths straight through our
own middlewares (admission, the usage record, auth: the same ones, sharing the same
state) to ``DirectRoutes``; every other request goes to Starlette as before, where GET
on these paths is the router's 405. Our lifecycle middleware answers a bug here as a
shaped 500, as Starlette's error layer would.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import ApiError
from .usage import note_error

Endpoint = Callable[[Request], Awaitable[Any]]  # returns an ASGI response


class DirectRoutes:
    """The endpoint for the path, its ApiError answered as the shaped error."""

    def __init__(self, routes: Mapping[str, Endpoint]) -> None:
        self.routes = dict(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        try:
            response = await self.routes[scope["path"]](request)
        except ApiError as exc:
            note_error(scope, exc.code)
            response = exc.response()
        await response(scope, receive, send)


class App(Starlette):
    """Starlette, with POSTs to ``direct_paths`` handed to ``direct`` (a chain ending in
    DirectRoutes) before Starlette's own stack sees them."""

    direct: ASGIApp | None = None
    direct_paths: frozenset[str] = frozenset()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if path.endswith("/") and len(path) > 1:
            # A URL saved with a trailing slash ("/tts/") is the same endpoint. Starlette
            # redirected it (307) to an absolute URL, plain http behind a TLS proxy.
            scope["path"] = path.rstrip("/") or "/"
        if (self.direct is not None and scope["type"] == "http"
                and scope["path"] in self.direct_paths and scope["method"] == "POST"):
            scope["app"] = self
            await self.direct(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)
