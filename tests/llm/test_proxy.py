"""The upstream backend: byte-level fidelity to a real upstream, and the contract held
whatever the upstream sends (faults: test_proxy_faults.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import openai
import pytest

from tests.llm.conftest import TOKEN
from tests.llm.fault_upstream import MODEL, USAGE, FaultUpstream
from tests.llm.sse_util import ask_fault, normalise, payloads, raw_stream
from tests.support.servers import RunningServer, start_server

PROMPT = [{"role": "user", "content": "Name a colour."}]


@pytest.mark.parametrize("include_usage", [True, False])
def test_proxy_stream_equals_direct(llm: RunningServer, proxy: RunningServer,
                                    include_usage: bool) -> None:
    body = {"model": "whatever", "messages": PROMPT, "stream": True, "max_tokens": 6,
            "temperature": 0, "seed": 1}
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    _, direct = raw_stream(llm.url, body, TOKEN)
    r, proxied = raw_stream(proxy.url, body)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["x-accel-buffering"] == "no"  # nginx passes each event on at once
    assert normalise(payloads(proxied)) == normalise(payloads(direct))
    # Without include_usage the proxy asked for usage anyway (for its record) and dropped it.
    assert any("usage" in o for o in payloads(proxied) if isinstance(o, dict)) == include_usage


def test_proxy_non_streaming_and_models(proxy: RunningServer) -> None:
    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key="unused", max_retries=0)
    r = client.chat.completions.create(model="alias", messages=PROMPT, max_tokens=4,
                                       temperature=0)
    assert r.object == "chat.completion" and r.usage.completion_tokens <= 4
    assert [m.id for m in client.models.list().data] == ["smollm2-135m-instruct"]


def test_proxy_records_upstream_token_counts(proxy: RunningServer) -> None:
    body = {"model": "m", "messages": PROMPT, "stream": True, "max_tokens": 3, "temperature": 0}
    raw_stream(proxy.url, body)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(
            u.get("completion_tokens") == 3 for u in proxy.usage_records()):
        time.sleep(0.1)
    rec = [u for u in proxy.usage_records() if u.get("completion_tokens") == 3][-1]
    assert rec["channel"] == "custom-llm" and rec["prompt_tokens"] > 0
    assert TOKEN not in proxy.logs()


def test_content_encoding_none_is_no_compression(fault_proxy: RunningServer) -> None:
    r, data = ask_fault(fault_proxy.url, "encoding-none")
    assert r.status_code == 200 and payloads(data)[-1] == "[DONE]", data


def test_fault_ok_sends_upstream_token_and_model(fault_proxy: RunningServer,
                                                 fault_upstream: FaultUpstream) -> None:
    r, data = ask_fault(fault_proxy.url, "ok", stream_options={"include_usage": True},
                     max_tokens=100_000)
    objs = payloads(data)
    assert objs[-1] == "[DONE]" and objs[-2]["usage"]["completion_tokens"] == 2
    sent = fault_upstream.state.requests[-1]
    assert sent["auth"] == "Bearer upstream-secret-77"
    assert sent["body"]["max_tokens"] == 4096  # max_tokens_cap holds for upstreams too
    assert sent["accept_encoding"] == "identity"  # relayed bytes must not come compressed
    assert sent["body"]["model"] == MODEL
    assert "upstream-secret-77" not in fault_proxy.logs()


@pytest.fixture(scope="module")
def unforced_proxy(fault_upstream: FaultUpstream) -> Iterator[RunningServer]:
    """A proxy that does not ask the upstream for usage the client did not ask for."""
    server = start_server("servers.llm", env={
        "RYMI_LLM_BACKEND": "upstream", "RYMI_LLM_UPSTREAM_URL": fault_upstream.url,
        "RYMI_LLM_UPSTREAM_FORCE_USAGE": "false", "RYMI_LLM_TOKENS": ""}, ready_timeout=120)
    yield server
    server.stop()


def test_the_cap_goes_upstream_in_the_field_the_upstream_takes(
        fault_upstream: FaultUpstream) -> None:
    """OpenAI's reasoning models answer max_tokens with a 400 ("use
    max_completion_tokens"): with the operator's setting the limit goes upstream only in
    that field, the cap on a request with none, and the max_tokens Rymi sends with every
    turn moved there (left where it was, every turn was refused), clamped."""
    server = start_server("servers.llm", env={
        "RYMI_LLM_BACKEND": "upstream", "RYMI_LLM_UPSTREAM_URL": fault_upstream.url,
        "RYMI_LLM_UPSTREAM_CAP_FIELD": "max_completion_tokens", "RYMI_LLM_TOKENS": "",
        "RYMI_LLM_MAX_TOKENS_CAP": "300"}, ready_timeout=120)
    try:
        r, _ = ask_fault(server.url, "ok", stream=False)
        assert r.status_code == 200, r.text
        sent = fault_upstream.state.requests[-1]["body"]
        assert sent["max_completion_tokens"] == 300 and "max_tokens" not in sent
        ask_fault(server.url, "ok", stream=False, max_tokens=20)
        sent = fault_upstream.state.requests[-1]["body"]
        assert sent["max_completion_tokens"] == 20 and "max_tokens" not in sent
        ask_fault(server.url, "ok", stream=False, max_tokens=2048)
        sent = fault_upstream.state.requests[-1]["body"]
        assert sent["max_completion_tokens"] == 300 and "max_tokens" not in sent
    finally:
        server.stop()


@pytest.mark.parametrize("fault", ["usage-on-choice", "no-usage", "usage-unasked"])
@pytest.mark.parametrize("include_usage", [True, False])
@pytest.mark.parametrize("forced", [True, False])
def test_usage_follows_the_contract_whatever_the_upstream_does(
        fault_proxy: RunningServer, unforced_proxy: RunningServer, fault: str,
        include_usage: bool, forced: bool) -> None:
    """Asked for: one usage chunk of its own (choices: []) just before [DONE], the
    upstream's count or null if it counted nothing; not asked for: none. The choice
    chunks never carry it, wherever the upstream put it."""
    extra = {"stream_options": {"include_usage": True}} if include_usage else {}
    r, data = ask_fault((fault_proxy if forced else unforced_proxy).url, fault, **extra)
    objs = payloads(data)
    assert r.status_code == 200 and objs[-1] == "[DONE]", objs
    chunks = objs[:-1]
    choice_chunks = [o for o in chunks if o["choices"]]
    assert len(choice_chunks) == 3 and not any("usage" in o for o in choice_chunks)
    assert choice_chunks[-1]["choices"][0]["finish_reason"] == "stop"
    if not include_usage:
        assert chunks == choice_chunks, chunks
        return
    assert len(chunks) == 4 and chunks[-1]["choices"] == []
    assert chunks[-1]["id"] == choice_chunks[0]["id"]
    assert chunks[-1]["object"] == "chat.completion.chunk"
    assert chunks[-1]["usage"] == (None if fault == "no-usage" else USAGE)


def test_an_upstream_that_breaks_the_stream_rules_is_held_to_them(
        fault_proxy: RunningServer) -> None:
    """One id and created, the role first, a finish_reason last, whatever the upstream
    wrote (here: a new id per chunk, no role, no finish_reason); the text as it came."""
    r, data = ask_fault(fault_proxy.url, "loose", stream_options={"include_usage": True})
    objs = payloads(data)
    assert r.status_code == 200 and objs[-1] == "[DONE]", objs
    chunks = objs[:-1]
    assert {(c["id"], c["created"]) for c in chunks} == {("chatcmpl-0", 100)}
    assert [c["choices"][0]["delta"] for c in chunks[:-1]] == [
        {"role": "assistant", "content": "Hel"}, {"content": "lo"}, {}]
    assert [c["choices"][0].get("finish_reason") for c in chunks[:-1]] == [None, None, "stop"]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == USAGE
    client = openai.OpenAI(base_url=f"{fault_proxy.url}/v1", api_key=TOKEN, max_retries=0)
    stream = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "fault:loose"}], stream=True)
    got = list(stream)
    assert got[0].choices[0].delta.role == "assistant" and len({c.id for c in got}) == 1
    assert "".join(c.choices[0].delta.content or "" for c in got) == "Hello"
    assert got[-1].choices[0].finish_reason == "stop"


def test_usage_without_a_total_gets_one(fault_proxy: RunningServer) -> None:
    """The contract's usage has total_tokens; an upstream that leaves it out gets it added,
    streamed and not."""
    _, data = ask_fault(fault_proxy.url, "no-total", stream_options={"include_usage": True})
    objs = payloads(data)
    assert objs[-1] == "[DONE]" and objs[-2]["choices"] == [] and objs[-2]["usage"] == USAGE
    r, data = ask_fault(fault_proxy.url, "no-total", stream=False)
    assert r.status_code == 200 and r.json()["usage"] == {
        "prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    assert r.json()["choices"][0]["message"]["content"] == "ok"


def test_standard_fields_reach_the_upstream_and_unknown_ones_do_not(
        fault_proxy: RunningServer, fault_upstream: FaultUpstream) -> None:
    """OpenAI's standard fields the proxy does not read still go upstream (a request for
    logprobs got none, silently); a field nobody knows does not (a hosted API refuses it);
    a request with no output limit gets max_tokens_cap, as the in-process engine has it."""
    standard = {"logprobs": True, "top_logprobs": 2, "logit_bias": {"42": -100},
                "reasoning_effort": "low", "metadata": {"call": "c1"}, "min_tokens": 3}
    r, _ = ask_fault(fault_proxy.url, "ok", stream=False, **standard, my_vendor_field=1)
    assert r.status_code == 200, r.text
    sent = fault_upstream.state.requests[-1]["body"]
    assert {k: sent.get(k) for k in standard} == standard
    assert "my_vendor_field" not in sent and sent["max_tokens"] == 4096
    ask_fault(fault_proxy.url, "ok", stream=False, max_completion_tokens=7)
    sent = fault_upstream.state.requests[-1]["body"]
    assert sent["max_completion_tokens"] == 7 and "max_tokens" not in sent


@pytest.mark.parametrize("fault,status", [("429-bare", 429), ("503", 503)])
def test_an_upstreams_busy_answer_says_when_to_retry(fault_proxy: RunningServer, fault: str,
                                                      status: int) -> None:
    """The contract's 429 and 503 carry Retry-After, also where the upstream sent none."""
    r, _ = ask_fault(fault_proxy.url, fault)
    assert r.status_code == status and r.headers.get("retry-after") == "1", r.headers


