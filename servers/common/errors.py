"""OpenAI-shaped JSON errors: ``{"error": {"message", "type", "code", "param"}}``."""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from .usage import note_error


class StreamAborted(Exception):
    """Raised on purpose out of a response body that failed after its headers: the
    server then cuts the connection (no final chunk), so a client sees a cut, not a
    short answer. The cause is logged where it is raised, once; uvicorn's "Exception in
    ASGI application" traceback for it is not (logs._FalseErrors)."""

# The type string each status gets unless the raiser names one.
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "invalid_request_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    502: "upstream_error",
    503: "overloaded_error",
    504: "upstream_timeout",
}


def error_body(message: str, type_: str, code: str, param: str | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"message": message, "type": type_, "code": code}
    if param is not None:
        err["param"] = param
    return {"error": err}


Headers = list[tuple[bytes, bytes]]


def raw_error(message: str, type_: str, code: str, param: str | None = None
              ) -> tuple[bytes, Headers]:
    """The error body as bytes, with its content-type and content-length headers: for
    answers written straight to ASGI ``send`` (refused upgrades, admission, auth)."""
    body = json.dumps(error_body(message, type_, code, param)).encode()
    return body, [(b"content-type", b"application/json"),
                  (b"content-length", str(len(body)).encode())]


class ApiError(Exception):
    """Raise anywhere in a request handler to answer with a shaped error."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str,
        *,
        param: str | None = None,
        type_: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.type = type_ or _TYPES.get(status, "error")
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.type, self.code, self.param)

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def overloaded(what: str, retry_after_s: int = 1) -> ApiError:
    return ApiError(503, f"{what} is at capacity; retry shortly", "over_capacity",
                    headers={"Retry-After": str(retry_after_s)})


async def api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    note_error(request, exc.code)  # which 4xx, in the record too (TTS's alone said it)
    return exc.response()


async def http_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own 404/405 (and any HTTPException) in the contract's shape."""
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    note_error(request, code)
    return ApiError(exc.status_code, str(exc.detail), code, headers=exc.headers).response()


async def unhandled_error_handler(request: Request, exc: Exception) -> JSONResponse:
    return ApiError(500, "internal server error", "internal_error").response()


EXCEPTION_HANDLERS = {
    ApiError: api_error_handler,
    HTTPException: http_exception_handler,
    Exception: unhandled_error_handler,
}
