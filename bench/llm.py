"""LLM benchmark: proxy overhead vs LiteLLM, and in-process vLLM vs vLLM's own server.

    python -m bench.llm [--quick] [--skip-litellm] [--skip-vllm] [--workers 2,4]
                        [--rounds-scale 0.5]

1. Proxy overhead. The same requests, interleaved round by round, go (a) straight to an
   upstream, (b) through our proxy (backend=upstream), (c) through a LiteLLM proxy, at 1,
   8 and 32 concurrent clients. Two upstreams: a deterministic instant mock (chunks stamped
   with their send time, so per-chunk delay is exact) and vLLM's own OpenAI server on the
   default model. Reported: added TTFT p50/p95 and added per-chunk latency, and on the
   mock three floors: what a TCP relay that parses nothing adds (``bench.llm_floor``),
   what a bare ASGI relay on uvicorn with our upstream client adds
   (``bench.llm_asgi_floor``: HTTP in Python and nothing else), and what a compiled HTTP
   proxy adds (Caddy's reverse_proxy, Go, flushing every chunk); and ours again with two
   worker processes (``RYMI_LLM_WORKERS=2``; ``--workers`` names other counts).
2. In-process: TTFT and tokens/s of our in-process backend vs
   ``python -m vllm.entrypoints.openai.api_server`` on the same model, same prompts.
Prints tables with ratios; writes results/llm-bench.json. Not a test: a shared machine is
noisy, read the ratios of one run, not absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import RESULTS
from bench import llm_procs as procs
from bench.llm_load import Sample, batch, session
from bench.llm_report import CONCURRENCY, inprocess_table, overhead_table

PROMPT = [{"role": "user", "content": "List three colours of the rainbow."}]


async def measure(targets: dict[str, tuple[str, str]], rounds: dict[int, int],
                  max_tokens: int, settle_s: float = 0.0,
                  cpu: dict[str, Callable[[], float]] | None = None
                  ) -> dict[str, dict[int, Sample]]:
    """targets: name -> (url, model); ``cpu``: name -> the CPU seconds its process has used
    so far, read around each of its batches and the settle after it. Rounds interleave
    targets to share machine drift, each round in a rotated order: whatever runs after a
    target's stream has ended (LiteLLM's logging and spend tasks, vLLM spinning a core for
    1 s after its last step) would otherwise always land on the same neighbour. After each
    batch the next waits ``settle_s``, then until every process in ``cpu`` is idle (its
    after-work done, counted as its own), so each target is measured on a quiet machine."""
    cpu = cpu or {}
    results: dict[str, dict[int, Sample]] = {n: {} for n in targets}
    clients = {n: session() for n in targets}
    try:
        for name, (url, model) in targets.items():  # warm pools and caches, not measured
            body = _body(model, max_tokens)
            await batch(clients[name], f"{url}/v1/chat/completions", body, {}, 2, Sample())
        for c in CONCURRENCY:
            for n in targets:
                results[n][c] = Sample()
            order = list(targets.items())
            for n in cpu:
                results[n][c].cpu_s = 0.0
            for r in range(rounds[c]):
                for name, (url, model) in order[r % len(order):] + order[:r % len(order)]:
                    read = cpu.get(name)
                    before = read() if read else 0.0
                    await batch(clients[name], f"{url}/v1/chat/completions",
                                _body(model, max_tokens), {}, c, results[name][c])
                    await settle(cpu, settle_s)
                    if read:
                        results[name][c].cpu_s += read() - before
    finally:
        for cl in clients.values():
            await cl.close()
    return results


async def settle(cpu: dict[str, Callable[[], float]], least_s: float, most_s: float = 5.0,
                 tick_s: float = 0.1) -> None:
    """Sleep ``least_s``, then until no process in ``cpu`` used more than 3% of a core over
    the last ``tick_s`` (``most_s`` at most)."""
    await asyncio.sleep(least_s)
    deadline = time.monotonic() + most_s
    last = {n: read() for n, read in cpu.items()}
    while time.monotonic() < deadline:
        await asyncio.sleep(tick_s)
        now = {n: read() for n, read in cpu.items()}
        if all(now[n] - last[n] < 0.03 * tick_s for n in now):
            return
        last = now


def _body(model: str, max_tokens: int) -> dict[str, Any]:
    return {"model": model, "messages": PROMPT, "stream": True, "max_tokens": max_tokens,
            "temperature": 0, "stream_options": {"include_usage": True}}


def litellm_config(entries: dict[str, tuple[str, str]]) -> Path:
    lines = ["model_list:"]
    for alias, (api_base, model) in entries.items():
        lines += [f"  - model_name: {alias}", "    litellm_params:",
                  f"      model: openai/{model}", f"      api_base: {api_base}/v1",
                  "      api_key: unused"]
    lines += ["litellm_settings:", "  drop_params: true", "  telemetry: false"]
    path = procs.run_file("litellm.yaml")
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench.llm", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    ap.add_argument("--skip-litellm", action="store_true")
    ap.add_argument("--skip-vllm", action="store_true", help="mock upstream only")
    ap.add_argument("--inprocess-only", action="store_true",
                    help="only the in-process backend vs vLLM's own server")
    ap.add_argument("--spin-too", action="store_true",
                    help="in-process: also ours with the engine's busy-wait on "
                         "(RYMI_LLM_ENGINE_BUSY_WAIT=true), vLLM's own default")
    ap.add_argument("--workers", default="2",
                    help="comma-separated RYMI_LLM_WORKERS counts to measure beside one "
                         "process on the mock upstream ('' for none)")
    ap.add_argument("--mock-keepalive-s", type=float, default=5.0,
                    help="the mock upstream's idle keep-alive. 5 s, as vLLM's server: a "
                         "target's next round comes later, so every path to the mock opens "
                         "its connections again (the direct one in the load client); 75: "
                         "no path reconnects, the proxies' steady-state cost alone")
    ap.add_argument("--rounds-scale", type=float, default=1.0,
                    help="multiply every round count (a bigger machine needs fewer)")
    ap.add_argument("--out", default=str(RESULTS / "llm-bench.json"))
    a = ap.parse_args(argv)
    q = a.quick
    workers = [int(w) for w in a.workers.split(",") if w.strip()]
    mock_rounds = {1: 15 if q else 60, 8: 5 if q else 20, 32: 2 if q else 8}
    vllm_rounds = {1: 3 if q else 8, 8: 1 if q else 3, 32: 1 if q else 2}
    if a.inprocess_only and not q:  # the time the proxy tables would have taken
        vllm_rounds = {1: 20, 8: 24, 32: 12}
    for rounds in (mock_rounds, vllm_rounds):
        rounds.update({c: max(1, round(r * a.rounds_scale)) for c, r in rounds.items()})
    from rymi_endpoints.models.catalog import resolve
    models_dir = procs.models_dir()
    report: dict[str, Any] = {"quick": q, "cpus": os.cpu_count(), "rounds_mock": mock_rounds}
    started: list[procs.Proc] = []
    try:
        upstreams: dict[str, tuple[str, str]] = {}
        floors: dict[str, procs.Proc] = {}
        if not a.inprocess_only:
            mock = procs.mock(chunks=16, interval_ms=20, keepalive_s=a.mock_keepalive_s)
            started.append(mock)
            upstreams["mock"] = (mock.url, "mock-model")
            for name, make in (("floor", procs.floor), ("asgi", procs.asgi_floor),
                               ("caddy", procs.caddy)):
                floors[name] = make(mock)
                started.append(floors[name])
        if not a.skip_vllm:
            model_dir = resolve("smollm2-135m-instruct", models_dir)
            # The dtype our in-process backend picks on this CPU (bf16 where AVX-512 bf16
            # or AMX is there, else fp32): the two servers must run the same arithmetic.
            from servers.llm.backends.vllm_engine import pick_dtype
            env = {"VLLM_CPU_KVCACHE_SPACE": "1", "DTYPE": pick_dtype("auto", on_cpu=True)}
            vapi = procs.vllm_api_server(model_dir, "smollm2-135m-instruct", env)
            started.append(vapi)
            upstreams["vllm"] = (vapi.url, "smollm2-135m-instruct")
        lite = None
        proxied = {} if a.inprocess_only else upstreams  # vLLM's server stays the peer
        if not a.skip_litellm and proxied:
            lite = procs.litellm(litellm_config(proxied))
            started.append(lite)
        for kind, (url, model) in proxied.items():
            proxy = procs.ours(f"proxy-{kind}", {"RYMI_LLM_BACKEND": "upstream",
                                                 "RYMI_LLM_UPSTREAM_URL": f"{url}/v1"})
            started.append(proxy)
            targets = {"direct": (url, model), "ours": (proxy.url, model)}
            if lite is not None:
                targets["litellm"] = (lite.url, kind)
            cpu = {"ours": proxy.cpu_s, **({"litellm": lite.cpu_s} if lite else {})}
            more: list[procs.Proc] = []
            if kind == "mock":
                for n in workers:
                    more.append(procs.ours(f"proxy-mock-x{n}", {
                        "RYMI_LLM_BACKEND": "upstream", "RYMI_LLM_UPSTREAM_URL": f"{url}/v1",
                        "RYMI_LLM_WORKERS": str(n)}))
                    started.append(more[-1])
                    targets[f"ours{n}"] = (more[-1].url, model)
                    cpu[f"ours{n}"] = more[-1].cpu_s
                targets.update({name: (p.url, model) for name, p in floors.items()})
                cpu.update({name: p.cpu_s for name, p in floors.items()})
            res = asyncio.run(measure(targets, mock_rounds if kind == "mock" else vllm_rounds,
                                      max_tokens=16, settle_s=0.2 if kind == "mock" else 1.5,
                                      cpu=cpu))
            title = ("Proxy overhead, instant mock upstream (16 chunks, 20 ms apart; "
                     "ms added vs direct; chunk = upstream send -> client)" if kind == "mock"
                     else "Proxy overhead, vLLM api_server upstream (SmolLM2, 16 tokens; "
                     "ms added vs direct; chunk = gap between chunks)")
            report[f"proxy_{kind}"] = overhead_table(
                title, res, "chunk_delay_s" if kind == "mock" else "chunk_gap_s")
            for p in (proxy, *more):
                p.stop()
        if not a.skip_vllm:
            env = {"RYMI_LLM_MODELS_DIR": str(models_dir), "VLLM_CPU_KVCACHE_SPACE": "1"}
            started.append(procs.ours("inprocess", env))
            targets = {"ours": (started[-1].url, "m")}
            if a.spin_too:  # ours again with vLLM's spin on: what the CPU default trades
                started.append(procs.ours("inprocess-spin",
                                          {**env, "RYMI_LLM_ENGINE_BUSY_WAIT": "true"}))
                targets["ours_spin"] = (started[-1].url, "m")
            targets["vllm"] = (upstreams["vllm"][0], "smollm2-135m-instruct")
            res = asyncio.run(measure(targets, vllm_rounds, max_tokens=32, settle_s=1.5))
            report["inprocess"] = inprocess_table(res)
    finally:
        for p in reversed(started):
            p.stop()
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\nwritten {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
