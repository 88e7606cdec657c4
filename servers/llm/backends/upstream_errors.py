"""How upstream failures become the contract's errors.

Before the first byte: connect failure 502, timeout 504, the upstream's own 4xx passed
through with its status in our shape (422 as 400), its 5xx as 502 (503/504 keep their
meaning); a stream whose first event is an error is that error, as an HTTP status.
Except 401, 403 and 407: those refuse *this server's* credentials (the upstream token,
the HTTP proxy's user), and passed through they would tell the caller that its own
token to us is wrong; they are 502 ``upstream_auth_failed``, and an error in our log.
After streaming began: one error event (the relay then closes without ``[DONE]``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from servers.common.body import parse_json
from servers.common.errors import ApiError

from ..sse import error_event, event_data, json_or_none
from .connect import TransportError, Unreachable
from .secret import blanked

log = logging.getLogger("rymi.llm.upstream")


def map_transport(exc: TransportError) -> ApiError:
    """The caller's error names the kind of failure; the log has the detail (addresses
    of the customer's network stay in their logs)."""
    log.warning("upstream request failed: %s", exc)
    if isinstance(exc, TimeoutError):
        return ApiError(504, f"the upstream did not answer in time ({type(exc).__name__})",
                        "upstream_timeout")
    if isinstance(exc, Unreachable):
        return ApiError(502, "cannot connect to the upstream", "upstream_unreachable")
    return ApiError(502, f"the upstream failed: {type(exc).__name__}", "upstream_error")


_OUR_CREDENTIALS = {
    401: "RYMI_LLM_UPSTREAM_TOKEN",
    403: "RYMI_LLM_UPSTREAM_TOKEN and what that key may use",
    407: "the user:password in the upstream proxy's URL",
}


def _ours(status: int) -> int:
    """The contract's LLM server answers a bad value 400, as OpenAI and vLLM do; an
    upstream that says 422 (FastAPI's default) is told the same way."""
    return 400 if status == 422 else status


# The codes this server writes for an upstream's failure: a metric's label takes only
# these (an upstream's own code, any text it likes, would make a series of its own).
OUR_CODES = frozenset({
    "upstream_auth_failed", "upstream_bad_response", "upstream_disconnected",
    "upstream_error", "upstream_error_event", "upstream_incomplete", "upstream_not_found",
    "upstream_rejected", "upstream_timeout", "upstream_unavailable", "upstream_unreachable"})


def _credentials_refused(status: int, message: str) -> ApiError:
    log.error("the upstream refused this server's credentials (%d): %s; check %s",
              status, message[:300] or "no message", _OUR_CREDENTIALS[status])
    return ApiError(502, f"the upstream refused this server's credentials ({status})",
                    "upstream_auth_failed")


def map_status(status: int, body: bytes, headers: Mapping[str, str]) -> ApiError:
    message, type_, code, param = error_parts(body)
    message = blanked(message)
    keep = {k: headers[k] for k in ("retry-after",) if k in headers}
    if status in (429, 503) and not keep:  # the contract's 429/503 say when to retry
        keep = {"retry-after": "1"}
    if status in _OUR_CREDENTIALS:
        return _credentials_refused(status, message)
    if status == 404:
        # The caller's model name is never sent (the upstream gets upstream_model), so a
        # 404 is this server's settings, not the caller's request: not a model_not_found
        # that tells the caller to fix a name it cannot change.
        log.error("the upstream answered 404: %s; check RYMI_LLM_UPSTREAM_MODEL and "
                  "RYMI_LLM_UPSTREAM_URL", message[:300] or "no message")
        return ApiError(502, "the upstream does not serve the model or path this server "
                        "is set to use (404)", "upstream_not_found")
    if status == 429 or status >= 500:  # the upstream's trouble, not the caller's: said
        log.warning("the upstream answered %d: %s", status, message[:300] or "no message")
    if 400 <= status < 500:
        return ApiError(_ours(status), message or f"the upstream refused the request ({status})",
                        code or "upstream_rejected", param=param, type_=type_, headers=keep)
    if status in (503, 504):
        return ApiError(status, message or f"the upstream answered {status}",
                        "upstream_unavailable" if status == 503 else "upstream_timeout",
                        headers=keep)
    return ApiError(502, f"the upstream answered {status}" + (f": {message}" if message else ""),
                    "upstream_error")


def error_parts(body: bytes) -> tuple[str, str | None, str | None, str | None]:
    """Message, type, code and param of an OpenAI-shaped error body, or its text."""
    try:
        obj = parse_json(body)
    except (ValueError, UnicodeDecodeError):
        return body[:300].decode("utf-8", "replace").strip(), None, None, None
    err = obj.get("error") if isinstance(obj, dict) else None
    if isinstance(err, dict):
        return (str(err.get("message") or ""), said(err.get("type")), said(err.get("code")),
                said(err.get("param")))
    if isinstance(err, str):  # llama.cpp and ollama send {"error": "text"}
        return err, None, None, None
    if isinstance(obj, dict) and isinstance(obj.get("message"), str):
        # Older vLLM servers: the error's fields at the top ({"object": "error", ...}).
        return obj["message"], said(obj.get("type")), said(obj.get("code")), \
            said(obj.get("param"))
    if isinstance(obj, dict) and isinstance(obj.get("detail"), str):  # FastAPI's own
        return obj["detail"], None, None, None
    return json.dumps(obj)[:300], None, None, None


def said(value: object) -> str | None:
    """An upstream error's type, code or param as the contract's string (vLLM writes an
    integer code), token blanked: an object or a list there went on as it was, and a
    key an upstream echoed in its code reached the caller and our log. None if empty or
    no scalar."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        return None
    return blanked(str(value))


def refused_at_first_event(events: bytes, code: str) -> ApiError:
    """A stream whose first event is an error (or that ended or broke before one): said
    as an HTTP error, as the contract has every failure before the first byte. The
    upstream's 4xx code, if it wrote one (vLLM: an integer), is the status; else 502."""
    obj = json_or_none(event_data(events[:events.find(b"\n\n")]))
    err = obj.get("error") if isinstance(obj, dict) else None
    if not isinstance(err, dict):
        err = {"message": err} if isinstance(err, str) else {}
    upstream_code = said(err.get("code")) or ""  # the relay wrote vLLM's 400 as "400"
    # (ASCII: "²" passes isdigit() and failed int(), a 500 for the upstream's odd code)
    number = int(upstream_code) if upstream_code.isascii() and upstream_code.isdigit() else 0
    status = number if 400 <= number < 500 else \
        400 if err.get("type") in ("invalid_request_error", "BadRequestError") else 502
    message = blanked(str(err.get("message") or "the upstream failed before its first event"))
    if status in _OUR_CREDENTIALS:  # in a stream's first event as in a status line
        return _credentials_refused(status, message)
    return ApiError(_ours(status), message,
                    upstream_code if upstream_code and not number else code,
                    param=said(err.get("param")),
                    # the contract's 429 says when to retry (OpenRouter's comes this way)
                    headers={"retry-after": "1"} if status == 429 else None)


def stream_code(exc: TransportError) -> str:
    return "upstream_timeout" if isinstance(exc, TimeoutError) else "upstream_disconnected"


def stream_failure(code: str, exc: TransportError) -> bytes:
    log.warning("upstream stream failed: %s", exc)
    what = ("stalled past the timeout" if code == "upstream_timeout"
            else "closed the connection mid-stream")
    return error_event(f"the upstream {what} ({type(exc).__name__})", "upstream_error", code)
