"""Backends behind /v1/chat/completions.

An *engine* backend (in-process vLLM) yields ``Delta`` objects and our own SSE layer
frames them; the *upstream* backend already speaks OpenAI SSE and forwards bytes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..schema import ChatRequest


@dataclass(slots=True)
class Delta:
    """New text since the previous Delta, and running counts from the engine."""

    text: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0  # prompt tokens whose KV came from the prefix cache
    # With a parser (vllm_output.py): tool-call deltas in OpenAI's form, and reasoning
    # kept out of ``text`` (a voice must not read it out).
    tool_calls: list[dict[str, Any]] | None = None
    reasoning: str = ""


class EngineError(Exception):
    """A generation failure with the status and code it maps to before the first byte."""

    def __init__(self, status: int, message: str, code: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param


class EngineBackend(Protocol):
    """What completions.py needs of an engine: the in-process vLLM backend, or a test's
    fault double (``create_app(settings, backend=...)``)."""

    name: str
    served_name: str

    async def start(self) -> None: ...
    # ``within_s``: how long its teardown may take before its processes are killed
    # (None: the engine's own default).
    async def close(self, within_s: float | None = None) -> None: ...
    async def warmup(self) -> None: ...
    def running(self) -> int: ...
    def dead(self) -> bool: ...  # the engine stopped for good (its process died)
    def progress(self) -> int: ...  # outputs made so far: still while it is stuck
    # ``on_prompt`` hears the prompt's token count once it is accepted, before the first
    # token: a client that leaves during prefill (a barge-in) still has it on its record.
    def generate(self, req: ChatRequest, request_id: str,
                 on_prompt: Callable[[int], None] | None = None) -> AsyncIterator[Delta]: ...
