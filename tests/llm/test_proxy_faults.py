"""The upstream backend's faults: each upstream failure, before and after the first byte,
gives the mapped error; disconnects close the upstream request; capacity and leaks."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.llm.conftest import TOKEN
from tests.llm.fault_upstream import FaultUpstream
from tests.llm.sse_util import ask_fault, payloads, raw_stream
from tests.support.clients import half_body
from tests.support.servers import RunningServer, metric, start_server

PROMPT = [{"role": "user", "content": "Name a colour."}]


@pytest.mark.parametrize("fault,code", [
    ("die", "upstream_disconnected"),
    ("stall", "upstream_timeout"),
    ("no-done", "upstream_incomplete"),
    ("error-event", "oops"),
    ("error-event-vllm", "500"),  # its integer code: a string in our shape
])
def test_mid_stream_failure_ends_with_error_and_no_done(fault_proxy: RunningServer,
                                                        fault: str, code: str) -> None:
    r, data = ask_fault(fault_proxy.url, fault)
    assert r.status_code == 200
    objs = payloads(data)
    assert "[DONE]" not in objs
    assert objs[0]["choices"][0]["delta"]["role"] == "assistant"
    assert objs[-1]["error"]["code"] == code and objs[-1]["error"]["message"]
    assert sum(1 for o in objs if "error" in o) == 1
    if fault == "no-done":  # said in the log too, as a broken connection is (it was not)
        assert "upstream stream failed: the upstream ended the stream before [DONE]" in \
            fault_proxy.logs()


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
    r, data = ask_fault(fault_proxy.url, fault, stream=stream)
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
    if fault in ("429", "500"):  # the upstream's trouble, in the log (only the record had it)
        assert f"the upstream answered {fault}: " in fault_proxy.logs()
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
    ("echo-key-escaped", True), ("echo-key-mid", True), ("echo-key-code", True)])
def test_the_upstream_token_an_upstream_echoes_never_reaches_the_caller(
        fault_proxy: RunningServer, fault: str, stream: bool) -> None:
    """Only a plain 4xx/5xx body was blanked: an error under a 200, in a stream's first
    or a later event, or with its characters JSON-escaped ("-" as \\u002d) handed the
    customer's provider key to the caller (security review, round 9)."""
    r, data = ask_fault(fault_proxy.url, fault, stream=stream)
    said = (r.text if r.status_code != 200 else data.decode()).replace("\\u002d", "-")
    assert "bad" in said, said  # the upstream's words are still passed on...
    assert "upstream-secret-77" not in said and "[the upstream token]" in said, said
    assert "upstream-secret-77" not in fault_proxy.logs()  # ... and never the key


def test_a_first_event_refusing_our_key_is_502_not_the_callers_401(
        fault_proxy: RunningServer) -> None:
    """In a status line, an upstream 401 is this server's credentials (502
    upstream_auth_failed, and an error in the log); in a stream's first event it was
    passed on as the caller's own 401."""
    r, _ = ask_fault(fault_proxy.url, "first-401")
    assert (r.status_code, r.json()["error"]["code"]) == (502, "upstream_auth_failed"), r.text


def test_an_upstreams_own_error_codes_make_no_metric_series(fault_proxy: RunningServer) -> None:
    """The label took the upstream's code as it wrote it: any text, one series each."""
    for n in range(3):
        r, _ = ask_fault(fault_proxy.url, f"first-code-{n}")
        assert r.status_code == 502 and r.json()["error"]["code"] == f"first-code-{n}"
    text = httpx.get(f"{fault_proxy.url}/metrics", timeout=10).text
    assert "first-code-" not in text
    assert metric(fault_proxy, "rymi_llm_errors_total", code="upstream_error_event",
                  phase="before_stream") >= 3


def test_an_event_that_is_no_json_ends_the_stream_as_a_bad_response(
        fault_proxy: RunningServer) -> None:
    """``data: {not json`` went on as it came, and the caller's SDK failed on it."""
    r, data = ask_fault(fault_proxy.url, "not-json")
    objs = payloads(data)  # every event JSON (asserted by payloads), and no [DONE]
    assert r.status_code == 200 and "[DONE]" not in objs
    assert [o["choices"][0]["delta"].get("content") for o in objs[:2]] == ["", "Hel"]
    assert objs[-1]["error"]["code"] == "upstream_bad_response" and len(objs) == 3


def test_usage_counts_that_are_no_counts_leave_the_answer_whole(
        fault_proxy: RunningServer) -> None:
    """A "3" reached the token counter: a whole answer became a 500 (internal_error)."""
    before = len(fault_proxy.logs())
    r, _ = ask_fault(fault_proxy.url, "odd-usage", stream=False)
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "ok", r.text
    r, data = ask_fault(fault_proxy.url, "odd-usage", stream_options={"include_usage": True})
    assert r.status_code == 200 and payloads(data)[-1] == "[DONE]", data
    time.sleep(0.5)  # the record and metrics are written after the last byte
    assert "Traceback" not in fault_proxy.logs()[before:]


def test_an_upstream_errors_fields_reach_the_caller_as_strings(
        fault_proxy: RunningServer) -> None:
    r, _ = ask_fault(fault_proxy.url, "odd-fields")
    err = r.json()["error"]
    assert r.status_code == 400 and err["message"] == "weird", r.text
    assert isinstance(err["type"], str) and isinstance(err["code"], str), err
    assert err.get("param") is None, err


def test_a_tool_choice_form_the_upstream_may_take_is_relayed_and_a_promise_without_tools_is_not(
        fault_proxy: RunningServer, fault_upstream: FaultUpstream) -> None:
    """Mistral's API takes "any" (and OpenAI's newer forms are objects of other types):
    the proxy's upstream decides those. A forced call with no tools is refused here, as
    OpenAI refuses it, before any upstream is asked."""
    tool = {"type": "function", "function": {"name": "end_call", "parameters": {}}}
    r, _ = ask_fault(fault_proxy.url, "ok", tools=[tool], tool_choice="any")
    assert r.status_code == 200 and fault_upstream.state.requests[-1]["body"][
        "tool_choice"] == "any"
    asked = len(fault_upstream.state.requests)
    r, _ = ask_fault(fault_proxy.url, "ok", tool_choice="required")
    assert r.status_code == 400 and r.json()["error"]["param"] == "tool_choice", r.text
    assert len(fault_upstream.state.requests) == asked
