"""The OpenAPI description of the HTTP surface, built from the request model."""

from __future__ import annotations

from typing import Any

from servers.common.audio import DEFAULT_FORMAT, SUPPORTED_FORMATS

from .request import QUERY_PARAMS, TtsBody


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def openapi_schema(service: Any) -> dict[str, Any]:
    query_docs = {
        "voice": f"Default voice ({', '.join(service.catalog.ids)}).",
        "speed": "Default pace multiplier, 0.5 to 2.0.",
        "format": f"Default format ({', '.join(SUPPORTED_FORMATS)}); {DEFAULT_FORMAT} if unset.",
        "language": f"Default language ({', '.join(service.catalog.languages)}).",
    }
    synth = {
        "summary": "Synthesise text to raw PCM16 LE mono, streamed as it is produced",
        "parameters": [{"name": p, "in": "query", "required": False, "schema": {"type": "string"},
                        "description": query_docs[p]} for p in QUERY_PARAMS],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/TtsRequest"}}}},
        "responses": {
            "200": {"description": "Chunked PCM at the requested rate",
                    "content": {"application/octet-stream": {
                        "schema": {"type": "string", "format": "binary"}}}},
            "400": _error("Malformed JSON, or a bad URL option"),
            "401": _error("Missing or wrong bearer token"),
            "404": _error("Unknown voice"),
            "413": _error("Text or body too large"),
            "422": _error("Missing/empty text, wrong type, unsupported format or language"),
            "503": _error("At capacity or draining (Retry-After)"),
        },
    }
    voices = {"summary": "The voice catalog", "responses": {"200": {"description": "Voices"}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Rymi custom-voice endpoint (piper)", "version": "1"},
        "paths": {"/tts": {"post": synth}, "/": {"post": synth},
                  "/voices": {"get": voices}, "/tts/voices": {"get": voices}},
        "components": {
            "schemas": {
                "TtsRequest": TtsBody.model_json_schema(),
                "Error": {"type": "object", "properties": {"error": {
                    "type": "object", "required": ["message", "type", "code"],
                    "properties": {k: {"type": "string"}
                                   for k in ("message", "type", "code", "param")}}}},
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}, {}],
    }
