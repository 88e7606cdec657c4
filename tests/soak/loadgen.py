"""Mixed STT/TTS/LLM traffic on loopback, bounded in time, with per-window latencies
and per-server resource samples (RSS, open file descriptors, threads).

Used by the bounded load test in ``make test`` and the long soak in ``make soak``.
Every loop stops by itself at the deadline; every request's outcome is recorded.
"""

from __future__ import annotations

import asyncio
import json
import time
import wave
from collections import defaultdict
from dataclasses import dataclass, field

import httpx
import numpy as np
import psutil
from websockets.asyncio.client import connect

from tests.support.servers import REPO, RunningServer

CLIP = REPO / "tests" / "data" / "audio" / "librivox_ss_880.wav"
REQUEST_TIMEOUT_S = 60.0  # one request or session, start to end
TEXT = "Thanks for calling. Your order shipped today and should arrive on Friday."


@dataclass
class Sample:
    channel: str
    t: float  # seconds since the run started
    latency: float  # first result: final, first audio byte, first token
    error: str | None = None


@dataclass
class LoadResult:
    samples: list[Sample] = field(default_factory=list)
    resources: dict[str, list[dict[str, float]]] = field(default_factory=dict)

    def errors(self) -> list[Sample]:
        return [s for s in self.samples if s.error]

    def windows(self, width: float) -> dict[str, list[tuple[int, int, float, float]]]:
        """channel -> [(window start s, count, p50 ms, p95 ms)]."""
        out: dict[str, list[tuple[int, int, float, float]]] = defaultdict(list)
        by: dict[tuple[str, int], list[float]] = defaultdict(list)
        for s in self.samples:
            if not s.error:
                by[(s.channel, int(s.t // width))].append(s.latency * 1000)
        for (ch, w), vals in sorted(by.items()):
            out[ch].append((int(w * width), len(vals), float(np.percentile(vals, 50)),
                            float(np.percentile(vals, 95))))
        return out


def resources_of(pid: int) -> dict[str, float]:
    """RSS (MB), fds and threads of a server process and its children (vLLM's engine)."""
    procs = [psutil.Process(pid)]
    procs += procs[0].children(recursive=True)
    rss = fds = threads = 0
    for p in procs:
        try:
            rss += p.memory_info().rss
            fds += p.num_fds()
            threads += p.num_threads()
        except psutil.NoSuchProcess:
            pass
    return {"rss_mb": rss / 2**20, "fds": fds, "threads": threads}


def clip_pcm() -> bytes:
    with wave.open(str(CLIP)) as w:
        return w.readframes(w.getnframes())


async def stt_loop(server: RunningServer, headers: dict, deadline: float, t0: float,
                   out: list[Sample]) -> None:
    pcm = clip_pcm()
    while time.monotonic() < deadline:
        start = time.monotonic()
        try:
            # Bounded: a session whose utterance_end never comes is an error, not a hang.
            async with asyncio.timeout(REQUEST_TIMEOUT_S), connect(
                    f"{server.ws_url}/stt", additional_headers=headers) as ws:
                for i in range(0, len(pcm), 3200):  # 2x real time
                    await ws.send(pcm[i:i + 3200])
                    await asyncio.sleep(0.05)
                sent = time.monotonic()
                await ws.send(json.dumps({"type": "finalize"}))
                events: list[tuple[float, dict]] = []
                async for msg in ws:
                    events.append((time.monotonic(), json.loads(msg)))
                    if events[-1][1]["type"] == "utterance_end":
                        break
                await ws.send(json.dumps({"type": "close"}))
                async for msg in ws:  # close flushes what is pending, then 1000
                    events.append((time.monotonic(), json.loads(msg)))
            _check_stt_session([ev for _, ev in events], ws.close_code)
            final_at = next(t for t, ev in events if ev["type"] == "final")
            out.append(Sample("stt", start - t0, final_at - sent))
        except Exception as exc:
            out.append(Sample("stt", start - t0, 0.0, f"{type(exc).__name__}: {exc}"))


def _check_stt_session(events: list[dict], close_code: int | None) -> None:
    """The clip is speech: a session without a final that has its words lost them. Every
    speech_started is closed by a final, and close ends the session with 1000."""
    kinds = [e["type"] for e in events]
    errors = [e.get("message") for e in events if e["type"] == "error"]
    if errors:
        raise RuntimeError(f"error event: {errors[0]}")
    if not any(e["type"] == "final" and (e.get("text") or "").strip() for e in events):
        raise RuntimeError(f"no final with text for the speech sent: {kinds}")
    if kinds.count("speech_started") > kinds.count("final"):
        raise RuntimeError(f"an utterance got no final: {kinds}")
    if close_code != 1000:
        raise RuntimeError(f"closed with {close_code}, not 1000 after close")


async def tts_loop(client: httpx.AsyncClient, server: RunningServer, headers: dict,
                   deadline: float, t0: float, out: list[Sample]) -> None:
    while time.monotonic() < deadline:
        start = time.monotonic()
        first = None
        try:
            async with client.stream("POST", f"{server.url}/tts", headers=headers,
                                     json={"text": TEXT, "format": "pcm_24000"}) as r:
                if r.status_code != 200:
                    raise RuntimeError(f"HTTP {r.status_code}")
                n = 0
                async for chunk in r.aiter_raw():
                    first = first or time.monotonic()
                    n += len(chunk)
                if n == 0 or n % 2:
                    raise RuntimeError(f"bad body length {n}")
            out.append(Sample("tts", start - t0, (first or start) - start))
        except Exception as exc:
            out.append(Sample("tts", start - t0, 0.0, f"{type(exc).__name__}: {exc}"))


async def llm_loop(client: httpx.AsyncClient, server: RunningServer, headers: dict,
                   deadline: float, t0: float, out: list[Sample]) -> None:
    body = {"model": "any", "stream": True, "stream_options": {"include_usage": True},
            "max_tokens": 24, "messages": [{"role": "user", "content": "Say hi briefly."}]}
    while time.monotonic() < deadline:
        start = time.monotonic()
        first, done = None, False
        try:
            async with client.stream("POST", f"{server.url}/v1/chat/completions",
                                     headers=headers, json=body) as r:
                if r.status_code != 200:
                    raise RuntimeError(f"HTTP {r.status_code}")
                async for line in r.aiter_lines():
                    if line.startswith("data: {") and first is None:
                        first = time.monotonic()
                    if '"error"' in line and line.startswith("data: {\"error"):
                        raise RuntimeError(line[:200])
                    done = done or line == "data: [DONE]"
            if not done:
                raise RuntimeError("stream ended without [DONE]")
            out.append(Sample("llm", start - t0, (first or start) - start))
        except Exception as exc:
            out.append(Sample("llm", start - t0, 0.0, f"{type(exc).__name__}: {exc}"))


async def run_mixed_load(servers: dict[str, tuple[RunningServer, dict]], seconds: float,
                         per_channel: int = 2, sample_every: float = 5.0) -> LoadResult:
    """``servers``: channel -> (server, headers). Runs ``per_channel`` loops each."""
    result = LoadResult()
    t0 = time.monotonic()
    deadline = t0 + seconds
    for ch, (srv, _) in servers.items():
        result.resources[ch] = [{"t": 0.0, **resources_of(srv.proc.pid)}]

    async def sampler() -> None:
        while time.monotonic() < deadline:
            await asyncio.sleep(min(sample_every, max(0.0, deadline - time.monotonic())))
            for ch, (srv, _) in servers.items():
                result.resources[ch].append({"t": time.monotonic() - t0,
                                             **resources_of(srv.proc.pid)})

    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S) as client:
        tasks = [asyncio.create_task(sampler())]
        for _ in range(per_channel):
            if "stt" in servers:
                srv, h = servers["stt"]
                tasks.append(asyncio.create_task(stt_loop(srv, h, deadline, t0, result.samples)))
            if "tts" in servers:
                srv, h = servers["tts"]
                tasks.append(asyncio.create_task(
                    tts_loop(client, srv, h, deadline, t0, result.samples)))
            if "llm" in servers:
                srv, h = servers["llm"]
                tasks.append(asyncio.create_task(
                    llm_loop(client, srv, h, deadline, t0, result.samples)))
        await asyncio.gather(*tasks)
    await asyncio.sleep(1.0)  # let servers release what the last requests held
    for ch, (srv, _) in servers.items():
        result.resources[ch].append({"t": time.monotonic() - t0, **resources_of(srv.proc.pid)})
    return result


def report(result: LoadResult, width: float) -> str:
    lines = ["channel | window | requests | p50 ms | p95 ms", "---|---|---|---|---"]
    for ch, rows in result.windows(width).items():
        for w, n, p50, p95 in rows:
            lines.append(f"{ch} | {w}s | {n} | {p50:.0f} | {p95:.0f}")
    lines += ["", "server | RSS MB start -> end | fds | threads", "---|---|---|---"]
    for ch, samples in result.resources.items():
        a, b = samples[0], samples[-1]
        lines.append(f"{ch} | {a['rss_mb']:.0f} -> {b['rss_mb']:.0f} | "
                     f"{a['fds']:.0f} -> {b['fds']:.0f} | {a['threads']:.0f} -> {b['threads']:.0f}")
    errors = result.errors()
    lines.append(f"\nerrors: {len(errors)} of {len(result.samples)} requests")
    lines += [f"  {e.channel} t={e.t:.1f}s {e.error}" for e in errors[:10]]
    return "\n".join(lines)
