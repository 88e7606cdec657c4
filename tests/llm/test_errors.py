"""Every error status of the contract, in OpenAI's shape, from the in-process server."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.llm.conftest import TOKEN
from tests.support.servers import RunningServer, metric

OK_MESSAGES = [{"role": "user", "content": "hi"}]
TOOL = {"type": "function", "function": {"name": "end_call", "parameters": {"type": "object"}}}


def post(server: RunningServer, content: bytes | None = None, json: object = None,
         token: str | None = TOKEN) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(f"{server.url}/v1/chat/completions", content=content, json=json,
                      headers=headers, timeout=60)


def shaped(r: httpx.Response, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["type"], str) and isinstance(err["code"], str)
    if code:
        assert err["code"] == code
    return err


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_401_without_the_right_token(llm: RunningServer, token: str | None) -> None:
    err = shaped(post(llm, json={"messages": OK_MESSAGES}, token=token), 401)
    assert err["type"] == "authentication_error"


def test_probes_need_no_token(llm: RunningServer) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert httpx.get(f"{llm.url}{path}", timeout=10).status_code == 200


def test_400_malformed_json(llm: RunningServer) -> None:
    shaped(post(llm, content=b'{"messages": ['), 400, "invalid_json")
    shaped(post(llm, content=b"[1, 2]"), 400, "invalid_json")
    # Nested past the JSON decoder's depth: a RecursionError, once a 500.
    shaped(post(llm, content=b'{"tools": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"), 400,
           "invalid_json")
    # Valid JSON with a number past int()'s 4,300 digits: the field is refused, by name.
    huge = b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1' + b"0" * 5000
    err = shaped(post(llm, content=huge + b"}"), 400)
    assert err["param"] == "max_tokens", err


@pytest.mark.parametrize("body,param", [
    ({"messages": []}, "messages"),
    ({}, "messages"),
    ({"messages": OK_MESSAGES, "temperature": 9}, "temperature"),
    # The first value past each limit (one far past it left a limit moved outward unseen).
    ({"messages": OK_MESSAGES, "temperature": 2.5}, "temperature"),
    ({"messages": OK_MESSAGES, "stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ({"messages": OK_MESSAGES, "logit_bias": {"5": 150}}, "logit_bias"),
    ({"messages": OK_MESSAGES, "max_tokens": 0}, "max_tokens"),
    ({"messages": OK_MESSAGES, "n": 2}, "n"),
    ({"messages": OK_MESSAGES, "top_p": "high"}, "top_p"),
    ({"messages": [{"role": "robot", "content": "x"}]}, "messages.0.role"),
    ({"messages": OK_MESSAGES, "stream": "yes please"}, "stream"),
    # A value of the wrong type is refused, not read one way here and relayed as it
    # came to an upstream that reads it another ("false" was streamed upstream).
    ({"messages": OK_MESSAGES, "stream": "false"}, "stream"),
    ({"messages": OK_MESSAGES, "stream": 1}, "stream"),
    ({"messages": OK_MESSAGES, "temperature": "0.5"}, "temperature"),
    ({"messages": OK_MESSAGES, "max_tokens": "10"}, "max_tokens"),
    # Past int64 the engine cannot take the request (it failed inside vLLM, a 500, and
    # stayed counted as running).
    ({"messages": OK_MESSAGES, "seed": 2**64}, "seed"),
    ({"messages": OK_MESSAGES, "seed": -2**63 - 1}, "seed"),
    ({"messages": OK_MESSAGES, "top_k": 2**64}, "top_k"),
    # "²" passed isdigit() and failed int() inside the engine: a 500 engine_error.
    ({"messages": OK_MESSAGES, "logit_bias": {"²": 5}}, "logit_bias"),
    ({"messages": OK_MESSAGES, "logit_bias": {"١": 5}}, "logit_bias"),
    ({"messages": OK_MESSAGES, "reasoning_effort": "extreme"}, "reasoning_effort"),
    # pydantic's union branches were in the name ("messages.0.content.str"), and a bad
    # part was told as "should be a valid string".
    ({"messages": [{"role": "user", "content": 5}]}, "messages.0.content"),
    ({"messages": [{"role": "user", "content": [{"type": "text"}]}]},
     "messages.0.content.0.text"),
    ({"messages": OK_MESSAGES, "stop": 5}, "stop"),
    # A call the model must make, with nothing to call: answered in prose before (or, a
    # name vLLM's own check refused, a 500 engine_error).
    ({"messages": OK_MESSAGES, "tool_choice": "required"}, "tool_choice"),
    ({"messages": OK_MESSAGES, "tools": [], "tool_choice": "required"}, "tools"),
    ({"messages": OK_MESSAGES, "tools": [TOOL], "tool_choice": "any"}, "tool_choice"),
    ({"messages": OK_MESSAGES, "tools": [TOOL], "tool_choice": {"type": "function"}},
     "tool_choice"),
    ({"messages": OK_MESSAGES, "tools": [TOOL], "tool_choice": {
        "type": "function", "function": {"name": "transfer_call"}}}, "tool_choice"),
    # A form our schema leaves to the backend, which vLLM's own check refuses.
    ({"messages": OK_MESSAGES, "tools": [TOOL], "tool_choice": {
        "type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}}},
     "tool_choice"),
    # The tokenizer's arguments, not the template's: a prompt cut to 3 tokens answered
    # 200, a return_tensors was a 500, a tokenizer_kwargs' error showed our model path.
    ({"messages": OK_MESSAGES, "chat_template_kwargs": {"truncation": True, "max_length": 3}},
     "chat_template_kwargs"),
    ({"messages": OK_MESSAGES, "chat_template_kwargs": {"return_tensors": "np"}},
     "chat_template_kwargs"),
    ({"messages": OK_MESSAGES, "chat_template_kwargs": {"tokenizer_kwargs": {}}},
     "chat_template_kwargs"),
])
def test_400_bad_values_name_the_field(llm: RunningServer, body: dict, param: str) -> None:
    err = shaped(post(llm, json=body), 400, "invalid_value")
    assert err["type"] == "invalid_request_error" and err["param"] == param


@pytest.mark.parametrize("stop", [b'"\\ud83d"', b'["ok", "\\udc00"]'])
def test_400_a_stop_that_is_no_text(llm: RunningServer, stop: bytes) -> None:
    """A lone surrogate (valid JSON) failed on its way to the engine: a 500 with nothing
    in the log to say why."""
    body = b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, "stop": '
    err = shaped(post(llm, content=body + stop + b"}"), 400, "invalid_value")
    assert err["param"] == "stop"
    assert metric(llm, "rymi_llm_engine_requests") == 0


def test_400_a_message_that_is_no_text_says_so(llm: RunningServer) -> None:
    body = b'{"messages": [{"role": "user", "content": "hi \\ud83d"}], "max_tokens": 2}'
    err = shaped(post(llm, content=body), 400, "invalid_messages")
    assert "messages[0].content is not valid Unicode text" in err["message"], err


def test_400_prompt_longer_than_the_context(llm: RunningServer) -> None:
    long = " ".join(["word"] * 3000)  # ~3000 tokens; the test server's context is 1024
    err = shaped(post(llm, json={"messages": [{"role": "user", "content": long}],
                                 "stream": True}), 400, "context_length_exceeded")
    assert err["param"] == "messages"
    # The numbers, and what the caller can do about them (a long call reaches this).
    assert re.match(r"the prompt has \d+ tokens; this model's context is 1024, .*shorten "
                    r"the messages", err["message"]), err


def test_400_non_text_content_on_a_text_model(llm: RunningServer) -> None:
    parts = [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]
    shaped(post(llm, json={"messages": [{"role": "user", "content": parts}]}), 400,
           "unsupported_content")


def test_413_body_too_large(llm: RunningServer) -> None:
    big = "x" * 70_000  # the test server's limit is 65,536 bytes
    shaped(post(llm, json={"messages": [{"role": "user", "content": big}]}), 413,
           "request_too_large")


def test_413_too_many_messages(llm: RunningServer) -> None:
    err = shaped(post(llm, json={"messages": OK_MESSAGES * 17}), 413, "too_many_messages")
    assert err["param"] == "messages"


def test_404_and_405_shaped(llm: RunningServer) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    shaped(httpx.get(f"{llm.url}/v1/nothing-here", headers=headers, timeout=10), 404)
    shaped(httpx.get(f"{llm.url}/v1/chat/completions", headers=headers, timeout=10), 405)


def test_null_standard_fields_take_their_defaults(llm: RunningServer) -> None:
    """OpenAI documents stream, n and include_usage as nullable: null is the default."""
    r = post(llm, json={"messages": OK_MESSAGES, "max_tokens": 2, "stream": None, "n": None,
                        "stream_options": {"include_usage": None}, "seed": 2**63 - 1})
    assert r.status_code == 200, r.text
    assert r.json()["object"] == "chat.completion"
    assert metric(llm, "rymi_llm_engine_requests") == 0


def test_content_parts_of_text_are_accepted(llm: RunningServer) -> None:
    parts = [{"type": "text", "text": "Say"}, {"type": "text", "text": " hi."}]
    r = post(llm, json={"messages": [{"role": "system", "content": "Be brief."},
                                     {"role": "user", "content": parts}], "max_tokens": 2})
    assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] <= 2


def _prompt_tokens(llm: RunningServer, messages: list[dict]) -> int:
    r = post(llm, json={"messages": messages, "max_tokens": 1})
    assert r.status_code == 200, r.text
    return r.json()["usage"]["prompt_tokens"]


def test_text_parts_are_lines_as_vllm_reads_them(llm: RunningServer) -> None:
    """Parts were joined with nothing ("Hello", "world" reached the model as
    "Helloworld"); vLLM's server joins them with a line break. An assistant's refusal
    part (the OpenAI SDK's type) and the Responses API's "input_text" are text too
    (they were 400 "this model reads text only")."""
    as_parts = [{"role": "user", "content": [{"type": "text", "text": "Hello"},
                                             {"type": "input_text", "text": "world"}]},
                {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]},
                {"role": "user", "content": "Why?"}]
    as_text = [{"role": "user", "content": "Hello\nworld"},
               {"role": "assistant", "content": "No."}, {"role": "user", "content": "Why?"}]
    assert _prompt_tokens(llm, as_parts) == _prompt_tokens(llm, as_text)


def test_a_text_part_without_its_text_is_a_bad_value(llm: RunningServer) -> None:
    err = shaped(post(llm, json={"messages": [{"role": "user", "content": [{"type": "text"}]}]}),
                 400, "invalid_value")
    assert err["param"].startswith("messages.0.content"), err


def test_a_schema_the_engine_refuses_is_a_bad_value(llm: RunningServer) -> None:
    """Refused inside vLLM (its grammar compiler), it was 400 invalid_request, a code
    the README's table does not list; a bad value is invalid_value wherever it is found."""
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": {
        "type": "object", "properties": {"a": {"type": "string", "pattern": "(unclosed"}},
        "required": ["a"]}}}
    shaped(post(llm, json={"messages": OK_MESSAGES, "max_tokens": 4, "response_format": fmt}),
           400, "invalid_value")
    assert metric(llm, "rymi_llm_engine_requests") == 0


