"""TTS benchmark: our server vs piper.http_server vs wyoming-piper, same voice, same run.

    python -m bench.tts [--quick]

Measures, on the client side, time to first audio (TTFA: the first audio bytes, after
any WAV header; for wyoming the first audio-chunk event) and the real-time factor (time
to the last byte / seconds of audio), for a 1-sentence and a 4-sentence text, then
TTFA p50/p95 with 1, 4 and 8 concurrent clients (each client sends the 4-sentence text
back to back). Servers run one at a time so none steals the others' cores. Prints a
table with ratios (peer / ours: above 1 means ours is faster); writes results/tts.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from bench import RESULTS
from bench.tts_peers import (
    REPO,
    read_wyoming_event,
    start_piper_http,
    start_wyoming_piper,
    wyoming_event,
)
from rymi_endpoints.models.catalog import default_model, resolve
from servers.common.config import default_models_dir
from tests.support.servers import start_server

TEXTS = {
    "1 sentence": "Thanks for calling Acme support, how can I help you today?",
    "4 sentences": ("Hello! Thanks for calling Acme support, my name is Joe. Your balance is "
                    "$12.50. Your appointment is on March 3rd at 3:30 pm."),
}
LONG = TEXTS["4 sentences"]
# One request: (ttfa_s, total_s, audio_s)
Synth = Callable[[str], Awaitable[tuple[float, float, float]]]


def ours(url: str, client: httpx.AsyncClient) -> Synth:
    async def synth(text: str) -> tuple[float, float, float]:
        t0 = time.perf_counter()
        ttfa, n = None, 0
        async with client.stream("POST", f"{url}/tts",
                                 json={"text": text, "format": "pcm_24000"}) as r:
            r.raise_for_status()
            async for chunk in r.aiter_raw():
                if chunk and ttfa is None:
                    ttfa = time.perf_counter() - t0
                n += len(chunk)
        return ttfa or 0.0, time.perf_counter() - t0, n / 2 / 24000
    return synth


def piper_http(url: str, client: httpx.AsyncClient) -> Synth:
    async def synth(text: str) -> tuple[float, float, float]:
        t0 = time.perf_counter()
        ttfa, n = None, 0
        async with client.stream("POST", f"{url}/synthesize", json={"text": text}) as r:
            r.raise_for_status()
            async for chunk in r.aiter_raw():
                n += len(chunk)
                if ttfa is None and n > 44:  # past the WAV header: audio
                    ttfa = time.perf_counter() - t0
        return ttfa or 0.0, time.perf_counter() - t0, (n - 44) / 2 / 22050
    return synth


def wyoming(port: int) -> Synth:
    async def synth(text: str) -> tuple[float, float, float]:
        t0 = time.perf_counter()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        ttfa, n, rate = None, 0, 22050
        try:
            await wyoming_event(writer, "synthesize", {"text": text})
            while True:
                kind, data, payload = await read_wyoming_event(reader)
                if kind == "audio-chunk":
                    ttfa = ttfa or time.perf_counter() - t0
                    n += len(payload)
                    rate = data.get("rate", rate)
                elif kind in ("audio-stop", "error"):
                    break
        finally:
            writer.close()
        return ttfa or 0.0, time.perf_counter() - t0, n / 2 / rate
    return synth


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


async def measure(synth: Synth, runs: int, rounds: int) -> dict[str, float]:
    for _ in range(2):
        await synth(LONG)  # warm-up, not counted
    out: dict[str, float] = {}
    for label, text in TEXTS.items():
        results = [await synth(text) for _ in range(runs)]
        ttfa = [r[0] for r in results]
        out[f"TTFA p50, {label}"] = statistics.median(ttfa)
        out[f"TTFA p95, {label}"] = pct(ttfa, 95)
        out[f"RTF, {label}"] = statistics.mean(r[1] / r[2] for r in results)
    for clients in (1, 4, 8):
        async def client_loop() -> list[tuple[float, float, float]]:
            return [await synth(LONG) for _ in range(rounds)]
        per_client = await asyncio.gather(*(client_loop() for _ in range(clients)))
        results = [r for rs in per_client for r in rs]
        ttfa = [r[0] for r in results]
        out[f"TTFA p50, {clients} concurrent"] = statistics.median(ttfa)
        out[f"TTFA p95, {clients} concurrent"] = pct(ttfa, 95)
        # Worst stream: time to its last byte / its audio seconds (< 1: faster than real time)
        out[f"worst stream RTF, {clients} concurrent"] = max(r[1] / r[2] for r in results)
    return out


async def bench_server(name: str, voice: Path, runs: int, rounds: int) -> dict[str, float] | None:
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=16)) as client:
        if name == "ours":
            server = start_server("servers.tts", env={"RYMI_TTS_LOG_LEVEL": "warning"})
            try:
                return await measure(ours(server.url, client), runs, rounds)
            finally:
                server.stop()
        start = start_piper_http if name == "piper.http_server" else start_wyoming_piper
        peer = start(voice)
        if peer is None:
            print(f"  {name}: not installed under .peers/, skipped", file=sys.stderr)
            return None
        try:
            synth = (piper_http(f"http://127.0.0.1:{peer.port}", client)
                     if name == "piper.http_server" else wyoming(peer.port))
            return await measure(synth, runs, rounds)
        finally:
            peer.stop()


def table(results: dict[str, dict[str, float] | None]) -> str:
    names = [n for n, r in results.items() if r]
    ours_r = results["ours"] or {}
    head = f"{'metric':<32}" + "".join(
        f"{n:>20}" + ("" if n == "ours" else f"{'x ours':>8}") for n in names)
    lines = [head, "-" * len(head)]
    for metric, value in ours_r.items():
        row = f"{metric:<32}"
        for n in names:
            v = results[n][metric]  # type: ignore[index]
            cell = f"{v * 1000:.0f} ms" if metric.startswith("TTFA") else f"{v:.3f}"
            row += f"{cell:>20}"
            if n != "ours":
                row += f"{v / value:>7.1f}x" if value else f"{'-':>8}"
        lines.append(row)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench.tts", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer runs (about a minute per server)")
    ap.add_argument("--only", choices=["ours", "piper.http_server", "wyoming-piper"], nargs="*")
    args = ap.parse_args(argv)
    runs, rounds = (8, 2) if args.quick else (30, 5)
    voice = resolve(default_model("tts").name, default_models_dir())
    names = args.only or ["ours", "piper.http_server", "wyoming-piper"]
    if "ours" not in names:
        names.insert(0, "ours")
    results: dict[str, dict[str, float] | None] = {}
    for name in names:
        print(f"measuring {name} ({runs} runs per text, {rounds} rounds per client)...",
              file=sys.stderr)
        results[name] = asyncio.run(bench_server(name, voice, runs, rounds))
    print(f"\nTTS, voice {voice.stem}, ours at pcm_24000 (peers send 22050 Hz, unresampled)")
    print(table(results))
    out = RESULTS / "tts.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"quick": args.quick, "results": results}, indent=2))
    print(f"\n(x ours: the peer's value / ours; written to {out.relative_to(REPO)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
