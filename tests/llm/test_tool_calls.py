"""Tool calls and reasoning out of the model's text, in process (vLLM's own parsers).

A Rymi agent's tools (end the call, transfer it, look an order up) come back from an
in-process model as text unless a parser reads them: a caller heard
'<tool_call>{"name": "end_call"...' and the call never ended. The parser is vLLM's own,
on the real tokenizer. The end-to-end tests (test_tool_calls_e2e.py) hold the real
engine's output to a tool call with vLLM's ``structured_outputs`` (SmolLM2 makes none by
itself).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from servers.llm.answer import Answer
from servers.llm.backends import Delta, EngineError
from servers.llm.backends.vllm_output import OutputParser, parser_class
from servers.llm.config import LlmSettings
from servers.llm.schema import ChatRequest
from tests.llm.inprocess_util import BYE, CALL_TEXT, END_CALL, STRICT_END_CALL, sampling_of


def fed(prepared_model: Path, text: str, tools: list[dict[str, Any]] | None
        ) -> tuple[list[Delta], OutputParser]:
    """``text`` through the hermes parser one token at a time, as the engine yields it."""
    from vllm.tokenizers import get_tokenizer

    tokenizer = get_tokenizer(str(prepared_model))
    req = ChatRequest.model_validate({"messages": BYE, "tools": tools})
    parse = OutputParser(parser_class("hermes", "", tokenizer), tokenizer, req, BYE)
    return _fed_with(parse, tokenizer, text), parse


def _fed_with(parse: OutputParser, tokenizer: Any, text: str) -> list[Delta]:
    ids = tokenizer.encode(text, add_special_tokens=False)
    out, before = [], ""
    for i, token in enumerate(ids):
        now = tokenizer.decode(ids[:i + 1])
        last = i == len(ids) - 1
        content, reasoning, calls = parse.feed(now[len(before):], [token], [1, 2], last)
        before = now
        out.append(Delta(content, parse.finish_reason("stop" if last else None), 2, i + 1,
                         tool_calls=calls, reasoning=reasoning))
    return out


def test_a_tool_call_in_the_text_becomes_tool_calls_and_is_never_spoken(prepared_model):
    deltas, parse = fed(prepared_model, "Sure, goodbye. " + CALL_TEXT, [END_CALL])
    spoken = "".join(d.text for d in deltas)
    assert "<tool" not in spoken and spoken.strip() == "Sure, goodbye."
    message = _answer(deltas).message()
    (call,) = message["tool_calls"]
    assert call["id"] and call["type"] == "function"
    assert call["function"]["name"] == "end_call"
    assert json.loads(call["function"]["arguments"]) == {"reason": "done"}
    assert deltas[-1].finish_reason == "tool_calls" and parse.called


@pytest.mark.parametrize("parallel", [None, False])
def test_parallel_tool_calls_false_keeps_the_first_call_only(prepared_model, parallel):
    from vllm.tokenizers import get_tokenizer

    tokenizer = get_tokenizer(str(prepared_model))
    req = ChatRequest.model_validate({"messages": BYE, "tools": [END_CALL],
                                      "parallel_tool_calls": parallel})
    parse = OutputParser(parser_class("hermes", "", tokenizer), tokenizer, req, BYE)
    text = CALL_TEXT + CALL_TEXT.replace("done", "again")
    calls = _answer(_fed_with(parse, tokenizer, text)).message()["tool_calls"]
    assert [json.loads(c["function"]["arguments"])["reason"] for c in calls] == (
        ["done"] if parallel is False else ["done", "again"])


def test_plain_text_passes_through_the_parser_whole(prepared_model):
    text = "Our hours are nine to five, Monday to Friday. Anything else?"
    deltas, parse = fed(prepared_model, text, [END_CALL])
    assert "".join(d.text for d in deltas) == text
    assert not any(d.tool_calls for d in deltas) and deltas[-1].finish_reason == "stop"
    assert Answer.message(_answer(deltas)) == {"role": "assistant", "content": text}


def _answer(deltas: list[Delta]) -> Answer:
    answer = Answer()
    for d in deltas:
        answer.add(d)
    return answer


def test_a_reasoning_models_thinking_is_kept_out_of_the_content(prepared_model):
    """vLLM's qwen3 reasoning parser on the real tokenizer: what a voice would speak is
    the answer, the thinking goes to ``reasoning``."""
    from vllm.tokenizers import get_tokenizer

    tokenizer = get_tokenizer(str(prepared_model))
    req = ChatRequest.model_validate({"messages": BYE})
    parse = OutputParser(parser_class("", "qwen3", tokenizer), tokenizer, req, BYE)
    text = "<think>The caller is leaving.</think>Goodbye, have a nice day!"
    answer = _answer(_fed_with(parse, tokenizer, text))
    assert answer.message() == {"role": "assistant", "content": "Goodbye, have a nice day!",
                                "reasoning": "The caller is leaving."}


def test_a_parser_whose_markers_the_model_lacks_is_refused_naming_the_setting(prepared_model):
    from vllm.tokenizers import get_tokenizer

    with pytest.raises(ValueError, match=r"RYMI_LLM_TOOL_CALL_PARSER='llama3_json'.*python_tag"):
        parser_class("llama3_json", "", get_tokenizer(str(prepared_model)), "smollm2")


def test_tools_vllm_cannot_read_are_a_400_and_past_turns_are_no_reason(prepared_model):
    from vllm.tokenizers import get_tokenizer

    tokenizer = get_tokenizer(str(prepared_model))
    cls = parser_class("hermes", "", tokenizer)
    bad = ChatRequest.model_validate({"messages": BYE, "tools": [{"type": "function"}]})
    with pytest.raises(EngineError) as err:
        OutputParser(cls, tokenizer, bad, BYE)
    assert (err.value.status, err.value.param) == (400, "tools")
    # A past call in a shape vLLM's message types refuse: the turn rendered, so it stands.
    odd = [{"role": "assistant", "content": "", "tool_calls": [{"odd": True}]}, *BYE]
    good = ChatRequest.model_validate({"messages": odd, "tools": [END_CALL]})
    assert OutputParser(cls, tokenizer, good, odd).request.tools[0].function.name == "end_call"


def test_a_past_calls_arguments_reach_the_template_as_an_object():
    """The next turn after a call: OpenAI's arguments are a JSON string, and a template's
    ``tojson`` (Qwen's, Hermes') wrote it out again, escaped. vLLM's server parses it."""
    from servers.llm.backends.vllm_prompt import messages_of

    def call(arguments: str) -> dict[str, Any]:
        return {"id": "c1", "type": "function",
                "function": {"name": "lookup", "arguments": arguments}}

    req = ChatRequest.model_validate({"messages": [
        {"role": "assistant", "content": None, "tool_calls": [
            call('{"order": "A-1"}'), call("not json"), call("[1]"), call("")]},
        {"role": "tool", "tool_call_id": "c1", "content": "shipped"}]})
    rendered = messages_of(req)
    assert [c["function"]["arguments"] for c in rendered[0]["tool_calls"]] == [
        {"order": "A-1"}, {}, {}, {}]
    assert rendered[0]["tool_calls"][0]["id"] == "c1"
    assert rendered[1] == {"role": "tool", "content": "shipped", "tool_call_id": "c1"}


