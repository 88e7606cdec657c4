"""The in-process vLLM backend through real clients: the openai SDK and raw SSE bytes."""

from __future__ import annotations

import os
import re
import sys
import time
import uuid

import httpx
import openai
import pytest

from tests.llm.conftest import TOKEN
from tests.llm.sse_util import payloads, raw_stream
from tests.support.servers import RunningServer, child_pids

HELLO = [{"role": "user", "content": "Say hello in three words."}]


@pytest.fixture(scope="module")
def client(llm: RunningServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{llm.url}/v1", api_key=TOKEN, max_retries=0, timeout=120)


def test_sdk_stream_with_usage(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(
        model="my-custom-name", messages=HELLO, stream=True, max_tokens=12, temperature=0,
        stream_options={"include_usage": True}))
    assert len({c.id for c in chunks}) == 1 and len({c.created for c in chunks}) == 1
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    choice_chunks = [c for c in chunks if c.choices]
    assert choice_chunks[-1].choices[0].finish_reason in ("stop", "length")
    assert all(c.choices[0].finish_reason is None for c in choice_chunks[:-1])
    text = "".join(c.choices[0].delta.content or "" for c in choice_chunks)
    assert text.strip()
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.prompt_tokens > 0 and 0 < last.usage.completion_tokens <= 12
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens


def test_sdk_stream_without_usage(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(
        model="gpt-4o", messages=HELLO, stream=True, max_tokens=5, temperature=0))
    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "length"


def test_sdk_non_streaming(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(model="anything-at-all", messages=HELLO, max_tokens=6,
                                       temperature=0)
    assert r.object == "chat.completion"
    assert r.choices[0].message.role == "assistant" and r.choices[0].message.content
    assert r.choices[0].finish_reason in ("stop", "length")
    assert r.usage.completion_tokens <= 6 and r.usage.prompt_tokens > 0


def test_models_listed(client: openai.OpenAI) -> None:
    models = client.models.list()
    assert [m.id for m in models.data] == ["smollm2-135m-instruct"]


# max_tokens 1: the engine's first output is its last (a probe's, a one-word answer's),
# and its finish_reason must still be sent.
@pytest.mark.parametrize("max_tokens", [8, 1])
def test_raw_sse_bytes_follow_the_contract(llm: RunningServer, max_tokens: int) -> None:
    body = {"model": "x", "messages": HELLO, "stream": True, "max_tokens": max_tokens,
            "temperature": 0, "stream_options": {"include_usage": True},
            "some_vendor_extra": {"ignored": True}}
    r, data = raw_stream(llm.url, body, TOKEN)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert "content-length" not in r.headers
    assert r.headers["x-accel-buffering"] == "no"  # nginx passes each event on at once
    objs = payloads(data)
    assert objs[-1] == "[DONE]" and "[DONE]" not in objs[:-1]
    chunks = objs[:-1]
    usage = chunks[-1]
    assert usage["choices"] == [] and set(usage["usage"]) == {
        "prompt_tokens", "completion_tokens", "total_tokens"}
    choice = chunks[:-1]
    assert choice[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all("role" not in c["choices"][0]["delta"] for c in choice[1:])
    assert [c["choices"][0]["finish_reason"] for c in choice][-1] == "length"
    assert all(c["choices"][0]["finish_reason"] is None for c in choice[:-1])
    assert len({c["id"] for c in chunks}) == 1 and len({c["created"] for c in chunks}) == 1
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    completion = sum(1 for c in choice if c["choices"][0]["delta"].get("content"))
    assert usage["usage"]["completion_tokens"] == max_tokens and completion >= 1


def test_max_tokens_beyond_context_is_clamped(client: openai.OpenAI) -> None:
    # Rymi sends max_tokens 2048 whatever the model's context (1024 here): not an error.
    r = client.chat.completions.create(model="m", messages=HELLO, max_tokens=2048,
                                       temperature=0, stop=["."], extra_body={"top_k": 1})
    assert r.choices[0].finish_reason in ("stop", "length")


def test_usage_record_logged_without_token(llm: RunningServer, client: openai.OpenAI) -> None:
    client.chat.completions.create(model="m", messages=HELLO, max_tokens=3, temperature=0,
                                   extra_headers={"X-Request-Id": "usage-check-1"})
    rec = llm.wait_usage("usage-check-1", timeout=10)
    assert rec["channel"] == "custom-llm" and rec["status"] == 200
    assert rec["prompt_tokens"] > 0 and rec["completion_tokens"] == 3
    assert rec["bytes_in"] > 0 and rec["bytes_out"] > 0 and rec["ttft_s"] is not None
    assert TOKEN not in llm.logs()


def _metric(url: str, name: str, missing: float | None = None) -> float:
    """A sample's value; ``missing`` when given and the sample is not there (yet)."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    m = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.M)
    if m is None and missing is not None:
        return missing
    assert m, name
    return float(m.group(1))


def test_disconnect_aborts_the_engine_request(llm: RunningServer) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "Write a long story."}],
            "stream": True, "max_tokens": 400, "temperature": 0, "stop": None}
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Request-Id": "disconnect-1"}
    with httpx.stream("POST", f"{llm.url}/v1/chat/completions", json=body, headers=headers,
                      timeout=120) as r:
        seen = 0
        for _ in r.iter_lines():
            seen += 1
            if seen >= 6:  # a few events in: the engine is mid-generation
                break
    # The engine's own count of unfinished requests and our in-flight gauge go to zero
    # long before 400 tokens could have been generated.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (_metric(llm.url, "rymi_llm_engine_requests") == 0
                and _metric(llm.url, 'rymi_inflight{channel="custom-llm"}') == 0):
            break
        time.sleep(0.05)
    assert _metric(llm.url, "rymi_llm_engine_requests") == 0
    rec = [u for u in llm.usage_records() if u["request_id"] == "disconnect-1"][0]
    assert rec["client_disconnected"] is True and rec["completion_tokens"] < 400


def test_disconnect_before_a_non_streaming_answer_aborts(llm: RunningServer) -> None:
    body = {"model": "m", "stream": False, "max_tokens": 400, "temperature": 0,
            "messages": [{"role": "user", "content": "Write a very long story about a dragon."}]}
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Request-Id": "disconnect-2"}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{llm.url}/v1/chat/completions", json=body, headers=headers,
                   timeout=httpx.Timeout(60, read=2))
    rec = llm.wait_usage("disconnect-2", timeout=30)
    assert rec["client_disconnected"] is True
    assert _metric(llm.url, "rymi_llm_engine_requests") == 0


def test_a_client_gone_during_prefill_has_its_prompt_on_its_record(llm: RunningServer) -> None:
    """A barge-in while a long prompt is prefilled: the client leaves before the first
    token. Its record said nothing of the prompt the engine took (and worked on)."""
    # About 950 tokens, new each run (no cached prefix): a second or more of prefill here.
    story = " ".join(f"Line {i}: the caller {uuid.uuid4().hex} asked again." for i in range(23))
    body = {"model": "m", "stream": True, "max_tokens": 8,
            "messages": [{"role": "user", "content": story}]}
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Request-Id": "gone-in-prefill"}
    prompt_metric = 'rymi_llm_tokens_total{backend="vllm",kind="prompt"}'
    before = _metric(llm.url, prompt_metric, missing=0.0)
    try:
        httpx.post(f"{llm.url}/v1/chat/completions", json=body, headers=headers,
                   timeout=httpx.Timeout(60, read=0.3))
    except httpx.ReadTimeout:
        pass
    else:
        pytest.skip("the prefill took under 0.3 s here: no time to leave during it")
    rec = llm.wait_usage("gone-in-prefill", timeout=60)
    assert rec["client_disconnected"] is True
    assert rec["prompt_tokens"] > 800 and rec["completion_tokens"] == 0
    # The metric counts the same prefill (it had only the answers' prompts).
    assert _metric(llm.url, prompt_metric) == before + rec["prompt_tokens"]


def test_response_format_json_object_constrains_output(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(
        model="m", max_tokens=24, temperature=0, response_format={"type": "json_object"},
        messages=[{"role": "user", "content": "Give me a JSON object with a colour name."}])
    assert r.choices[0].message.content.lstrip().startswith("{")


def test_logit_bias_min_tokens_and_ignore_eos_reach_the_engine(
        client: openai.OpenAI, prepared_model) -> None:  # type: ignore[no-untyped-def]
    """The standard logit_bias (and vLLM's min_tokens, ignore_eos) were accepted and
    dropped: a client banning or forcing a token got the engine's choice, silently."""
    from transformers import AutoTokenizer

    forced = AutoTokenizer.from_pretrained(prepared_model).encode(" banana")[0]
    r = client.chat.completions.create(model="m", messages=HELLO, max_tokens=3, temperature=0,
                                       logit_bias={str(forced): 100})
    assert r.choices[0].message.content.split() == ["banana"] * 3, r.choices[0].message.content
    r = client.chat.completions.create(model="m", messages=HELLO, max_tokens=40, temperature=0,
                                       extra_body={"min_tokens": 40, "ignore_eos": True})
    assert r.usage.completion_tokens == 40 and r.choices[0].finish_reason == "length"


def test_top_p_zero_keeps_only_the_likeliest_token(client: openai.OpenAI) -> None:
    """OpenAI takes top_p 0; vLLM's sampler refuses it, so it was a 400 here. It means
    greedy: at a hot temperature, every seed gives the temperature-0 answer."""
    ask = {"model": "m", "messages": HELLO, "max_tokens": 16}
    greedy = client.chat.completions.create(**ask, temperature=0).choices[0].message.content
    for seed in (1, 2, 3):
        r = client.chat.completions.create(**ask, temperature=2, top_p=0, seed=seed)
        assert r.choices[0].message.content == greedy


def test_logprobs_are_refused_not_dropped(llm: RunningServer) -> None:
    r = httpx.post(f"{llm.url}/v1/chat/completions", headers={"Authorization": f"Bearer {TOKEN}"},
                   json={"messages": HELLO, "logprobs": True}, timeout=60)
    assert r.status_code == 400 and r.json()["error"]["param"] == "logprobs", r.text
    r = httpx.post(f"{llm.url}/v1/chat/completions", headers={"Authorization": f"Bearer {TOKEN}"},
                   json={"messages": HELLO, "logit_bias": {"99999999": 5}}, timeout=60)
    assert r.status_code == 400 and r.json()["error"]["param"] == "logit_bias", r.text


def test_tools_are_accepted(client: openai.OpenAI, llm: RunningServer) -> None:
    """Accepted; SmolLM2's chat template has no place for them, so the model never sees
    them: that is said in the log (an agent's end_call silently never happening)."""
    tools = [{"type": "function", "function": {
        "name": "get_time", "description": "Current time",
        "parameters": {"type": "object", "properties": {}}}}]
    r = client.chat.completions.create(model="m", max_tokens=4, temperature=0, tools=tools,
                                       messages=HELLO)
    assert r.choices[0].finish_reason in ("stop", "length")
    logs = llm.logs()
    assert "its chat template has no place for tools" in logs
    assert logs.count("shows the model none of them") == 1


def _cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _engine_core_pid(server_pid: int) -> int:
    children = child_pids(server_pid)
    for pid in children:
        if open(f"/proc/{pid}/comm").read().startswith("VLLM::EngineCor"):
            return pid
    raise AssertionError(f"no VLLM::EngineCore among {children}")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_engine_core_sleeps_while_the_worker_decodes(client: openai.OpenAI,
                                                     llm: RunningServer) -> None:
    """vLLM's engine core busy-waits on its worker (a whole core through every decode step,
    taken from STT and TTS); our plugin turns that into a sleep on CPU machines."""
    core = _engine_core_pid(llm.proc.pid)
    cpu0, t0 = _cpu_seconds(core), time.monotonic()
    stream = client.chat.completions.create(
        model="x", messages=[{"role": "user", "content": "Tell me a long story about a lighthouse."}],
        stream=True, max_tokens=64, temperature=0)
    assert sum(1 for c in stream if c.choices and c.choices[0].delta.content) >= 16
    share = (_cpu_seconds(core) - cpu0) / (time.monotonic() - t0)
    # Spinning shows as ~1.0 (a full core); sleeping as a few percent.
    assert share < 0.5, f"engine core used {share:.0%} of a core during the generation"


def test_the_next_turn_of_a_call_reuses_the_cached_prefix(llm: RunningServer) -> None:
    # A call re-sends its whole history every turn; the prefix cache reuses whole KV
    # blocks only. Under 128 prompt tokens vLLM-CPU's own block (128) would reuse nothing.
    system = ("You are the phone agent of a dental practice. You book, move and cancel "
              "appointments and answer questions about opening hours, prices and parking. "
              "Speak in short, friendly sentences.")
    turn1 = [{"role": "system", "content": system},
             {"role": "user", "content": "Hi, I would like to book a cleaning."}]
    headers = {"Authorization": f"Bearer {TOKEN}"}
    cached_metric = 'rymi_llm_tokens_total{backend="vllm",kind="prompt_cached"}'
    before = _metric(llm.url, cached_metric, missing=0.0)
    replies = []
    for i, messages in enumerate((turn1, None)):
        if messages is None:
            messages = [*turn1, {"role": "assistant", "content": replies[0]},
                        {"role": "user", "content": "Is next Tuesday possible?"}]
        r = httpx.post(f"{llm.url}/v1/chat/completions", timeout=120,
                       headers={**headers, "X-Request-Id": f"prefix-turn-{i}"},
                       json={"model": "m", "messages": messages, "max_tokens": 8,
                             "temperature": 0})
        assert r.status_code == 200, r.text
        replies.append(r.json()["choices"][0]["message"]["content"])
    first, second = llm.wait_usage("prefix-turn-0", 10), llm.wait_usage("prefix-turn-1", 10)
    assert 32 < first["prompt_tokens"] < 128, first  # the premise: one 128-block would not fill
    assert second["cached_tokens"] >= first["prompt_tokens"] - 31, (first, second)
    after = _metric(llm.url, cached_metric)
    assert after - before >= second["cached_tokens"]


def test_a_long_prompt_is_read_in_short_steps_on_cpu(llm: RunningServer) -> None:
    """vLLM's CPU step of 2,048 tokens held every other stream for the whole read of a
    long prompt (1.9 s on 2 cores); the engine is built with 256 (bench.llm_prefill)."""
    from servers.llm.backends.vllm_engine import CPU_BATCHED_TOKENS

    if os.environ.get("RYMI_LLM_MAX_NUM_BATCHED_TOKENS") or os.path.exists("/dev/nvidia0"):
        pytest.skip("set outright, or a GPU: vLLM's own")
    said = re.findall(r"max_num_batched_tokens=(\d+)", llm.logs())
    assert said and int(said[-1]) == CPU_BATCHED_TOKENS == 256, said