def test_a_server_named_on_its_own_answers_under_that_name(
        fault_upstream: FaultUpstream) -> None:
    """SERVED_MODEL_NAME names the answers too, as /v1/models and vLLM's own server do:
    the upstream's name in them, sent back, was a 404 with names checked. Our own chunks
    (the closing and usage chunks made for a loose upstream) carry it as well."""
    server = start_server("servers.llm", env={
        "RYMI_LLM_BACKEND": "upstream", "RYMI_LLM_UPSTREAM_URL": fault_upstream.url,
        "RYMI_LLM_SERVED_MODEL_NAME": "rymi", "RYMI_LLM_ALLOW_ANY_MODEL_NAME": "false",
        "RYMI_LLM_TOKENS": ""}, ready_timeout=120)
    try:
        for fault in ("ok", "loose"):
            body = {"model": "rymi", "messages": [{"role": "user", "content": f"fault:{fault}"}],
                    "stream": True, "stream_options": {"include_usage": True}}
            r, data = raw_stream(server.url, body, timeout=30)
            chunks = payloads(data)[:-1]
            assert r.status_code == 200 and len(chunks) >= 3
            assert {c["model"] for c in chunks} == {"rymi"}, chunks
            r, _ = raw_stream(server.url, {**body, "stream": False}, timeout=30)
            assert r.status_code == 200 and r.json()["model"] == "rymi", r.text
        r, _ = raw_stream(server.url, {**body, "model": MODEL}, timeout=30)
        assert r.status_code == 404
    finally:
        server.stop()


