"""Mixed load on all three servers: no error, no growth. 60 s here; `make soak` runs 30 min.

Bounds on growth are measured from a baseline taken after the first window (the first
requests of each kind allocate what a server keeps: caches, pools, compiled kernels).
"""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from tests.soak.loadgen import LoadResult, report, run_mixed_load
from tests.support.servers import REPO

RSS_SLACK_MB, RSS_SLACK_SHARE, FD_SLACK, THREAD_SLACK = 64, 0.15, 16, 16


def check_growth(result: LoadResult) -> list[str]:
    problems = []
    for ch, samples in result.resources.items():
        base = samples[min(2, len(samples) - 1)]  # after warm-up
        end = samples[-1]
        if end["rss_mb"] > base["rss_mb"] * (1 + RSS_SLACK_SHARE) + RSS_SLACK_MB:
            problems.append(f"{ch}: RSS {base['rss_mb']:.0f} -> {end['rss_mb']:.0f} MB")
        if end["fds"] > base["fds"] + FD_SLACK:
            problems.append(f"{ch}: fds {base['fds']:.0f} -> {end['fds']:.0f}")
        if end["threads"] > base["threads"] + THREAD_SLACK:
            problems.append(f"{ch}: threads {base['threads']:.0f} -> {end['threads']:.0f}")
    return problems


def run_and_report(servers, seconds: float, width: float, name: str) -> LoadResult:
    # At least 8 samples whatever the length: with one every width/2 (150 s), a soak
    # shortened by RYMI_SOAK_S had 3, and its growth check compared the end with itself.
    every = max(5.0, min(width / 2, seconds / 8))
    result = asyncio.run(run_mixed_load(servers, seconds, sample_every=every))
    text = report(result, width)
    print(text)
    out = REPO / "results" / "soak"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.md").write_text(text + "\n", encoding="utf-8")
    (out / f"{name}.json").write_text(json.dumps({
        "samples": [s.__dict__ for s in result.samples], "resources": result.resources}),
        encoding="utf-8")
    return result


@pytest.fixture(scope="module")
def all_servers(stt_server, tts_server, llm_server):
    return {"stt": (stt_server, stt_server.auth_headers),
            "tts": (tts_server, tts_server.auth_headers),
            "llm": (llm_server, llm_server.auth_headers)}


# pytest-timeout counts fixture set-up too: the shared vLLM engine can take minutes to start
# on a busy 2-core machine, on top of the load itself.
LOAD_S = float(os.environ.get("RYMI_LOAD_S", "60"))
SOAK_S = float(os.environ.get("RYMI_SOAK_S", "1800"))


@pytest.mark.timeout(LOAD_S + 600)
def test_mixed_load_bounded(all_servers):
    seconds = LOAD_S
    result = run_and_report(all_servers, seconds, width=seconds / 4, name="load")
    assert {s.channel for s in result.samples} == {"stt", "tts", "llm"}
    assert not result.errors(), report(result, seconds / 4)
    assert not check_growth(result)


@pytest.mark.soak
@pytest.mark.timeout(SOAK_S + 600)
def test_soak_30_minutes(all_servers):
    seconds = SOAK_S
    result = run_and_report(all_servers, seconds, width=300, name="soak")
    assert not result.errors(), report(result, 300)
    assert all(len(samples) >= 5 for samples in result.resources.values()), \
        "too few resource samples for the growth check to mean anything"
    assert not check_growth(result)
