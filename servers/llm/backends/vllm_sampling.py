"""The sampling parameters of one in-process request: OpenAI's fields (and vLLM's own
extras) as vLLM's SamplingParams, each value it cannot honour refused with a 400 naming
it, never dropped in silence."""

from __future__ import annotations

from typing import Any

from ..schema import ChatRequest
from . import EngineError
from .vllm_output import OutputParser


def sampling_params(req: ChatRequest, prompt_len: int, defaults: dict[str, Any], *,
                    context: int, cap: int, vocab: int,
                    parse: OutputParser | None = None) -> Any:
    """vLLM's SamplingParams for ``req``, or the 400 that says what cannot be honoured.
    ``defaults`` are the model's own (generation_config.json); ``context`` its length;
    ``cap`` the largest max_tokens honoured; ``vocab`` its tokenizer's size."""
    from vllm.exceptions import VLLMClientError
    from vllm.sampling_params import RequestOutputKind, SamplingParams, StructuredOutputsParams

    room = context - prompt_len
    if room < 1:
        # What to do, not only what is wrong: a long call's agent reaches this in the
        # middle of a conversation, and its developer reads the message to know why.
        raise EngineError(400, f"the prompt has {prompt_len} tokens; this model's context "
                          f"is {context}, with room needed for the answer: shorten the "
                          "messages (drop or summarise earlier turns)",
                          "context_length_exceeded", "messages")
    wanted = req.output_limit() or room
    params: dict[str, Any] = {**defaults, "n": 1, "max_tokens": min(wanted, room, cap),
                              "output_kind": RequestOutputKind.DELTA}
    if req.logprobs or req.top_logprobs:  # loud: a client asking for them gets none
        raise EngineError(400, "logprobs are not returned by this server's in-process "
                          "backend", "unsupported_parameter", "logprobs")
    # A call the model must make ("required", a named function) is forced by the parser's
    # grammar (vLLM's own, for its format); with no parser it cannot be: promised and not
    # kept would be worse than said.
    forced = parse.structured_outputs if parse is not None else None
    if req.tools and req.tool_choice not in (None, "auto", "none") and forced is None:
        raise EngineError(400, "tool_choice 'required' or a named function needs a tool-call "
                          "parser that can force the call (RYMI_LLM_TOOL_CALL_PARSER, e.g. "
                          "hermes), or the upstream backend; use 'auto'",
                          "unsupported_parameter", "tool_choice")
    if parse is not None and not parse.skip_special_tokens:
        params["skip_special_tokens"] = False
    for field in ("temperature", "top_p", "top_k", "min_p", "seed", "stop",
                  "presence_penalty", "frequency_penalty", "repetition_penalty",
                  "min_tokens", "ignore_eos"):
        value = getattr(req, field)
        if value is not None:
            params[field] = value
    if req.top_p == 0:
        # OpenAI takes 0: a nucleus of the likeliest token, i.e. greedy. vLLM wants > 0,
        # and its CPU sampler's top_k=1 still varied with the seed: greedy is said so.
        params["top_p"], params["temperature"] = 1.0, 0.0
    if req.logit_bias:
        if any(int(token) >= vocab for token in req.logit_bias):
            raise EngineError(400, f"logit_bias: token ids go up to {vocab - 1}",
                              "invalid_value", "logit_bias")
        params["logit_bias"] = {int(k): v for k, v in req.logit_bias.items()}
    fmt = req.response_format
    if req.structured_outputs is not None:
        if fmt is not None and fmt.type != "text":
            raise EngineError(400, "give response_format or structured_outputs, not both",
                              "invalid_value", "structured_outputs")
        try:
            params["structured_outputs"] = StructuredOutputsParams(
                **req.structured_outputs.model_dump(exclude_none=True, by_alias=True))
        except (ValueError, TypeError, VLLMClientError) as exc:  # (the last is no ValueError)
            raise EngineError(400, str(exc), "invalid_value", "structured_outputs") from None
    elif fmt is not None and fmt.type == "json_object":
        params["structured_outputs"] = StructuredOutputsParams(json_object=True)
    elif fmt is not None and fmt.type == "json_schema":
        schema = (fmt.json_schema or {}).get("schema")
        if not isinstance(schema, dict):
            raise EngineError(400, "response_format.json_schema.schema must be an object",
                              "invalid_value", "response_format")
        params["structured_outputs"] = StructuredOutputsParams(json=schema)
    if forced is not None:
        if "structured_outputs" not in params:
            params["structured_outputs"] = forced
        elif req.tool_choice not in (None, "auto"):
            raise EngineError(400, "a forced tool_choice holds the output to the call; it "
                              "cannot take response_format or structured_outputs too",
                              "invalid_value", "tool_choice")
        # else "auto" keeps the caller's own format, as vLLM's server does
    try:
        return SamplingParams(**params)
    except (ValueError, TypeError, VLLMClientError) as exc:  # e.g. stop: [""] (fuzzing)
        raise EngineError(400, str(exc), "invalid_value") from None
