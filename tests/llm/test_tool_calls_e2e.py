"""Tool calls end to end, through the real engine and the official ``openai`` client: a
call streamed and whole, a required or named call made by the grammar, and the
constraints the engine cannot take refused with a 400 (the engine goes on)."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.conftest import LLM_TOKEN as TOKEN
from tests.llm.inprocess_util import BYE, CALL_TEXT, END_CALL, FORCED, STRICT_END_CALL
from tests.support.servers import RunningServer


@pytest.fixture(scope="module")
def client(llm_server: RunningServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{llm_server.url}/v1", api_key=TOKEN, max_retries=0,
                         timeout=120)


def test_a_streamed_tool_call_arrives_as_tool_calls(client: openai.OpenAI,
                                                    llm_server: RunningServer) -> None:
    chunks = list(client.chat.completions.create(
        model="agent", messages=BYE, tools=[END_CALL], stream=True, max_tokens=200,
        temperature=0, extra_body={"structured_outputs": FORCED},
        stream_options={"include_usage": True}, extra_headers={"X-Request-Id": "streamed-call"}))
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content.strip() == "Goodbye!", content
    parts = [t for c in chunks if c.choices for t in c.choices[0].delta.tool_calls or ()]
    assert parts and parts[0].id and parts[0].function.name == "end_call"
    arguments = "".join(t.function.arguments or "" for t in parts)
    assert json.loads(arguments) == {"reason": "done"}
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "tool_calls" and finishes.count("tool_calls") == 1
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 10
    assert llm_server.wait_usage("streamed-call")["tool_calls"] == 1


def test_a_whole_answer_carries_the_call_and_no_marker(client: openai.OpenAI,
                                                       llm_server: RunningServer) -> None:
    r = client.chat.completions.create(
        model="agent", messages=BYE, tools=[END_CALL], max_tokens=200, temperature=0,
        extra_body={"structured_outputs": FORCED},
        extra_headers={"X-Request-Id": "whole-call"})
    assert llm_server.wait_usage("whole-call")["tool_calls"] == 1  # said in the record
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content.strip() == "Goodbye!"
    (call,) = choice.message.tool_calls
    assert call.function.name == "end_call" and json.loads(call.function.arguments) == {
        "reason": "done"}


def test_without_tools_the_same_text_is_left_as_it_is(client: openai.OpenAI) -> None:
    """No tools offered: no parser runs, and what the model wrote is the answer."""
    r = client.chat.completions.create(
        model="agent", messages=BYE, max_tokens=200, temperature=0,
        extra_body={"structured_outputs": FORCED})
    assert r.choices[0].finish_reason == "stop" and not r.choices[0].message.tool_calls
    assert r.choices[0].message.content.endswith(CALL_TEXT)


# Strict, as STRICT_END_CALL: a loose schema lets the grammar take any JSON as the
# arguments, and SmolLM2 (on an AVX2 host) wrote one string until max_tokens ran out.
LOOKUP = {"type": "function", "function": {
    "name": "lookup_order", "strict": True, "parameters": {
        "type": "object", "properties": {"order": {"type": "string", "maxLength": 8}},
        "required": ["order"], "additionalProperties": False}}}


@pytest.mark.parametrize("stream", [False, True])
def test_a_required_call_is_made_by_the_grammar(client: openai.OpenAI, stream: bool) -> None:
    """tool_choice "required": vLLM's parser holds the output to a call of one of the
    tools (a strict one to its schema), and it comes back as tool_calls."""
    ask = dict(model="agent", messages=BYE, tools=[LOOKUP, STRICT_END_CALL],
               tool_choice="required", max_tokens=200, temperature=0)
    if stream:
        chunks = list(client.chat.completions.create(**ask, stream=True))
        parts = [t for c in chunks for t in c.choices[0].delta.tool_calls or ()]
        name = next(t.function.name for t in parts if t.function.name)
        arguments = "".join(t.function.arguments or "" for t in parts)
        finish = chunks[-1].choices[0].finish_reason
        content = "".join(c.choices[0].delta.content or "" for c in chunks)
    else:
        choice = client.chat.completions.create(**ask).choices[0]
        (call,) = choice.message.tool_calls
        name, arguments, finish = call.function.name, call.function.arguments, \
            choice.finish_reason
        content = choice.message.content or ""
    assert finish == "tool_calls" and not content.strip()
    assert name in ("lookup_order", "end_call")
    # strict: its schema holds
    assert set(json.loads(arguments)) == ({"reason"} if name == "end_call" else {"order"})


def test_a_named_function_is_the_one_called_and_ends_stop(client: openai.OpenAI) -> None:
    choice = client.chat.completions.create(
        model="agent", messages=BYE, tools=[LOOKUP, STRICT_END_CALL], max_tokens=200,
        temperature=0, tool_choice={"type": "function", "function": {"name": "end_call"}}
    ).choices[0]
    (call,) = choice.message.tool_calls
    assert call.function.name == "end_call" and set(json.loads(call.function.arguments)) == {
        "reason"}
    assert choice.finish_reason == "stop"  # vLLM's server, after OpenAI: named is "stop"


def test_a_forced_call_takes_no_other_output_format(llm_server: RunningServer) -> None:
    import httpx

    r = httpx.post(f"{llm_server.url}/v1/chat/completions", timeout=60,
                   headers={"Authorization": f"Bearer {TOKEN}"},
                   json={"messages": BYE, "tools": [END_CALL], "tool_choice": "required",
                         "response_format": {"type": "json_object"}})
    assert r.status_code == 400 and r.json()["error"]["param"] == "tool_choice", r.text


@pytest.mark.parametrize("constraint", [{"regex": "("}, {"grammar": "not ::= a grammar ::="},
                                        {"json": {"type": "nonsense"}}, {"json": "{not json"}])
def test_a_constraint_the_engine_cannot_compile_is_a_400_and_the_engine_goes_on(
        llm_server: RunningServer, constraint: dict[str, Any]) -> None:
    import httpx

    auth = {"Authorization": f"Bearer {TOKEN}"}
    url = f"{llm_server.url}/v1/chat/completions"
    r = httpx.post(url, timeout=60, headers=auth, json={
        "messages": BYE, "max_tokens": 4, "structured_outputs": constraint})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_value", r.text
    r = httpx.post(url, timeout=60, headers=auth, json={"messages": BYE, "max_tokens": 2})
    assert r.status_code == 200, r.text
