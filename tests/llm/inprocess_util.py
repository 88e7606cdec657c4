"""Helpers for the in-process backend's tests: the vLLM sampling a body builds (no engine
needed), and a voice agent's tool to call."""

from __future__ import annotations

from typing import Any

from servers.llm.backends.vllm_engine import VllmBackend
from servers.llm.config import LlmSettings
from servers.llm.schema import ChatRequest

END_CALL = {"type": "function", "function": {
    "name": "end_call", "description": "Hang up once the caller has said goodbye.",
    "parameters": {"type": "object", "properties": {"reason": {"type": "string"}}}}}
CALL_TEXT = '<tool_call>\n{"name": "end_call", "arguments": {"reason": "done"}}\n</tool_call>'
# vLLM's structured outputs hold the real engine to a hermes tool call after a word (held
# to a grammar, it writes a character or two a token: hence max_tokens 200).
FORCED = {"regex": r"Goodbye! " + CALL_TEXT.replace("{", r"\{")
          .replace("}", r"\}").replace("\n", r"\n")}
# Held to a schema ("strict"): a short reason, nothing else.
STRICT_END_CALL = {"type": "function", "function": {
    **END_CALL["function"], "strict": True, "parameters": {
        "type": "object", "properties": {"reason": {"type": "string", "maxLength": 12}},
        "required": ["reason"], "additionalProperties": False}}}
BYE = [{"role": "user", "content": "That's all, thanks, bye!"}]


def sampling_of(body: dict[str, Any], prompt_len: int, **settings: Any) -> Any:
    """The vLLM SamplingParams built for ``body`` (no engine: a 2,048-token context)."""
    backend = VllmBackend(LlmSettings(**settings))
    backend.max_model_len = 2048
    backend.tokenizer = [None] * 1000  # (only its length is read: the vocabulary's size)
    req = ChatRequest.model_validate({"messages": [{"role": "user", "content": "Hi"}], **body})
    return backend.sampling(req, prompt_len)
