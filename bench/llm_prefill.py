"""A long prompt beside a stream: how long the stream stops while the prompt is read,
at vLLM's CPU step (2,048 tokens) and at ours, in the same run.

    python -m bench.llm_prefill [--rounds N] [--steps 2048,256]

One in-process server per step size (SmolLM2, context 4,096). Each round: a stream
counting to two hundred, and once it runs, a prompt of about 1,900 tokens beside it.
Prints the stream's longest gap between two tokens (with no prompt beside it too), and
the long prompt's time to first token alone and beside the stream; medians, ms. The
ratio column is vLLM's step over ours (above 1: ours stalls the stream less).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

import httpx

from tests.support.servers import start_server

LONG = "hello " * 1900


def body(text: str, max_tokens: int, **extra: object) -> dict:
    return {"model": "x", "messages": [{"role": "user", "content": text}], "stream": True,
            "max_tokens": max_tokens, "temperature": 0, **extra}


async def first_token_ms(client: httpx.AsyncClient, url: str, request: dict) -> float:
    start = time.perf_counter()
    async with client.stream("POST", url, json=request) as r:
        async for line in r.aiter_lines():
            if line.startswith("data:"):
                return (time.perf_counter() - start) * 1000
    raise RuntimeError(f"no token: {r.status_code}")


async def longest_gap_ms(client: httpx.AsyncClient, url: str, beside: dict | None,
                         ttft: list[float]) -> float:
    stamps: list[float] = []
    running = asyncio.Event()

    async def stream() -> None:
        request = body("Count from one to two hundred.", 120, ignore_eos=True)
        async with client.stream("POST", url, json=request) as r:
            async for line in r.aiter_lines():
                if line.startswith("data:"):
                    stamps.append(time.perf_counter())
                    if len(stamps) == 10:
                        running.set()

    task = asyncio.create_task(stream())
    await running.wait()
    if beside is not None:
        ttft.append(await first_token_ms(client, url, beside))
    await task
    return max((b - a) * 1000 for a, b in zip(stamps[10:], stamps[11:], strict=False))


async def measure(url: str, rounds: int) -> dict[str, float]:
    out: dict[str, list[float]] = {"gap": [], "quiet gap": [], "alone": [], "beside": []}
    async with httpx.AsyncClient(timeout=300) as client:
        await first_token_ms(client, url, body("hi", 2))  # warm
        for i in range(rounds):  # each prompt new: no prefix cache
            out["alone"].append(await first_token_ms(client, url, body(f"{i} {LONG}", 1)))
            out["gap"].append(await longest_gap_ms(client, url, body(f"x{i} {LONG}", 1),
                                                   out["beside"]))
            out["quiet gap"].append(await longest_gap_ms(client, url, None, []))
    return {k: statistics.median(v) for k, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench.llm_prefill", description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", default="2048,256", help="vLLM's CPU step first, ours last")
    args = ap.parse_args(argv)
    results = {}
    for step in args.steps.split(","):
        print(f"measuring max_num_batched_tokens={step}...", file=sys.stderr)
        server = start_server("servers.llm", env={
            "RYMI_LLM_TOKENS": "", "RYMI_LLM_MAX_MODEL_LEN": "4096",
            "RYMI_LLM_MAX_NUM_BATCHED_TOKENS": step}, ready_timeout=300)
        try:
            results[step] = asyncio.run(measure(f"{server.url}/v1/chat/completions",
                                                args.rounds))
        finally:
            server.stop()
    first, last = next(iter(results.values())), list(results.values())[-1]
    print("\nLLM, a 1,900-token prompt beside a stream (ms, medians of "
          f"{args.rounds}); x: {list(results)[0]} / {list(results)[-1]}")
    print("| metric | " + " | ".join(f"step {s}" for s in results) + " | x |")
    print("|---|" + "---|" * len(results) + "---|")
    for key, name in (("gap", "stream's longest gap, prompt beside"),
                      ("quiet gap", "stream's longest gap, alone"),
                      ("alone", "long prompt's first token, alone"),
                      ("beside", "long prompt's first token, beside")):
        cells = " | ".join(f"{r[key]:.0f}" for r in results.values())
        print(f"| {name} | {cells} | {first[key] / last[key]:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
