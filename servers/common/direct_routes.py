"""Hot POST routes served straight from our middleware stack, past Starlette's router.

On the way to a route Starlette adds an exception middleware, a router that tries each
route's pattern in turn, and a ``request_response`` wrapper, and wraps every ``send``
twice more on the way out. For most routes that is nothing; for the LLM proxy it is a
measurable part of what the proxy adds to every token's way (its whole job is to add
nothing). This middleware sits innermost of ours (after admission, the usage record and
auth) and serves the given paths for POST itself; every other request goes on to the
router as before. An ``ApiError`` raised before the response starts becomes the shaped
error the app's exception handlers would have made.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import ApiError

Endpoint = Callable[[Request], Awaitable[Any]]  # returns an ASGI response


class DirectRoutes:
    def __init__(self, app: ASGIApp, routes: Mapping[str, Endpoint]) -> None:
        self.app = app
        self.routes = dict(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if endpoint is None or scope["method"] != "POST":
            return await self.app(scope, receive, send)  # GET here is the router's 405
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except ApiError as exc:
            response = exc.response()
        await response(scope, receive, send)