@pytest.mark.parametrize("fault,status,code", [
    ("first-error", 400, "upstream_error_event"),  # vLLM's integer code is the status
    ("stall-first", 504, "upstream_timeout"),
    # After comments, as OpenRouter opens a stream: they were taken for the first event.
    ("comment-first-error", 400, "upstream_error_event"),
    ("first-429", 429, "upstream_error_event"),
])
def test_a_stream_refused_before_its_first_event_is_an_http_error(
        fault_proxy: RunningServer, fault: str, status: int, code: str) -> None:
    """The contract: a failure before the first byte is an HTTP error. Our 200 waited
    for the upstream's headers only, so these were a 200 and one error event."""
    r, data = ask_fault(fault_proxy.url, fault)
    assert r.status_code == status, data
    error = r.json()["error"]
    assert error["code"] == code
    if fault.endswith("first-error"):
        assert error["message"] == "context too long" and error["param"] == "messages"
    # The contract's 429 says when to retry, wherever the upstream said it.
    assert r.headers.get("retry-after") == ("1" if status == 429 else None)


def test_a_body_left_open_after_done_holds_no_request(fault_proxy: RunningServer) -> None:
    """The proxy reads what follows [DONE] to reuse the connection, up to _DRAIN_S; it
    did so inside the request, so an upstream slow to end its body held each call's
    in-flight slot (and its record) that much longer. Read after, off the request."""
    body = {"model": "m", "stream": True,
            "messages": [{"role": "user", "content": "fault:done-hold"}]}
    r, data = raw_stream(fault_proxy.url, body, headers={"X-Request-ID": "done-hold-1"})
    assert r.status_code == 200 and payloads(data)[-1] == "[DONE]"
    deadline = time.monotonic() + 10
    while not (records := [u for u in fault_proxy.usage_records()
                           if u["request_id"] == "done-hold-1"]):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # Held, the call lasted until the drain gave up: this proxy's 1.5 s upstream timeout
    # (under _DRAIN_S); ~2 ms off the request (the bound: halfway, for a loaded machine).
    assert records[0]["status"] == 200 and records[0]["total_s"] < 1.1, records


