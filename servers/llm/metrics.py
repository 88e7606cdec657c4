"""LLM-specific Prometheus metrics, beside the common ones (requests, in-flight, first byte)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram

from servers.common.metrics import LATENCY_BUCKETS, child

TTFT = Histogram("rymi_llm_ttft_seconds", "Time from request to the first content token",
                 ["backend"], buckets=LATENCY_BUCKETS)
TOKENS_PER_S = Histogram("rymi_llm_decode_tokens_per_second",
                         "Completion tokens per second after the first token", ["backend"],
                         buckets=(1, 2, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 1000))
TOKENS = Counter("rymi_llm_tokens_total", "Tokens processed (kind: prompt, completion, "
                 "prompt_cached: prompt tokens served from the prefix cache, and "
                 "completion_estimated: text events of proxied streams cut before the "
                 "upstream's usage)", ["backend", "kind"])
ERRORS = Counter("rymi_llm_errors_total", "Failed completions by code and phase",
                 ["backend", "code", "phase"])
# livesum: one series for the server, a dead worker's count gone with it (in the
# default mode every process that ever ran kept a series of its own, by pid).
ENGINE_REQUESTS = Gauge("rymi_llm_engine_requests",
                        "Requests the in-process engine is running or queueing",
                        multiprocess_mode="livesum")

ENGINE_STALLED = Gauge("rymi_llm_engine_stalled", "1 while requests run and the in-process "
                       "engine has made no output for a minute (stopped or hung)",
                       multiprocess_mode="livemax")


def watch_engine(count: Callable[[], int]) -> None:
    """Read the engine's own count at scrape time (so a leak shows even if we forget one)."""
    ENGINE_REQUESTS.set_function(count)


def record_tokens(backend: str, prompt: int | None, completion: int | None, ttft_s: float | None,
                  total_s: float, cached: int = 0) -> None:
    if prompt:
        child(TOKENS, backend, "prompt").inc(prompt)
    if cached:
        child(TOKENS, backend, "prompt_cached").inc(cached)
    if completion:
        child(TOKENS, backend, "completion").inc(completion)
    if ttft_s is not None:
        child(TTFT, backend).observe(ttft_s)
        if completion and completion > 1 and total_s > ttft_s:
            child(TOKENS_PER_S, backend).observe((completion - 1) / (total_s - ttft_s))


def record_estimated(backend: str, completion: int) -> None:
    child(TOKENS, backend, "completion_estimated").inc(completion)
