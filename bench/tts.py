"""TTS benchmark: our server vs piper.http_server vs wyoming-piper, same voice, same run.

    python -m bench.tts [--quick]

Measures, on the client side, time to first audio (TTFA: the first audio bytes, after
any WAV header; for wyoming the first audio-chunk event) and the real-time factor (time
to the last byte / seconds of audio), for a 1-sentence and a 4-sentence text, then
TTFA p50/p95 with 1, 4 and 8 concurrent clients (each client sends the 4-sentence text
back to back), and a burst: 24 callers 0.2 s apart, each playing what arrives in real
time (how many are served, the longest wait for first audio, the longest total of gaps
a caller hears, and how many hear more than 0.3 s). Servers run one at a time so none
steals the others' cores. Prints a table with ratios (peer / ours: above 1 means ours is
faster); writes results/tts.json.
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
BURST = (24, 0.2)  # callers, seconds between them
# One request: (ttfa_s, total_s, audio_s, gaps_s); None: refused (503)
Synth = Callable[[str], Awaitable[tuple[float, float, float, float] | None]]


class Playback:
    """A caller that plays what arrives in real time: how long it has nothing to play."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.first: float | None = None
        self.audio_s = self.gaps_s = 0.0

    def arrived(self, seconds: float) -> None:
        if seconds <= 0:
            return
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        else:
            self.gaps_s += max(0.0, now - (self.first + self.audio_s + self.gaps_s))
        self.audio_s += seconds

    def result(self) -> tuple[float, float, float, float]:
        ttfa = (self.first or self.t0) - self.t0
        return ttfa, time.perf_counter() - self.t0, self.audio_s, self.gaps_s


def ours(url: str, client: httpx.AsyncClient) -> Synth:
    async def synth(text: str) -> tuple[float, float, float, float] | None:
        play = Playback()
        async with client.stream("POST", f"{url}/tts",
                                 json={"text": text, "format": "pcm_24000"}) as r:
            if r.status_code == 503:
                return None
            r.raise_for_status()
            async for chunk in r.aiter_raw():
                play.arrived(len(chunk) / 2 / 24000)
        return play.result()
    return synth


def piper_http(url: str, client: httpx.AsyncClient) -> Synth:
    async def synth(text: str) -> tuple[float, float, float, float] | None:
        play, header = Playback(), 44  # the WAV header comes first: not audio
        async with client.stream("POST", f"{url}/synthesize", json={"text": text}) as r:
            r.raise_for_status()
            async for chunk in r.aiter_raw():
                audio, header = max(0, len(chunk) - header), max(0, header - len(chunk))
                play.arrived(audio / 2 / 22050)
        return play.result()
    return synth


def wyoming(port: int) -> Synth:
    async def synth(text: str) -> tuple[float, float, float, float] | None:
        play = Playback()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            await wyoming_event(writer, "synthesize", {"text": text})
            while True:
                kind, data, payload = await read_wyoming_event(reader)
                if kind == "audio-chunk":
                    play.arrived(len(payload) / 2 / data.get("rate", 22050))
                elif kind in ("audio-stop", "error"):
                    break
        finally:
            writer.close()
        return play.result()
    return synth


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


async def measure(synth: Synth, runs: int, rounds: int) -> dict[str, float]:
    for _ in range(2):
        await synth(LONG)  # warm-up, not counted
    out: dict[str, float] = {}
    for label, text in TEXTS.items():
        results = [r for _ in range(runs) if (r := await synth(text))]
        ttfa = [r[0] for r in results]
        out[f"TTFA p50, {label}"] = statistics.median(ttfa)
        out[f"TTFA p95, {label}"] = pct(ttfa, 95)
        out[f"RTF, {label}"] = statistics.mean(r[1] / r[2] for r in results)
    for clients in (1, 4, 8):
        async def client_loop() -> list[tuple[float, float, float, float] | None]:
            return [await synth(LONG) for _ in range(rounds)]
        per_client = await asyncio.gather(*(client_loop() for _ in range(clients)))
        results = [r for rs in per_client for r in rs if r]
        ttfa = [r[0] for r in results]
        out[f"TTFA p50, {clients} concurrent"] = statistics.median(ttfa)
        out[f"TTFA p95, {clients} concurrent"] = pct(ttfa, 95)
        # Worst stream: time to its last byte / its audio seconds (< 1: faster than real time)
        out[f"worst stream RTF, {clients} concurrent"] = max(r[1] / r[2] for r in results)
        out[f"refused (503), {clients} concurrent"] = sum(r is None for rs in per_client
                                                          for r in rs)
    out.update(await burst(synth))
    return out


async def burst(synth: Synth) -> dict[str, float]:
    """More callers than the workers can keep up with, arriving together: those served
    should hear no gaps (a gap mid-sentence is what a phone caller notices)."""
    callers, spacing = BURST

    async def caller(delay: float) -> tuple[float, float, float, float] | None:
        await asyncio.sleep(delay)
        return await synth(LONG)

    results = await asyncio.gather(*(caller(i * spacing) for i in range(callers)))
    served = [r for r in results if r]
    label = f"burst of {callers}"
    return {f"served, {label}": len(served),
            f"TTFA worst, {label}": max(r[0] for r in served),
            f"gaps (s), worst caller, {label}": max(r[3] for r in served),
            f"callers with gaps > 0.3 s, {label}": sum(r[3] > 0.3 for r in served)}


async def bench_server(name: str, voice: Path, runs: int, rounds: int) -> dict[str, float] | None:
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=64)) as client:
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
            cell = (f"{v * 1000:.0f} ms" if metric.startswith("TTFA") else
                    f"{v:.0f}" if metric.startswith(("served", "refused", "callers")) else
                    f"{v:.3f}")
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
