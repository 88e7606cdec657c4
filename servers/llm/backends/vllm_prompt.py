"""The conversation as the model's chat template reads it (as vLLM's server gives it)."""

from __future__ import annotations

import json
import logging
from typing import Any

from ..schema import ChatRequest
from . import EngineError

log = logging.getLogger("rymi.llm.vllm")


def messages_of(req: ChatRequest) -> list[dict[str, Any]]:
    return [_message_dict(m) for m in req.messages]


# What the server sets itself, and "chat_template": a template sent with the request would
# run whatever Jinja it holds (vLLM's server refuses that too).
_OURS = frozenset({"add_generation_prompt", "tokenize", "return_dict", "tools",
                   "chat_template", "conversation", "messages", "tokenizer"})


# apply_chat_template's own arguments for the tokenizer, not the template: this server
# tokenizes as it renders (vLLM's renders text), so they reached the prompt's ids. A
# "truncation" and "max_length" cut the prompt to 3 tokens and the answer looked fine;
# "return_tensors" was a 500. (tests/llm check this against transformers' signature.)
TOKENIZER_ARGS = frozenset({"padding", "truncation", "max_length", "return_tensors",
                            "return_assistant_tokens_mask", "tokenizer_kwargs"})


def template_kwargs(req: ChatRequest) -> dict[str, Any]:
    """The chat template's arguments: the request's ``chat_template_kwargs`` (vLLM's
    field: {"enable_thinking": false} for a Qwen3 model), its ``reasoning_effort`` as
    vLLM's server passes it, then ours over them. Before, both were dropped without a
    word and a Qwen3 model thought before every answer."""
    given = req.chat_template_kwargs or {}
    if refused := sorted(TOKENIZER_ARGS & given.keys()):
        raise EngineError(400, f"chat_template_kwargs: {', '.join(refused)} are the "
                          "tokenizer's arguments, not the chat template's; this server "
                          "tokenizes the whole prompt", "invalid_value",
                          "chat_template_kwargs")
    theirs = {k: v for k, v in given.items() if k not in _OURS}
    if req.reasoning_effort is not None:
        theirs["reasoning_effort"] = req.reasoning_effort  # (gpt-oss's templates read it)
        theirs.setdefault("enable_thinking", req.reasoning_effort != "none")
    return {**theirs, "add_generation_prompt": True, "tokenize": True, "return_dict": True}


def _message_dict(m: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"role": m.role, "content": m.text()}
    for key in ("name", "tool_call_id"):
        value = getattr(m, key)
        if value is not None:
            out[key] = value
    if m.tool_calls:
        out["tool_calls"] = [_call_for_template(c) for c in m.tool_calls]
    return out


def _call_for_template(call: dict[str, Any]) -> dict[str, Any]:
    """A past tool call as chat templates read it (and vLLM's server gives it them):
    ``arguments`` an object, not OpenAI's JSON string, which a template's ``tojson``
    wrote out a second time, escaped, in the next turn's prompt. Arguments that are no
    JSON object are {} (vLLM's choice too: one bad turn must not fail every turn after)."""
    fn = call.get("function")
    if not isinstance(fn, dict) or not isinstance(fn.get("arguments"), str):
        return call
    try:
        arguments = json.loads(fn["arguments"]) if fn["arguments"].strip() else {}
    except ValueError:
        arguments = {}
    return {**call, "function": {**fn, "arguments": arguments if isinstance(arguments, dict)
                                 else {}}}


def template_takes_tools(tokenizer: Any) -> bool:
    """Whether a tool changes the prompt the chat template renders."""
    messages = [{"role": "user", "content": "Hi"}]
    tool = {"type": "function", "function": {"name": "end_call", "description": "End it",
                                             "parameters": {"type": "object"}}}
    try:
        bare = tokenizer.apply_chat_template(messages, tokenize=False,
                                             add_generation_prompt=True)
        with_tool = tokenizer.apply_chat_template(messages, tools=[tool], tokenize=False,
                                                  add_generation_prompt=True)
    except Exception:  # noqa: BLE001 - a template that fails here fails the request loudly
        return True
    return bool(with_tool != bare)


def template_error(exc: Exception) -> str:
    """What the caller is told of a template's failure: the template's own words (its
    raise_exception) or a ValueError's, capped; of anything else its type alone, the
    detail in our log (a TypeError's text held the tokenizer's repr and its path)."""
    import jinja2

    if isinstance(exc, (jinja2.TemplateError, ValueError)):
        return str(exc)[:500]
    log.warning("chat template failed: %r", exc)
    return type(exc).__name__
