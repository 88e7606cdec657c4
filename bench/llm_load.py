"""Closed-loop streaming load: TTFT and per-chunk latency of one target at one concurrency.

The client is aiohttp: on two cores the load generator shares the CPU with what it
measures, and httpx costs ~4 ms of CPU per streamed request at 32 clients (aiohttp
~0.4 ms), which would crowd the servers under test and blur their differences.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from dataclasses import dataclass, field

import aiohttp

_CONTENT = re.compile(rb'"content":\s*"([^"])')
_STAMP = re.compile(rb'"content":\s*"(\d{6,}) ')


@dataclass
class Sample:
    ttft_s: list[float] = field(default_factory=list)
    chunk_delay_s: list[float] = field(default_factory=list)  # upstream send -> client (mock)
    chunk_gap_s: list[float] = field(default_factory=list)  # between content chunks
    tokens_per_s: list[float] = field(default_factory=list)
    errors: int = 0
    requests: int = 0
    cpu_s: float = float("nan")  # the target's own process CPU over its requests
    # One entry per batch (round): its TTFT p50 and tokens/s p50. Two targets measured in
    # alternation are compared round by round, so drift of the machine cancels.
    round_ttft_s: list[float] = field(default_factory=list)
    round_tokens_per_s: list[float] = field(default_factory=list)


async def one(client: aiohttp.ClientSession, url: str, body: dict, headers: dict,
              out: Sample) -> None:
    out.requests += 1
    t0 = time.monotonic()
    first: float | None = None
    last = t0
    n = 0
    try:
        async with client.post(url, json=body, headers=headers) as r:
            if r.status != 200:
                await r.read()
                out.errors += 1
                return
            pending = b""
            async for chunk in r.content.iter_any():
                now = time.monotonic()
                now_ns = time.monotonic_ns()
                pending += chunk
                *events, pending = pending.split(b"\n\n")
                for ev in events:
                    if not _CONTENT.search(ev):
                        continue
                    n += 1
                    if first is None:
                        first = now
                        out.ttft_s.append(now - t0)
                    else:
                        out.chunk_gap_s.append(now - last)
                    last = now
                    m = _STAMP.search(ev)
                    if m:
                        out.chunk_delay_s.append((now_ns - int(m.group(1))) / 1e9)
    except (aiohttp.ClientError, TimeoutError):
        out.errors += 1
        return
    if first is not None and n > 1 and last > first:
        out.tokens_per_s.append((n - 1) / (last - first))


async def batch(client: aiohttp.ClientSession, url: str, body: dict, headers: dict,
                concurrency: int, out: Sample) -> None:
    """``concurrency`` streams started together; the batch's medians go to the round lists."""
    n_ttft, n_tok = len(out.ttft_s), len(out.tokens_per_s)
    await asyncio.gather(*(one(client, url, body, headers, out) for _ in range(concurrency)))
    out.round_ttft_s.append(median(out.ttft_s[n_ttft:]))
    out.round_tokens_per_s.append(median(out.tokens_per_s[n_tok:]))


def session() -> aiohttp.ClientSession:
    """One pooled client per target (made inside the running loop, as aiohttp wants)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64),
                                 timeout=aiohttp.ClientTimeout(total=300))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
