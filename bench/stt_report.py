"""The STT benchmark's table: every latency beside D and the issue's target, ratios to the peer."""

from __future__ import annotations


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x * 1000:.0f} ms"


def _ok(value: float | None, target: float) -> str:
    if value is None:
        return "n/a"
    return "ok" if value <= target else "MISSED"


def held(sweep: list[dict], limit: float) -> int:
    """Most streams with finalize p95 within ``limit`` and no error (levels in order)."""
    best = 0
    for level in sweep:
        if level["p95"] is not None and level["p95"] <= limit and not level["errors"]:
            best = max(best, level["streams"])
    return best


def table(r: dict) -> str:
    d = r["D"]
    s = r["single"]
    lines = [f"STT benchmark over {len(r['clips'])} clips, real-time pace "
             f"(D = bare decode floor, median {_ms(d)}, measured in this run)", ""]
    row = "{:<44} {:>10} {:>16} {:>7}"
    lines.append(row.format("metric", "value", "target", ""))
    targets = [
        ("finalize->final p50", s["finalize_to_final_p50"], d - 0.150, "D-150ms"),
        ("finalize->final p95", s["finalize_to_final_p95"], d + 0.100, "D+100ms"),
        ("end of speech->utterance_end p50 (no finalize)",
         s["speech_end_to_utterance_end_p50"], max(0.5, d + 0.150) + 0.100,
         "max(500,D+150)+100"),
        ("first interim after onset p50", s["first_interim_p50"], d + 0.500, "D+500ms"),
        ("interim interval p50", s["interim_interval_p50"], d + 0.300, "D+300ms"),
    ]
    for name, value, target, label in targets:
        lines.append(row.format(name, _ms(value), f"{label}={_ms(target)}", _ok(value, target)))
    lines.append(row.format("answering finals with text",
                            f"{s['finals_with_text']}/{s['finalizes']}", "all", ""))
    if s.get("finalize_empty_clips"):
        lines.append(f"finalize answered with an empty final: {s['finalize_empty_clips']}")
    off, st = r["offline_wer"], r["streaming_wer"]
    lines.append(row.format("WER streaming / offline (beam 5, VAD)",
                            f"{st:.1%}/{off:.1%}", "<= offline+1pt",
                            "ok" if st <= off + 0.01 else "MISSED"))
    if s["errors"]:
        lines.append(f"single-stream errors: {s['errors']}")
    lines += ["", "Concurrency (real-time streams, finalize->final):",
              "{:>8} {:>10} {:>10} {:>7} {:>9}".format("streams", "p50", "p95", "errors",
                                                         "p95/D")]
    for lv in r["sweep"]:
        ratio = "-" if lv["p95"] is None else f"{lv['p95'] / d:.2f}"
        lines.append("{:>8} {:>10} {:>10} {:>7} {:>9}".format(
            lv["streams"], _ms(lv["p50"]), _ms(lv["p95"]), lv["errors"], ratio))
        lines += [f"{'':>10}{count} x {why}" for why, count in lv.get("error_reasons", {}).items()]
    bc = r.get("beyond_capacity")
    if bc:
        ratio = "-" if bc["p95"] is None else f"{bc['p95'] / d:.2f}"
        ok = "ok" if bc["p95"] is not None and bc["p95"] <= 3 * d and bc["errors"] == 0 \
            and all(x == 503 for x in bc["intruders"]) else "MISSED"
        lines.append(f"beyond capacity (default limit {bc['streams']} sessions, full, 2 more "
                     f"arrive): they got {bc['intruders']}; admitted p50 {_ms(bc['p50'])} p95 "
                     f"{_ms(bc['p95'])} = {ratio} x D (target <= 3, 503s), errors "
                     f"{bc['errors']} {ok}")
    ours = held(r["sweep"], 2 * d)
    lines.append(f"streams held with p95 <= 2*D and no error: {ours}")
    peer = r.get("whisperlive")
    if peer:
        lines += ["", "WhisperLive (faster_whisper backend, same tiny.en folder, same clips):"]
        if peer.get("error"):
            lines.append(f"  not measured: {peer['error']}")
        else:
            lines.append(f"  end of speech->final segment p50 {_ms(peer['final_p50'])} "
                         f"p95 {_ms(peer['final_p95'])}; first partial p50 "
                         f"{_ms(peer['first_partial_p50'])}; WER {peer['wer']:.1%}")
            for lv in peer["sweep"]:
                lines.append(f"  {lv['streams']} streams: p50 {_ms(lv['p50'])} p95 "
                             f"{_ms(lv['p95'])} errors {lv['errors']}")
            theirs = held(peer["sweep"], 2 * d)
            lines.append(f"  streams held with p95 <= 2*D: WhisperLive {theirs}, ours {ours}"
                         + (f" ({ours / theirs:.1f}x)" if theirs else ""))
            if peer["final_p50"] and s["finalize_to_final_p50"]:
                lines.append("  ratio ours finalize->final / theirs end->final p50: "
                             f"{s['finalize_to_final_p50'] / peer['final_p50']:.2f}")
            if peer["final_p50"] and s["speech_end_to_utterance_end_p50"]:
                lines.append("  ratio ours end->utterance_end / theirs end->final p50: "
                             f"{s['speech_end_to_utterance_end_p50'] / peer['final_p50']:.2f}")
    return "\n".join(lines)