@pytest.mark.parametrize("body, token, status, code", [
    ({"messages": OK_MESSAGES}, "wrong-token", 401, "invalid_token"),
    ({"messages": OK_MESSAGES, "top_p": "high"}, TOKEN, 400, "invalid_value"),
    ({"messages": OK_MESSAGES, "model": "other", "n": 2}, TOKEN, 400, None),
])
def test_a_refused_requests_record_says_which_error(llm: RunningServer, body: dict,
                                                    token: str, status: int,
                                                    code: str | None) -> None:
    """Only the engine's own errors (and TTS's) were in the records: a 401, or a 400 the
    request's checks gave, had a status and no code, unlike what the README promises."""
    rid = f"refused-{status}-{code}"
    r = httpx.post(f"{llm.url}/v1/chat/completions", json=body, timeout=60,
                   headers={"Authorization": f"Bearer {token}", "X-Request-Id": rid})
    err = shaped(r, status, code)
    assert llm.wait_usage(rid)["error"] == err["code"]


@pytest.mark.parametrize("given", [{"regex": "a+", "json_object": False},
                                   {"json_object": False}])
def test_structured_outputs_as_vllm_counts_them_is_a_400_not_a_500(
        llm: RunningServer, given: dict) -> None:
    """vLLM counts a kind given when it is not null: "json_object": false beside a regex
    is two, and its check (no ValueError) was a 500 engine_error here. Alone it holds
    the output to nothing, said so rather than taken as no constraint."""
    body = {"messages": OK_MESSAGES, "max_tokens": 4,
            "structured_outputs": given}
    err = shaped(post(llm, json=body), 400, "invalid_value")
    assert err["param"] == "structured_outputs", err


