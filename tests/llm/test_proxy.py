"""The upstream backend: byte-level fidelity to a real upstream, and every mapped fault."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.llm.conftest import TOKEN
from tests.llm.fault_upstream import MODEL, USAGE, FaultUpstream
from tests.llm.sse_util import normalise, payloads, raw_stream
from tests.support.clients import half_body
from tests.support.servers import RunningServer, metric, start_server

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


def _fault(url: str, fault: str, stream: bool = True, **extra) -> tuple[httpx.Response, bytes]:
    body = {"model": "m", "messages": [{"role": "user", "content": f"fault:{fault}"}],
            "stream": stream, **extra}
    return raw_stream(url, body, timeout=30)


def test_content_encoding_none_is_no_compression(fault_proxy: RunningServer) -> None:
    r, data = _fault(fault_proxy.url, "encoding-none")
    assert r.status_code == 200 and payloads(data)[-1] == "[DONE]", data


def test_fault_ok_sends_upstream_token_and_model(fault_proxy: RunningServer,
                                                 fault_upstream: FaultUpstream) -> None:
    r, data = _fault(fault_proxy.url, "ok", stream_options={"include_usage": True},
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
        r, _ = _fault(server.url, "ok", stream=False)
        assert r.status_code == 200, r.text
        sent = fault_upstream.state.requests[-1]["body"]
        assert sent["max_completion_tokens"] == 300 and "max_tokens" not in sent
        _fault(server.url, "ok", stream=False, max_tokens=20)
        sent = fault_upstream.state.requests[-1]["body"]
        assert sent["max_completion_tokens"] == 20 and "max_tokens" not in sent
        _fault(server.url, "ok", stream=False, max_tokens=2048)
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
    r, data = _fault((fault_proxy if forced else unforced_proxy).url, fault, **extra)
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
    r, data = _fault(fault_proxy.url, "loose", stream_options={"include_usage": True})
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
    _, data = _fault(fault_proxy.url, "no-total", stream_options={"include_usage": True})
    objs = payloads(data)
    assert objs[-1] == "[DONE]" and objs[-2]["choices"] == [] and objs[-2]["usage"] == USAGE
    r, data = _fault(fault_proxy.url, "no-total", stream=False)
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
    r, _ = _fault(fault_proxy.url, "ok", stream=False, **standard, my_vendor_field=1)
    assert r.status_code == 200, r.text
    sent = fault_upstream.state.requests[-1]["body"]
    assert {k: sent.get(k) for k in standard} == standard
    assert "my_vendor_field" not in sent and sent["max_tokens"] == 4096
    _fault(fault_proxy.url, "ok", stream=False, max_completion_tokens=7)
    sent = fault_upstream.state.requests[-1]["body"]
    assert sent["max_completion_tokens"] == 7 and "max_tokens" not in sent


@pytest.mark.parametrize("fault,status", [("429-bare", 429), ("503", 503)])
def test_an_upstreams_busy_answer_says_when_to_retry(fault_proxy: RunningServer, fault: str,
                                                      status: int) -> None:
    """The contract's 429 and 503 carry Retry-After, also where the upstream sent none."""
    r, _ = _fault(fault_proxy.url, fault)
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
    r, data = _fault(fault_proxy.url, fault)
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
    # (under _DRAIN_S); ~2 ms off the request.
    assert records[0]["status"] == 200 and records[0]["total_s"] < 0.75, records


def test_stream_options_on_an_answer_not_streamed_is_taken_not_sent_upstream(
        fault_proxy: RunningServer) -> None:
    """The in-process backend takes it; OpenAI and vLLM answer it 400 (as the double does)."""
    r, _ = _fault(fault_proxy.url, "ok", stream=False, stream_options={"include_usage": True})
    assert r.status_code == 200, r.text
    assert r.json()["usage"]["total_tokens"] == 4


def test_a_loose_answer_not_streamed_is_held_to_the_contract(
        fault_proxy: RunningServer) -> None:
    """Not streamed, the contract's answer is one chat.completion with an id, created,
    the assistant's message, a finish_reason and usage (null where none was counted);
    an upstream that leaves them out gets them, its text and model as they came."""
    r, _ = _fault(fault_proxy.url, "loose", stream=False)
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
        r, _ = _fault(fault_proxy.url, "200-error", stream=stream)
        assert r.status_code == 502, r.text
        error = r.json()["error"]
        assert error["code"] == "upstream_bad_response" and "quota gone" in error["message"]


@pytest.mark.parametrize("fault,code", [
    ("die", "upstream_disconnected"),
    ("stall", "upstream_timeout"),
    ("no-done", "upstream_incomplete"),
    ("error-event", "oops"),
    ("error-event-vllm", "500"),  # its integer code: a string in our shape
])
def test_mid_stream_failure_ends_with_error_and_no_done(fault_proxy: RunningServer,
                                                        fault: str, code: str) -> None:
    r, data = _fault(fault_proxy.url, fault)
    assert r.status_code == 200
    objs = payloads(data)
    assert "[DONE]" not in objs
    assert objs[0]["choices"][0]["delta"]["role"] == "assistant"
    assert objs[-1]["error"]["code"] == code and objs[-1]["error"]["message"]
    assert sum(1 for o in objs if "error" in o) == 1


