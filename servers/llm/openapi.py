"""The OpenAPI description of the LLM server's surface, built from the request models.

Clients and fuzzers (schemathesis) read it; the request schema is the pydantic model
the server validates with, so the two cannot drift apart. Pydantic writes JSON Schema
2020-12 (``type: "null"``, numeric ``exclusiveMinimum``), which is OpenAPI 3.1's dialect,
not 3.0's. The limits of this server's settings (message count and size) are added, so
a schema-valid request is refused only for its total size: body bytes (413) or prompt
tokens beyond the context (400).
"""

from __future__ import annotations

from typing import Any

from .config import LlmSettings
from .schema import ChatRequest

_ERROR_REF = {"content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/Error"}}}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, **_ERROR_REF}


def _with_limits(components: dict[str, Any], settings: LlmSettings) -> None:
    components["ChatRequest"]["properties"]["messages"]["maxItems"] = settings.max_messages
    # Per string: a list of parts may add up to more than one part may hold (then 413).
    content = components["Message"]["properties"]["content"]["anyOf"]
    for schema in (content[0], components["TextPart"]["properties"]["text"],
                   components["RefusalPart"]["properties"]["refusal"]):
        schema["maxLength"] = settings.max_message_chars


def openapi_schema(served_name: str, settings: LlmSettings) -> dict[str, Any]:
    request = ChatRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    components = request.pop("$defs", {})
    components["ChatRequest"] = request
    _with_limits(components, settings)
    components["Error"] = {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["message", "type", "code"], "properties": {
            "message": {"type": "string"}, "type": {"type": "string"},
            "code": {"type": "string"}, "param": {"type": "string"}}}}}
    chat = {
        "summary": "OpenAI chat completions: one JSON object, or an SSE stream of "
                   "chat.completion.chunk events ending in data: [DONE]",
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/ChatRequest"}}}},
        "responses": {
            "200": {"description": "chat.completion, or text/event-stream when stream=true",
                    "content": {"application/json": {"schema": {"type": "object"}},
                                "text/event-stream": {"schema": {"type": "string"}}}},
            "400": _error("Malformed JSON, a bad value, a URL option, or a prompt longer "
                          "than the context"),
            "401": _error("Missing or wrong bearer token"),
            "404": _error("Unknown model (only when aliasing is off)"),
            "413": _error("Body too large, too many messages, or a message too long"),
            "429": _error("The upstream's rate limit (proxy backend)"),
            "503": _error("Over capacity or draining; see Retry-After"),
            "502": _error("Upstream unreachable (proxy backend)"),
            "504": _error("Upstream timed out (proxy backend)"),
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Rymi custom-llm endpoint", "version": "1",
                 "description": f"Serves {served_name!r} under any requested model name."},
        "paths": {
            "/v1/chat/completions": {"post": chat},
            "/v1/models": {"get": {"summary": "The served model", "responses": {"200": {
                "description": "list", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["object", "data"]}}}}}}},
        },
        "components": {"schemas": components},
    }
