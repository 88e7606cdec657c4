"""The LLM benchmark's tables: proxy overhead against the direct upstream, each proxy's
CPU per request, and the in-process backend against vLLM's own server with paired
ratios and bootstrap intervals. Printed, and returned as rows for the JSON."""

from __future__ import annotations

import random
from typing import Any

from bench.llm_load import Sample, median, pct

CONCURRENCY = (1, 8, 32)


def overhead_table(title: str, res: dict[str, dict[int, Sample]], per_chunk: str) -> list[dict]:
    """One row per concurrency: ours and LiteLLM in full (p50, p95, per chunk), then each
    other proxy measured (ours with N workers, the floors) by its added TTFT p50."""
    names = [n for n in res if n != "direct"]
    extra = [n for n in names if n not in ("ours", "litellm")]
    label = {"floor": "floor", "asgi": "ASGI", "caddy": "Caddy"}
    heads = [label.get(n, f"ours x{n[4:]}") + " +p50" for n in extra]
    rows = []
    print(f"\n{title}")
    print(f"{'conc':>4} | {'direct TTFT p50':>15} | {'ours +p50':>9} {'+p95':>7} | "
          f"{'LiteLLM +p50':>12} {'+p95':>7} | {'LiteLLM/ours':>12} | "
          f"{'ours +chunk':>11} | {'LiteLLM +chunk':>14} | "
          + "".join(f"{h:>12} | " for h in heads) + "errors " + "/".join(names))
    for c in CONCURRENCY:
        d = res["direct"][c]
        row: dict[str, Any] = {"concurrency": c, "direct_ttft_p50_ms": median(d.ttft_s) * 1e3}
        for name in names:
            s = res[name][c]
            row[f"{name}_added_ttft_p50_ms"] = (median(s.ttft_s) - median(d.ttft_s)) * 1e3
            row[f"{name}_added_ttft_p95_ms"] = (pct(s.ttft_s, 95) - pct(d.ttft_s, 95)) * 1e3
            row[f"{name}_added_chunk_ms"] = (median(getattr(s, per_chunk))
                                             - median(getattr(d, per_chunk))) * 1e3
            row[f"{name}_errors"] = s.errors
            row[f"{name}_cpu_per_request_ms"] = s.cpu_s / s.requests * 1e3 if s.requests \
                else float("nan")
        ours_add = row.get("ours_added_ttft_p50_ms", float("nan"))
        lite_add = row.get("litellm_added_ttft_p50_ms", float("nan"))
        ratio = lite_add / ours_add if ours_add and ours_add > 0 else float("nan")
        row["litellm_over_ours_ttft"] = ratio
        rows.append(row)

        def f(k: str, row: dict = row) -> str:
            v = row.get(k, float("nan"))
            return "n/a" if v != v else f"{v:.2f}"
        print(f"{c:>4} | {row['direct_ttft_p50_ms']:>15.2f} | {f('ours_added_ttft_p50_ms'):>9} "
              f"{f('ours_added_ttft_p95_ms'):>7} | {f('litellm_added_ttft_p50_ms'):>12} "
              f"{f('litellm_added_ttft_p95_ms'):>7} | "
              f"{'n/a' if ratio != ratio else f'{ratio:.1f}x':>12} | "
              f"{f('ours_added_chunk_ms'):>11} | {f('litellm_added_chunk_ms'):>14} | "
              + "".join(f"{f(f'{n}_added_ttft_p50_ms'):>12} | " for n in extra)
              + "/".join(str(row[f"{n}_errors"]) for n in names))
    cpu_table(rows, names)
    return rows


def cpu_table(rows: list[dict], names: list[str]) -> None:
    """Each proxy's own CPU per request: what it costs the machine, not only the caller."""
    def measured(v: float | None) -> bool:
        return v is not None and v == v  # (not absent, not NaN)
    names = [n for n in names if any(measured(r.get(f"{n}_cpu_per_request_ms")) for r in rows)]
    if not names:
        return
    print("CPU per request, each proxy's process (ms): " + " / ".join(names))
    for r in rows:
        vals = [r.get(f"{n}_cpu_per_request_ms", float("nan")) for n in names]
        print(f"{r['concurrency']:>4} | " + " | ".join(
            "n/a" if v != v else f"{v:.3f}" for v in vals))


def inprocess_table(res: dict[str, dict[int, Sample]]) -> list[dict]:
    """Pooled p50s, and the paired ratio: ours / vLLM round by round (the two ran one after
    the other in each round), its median over rounds with a 90% bootstrap interval. At 8
    and 32 clients one batch's TTFTs share one prefill step, so a round, not a request, is
    the unit of evidence; pairing cancels what the machine did between rounds."""
    rows = []
    for name in (n for n in res if n != "vllm"):
        rows += _inprocess_rows(name, res[name], res["vllm"])
    return rows


def _inprocess_rows(name: str, ours: dict[int, Sample], vllm: dict[int, Sample]) -> list[dict]:
    rows = []
    label = {"ours": "ours", "ours_spin": "ours with the engine's busy-wait on"}[name]
    print(f"\nIn-process backend ({label}) vs vLLM's own OpenAI server (same model, prompts)")
    print(f"{'conc':>4} | {'rounds':>6} | {'ours TTFT p50':>13} | {'vLLM TTFT p50':>13} | "
          f"{'TTFT ratio, paired [90% CI]':>27} | {'ours tok/s':>10} | {'vLLM tok/s':>10} | "
          f"{'tok/s ratio, paired [90% CI]':>28}")
    for c in CONCURRENCY:
        o, v = ours[c], vllm[c]
        ttft = paired_ratio(o.round_ttft_s, v.round_ttft_s)
        tok = paired_ratio(o.round_tokens_per_s, v.round_tokens_per_s)
        row = {"target": name, "concurrency": c, "rounds": len(o.round_ttft_s),
               "ours_ttft_p50_ms": median(o.ttft_s) * 1e3,
               "vllm_ttft_p50_ms": median(v.ttft_s) * 1e3,
               "ours_tok_s": median(o.tokens_per_s), "vllm_tok_s": median(v.tokens_per_s),
               "ttft_ratio_paired": ttft, "tok_s_ratio_paired": tok,
               "errors": o.errors + v.errors}
        row["ttft_ratio"] = row["ours_ttft_p50_ms"] / row["vllm_ttft_p50_ms"]
        row["tok_s_ratio"] = row["ours_tok_s"] / row["vllm_tok_s"]
        rows.append(row)
        print(f"{c:>4} | {row['rounds']:>6} | {row['ours_ttft_p50_ms']:>13.1f} | "
              f"{row['vllm_ttft_p50_ms']:>13.1f} | {ci(ttft):>27} | {row['ours_tok_s']:>10.1f} | "
              f"{row['vllm_tok_s']:>10.1f} | {ci(tok):>28}")
    return rows


def paired_ratio(a: list[float], b: list[float], draws: int = 2000
                 ) -> tuple[float, float, float]:
    """Median of a[i] / b[i] and its 90% bootstrap interval (resampling the pairs)."""
    ratios = [x / y for x, y in zip(a, b, strict=True) if y > 0 and x == x and y == y]
    if not ratios:
        return (float("nan"),) * 3
    rng = random.Random(0)  # the same interval for the same data
    meds = sorted(median(rng.choices(ratios, k=len(ratios))) for _ in range(draws))
    return median(ratios), meds[int(0.05 * draws)], meds[int(0.95 * draws) - 1]


def ci(r: tuple[float, float, float]) -> str:
    return "n/a" if r[0] != r[0] else f"{r[0]:.3f} [{r[1]:.3f}, {r[2]:.3f}]"
