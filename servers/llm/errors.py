"""Turn a raw request body into a ChatRequest, or into the contract's shaped errors.

The LLM server follows OpenAI and vLLM: malformed JSON and bad values alike are 400
``invalid_request_error`` (CONTRACT.md), with ``param`` naming the field.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.requests import Request

from servers.common.body import bounded_body, parse_json
from servers.common.errors import ApiError

from .config import LlmSettings
from .schema import ChatRequest


async def read_chat_body(request: Request, limit: int) -> bytes:
    """At most ``limit`` bytes; a bigger body is 413 before it is all buffered."""
    return await bounded_body(request, limit, lambda: ApiError(
        413, f"request body is larger than {limit} bytes", "request_too_large"))


def parse_request(body: bytes, settings: LlmSettings,
                  served_name: str) -> tuple[ChatRequest, dict[str, Any]]:
    """Validate; returns the model and the raw dict (the proxy forwards what was sent)."""
    try:
        raw = parse_json(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}", "invalid_json") from None
    if not isinstance(raw, dict):
        raise ApiError(400, "request body must be a JSON object", "invalid_json")
    messages = raw.get("messages")
    if isinstance(messages, list) and len(messages) > settings.max_messages:
        raise ApiError(413, f"at most {settings.max_messages} messages per request",
                       "too_many_messages", param="messages")
    if isinstance(messages, list):
        check_message_sizes(messages, settings.max_message_chars)
    try:
        # Strict: "stream": "false" or "temperature": "0.5" is a 400, as OpenAI answers,
        # not a value read one way here and another way by an upstream it is relayed to.
        req = ChatRequest.model_validate(raw, strict=True)
    except ValidationError as exc:
        param, said = first_error(exc)
        raise ApiError(400, f"{param}: {said}" if param else said,
                       "invalid_value", param=param) from None
    check_model_name(req.model, served_name, settings.allow_any_model_name)
    return req, raw


def first_error(exc: ValidationError) -> tuple[str | None, str]:
    """The field a validation error names, as the request spells it, and what is wrong.
    pydantic names a union's branches in the path ("messages.0.content.str"): those
    are dropped, and of the branches the one that got furthest into the value is told
    (a part with no text: "messages.0.content.0.text: Field required", not "should be
    a valid string")."""
    def where(e: Any) -> str:
        return ".".join(str(p) for p in e["loc"] if not _union_branch(p))

    errors = exc.errors()
    deepest = max(len(e["loc"]) for e in errors)
    param = where(next(e for e in errors if len(e["loc"]) == deepest))
    # Branches that ended at the same place: each says what it takes ("a valid string,
    # or a valid list").
    said = list(dict.fromkeys(e["msg"] for e in errors
                              if len(e["loc"]) == deepest and where(e) == param))
    return param or None, ", or ".join([said[0], *(m[:1].lower() + m[1:] for m in said[1:])])


def _union_branch(part: int | str) -> bool:
    # A branch is named by its type ("str", "list[str]", "TextPart"); fields and JSON
    # keys here are lower-case names.
    return isinstance(part, str) and (part in _TYPE_NAMES or "[" in part or part[:1].isupper())


_TYPE_NAMES = frozenset({"str", "int", "float", "bool", "dict", "list", "none"})


def content_chars(content: Any) -> int:
    """Characters of a message's content: a string, or the text of its parts."""
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(len(said) for p in content if isinstance(p, dict)
                   and isinstance(said := p.get("text") or p.get("refusal"), str))
    return 0


def check_message_sizes(messages: list[Any], limit: int) -> None:
    """One oversized message is 413 naming it: checked on the raw body, before the
    model is validated, so a huge message costs no more than reading it."""
    for i, m in enumerate(messages):
        if isinstance(m, dict) and content_chars(m.get("content")) > limit:
            raise ApiError(413, f"messages.{i}.content is longer than {limit} characters",
                           "message_too_large", param=f"messages.{i}.content")


def check_model_name(name: str, served_name: str, allow_any: bool) -> None:
    if allow_any or name == served_name:
        return
    raise ApiError(404, f"model {name!r} is not served here; this server serves "
                   f"{served_name!r}", "model_not_found", param="model")
