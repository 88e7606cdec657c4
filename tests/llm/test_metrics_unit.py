"""The LLM's token metrics, checked in-process on known inputs: a dashboard's
tokens-per-second or prompt-token rate that drifts shows in no status code or record,
so the server-level tests never see it."""

from __future__ import annotations

from prometheus_client import REGISTRY

from servers.llm import metrics


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_decode_rate_counts_the_tokens_after_the_first() -> None:
    """The first token's time is the TTFT, not decoding: 11 tokens, the first at 1 s and
    the last at 3 s, are 10 tokens in 2 s, 5/s (11/2 would overstate every stream)."""
    backend = "unit-decode-rate"
    before = _sample("rymi_llm_decode_tokens_per_second_sum", backend=backend)
    metrics.record_tokens(backend, prompt=None, completion=11, ttft_s=1.0, total_s=3.0)
    after = _sample("rymi_llm_decode_tokens_per_second_sum", backend=backend)
    assert after - before == 5.0


def test_prompt_completion_and_cached_tokens_are_each_counted() -> None:
    """Prompt tokens are most of what a call costs (the whole history each turn)."""
    backend = "unit-token-kinds"
    kinds = ("prompt", "completion", "prompt_cached")
    before = {k: _sample("rymi_llm_tokens_total", backend=backend, kind=k) for k in kinds}
    metrics.record_tokens(backend, prompt=120, completion=7, ttft_s=0.1, total_s=0.5,
                          cached=64)
    after = {k: _sample("rymi_llm_tokens_total", backend=backend, kind=k) for k in kinds}
    assert {k: after[k] - before[k] for k in kinds} == {
        "prompt": 120, "completion": 7, "prompt_cached": 64}

