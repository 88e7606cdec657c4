"""vLLM's own output parsers, in process: tool calls and reasoning out of the model's text.

``RYMI_LLM_TOOL_CALL_PARSER`` and ``RYMI_LLM_REASONING_PARSER`` name the parsers that
``vllm serve --tool-call-parser`` and ``--reasoning-parser`` take (``hermes``,
``llama3_json``, ``mistral``, ``qwen3``, ...). Without one, a model's tool call came back
as text: ``<tool_call>{"name": "end_call", ...}`` read aloud to the caller, and the call
never made. The parser is vLLM's, run on the same deltas its server gives it, so a
stream is what ``vllm serve`` would send: ``delta.tool_calls`` in OpenAI's form,
``finish_reason: "tool_calls"``, and reasoning in ``delta.reasoning``, never in the
content a voice speaks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import first_error
from ..schema import ChatRequest
from . import EngineError


def parser_class(tool_parser: str, reasoning_parser: str, tokenizer: Any = None,
                 model: str | None = None) -> Any:
    """vLLM's composed parser class for these names, or None when neither is set. With a
    tokenizer it is checked against it (a parser whose tokens the model lacks fails
    here, at start-up, not at the first call). An unknown name is a ValueError that
    lists the names vLLM has."""
    if not tool_parser and not reasoning_parser:
        return None
    from vllm.parser.parser_manager import ParserManager
    from vllm.reasoning import ReasoningParserManager
    from vllm.tool_parsers import ToolParserManager

    for name, setting, manager in (
            (tool_parser, "RYMI_LLM_TOOL_CALL_PARSER", ToolParserManager),
            (reasoning_parser, "RYMI_LLM_REASONING_PARSER", ReasoningParserManager)):
        known = manager.list_registered()
        if name and name not in known:
            raise ValueError(f"{setting}={name!r} is not a vLLM parser; vLLM has: "
                             f"{', '.join(known)}")
    try:
        return ParserManager.get_parser(
            tool_parser_name=tool_parser or None, reasoning_parser_name=reasoning_parser or None,
            enable_auto_tools=bool(tool_parser), tokenizer=tokenizer, model_name=model)
    except TypeError as exc:  # its markers are not tokens of this model (vLLM's words)
        raise ValueError(f"RYMI_LLM_TOOL_CALL_PARSER={tool_parser!r}, RYMI_LLM_REASONING_"
                         f"PARSER={reasoning_parser!r}: {exc}") from None


class OutputParser:
    """One request's parser: fed each engine delta, it gives the content to send, the
    reasoning and the tool-call deltas."""

    def __init__(self, cls: Any, tokenizer: Any, req: ChatRequest,
                 messages: list[dict[str, Any]]) -> None:
        from pydantic import ValidationError
        from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest

        body: dict[str, Any] = {"model": req.model or "-", "messages": messages}
        if req.tools and req.tool_choice != "none":
            body.update(tools=req.tools, tool_choice=req.tool_choice or "auto")
            if req.parallel_tool_calls is not None:
                body["parallel_tool_calls"] = req.parallel_tool_calls
        from vllm.exceptions import VLLMClientError

        try:
            try:  # vLLM's own request type, which its parsers read (tools, tool_choice)
                request = ChatCompletionRequest.model_validate(body)
            except ValidationError:
                # The messages rendered already: past turns vLLM's types read more
                # strictly are no reason to refuse (a parser counts past calls at most).
                body["messages"] = [{"role": "user", "content": ""}]
                request = _validated(ChatCompletionRequest, body)
            self.parser = cls(tokenizer, request.tools)
            self.request = self.parser.adjust_request(request)
        except VLLMClientError as exc:
            # vLLM's request checks raise their own type, which pydantic does not wrap:
            # it went on as a 500 engine_error, vLLM's reason only in our log.
            param = getattr(exc, "parameter", None)
            raise EngineError(400, exc.args[0] if exc.args else str(exc), "invalid_value",
                              param.split(".")[0] if isinstance(param, str) else None
                              ) from None
        self.called = False
        # vLLM's server, after OpenAI: a named function's call ends "stop", others
        # "tool_calls".
        self.named = isinstance(req.tool_choice, dict)

    @property
    def structured_outputs(self) -> Any:
        """The grammar that forces a call where ``tool_choice`` asks for one ("required",
        a named function): vLLM's structural tag for this parser's format; else None."""
        return self.request.structured_outputs

    @property
    def skip_special_tokens(self) -> bool:
        """False where the parser needs its markers as text (hermes' ``<tool_call>`` is
        a special token in some models, and the detokeniser would drop it)."""
        return bool(self.request.skip_special_tokens)

    def feed(self, text: str, token_ids: Sequence[int], prompt_ids: list[int],
             finished: bool) -> tuple[str, str, list[dict[str, Any]] | None]:
        """(content, reasoning, tool-call deltas) of one engine delta; the parser may
        hold text back (a marker half written) and give it with a later one."""
        msg = self.parser.parse_delta(text, list(token_ids), self.request, prompt_ids,
                                      finished=finished)
        if msg is None:
            return "", "", None
        single = self.request.parallel_tool_calls is False  # the first call only, as vLLM
        calls = [call.model_dump(exclude_none=True) for call in msg.tool_calls
                 if not single or call.index == 0] or None
        self.called = self.called or calls is not None
        return msg.content or "", getattr(msg, "reasoning", None) or "", calls

    def finish_reason(self, reason: str | None) -> str | None:
        """As vLLM's server and OpenAI say it: an answer that called a tool ends with
        ``tool_calls``, not ``stop``."""
        return "tool_calls" if self.called and reason == "stop" and not self.named else reason


def _validated(model: Any, body: dict[str, Any]) -> Any:
    """``body`` as vLLM's request type; tools its types refuse (our schema takes them
    loosely) are a 400 naming the field."""
    from pydantic import ValidationError

    try:
        return model.model_validate(body)
    except ValidationError as exc:
        where, said = first_error(exc)
        raise EngineError(400, f"{where}: {said}" if where else said, "invalid_value",
                          where.split(".")[0] if where else None) from None