def test_calls_are_joined_by_their_index_and_a_call_alone_has_null_content():
    def part(i: int, **fn: str) -> Delta:
        head = {"id": f"call-{i}", "type": "function"} if "name" in fn else {}
        return Delta("", None, 1, 1, tool_calls=[{"index": i, **head, "function": fn}])

    answer = _answer([part(0, name="lookup"), part(1, name="end_call"),
                      part(0, arguments='{"order": '), part(1, arguments="{}"),
                      part(0, arguments='"A-1"}')])
    message = answer.message()
    assert message["content"] is None
    assert [(c["id"], c["function"]["name"], c["function"]["arguments"])
            for c in message["tool_calls"]] == [
        ("call-0", "lookup", '{"order": "A-1"}'), ("call-1", "end_call", "{}")]


def test_parser_names_are_vllms_and_need_the_in_process_backend():
    assert parser_class("", "") is None
    with pytest.raises(ValueError, match="RYMI_LLM_TOOL_CALL_PARSER.*vLLM has: .*hermes"):
        parser_class("no-such-parser", "")
    with pytest.raises(ValueError, match="RYMI_LLM_REASONING_PARSER.*deepseek_r1"):
        parser_class("", "no-such-parser")
    # A catalog model brings its own (Qwen 2.5 writes hermes calls); "none" turns it off.
    assert LlmSettings(model="qwen2.5-7b-instruct").output_parsers() == ("hermes", "")
    assert LlmSettings(model="qwen2.5-7b-instruct",
                       tool_call_parser="none").output_parsers() == ("", "")
    assert LlmSettings().output_parsers() == ("", "")
    assert LlmSettings(tool_call_parser="pythonic",
                       reasoning_parser="qwen3").output_parsers() == ("pythonic", "qwen3")
    with pytest.raises(ValidationError, match="need backend=vllm"):
        LlmSettings(backend="upstream", upstream_url="http://127.0.0.1:9/v1",
                    tool_call_parser="hermes")