def _enum_schema(properties: int, values: int) -> dict:
    return {"type": "object", "properties": {
        f"p{i}": {"type": "string", "enum": [f"v{j}" for j in range(values)]}
        for i in range(properties)}}


@pytest.mark.parametrize("body, param, bound", [
    # (Within this server's 64 KiB body. 1,000 choices of 100 characters had a first
    # token after 2 s, 40,000 enum values 2 s, with every other stream slowed.)
    ({"structured_outputs": {"choice": [f"c{i} " + "y" * 60 for i in range(300)]}},
     "structured_outputs.choice", "15000"),
    ({"response_format": {"type": "json_schema", "json_schema": {
        "name": "big", "schema": _enum_schema(51, 20)}}},
     "response_format.json_schema", "1000"),
    ({"structured_outputs": {"json": _enum_schema(51, 20)}}, "structured_outputs.json",
     "1000"),
    ({"tools": [{"type": "function", "function": {"name": f"f{i}", "parameters": {
        "type": "object"}}} for i in range(129)]}, "tools", "128"),
])
def test_a_constraint_past_openais_bounds_is_refused_before_its_compile(
        llm: RunningServer, body: dict, param: str, bound: str) -> None:
    """A grammar is compiled before the first token, on the cores the model runs on: a
    constraint OpenAI would refuse cost seconds here and slowed every other stream."""
    err = shaped(post(llm, json={"messages": OK_MESSAGES, "max_tokens": 4, **body}), 400,
                 "invalid_value")
    assert err["param"] == param and bound in err["message"], err