@pytest.mark.parametrize("fault,status,code", [
    ("400", 400, "bad_temp"),
    ("429", 429, "rate_limited"),
    # Our upstream token refused: not the caller's 401, which would blame its token to us.
    ("401", 502, "upstream_auth_failed"),
    ("403", 502, "upstream_auth_failed"),
    # Our upstream_model (the caller's name is never sent): not the caller's 404.
    ("404", 502, "upstream_not_found"),
    ("500", 502, "upstream_error"),
    ("html-502", 502, "upstream_error"),
    ("stall-headers", 504, "upstream_timeout"),
])
@pytest.mark.parametrize("stream", [True, False])
def test_failure_before_first_byte_is_http_error(fault_proxy: RunningServer, fault: str,
                                                 status: int, code: str, stream: bool) -> None:
    # The upstream's own 4xx codes are unbounded strings: the metric counts its status.
    label = f"upstream_{status}" if status < 500 else code
    before = metric(fault_proxy, "rymi_llm_errors_total", code=label, phase="before_stream")
    r, data = _fault(fault_proxy.url, fault, stream=stream)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/json")
    err = r.json()["error"]
    assert err["code"] == code and err["message"] and err["type"]
    if fault == "400":
        assert err["param"] == "temperature" and "temperature" in err["message"]
    if fault == "429":
        assert r.headers["retry-after"] == "7"
    if fault in ("401", "403"):
        assert "check RYMI_LLM_UPSTREAM_TOKEN" in fault_proxy.logs()
        # An upstream that echoes the key it refused: blanked before the log.
        assert "[the upstream token]" in fault_proxy.logs()
    if fault == "404":
        assert "check RYMI_LLM_UPSTREAM_MODEL" in fault_proxy.logs()
    assert metric(fault_proxy, "rymi_llm_errors_total", code=label,
                  phase="before_stream") == before + 1


def test_connect_failure_is_502(dead_proxy: RunningServer) -> None:
    r = httpx.post(f"{dead_proxy.url}/v1/chat/completions", timeout=30, json={
        "model": "only-this", "messages": PROMPT, "stream": True})
    assert r.status_code == 502 and r.json()["error"]["code"] == "upstream_unreachable"


def test_unknown_model_is_404_when_aliasing_is_off(dead_proxy: RunningServer) -> None:
    r = httpx.post(f"{dead_proxy.url}/v1/chat/completions", timeout=30, json={
        "model": "gpt-5", "messages": PROMPT})
    assert r.status_code == 404
    assert r.json()["error"]["param"] == "model" and "only-this" in r.json()["error"]["message"]


def test_client_disconnect_closes_the_upstream_request(fault_proxy: RunningServer,
                                                       fault_upstream: FaultUpstream) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "fault:hold"}], "stream": True}
    cancelled = fault_upstream.state.cancelled
    with httpx.stream("POST", f"{fault_proxy.url}/v1/chat/completions", json=body,
                      timeout=30) as r:
        lines = []
        for line in r.iter_lines():
            lines.append(line)
            if len(lines) > 8:  # role, "Hel", then the upstream's keep-alives: it is live
                break
        assert any("Hel" in x for x in lines) and lines[-1] == ": keep-alive"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (fault_upstream.state.open_streams["hold"]
                                           or fault_upstream.state.cancelled == cancelled):
        time.sleep(0.05)
    assert fault_upstream.state.open_streams["hold"] == 0
    assert fault_upstream.state.cancelled > cancelled  # the upstream saw us leave


def test_disconnect_while_waiting_for_upstream_headers(fault_proxy: RunningServer) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "fault:stall-headers"}]}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{fault_proxy.url}/v1/chat/completions", json=body,
                   headers={"X-Request-Id": "gone-1"}, timeout=httpx.Timeout(30, read=0.3))
    rec = fault_proxy.wait_usage("gone-1")
    assert rec["client_disconnected"] is True and rec.get("error") is None


def test_over_capacity_is_503_with_retry_after(fault_proxy: RunningServer,
                                               fault_upstream: FaultUpstream) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "fault:hold"}], "stream": True}
    with httpx.Client(timeout=30) as c1, httpx.Client(timeout=30) as c2:
        with c1.stream("POST", f"{fault_proxy.url}/v1/chat/completions", json=body) as r1, \
                c2.stream("POST", f"{fault_proxy.url}/v1/chat/completions", json=body) as r2:
            assert r1.status_code == r2.status_code == 200  # both now in flight (limit 2)
            r3 = httpx.post(f"{fault_proxy.url}/v1/chat/completions", json=body, timeout=30)
            assert r3.status_code == 503 and r3.headers["retry-after"]
            assert r3.json()["error"]["type"] == "overloaded_error"


