"""A small static OpenAPI description of the LLM server's surface, for fuzzing.

The LLM server serves no /openapi.json of its own (the TTS server does); until it does,
this is what schemathesis generates requests from: POST /v1/chat/completions (the
standard OpenAI body, the fields the server validates) and GET /v1/models.
"""

from __future__ import annotations

from typing import Any

_ERROR = {"description": "Shaped error", "content": {"application/json": {"schema": {
    "type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["message", "type", "code"]}}}}}}

_PART = {"type": "object", "required": ["type", "text"],
         "properties": {"type": {"enum": ["text"]}, "text": {"type": "string"}}}

_MESSAGE = {
    "type": "object", "required": ["role", "content"],
    "properties": {
        "role": {"enum": ["system", "developer", "user", "assistant", "tool"]},
        "content": {"anyOf": [{"type": "string", "maxLength": 200},
                              {"type": "array", "items": _PART, "maxItems": 3},
                              {"type": "null"}]},
        "name": {"type": "string"},
    },
}

CHAT_REQUEST: dict[str, Any] = {
    "type": "object", "required": ["messages"],
    "properties": {
        "model": {"type": "string", "maxLength": 256},
        "messages": {"type": "array", "items": _MESSAGE, "minItems": 1, "maxItems": 4},
        "stream": {"type": "boolean"},
        "stream_options": {"type": "object",
                           "properties": {"include_usage": {"type": "boolean"}}},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "top_p": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 1},
        "top_k": {"type": "integer", "minimum": -1},
        "max_tokens": {"type": "integer", "minimum": 1, "maximum": 4},
        "stop": {"anyOf": [{"type": "string"},
                           {"type": "array", "items": {"type": "string"}, "maxItems": 4}]},
        "seed": {"type": "integer"},
        "n": {"type": "integer", "minimum": 1, "maximum": 1},
        "presence_penalty": {"type": "number", "minimum": -2, "maximum": 2},
        "frequency_penalty": {"type": "number", "minimum": -2, "maximum": 2},
        "user": {"type": "string"},
    },
}

LLM_OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Rymi custom-llm endpoint", "version": "1"},
    "paths": {
        "/v1/chat/completions": {"post": {
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": CHAT_REQUEST}}},
            "responses": {
                "200": {"description": "chat.completion JSON, or an SSE stream",
                        "content": {"application/json": {"schema": {"type": "object"}},
                                    "text/event-stream": {"schema": {"type": "string"}}}},
                "400": _ERROR, "401": _ERROR, "404": _ERROR, "413": _ERROR, "503": _ERROR},
        }},
        "/v1/models": {"get": {"responses": {"200": {
            "description": "The served model", "content": {"application/json": {"schema": {
                "type": "object", "required": ["object", "data"]}}}}}}},
    },
}
