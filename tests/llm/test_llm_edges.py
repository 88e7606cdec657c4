"""LLM behaviours that no other test held (found by breaking the code on purpose): the
relay's counts and errors, the proxy's environment, the schema's tool and structured-output
rules, a whole answer's record, reasoning and tool-call deltas, vLLM's own parameters."""

from __future__ import annotations

import json

import pytest

from .relay_util import DONE, ID, ROLE, STOP, TEXT, relay


def test_a_usage_count_of_zero_is_counted_as_zero() -> None:
    """0 is a count (an answer that stopped at once): the record says 0, not null."""
    zero = (b'data: {' + ID + b'"choices":[],"usage":{"prompt_tokens":0,'
            b'"completion_tokens":0,"total_tokens":0}}\n\n')
    out, state = relay([ROLE, STOP, zero, DONE])
    assert b"".join(out).endswith(zero + DONE)
    assert (state.prompt_tokens, state.completion_tokens) == (0, 0)


def test_an_event_that_is_no_json_after_done_gets_no_error_event_after_done() -> None:
    """Nothing goes out after [DONE], not even the error for what came after it."""
    out, state = relay([ROLE + TEXT + STOP + DONE + b"data: {not json\n\n"], drop_usage=True)
    assert b"".join(out) == ROLE + TEXT + STOP + DONE
    assert state.error is None


@pytest.mark.parametrize("param", [["messages"], 7, "sk-up-123"])
def test_an_error_event_in_our_shape_but_for_its_param_is_reshaped(
        param: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """message, type and code fine, param a list, a number or the upstream's key: the
    event went on as it came (the key to the caller)."""
    from servers.llm.backends import secret

    monkeypatch.setattr(secret, "_token", "sk-up-123")
    event = {"error": {"message": "m", "type": "t", "code": "c", "param": param}}
    out, state = relay([ROLE, TEXT, b"data: " + json.dumps(event).encode() + b"\n\n", DONE])
    said = b"".join(out).decode()
    assert "sk-up-123" not in said, said
    last = json.loads(said.split("\n\n")[-2][len("data: "):])["error"]
    assert (last["message"], last["type"], last["code"]) == ("m", "t", "c")
    assert last.get("param") is None or isinstance(last["param"], str), last
    assert state.error is not None


def test_an_upstream_errors_true_or_false_is_no_type_or_code() -> None:
    """A JSON true where a string belongs is none of the contract's strings ("True")."""
    from servers.llm.backends.upstream_errors import error_parts

    body = {"error": {"message": "m", "type": True, "code": False, "param": True}}
    assert error_parts(json.dumps(body).encode()) == ("m", None, None, None)


def test_the_environments_proxy_is_skipped_for_a_no_proxy_host(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """NO_PROXY, as curl honours it: an in-cluster upstream is reached directly."""
    from servers.llm.backends.connect import env_proxy_for

    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy", "ALL_PROXY",
                 "REQUEST_METHOD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3129")
    monkeypatch.setenv("NO_PROXY", "llm.internal,127.0.0.1")
    assert env_proxy_for("https://api.example.com/v1") == "http://proxy.example:3129"
    assert env_proxy_for("http://api.example.com/v1") == "http://proxy.example:3128"
    assert env_proxy_for("http://llm.internal:8000/v1") is None
    assert env_proxy_for("http://127.0.0.1:8000/v1") is None


@pytest.mark.parametrize("given", [{}, {"disable_any_whitespace": True},
                                   {"json_object": False},
                                   {"regex": "a+", "json_object": False}])
def test_structured_outputs_with_no_constraint_is_a_bad_value_naming_the_field(
        given: dict) -> None:
    """None of json, regex, choice, grammar, json_object, structural_tag: refused by the
    schema (vLLM's own check raises a type the in-process backend made a 500)."""
    from servers.common.errors import ApiError
    from servers.llm.config import LlmSettings
    from servers.llm.errors import parse_request

    body = {"messages": [{"role": "user", "content": "hi"}], "structured_outputs": given}
    with pytest.raises(ApiError) as refused:
        parse_request(json.dumps(body).encode(), LlmSettings(), "m")
    assert refused.value.status == 400 and refused.value.code == "invalid_value"
    assert refused.value.param == "structured_outputs"


TOOL = {"type": "function", "function": {"name": "end_call", "parameters": {}}}


def test_an_object_tool_choice_of_another_type_is_the_upstreams_to_decide(
        fault_proxy, fault_upstream) -> None:  # type: ignore[no-untyped-def]
    """OpenAI's newer "allowed_tools" form reaches the upstream as it was sent."""
    from tests.llm.sse_util import ask_fault

    choice = {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": [
        {"type": "function", "function": {"name": "end_call"}}]}}
    r, _ = ask_fault(fault_proxy.url, "ok", tools=[TOOL], tool_choice=choice)
    assert r.status_code == 200, r.text
    assert fault_upstream.state.requests[-1]["body"]["tool_choice"] == choice


