"""Tables and plots for ``bench call``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

STAGES = [("eos_to_utterance_end", "end of speech -> utterance_end"),
          ("eos_to_first_token", "end of speech -> first LLM token"),
          ("eos_to_first_clause", "end of speech -> first clause to TTS"),
          ("eos_to_first_audio", "end of speech -> first agent audio")]


COLORS = ["tab:blue", "tab:orange", "tab:purple", "tab:green"]


def pct(values: list[float], q: float) -> float:
    v = [x for x in values if not np.isnan(x)]
    return float(np.percentile(v, q)) * 1000 if v else float("nan")


def table(by_k: dict[int, list]) -> str:
    head = f"| stage | {' | '.join(f'K={k} p50 / p95 (ms)' for k in by_k)} |"
    rows = [head, "|---|" + "---|" * len(by_k)]
    for key, label in STAGES:
        cells = []
        for turns in by_k.values():
            vals = [getattr(t, key) for t in turns]
            cells.append(f"{pct(vals, 50):.0f} / {pct(vals, 95):.0f}")
        rows.append(f"| {label} | {' | '.join(cells)} |")
    errs = [f"{sum(t.error is not None for t in turns)} / {sum(t.refused for t in turns)} / "
            f"{len(turns)}" for turns in by_k.values()]
    rows.append(f"| errors / refused at capacity (503) / turns | {' | '.join(errs)} |")
    return "\n".join(rows)


def plot(by_k: dict[int, list], out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (cdf, fall) = plt.subplots(1, 2, figsize=(13, 4.8))
    styles = ["-", "--", ":", "-."]
    for (k, turns), ls in zip(by_k.items(), styles, strict=False):
        for (key, label), color in zip(STAGES, COLORS, strict=True):
            v = np.sort([getattr(t, key) * 1000 for t in turns
                         if not np.isnan(getattr(t, key))])
            if len(v):
                cdf.plot(v, np.arange(1, len(v) + 1) / len(v), ls, color=color,
                         label=f"{label} (K={k})")
    cdf.set_xlabel("ms after the caller stops speaking")
    cdf.set_ylabel("fraction of turns")
    cdf.set_title("Latency CDF per stage")
    cdf.legend(fontsize=7)
    cdf.grid(alpha=0.3)
    k1 = by_k[min(by_k)]
    ok = [t for t in k1 if t.error is None and not np.isnan(t.eos_to_first_audio)]
    if ok:
        t = sorted(ok, key=lambda t: t.eos_to_first_audio)[len(ok) // 2]  # the median turn
        parts = [("STT endpoint + final", t.eos_to_utterance_end),
                 ("LLM first token", t.eos_to_first_token - t.eos_to_utterance_end),
                 ("LLM first clause", t.eos_to_first_clause - t.eos_to_first_token),
                 ("TTS first audio", t.eos_to_first_audio - t.eos_to_first_clause)]
        left = 0.0
        for (label, dur), color in zip(parts, COLORS, strict=True):
            fall.barh(0, dur * 1000, left=left, color=color, label=f"{label}: {dur * 1000:.0f} ms")
            left += dur * 1000
        fall.set_yticks([])
        fall.set_xlabel("ms after the caller stops speaking")
        fall.set_title(f"One median turn at K={min(by_k)} ({t.clip}): voice-to-voice "
                       f"{t.eos_to_first_audio * 1000:.0f} ms")
        fall.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
