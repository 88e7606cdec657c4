"""Schemathesis against the HTTP servers: every answer is a shaped 4xx or a valid stream.

Positive and negative cases (schema-valid and schema-violating) for every operation of
each server's own /openapi.json (the LLM's is its pydantic request model, so what is
fuzzed is what the server validates). Examples per operation are bounded so the suite
stays short on a shared 2-core machine; the counts are printed. The LLM cases run on
the real engine: each generated case is held to a few tokens by ``_bounded_generation``
(the served schema stays true: any max_tokens >= 1 is valid there).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.support.servers import RunningServer

from .conftest import metric, wait_for


def fuzz(schema, base_url: str, headers: dict[str, str], examples: dict[str, int],
         check: Callable, prepare: Callable = lambda case: None) -> Counter:
    """Run ``examples[label]`` cases per operation; returns counts by (operation, status)."""
    seen: Counter = Counter()
    for result in schema.get_all_operations():
        op = result.ok()
        label = f"{op.method.upper()} {op.path}"
        _fuzz_operation(op, label, examples.get(label, 10), base_url, headers, check,
                        prepare, seen)
    return seen


def _fuzz_operation(op, label: str, n: int, base_url: str, headers: dict[str, str],
                    check: Callable, prepare: Callable, seen: Counter) -> None:
    modes = [op.as_strategy(GenerationMode.POSITIVE)]
    try:
        modes.append(op.as_strategy(GenerationMode.NEGATIVE))
    except Exception:  # nothing to negate (no parameters): positive only
        pass

    @settings(max_examples=n, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), print_blob=True)
    @given(case=st.one_of(*modes))
    def run(case) -> None:
        prepare(case)
        response = case.call(base_url=base_url, headers=headers, timeout=120)
        seen[(label, response.status_code)] += 1
        check(label, case, response)

    run()


def _header(response, name: str) -> str:
    """Schemathesis keeps each header as a list of values."""
    value = response.headers.get(name)
    return (value[0] if isinstance(value, list) and value else value) or ""


def _shaped(response) -> dict:
    assert _header(response, "content-type").startswith("application/json"), response.headers
    err = json.loads(response.content)["error"]
    assert isinstance(err["message"], str) and err["type"] and err["code"], err
    return err


def check_tts(label: str, case, response) -> None:
    status = response.status_code
    assert status < 500, f"{label} -> {status}: {response.content[:300]!r} for {case.body!r}"
    if status >= 400:
        _shaped(response)
        if status == 503:
            assert _header(response, "retry-after")
        return
    if label.startswith("POST"):
        assert _header(response, "content-type") == "application/octet-stream"
        assert not _header(response, "content-length")
        assert len(response.content) % 2 == 0 and response.content
    else:
        assert json.loads(response.content)["object"] == "list"


def check_llm(label: str, case, response) -> None:
    status = response.status_code
    assert status < 500, f"{label} -> {status}: {response.content[:300]!r} for {case.body!r}"
    if status >= 400:
        _shaped(response)
        return
    ctype = _header(response, "content-type")
    if ctype.startswith("text/event-stream"):
        assert not response.stream_cut_short, "the fuzzer cut the stream: nothing to judge"
        events = [e for e in response.content.decode().split("\n\n") if e]
        assert all(e.startswith("data: ") for e in events), events[:3]
        assert events[-1] == "data: [DONE]" or '"error"' in events[-1], events[-3:]
        for e in events[:-1]:
            assert json.loads(e[6:])["object"] == "chat.completion.chunk"
    else:
        obj = json.loads(response.content)
        assert obj["object"] in ("chat.completion", "list"), obj


def _bounded_generation(case) -> None:
    """Keep each case to a few tokens (the engine is shared, on a busy CPU); only a
    missing, null or large limit is changed, so invalid values still reach the server."""
    body = case.body
    if not isinstance(body, dict):
        return
    for key in ("max_tokens", "max_completion_tokens"):
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 4:
            body[key] = 4
    if body.get("max_tokens") is None and body.get("max_completion_tokens") is None:
        body["max_tokens"] = 4


def test_fuzz_tts_openapi(tts_server: RunningServer) -> None:
    schema = schemathesis.openapi.from_url(f"{tts_server.url}/openapi.json")
    counts = fuzz(schema, tts_server.url, tts_server.auth_headers,
                  {"POST /tts": 40, "POST /": 15, "GET /voices": 5, "GET /tts/voices": 5},
                  check_tts)
    total = sum(counts.values())
    print(f"\nTTS fuzz: {total} cases: {dict(sorted(counts.items()))}")
    assert total >= 40
    assert wait_for(lambda: metric(tts_server, "rymi_inflight") == 0, 10)
    assert httpx.get(f"{tts_server.url}/readyz").status_code == 200


def test_fuzz_llm_openapi(llm_server: RunningServer) -> None:
    schema = schemathesis.openapi.from_url(f"{llm_server.url}/openapi.json",
                                           headers=llm_server.auth_headers)
    # Schemathesis stops reading an event stream after 20 events by default and hangs up:
    # a 19-token answer then looked like a stream without [DONE]. Read them whole.
    schema.config.max_stream_events = 10_000
    counts = fuzz(schema, llm_server.url, llm_server.auth_headers,
                  {"POST /v1/chat/completions": 50, "GET /v1/models": 5}, check_llm,
                  prepare=_bounded_generation)
    total = sum(counts.values())
    print(f"\nLLM fuzz: {total} cases: {dict(sorted(counts.items()))}")
    assert total >= 40
    assert wait_for(lambda: metric(llm_server, "rymi_llm_engine_requests") == 0, 20)
    assert httpx.get(f"{llm_server.url}/readyz").status_code == 200
