"""Backends behind /v1/chat/completions.

An *engine* backend (in-process vLLM) yields ``Delta`` objects and our own SSE layer
frames them; the *upstream* backend already speaks OpenAI SSE and forwards bytes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Delta:
    """New text since the previous Delta, and running counts from the engine."""

    text: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0  # prompt tokens whose KV came from the prefix cache


class EngineError(Exception):
    """A generation failure with the status and code it maps to before the first byte."""

    def __init__(self, status: int, message: str, code: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