def test_a_client_gone_mid_body_is_499_not_a_server_error(fault_proxy: RunningServer) -> None:
    # The streams a test before held may still be counted out (limit 2): wait, or this
    # one is refused (503, with its own usage record) before it is read at all.
    deadline = time.monotonic() + 20
    while metric(fault_proxy, "rymi_inflight", channel="custom-llm") != 0.0:
        assert time.monotonic() < deadline, "streams before were never counted out"
        time.sleep(0.05)
    half_body(fault_proxy.port, "/v1/chat/completions", "llm-half-body", TOKEN)
    record = fault_proxy.wait_usage("llm-half-body")
    assert record["status"] == 499 and record["client_disconnected"] is True
    assert "error" not in record and "llm-half-body failed" not in fault_proxy.logs()


def test_an_upstream_model_the_upstream_does_not_list_is_warned_about(
        fault_upstream: FaultUpstream) -> None:
    server = start_server("servers.llm", env={
        "RYMI_LLM_BACKEND": "upstream", "RYMI_LLM_UPSTREAM_URL": fault_upstream.url,
        "RYMI_LLM_UPSTREAM_MODEL": "gpt-99", "RYMI_LLM_TOKENS": ""}, ready_timeout=120)
    try:
        assert "RYMI_LLM_UPSTREAM_MODEL='gpt-99' is not among the models" in server.logs()
    finally:
        server.stop()


@pytest.mark.parametrize("fault", ["die", "ok"])
def test_a_stream_cut_before_the_upstreams_usage_records_an_estimate(
        fault_proxy: RunningServer, fault: str) -> None:
    """The upstream's usage comes last: a stream cut before it (the upstream died, the
    client barged in, the drain bound) recorded no tokens at all, though the upstream
    generated and charged them. Its record says how many text events went out."""
    rid = f"estimate-{fault}"
    body = {"model": "m", "stream": True,
            "messages": [{"role": "user", "content": f"fault:{fault}"}]}
    r, data = raw_stream(fault_proxy.url, body, headers={"X-Request-ID": rid}, timeout=30)
    assert r.status_code == 200
    deadline = time.monotonic() + 10
    while not (records := [u for u in fault_proxy.usage_records() if u["request_id"] == rid]):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    record = records[0]
    if fault == "die":  # "Hel" went out, then the upstream was gone
        assert payloads(data)[-1]["error"]["code"] == "upstream_disconnected"
        assert record["completion_tokens"] is None, record
        assert record["completion_tokens_estimated"] == 1, record
    else:  # the upstream's own count, and no estimate beside it
        assert record["completion_tokens"] == 2 and "completion_tokens_estimated" not in record


@pytest.mark.parametrize("fault, stream", [
    ("echo-key-200", True), ("echo-key-200", False), ("echo-key-first", True),
    ("echo-key-escaped", True), ("echo-key-mid", True)])
def test_the_upstream_token_an_upstream_echoes_never_reaches_the_caller(
        fault_proxy: RunningServer, fault: str, stream: bool) -> None:
    """Only a plain 4xx/5xx body was blanked: an error under a 200, in a stream's first
    or a later event, or with its characters JSON-escaped ("-" as \\u002d) handed the
    customer's provider key to the caller (security review, round 9)."""
    r, data = _fault(fault_proxy.url, fault, stream=stream)
    said = (r.text if r.status_code != 200 else data.decode()).replace("\\u002d", "-")
    assert "bad key" in said, said  # the upstream's words are still passed on...
    assert "upstream-secret-77" not in said and "[the upstream token]" in said, said
    assert "upstream-secret-77" not in fault_proxy.logs()  # ... and never the key


def test_a_first_event_refusing_our_key_is_502_not_the_callers_401(
        fault_proxy: RunningServer) -> None:
    """In a status line, an upstream 401 is this server's credentials (502
    upstream_auth_failed, and an error in the log); in a stream's first event it was
    passed on as the caller's own 401."""
    r, _ = _fault(fault_proxy.url, "first-401")
    assert (r.status_code, r.json()["error"]["code"]) == (502, "upstream_auth_failed"), r.text


def test_an_upstreams_own_error_codes_make_no_metric_series(fault_proxy: RunningServer) -> None:
    """The label took the upstream's code as it wrote it: any text, one series each."""
    for n in range(3):
        r, _ = _fault(fault_proxy.url, f"first-code-{n}")
        assert r.status_code == 502 and r.json()["error"]["code"] == f"first-code-{n}"
    text = httpx.get(f"{fault_proxy.url}/metrics", timeout=10).text
    assert "first-code-" not in text
    assert metric(fault_proxy, "rymi_llm_errors_total", code="upstream_error_event",
                  phase="before_stream") >= 3
