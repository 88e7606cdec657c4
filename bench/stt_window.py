"""What trimming Whisper's 30 s encoder window buys, and what it costs (``encoder_window_s``).

The same engine the server runs (``WhisperEngine``, its threads and compute type), one
window after another, on every clip in tests/data/audio: median decode time and its ratio
to the full window, WER with Whisper's English normaliser, how many transcripts keep
Whisper's casing and end punctuation (a cue the LLM reads), and any text on the noise
clips (there must be none).

    python -m bench.stt_window [--windows 30,20,10,5] [--model whisper-tiny.en]
"""

from __future__ import annotations

import argparse
import json
import statistics

import numpy as np

from bench import RESULTS
from bench.stt import wer
from tests.stt.client import load_pcm, manifest

NOISE = ("noise_silence.wav", "noise_white.wav")


def measure(model: str, window_s: float, clips: dict[str, np.ndarray],
            refs: dict[str, str], rounds: int) -> dict:
    from rymi_endpoints.models.catalog import resolve
    from servers.stt.config import SttSettings
    from servers.stt.engine import DecodeOptions, WhisperEngine

    settings = SttSettings()
    engine = WhisperEngine(resolve(model, settings.models_dir),
                           compute_type=settings.compute_type,
                           cpu_threads=settings.threads_per_decode(), workers=1,
                           encoder_window_s=window_s)
    options = DecodeOptions(beam_size=settings.beam_size)
    engine.transcribe(np.zeros(16000, np.float32), options)  # warm-up
    times: dict[str, float] = {}
    texts: dict[str, str] = {}
    for name, audio in clips.items():
        runs = [engine.transcribe(audio, options) for _ in range(rounds)]
        times[name] = min(r.decode_s for r in runs)  # the least disturbed of the rounds
        texts[name] = runs[0].text
    spoken = [texts[n] for n in refs if refs[n]]
    return {"window_s": window_s, "decode_ms": 1000 * statistics.median(times.values()),
            "wer": wer(refs, texts),
            "punctuated": sum(t[-1:] in ".?!" and t[:1].isupper() for t in spoken if t),
            "spoken": len(spoken), "empty": sum(not t for t in spoken),
            "noise_text": {n: texts[n] for n in NOISE if texts.get(n)}, "texts": texts}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.stt_window", description=__doc__.split("\n")[0])
    p.add_argument("--windows", default="30,20,10,5")
    p.add_argument("--model", default="whisper-tiny.en")
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args(argv)
    rows = manifest()
    refs = {r["file"]: r["transcript"] for r in rows}
    clips = {r["file"]: np.frombuffer(load_pcm(r["file"]), "<i2").astype(np.float32) / 32768
             for r in rows}
    results = [measure(args.model, float(w), clips, refs, args.rounds)
               for w in args.windows.split(",")]
    full = next((r for r in results if r["window_s"] >= 30), results[0])
    print(f"{args.model}, {len(clips)} clips ({results[0]['spoken']} with speech)")
    print("| encoder window | decode p50 (ms) | vs 30 s | WER | cased + punctuated "
          "| empty | text on noise |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['window_s']:g} s | {r['decode_ms']:.0f} | "
              f"{r['decode_ms'] / full['decode_ms']:.2f}x | {r['wer']:.3f} | "
              f"{r['punctuated']}/{r['spoken']} | {r['empty']} | "
              f"{r['noise_text'] or 'none'} |")
    for r in results:
        if r is full:
            continue
        for name, text in r["texts"].items():
            if text != full["texts"][name]:
                print(f"  {r['window_s']:g} s {name}: {full['texts'][name]!r} -> {text!r}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "stt-window.json"
    out.write_text(json.dumps({"model": args.model, "windows": results}, indent=2) + "\n")
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