def test_a_forced_call_without_a_parser_is_refused_not_answered_in_prose():
    """No parser, no grammar to force the call: a 400 naming tool_choice, not prose."""
    for choice in ("required", {"type": "function", "function": {"name": "end_call"}}):
        with pytest.raises(EngineError) as err:
            sampling_of({"tools": [END_CALL], "tool_choice": choice}, prompt_len=10)
        assert (err.value.status, err.value.code, err.value.param) == (
            400, "unsupported_parameter", "tool_choice")
    assert sampling_of({"tools": [END_CALL], "tool_choice": "auto"}, prompt_len=10)


def test_a_strict_tools_grammar_and_the_callers_own_format(prepared_model):
    """A strict tool under "auto" gets vLLM's triggered grammar (free text, a call held to
    its schema); a caller's own format wins there, as in vLLM's server. Under "required"
    both cannot hold: a 400."""
    from vllm.tokenizers import get_tokenizer

    from servers.llm.backends.vllm_sampling import sampling_params

    tokenizer = get_tokenizer(str(prepared_model))
    cls = parser_class("hermes", "", tokenizer)

    def params(**body: Any) -> Any:
        req = ChatRequest.model_validate({"messages": BYE, "tools": [STRICT_END_CALL], **body})
        return sampling_params(req, 10, {}, context=1024, cap=64, vocab=len(tokenizer),
                               parse=OutputParser(cls, tokenizer, req, BYE))

    assert params(tool_choice="auto").structured_outputs.structural_tag
    own = params(tool_choice="auto", response_format={"type": "json_object"})
    assert own.structured_outputs.json_object and not own.structured_outputs.structural_tag
    with pytest.raises(EngineError) as err:
        params(tool_choice="required", response_format={"type": "json_object"})
    assert (err.value.status, err.value.param) == (400, "tool_choice")


def test_structured_outputs_reach_the_engine_and_one_at_a_time():
    params = sampling_of({"structured_outputs": {"regex": "yes|no"}}, prompt_len=10)
    assert params.structured_outputs.regex == "yes|no"
    params = sampling_of({"structured_outputs": {"choice": ["yes", "no"]}}, prompt_len=10)
    assert params.structured_outputs.choice == ["yes", "no"]
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    params = sampling_of({"structured_outputs": {"json": schema}}, prompt_len=10)
    assert params.structured_outputs.json == schema
    with pytest.raises(EngineError) as err:
        sampling_of({"structured_outputs": {"regex": "a"},
                     "response_format": {"type": "json_object"}}, prompt_len=10)
    assert (err.value.status, err.value.param) == (400, "structured_outputs")
    with pytest.raises(ValidationError, match="exactly one"):
        ChatRequest.model_validate({"messages": BYE, "structured_outputs": {
            "regex": "a", "choice": ["b"]}})


# -- the real engine (the suite's server runs the hermes parser) -------------------------


def test_the_refused_template_arguments_are_all_of_the_tokenizers_own() -> None:
    """Every argument of apply_chat_template is set by us, refused, or the template's
    (a new one in a transformers release fails here, not quietly in a prompt)."""
    import inspect

    from transformers import PreTrainedTokenizerBase

    from servers.llm.backends.vllm_prompt import _OURS, TOKENIZER_ARGS

    named = set(inspect.signature(PreTrainedTokenizerBase.apply_chat_template).parameters)
    template_side = {"self", "kwargs", "documents", "continue_final_message"}
    assert named - template_side == (TOKENIZER_ARGS | _OURS) & named
    assert not TOKENIZER_ARGS & _OURS


def test_a_templates_failure_is_told_without_the_tokenizers_repr() -> None:
    import jinja2

    from servers.llm.backends.vllm_prompt import template_error

    assert template_error(jinja2.TemplateError("roles must alternate")) == "roles must alternate"
    assert template_error(ValueError("x" * 900)) == "x" * 500
    assert template_error(TypeError("got PreTrainedTokenizerFast(name_or_path='/srv/m')")) \
        == "TypeError"
