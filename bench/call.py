"""``bench call``: a caller's turn through STT -> LLM -> TTS, as a voice gateway runs it.

K simulated phone calls at once: each streams a real recording into STT at real-time
pace (then keeps sending line silence, as a phone line does), sends the final
transcript to the LLM on utterance_end (streaming, include_usage), feeds the LLM's
text to TTS clause by clause as it streams, and times, from the end of the caller's
speech: utterance_end, the first LLM token, and the first TTS audio byte
("voice-to-voice"). Prints a table per K and writes a PNG plot and JSON to results/.

    python -m bench.call                     # starts the three servers itself
    python -m bench.call --stt ws://... --tts http://... --llm http://... --token T
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
import wave
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import numpy as np
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from bench import RESULTS
from bench.stt_streams import speech_bounds

REPO = Path(__file__).resolve().parents[1]
AUDIO = REPO / "tests" / "data" / "audio"
CLIPS = ["librivox_ss_880.wav", "goforward.wav", "cards_002.wav", "librivox_ss_890.wav"]
RATE, FRAME = 16000, 320  # 20 ms frames, as telephony sends them
SYSTEM = "You are a friendly phone agent. Answer in one short sentence."
# A clause ends at punctuation followed by a space, or at punctuation that ends the text
# so far (no need to wait a token for the space), except a full stop that may belong to a
# number or an abbreviation ("3." "Dr."): that one waits for what follows.
CLAUSE = re.compile(r"[.!?;:,](?=\s)|[!?;:,]$|(?<![0-9])(?<!\b[A-Z][a-z])(?<!\b[A-Z])\.$")
MIN_CLAUSE = 12  # characters: shorter pieces sound clipped


def clause_end(text: str) -> int | None:
    """Where the first speakable clause of ``text`` ends, if one has."""
    for m in CLAUSE.finditer(text):
        if m.end() >= MIN_CLAUSE:
            return m.end()
    return None


@dataclass
class Turn:
    call: int
    clip: str
    eos_to_utterance_end: float = float("nan")
    eos_to_first_token: float = float("nan")
    eos_to_first_clause: float = float("nan")  # the first text handed to TTS
    eos_to_first_audio: float = float("nan")
    transcript: str = ""
    reply: str = ""
    error: str | None = None
    refused: bool = False  # STT at capacity answered the handshake 503 (by design, not an error)


@dataclass
class Endpoints:
    stt: str
    tts: str
    llm: str
    token: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def load_clip(name: str) -> tuple[bytes, float]:
    """PCM and the end of speech in seconds (as every benchmark measures it)."""
    with wave.open(str(AUDIO / name)) as w:
        pcm = w.readframes(w.getnframes())
    return pcm, speech_bounds(pcm)[1]


async def one_turn(ep: Endpoints, client: httpx.AsyncClient, call: int, clip: str) -> Turn:
    turn = Turn(call, clip)
    pcm, eos_s = load_clip(clip)
    try:
        async with connect(ep.stt, additional_headers=ep.headers) as ws:
            start = time.monotonic()
            eos = start + eos_s
            final_text: list[str] = []

            async def send() -> None:
                silence = b"\0\0" * FRAME
                pos, n = 0, 0
                while True:
                    chunk = pcm[pos:pos + 2 * FRAME] if pos < len(pcm) else silence
                    pos += 2 * FRAME
                    n += 1
                    await ws.send(chunk)
                    await asyncio.sleep(max(0.0, start + n * FRAME / RATE - time.monotonic()))

            sender = asyncio.create_task(send())
            try:
                async for msg in ws:
                    ev = json.loads(msg)
                    if ev["type"] == "final":
                        final_text.append(ev.get("text", ""))
                    elif ev["type"] == "utterance_end":
                        turn.eos_to_utterance_end = time.monotonic() - eos
                        break
                    elif ev["type"] == "error":
                        raise RuntimeError(f"stt error: {ev.get('message')}")
            finally:
                sender.cancel()
            await ws.send(json.dumps({"type": "close"}))
        turn.transcript = " ".join(t for t in final_text if t).strip()
        await agent_reply(ep, client, turn, eos)
    except InvalidStatus as exc:
        if exc.response.status_code == 503:
            turn.refused = True
        else:
            turn.error = f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # every error is counted, none stops the run
        turn.error = f"{type(exc).__name__}: {exc}"
    return turn


async def agent_reply(ep: Endpoints, client: httpx.AsyncClient, turn: Turn, eos: float) -> None:
    body = {"model": "agent", "stream": True, "stream_options": {"include_usage": True},
            "max_tokens": 48, "temperature": 0.7,
            "seed": 7,  # the same reply to the same transcript: runs compare like for like
            "messages": [{"role": "system", "content": SYSTEM},
                         {"role": "user", "content": turn.transcript or "Hello?"}]}
    pending, spoken = "", 0
    clauses: asyncio.Queue[str | None] = asyncio.Queue()

    async def speaker() -> None:  # clauses are spoken in order while the LLM streams on
        while (text := await clauses.get()) is not None:
            await speak(ep, client, text, turn, eos)

    speaking = asyncio.create_task(speaker())
    try:
        pending, spoken = await stream_llm(ep, client, body, turn, eos, clauses)
    finally:
        if pending.strip() or not spoken:
            if np.isnan(turn.eos_to_first_clause):
                turn.eos_to_first_clause = time.monotonic() - eos
            clauses.put_nowait(pending or "Okay.")
        clauses.put_nowait(None)
    await speaking


async def stream_llm(ep: Endpoints, client: httpx.AsyncClient, body: dict, turn: Turn,
                     eos: float, clauses: asyncio.Queue[str | None]) -> tuple[str, int]:
    pending, spoken = "", 0
    async with client.stream("POST", ep.llm, json=body, headers=ep.headers) as r:
        if r.status_code != 200:
            raise RuntimeError(f"llm HTTP {r.status_code}")
        async for line in r.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if "error" in chunk:
                raise RuntimeError(f"llm error event {chunk['error']}")
            for choice in chunk.get("choices", []):
                delta = choice.get("delta", {}).get("content") or ""
                if delta and np.isnan(turn.eos_to_first_token):
                    turn.eos_to_first_token = time.monotonic() - eos
                pending += delta
                turn.reply += delta
                while (end := clause_end(pending)) is not None:
                    if np.isnan(turn.eos_to_first_clause):
                        turn.eos_to_first_clause = time.monotonic() - eos
                    clauses.put_nowait(pending[:end])
                    spoken += 1
                    pending = pending[end:]
    return pending, spoken


async def speak(ep: Endpoints, client: httpx.AsyncClient, text: str, turn: Turn,
                eos: float) -> None:
    body = {"text": text.strip(), "format": "pcm_24000", "language": "en-US"}
    async with client.stream("POST", ep.tts, json=body, headers=ep.headers) as r:
        if r.status_code != 200:
            raise RuntimeError(f"tts HTTP {r.status_code}")
        async for chunk in r.aiter_raw():
            if chunk and np.isnan(turn.eos_to_first_audio):
                turn.eos_to_first_audio = time.monotonic() - eos


async def run_k(ep: Endpoints, k: int, turns: int) -> list[Turn]:
    async with httpx.AsyncClient(timeout=120) as client:
        async def call(i: int) -> list[Turn]:
            return [await one_turn(ep, client, i, CLIPS[(i + t) % len(CLIPS)])
                    for t in range(turns)]
        results = await asyncio.gather(*(call(i) for i in range(k)))
    return [t for r in results for t in r]


def start_servers(given: dict[str, str | None]) -> tuple[Endpoints, list]:
    """The endpoints: those given as URLs, and ours started for the rest."""
    import os

    from tests.support.servers import start_server
    env = {"VLLM_CPU_KVCACHE_SPACE": "1",  # as `make` does: the repo's prepared models
           "RYMI_MODELS_DIR": os.environ.get("RYMI_MODELS_DIR", str(REPO / ".models"))}
    urls = dict(given)
    servers: list = []
    try:
        for ch, path in (("stt", "/stt"), ("tts", "/tts"), ("llm", "/v1/chat/completions")):
            if not urls[ch]:
                server = start_server(f"servers.{ch}", env=env, ready_timeout=300)
                servers.append(server)
                urls[ch] = (server.ws_url if ch == "stt" else server.url) + path
    except BaseException:  # one failed to start: leave no orphan behind
        for s in servers:
            s.stop()
        raise
    return Endpoints(urls["stt"], urls["tts"], urls["llm"]), servers  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    from .call_report import plot, table
    p = argparse.ArgumentParser(prog="bench.call", description=__doc__.split("\n\n")[0])
    for ch in ("stt", "tts", "llm"):
        p.add_argument(f"--{ch}", metavar="URL",
                       help=f"an already running {ch} endpoint (else ours is started)")
    p.add_argument("--token")
    p.add_argument("--ks", default="1,2,4,8", help="concurrent calls to try")
    p.add_argument("--turns", type=int, default=4, help="turns per call")
    p.add_argument("--quick", action="store_true", help="K=1,2 and 2 turns")
    p.add_argument("--out", default=str(RESULTS / "call"))
    args = p.parse_args(argv)
    ks = [1, 2] if args.quick else [int(k) for k in args.ks.split(",")]
    turns = 2 if args.quick else args.turns
    # Any endpoint not given is one of ours, started here.
    ep, servers = start_servers({"stt": args.stt, "tts": args.tts, "llm": args.llm})
    if args.token:
        ep.headers = {"Authorization": f"Bearer {args.token}"}
    try:
        asyncio.run(run_k(ep, 1, 1))  # warm every path once; not measured
        by_k = {k: asyncio.run(run_k(ep, k, turns)) for k in ks}
    finally:
        for s in servers:
            s.stop()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    text = table(by_k)
    print(text)
    (out / "table.md").write_text(text + "\n", encoding="utf-8")
    (out / "turns.json").write_text(json.dumps(
        {k: [asdict(t) for t in v] for k, v in by_k.items()}, indent=1), encoding="utf-8")
    plot(by_k, out / "call.png")
    print(f"plot: {out / 'call.png'}")
    errors = [t.error for v in by_k.values() for t in v if t.error]
    for e in errors[:5]:
        print("error:", e)
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