def test_stream_options_on_an_answer_not_streamed_is_taken_not_sent_upstream(
        fault_proxy: RunningServer) -> None:
    """The in-process backend takes it; OpenAI and vLLM answer it 400 (as the double does)."""
    r, _ = ask_fault(fault_proxy.url, "ok", stream=False, stream_options={"include_usage": True})
    assert r.status_code == 200, r.text
    assert r.json()["usage"]["total_tokens"] == 4


def test_a_loose_answer_not_streamed_is_held_to_the_contract(
        fault_proxy: RunningServer) -> None:
    """Not streamed, the contract's answer is one chat.completion with an id, created,
    the assistant's message, a finish_reason and usage (null where none was counted);
    an upstream that leaves them out gets them, its text and model as they came."""
    r, _ = ask_fault(fault_proxy.url, "loose", stream=False)
    answer = r.json()
    assert r.status_code == 200 and answer["object"] == "chat.completion", answer
    assert answer["id"].startswith("chatcmpl-") and type(answer["created"]) is int
    assert answer["choices"] == [{"index": 0, "message": {"content": "ok", "role": "assistant"},
                                  "finish_reason": "stop"}]
    assert "usage" in answer and answer["usage"] is None
    client = openai.OpenAI(base_url=f"{fault_proxy.url}/v1", api_key=TOKEN, max_retries=0)
    got = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "fault:loose"}])
    assert got.choices[0].message.role == "assistant" and got.choices[0].finish_reason == "stop"


def test_an_error_under_a_200_is_an_upstream_error(fault_proxy: RunningServer) -> None:
    """A 200 whose body is an error, not an answer, is not relayed as if it were one."""
    for stream in (False, True):
        r, _ = ask_fault(fault_proxy.url, "200-error", stream=stream)
        assert r.status_code == 502, r.text
        error = r.json()["error"]
        assert error["code"] == "upstream_bad_response" and "quota gone" in error["message"]


@pytest.mark.parametrize("include_usage", [True, False])
def test_an_upstream_that_never_streams_is_relayed_as_a_stream(
        fault_proxy: RunningServer, include_usage: bool) -> None:
    """An upstream that answers a stream with one whole answer (some gateways, some
    custom servers) was a 502, which ends a Rymi call: its answer is now the stream it
    stands for, tool calls with their index, usage only where asked for."""
    extra = {"stream_options": {"include_usage": True}} if include_usage else {}
    r, data = ask_fault(fault_proxy.url, "no-stream", **extra)
    objs = payloads(data)
    assert r.status_code == 200 and objs[-1] == "[DONE]", objs
    chunks = objs[:-1]
    assert {(c["id"], c["created"], c["object"]) for c in chunks} == {
        ("chatcmpl-whole", 7, "chat.completion.chunk")}
    assert [c["choices"][0]["delta"] for c in chunks[:2]] == [
        {"role": "assistant", "content": "Let me check.", "tool_calls": [
            {"index": 0, "id": "call_1", "type": "function",
             "function": {"name": "lookup", "arguments": '{"q": 1}'}}]}, {}]
    assert [c["choices"][0]["finish_reason"] for c in chunks[:2]] == [None, "tool_calls"]
    usage = {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}
    assert chunks[2:] == ([{**chunks[0], "choices": [], "usage": usage}]
                          if include_usage else [])
    client = openai.OpenAI(base_url=f"{fault_proxy.url}/v1", api_key=TOKEN, max_retries=0)
    got = list(client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "fault:no-stream"}], stream=True))
    call = got[0].choices[0].delta.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "lookup" and got[1].choices[0].finish_reason == "tool_calls"