def test_a_named_function_that_is_none_of_the_tools_is_refused_before_the_upstream(
        fault_proxy, fault_upstream) -> None:  # type: ignore[no-untyped-def]
    from tests.llm.sse_util import ask_fault

    asked = len(fault_upstream.state.requests)
    r, _ = ask_fault(fault_proxy.url, "ok", tools=[TOOL], tool_choice={
        "type": "function", "function": {"name": "transfer_call"}})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert (err["code"], err["param"]) == ("invalid_value", "tool_choice"), err
    assert "transfer_call" in err["message"]
    assert len(fault_upstream.state.requests) == asked


def test_a_whole_answers_token_counts_reach_its_record(fault_proxy) -> None:  # type: ignore[no-untyped-def]
    """Not streamed: the upstream's usage (3 prompt, 1 completion) is the record's."""
    from tests.llm.sse_util import raw_stream

    body = {"model": "m", "messages": [{"role": "user", "content": "fault:ok"}],
            "stream": False}
    r, _ = raw_stream(fault_proxy.url, body, headers={"X-Request-Id": "r17-whole"})
    assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] == 1
    record = fault_proxy.wait_usage("r17-whole")
    assert (record["prompt_tokens"], record["completion_tokens"]) == (3, 1), record


def test_a_streamed_chunks_reasoning_is_in_delta_reasoning_not_the_content() -> None:
    """As the README says (vLLM's field): a thinking model's reasoning in
    ``delta.reasoning``, never in ``delta.content``."""
    from servers.llm.sse import ChunkWriter

    chunk = ChunkWriter("m").delta("", None, None, "Let me think.")
    choice = json.loads(chunk[len(b"data: "):])["choices"][0]
    assert choice["delta"] == {"reasoning": "Let me think."}, choice


def test_an_in_process_streams_reasoning_and_tool_calls_all_reach_the_client() -> None:
    """Over the engine double (the real routes and SSE writer): reasoning-only deltas,
    the first delta's reasoning among them, and the tool-call deltas each go out."""
    import httpx

    from servers.llm.backends import Delta
    from tests.llm.fault_engine import FaultEngine, InProcessLlm

    call = {"index": 0, "id": "call_1", "type": "function",
            "function": {"name": "end_call", "arguments": ""}}

    class Thinking(FaultEngine):
        async def generate(self, req, request_id, on_prompt=None):  # type: ignore[no-untyped-def, override]
            for d in (Delta("", None, 7, 1, reasoning="Think."),
                      Delta("", None, 7, 2, reasoning=" More."),
                      Delta("", None, 7, 3, tool_calls=[call]),
                      Delta("", None, 7, 4, tool_calls=[
                          {"index": 0, "function": {"arguments": "{}"}}]),
                      Delta("", "tool_calls", 7, 5)):
                yield d

    server = InProcessLlm(Thinking(), "r17-token").start()
    try:
        with httpx.stream("POST", f"{server.url}/v1/chat/completions", timeout=30,
                          headers={"Authorization": "Bearer r17-token",
                                   "X-Request-Id": "r17-think"},
                          json={"messages": [{"role": "user", "content": "hi"}],
                                "stream": True}) as r:
            data = r.read()
        chunks = [json.loads(e[len(b"data: "):]) for e in data.split(b"\n\n")
                  if e.startswith(b"data: {")]
        deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
        assert "".join(d.get("reasoning", "") for d in deltas) == "Think. More."
        assert not any(d.get("content") for d in deltas)
        parts = [p for d in deltas for p in d.get("tool_calls", [])]
        assert [p.get("id") for p in parts] == ["call_1", None]
        assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
        assert data.endswith(b"data: [DONE]\n\n")
    finally:
        server.stop()


def test_a_parser_that_needs_its_markers_as_text_gets_them_from_the_engine(
        prepared_model) -> None:  # type: ignore[no-untyped-def]
    """hermes asks for special tokens to be kept (its <tool_call> is one in some models'
    vocabularies): the engine is told skip_special_tokens=False, or the marker is
    dropped by the detokeniser and the call never parsed."""
    from vllm.tokenizers import get_tokenizer

    from servers.llm.backends.vllm_output import OutputParser, parser_class
    from servers.llm.backends.vllm_sampling import sampling_params
    from servers.llm.schema import ChatRequest

    tokenizer = get_tokenizer(str(prepared_model))
    messages = [{"role": "user", "content": "Bye"}]
    req = ChatRequest.model_validate({"messages": messages, "tools": [TOOL]})
    parse = OutputParser(parser_class("hermes", "", tokenizer), tokenizer, req, messages)
    assert parse.skip_special_tokens is False
    params = sampling_params(req, 5, {}, context=2048, cap=100, vocab=len(tokenizer),
                             parse=parse)
    assert params.skip_special_tokens is False


def test_a_logit_bias_token_one_past_the_vocabulary_is_refused_naming_it() -> None:
    """Ids go from 0 to the vocabulary's size less one: the size itself is no token."""
    from servers.llm.backends import EngineError
    from tests.llm.inprocess_util import sampling_of

    assert sampling_of({"logit_bias": {"999": 5}}, 5).logit_bias == {999: 5}
    with pytest.raises(EngineError) as refused:
        sampling_of({"logit_bias": {"1000": 5}}, 5)  # a vocabulary of 1,000
    assert (refused.value.status, refused.value.param) == (400, "logit_bias")
