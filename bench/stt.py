"""STT latency against the decode floor, and against WhisperLive, in one run.

``python -m bench.stt [--quick]`` (``make bench-stt``). Clips from tests/data/audio at
real-time pace, ``finalize`` sent 300 ms after each clip's speech ends. D, one bare decode
of each clip with the server's own settings, is measured here first: every latency is
printed beside it, with the issue's target. Then base vs tiny.en on English and base per
language (bench/stt_languages.py). Results go to results/stt.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from collections import Counter

import numpy as np

from bench import RESULTS
from bench.stt_streams import pct, stream_clip
from tests.stt.client import load_pcm, manifest
from tests.support.servers import start_server

LEVELS = (1, 2, 4, 6, 8)


def measure_floor(clips: dict[str, bytes]) -> tuple[float, dict[str, float]]:
    """D: one bare decode per clip (tiny.en, the server's compute type, encoder window,
    beam and threads)."""
    from rymi_endpoints.models.catalog import resolve
    from servers.stt.config import SttSettings
    from servers.stt.engine import DecodeOptions, WhisperEngine

    settings = SttSettings()
    engine = WhisperEngine(resolve(settings.model, settings.models_dir),
                           compute_type=settings.compute_type,
                           cpu_threads=settings.threads_per_decode(), workers=1,
                           encoder_window_s=settings.encoder_window_s)
    engine.transcribe(np.zeros(16000, np.float32), DecodeOptions())  # warm-up
    per_clip = {}
    for name, pcm in clips.items():
        audio = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768
        per_clip[name] = engine.transcribe(audio, DecodeOptions(beam_size=settings.beam_size)
                                           ).decode_s
    return statistics.median(per_clip.values()), per_clip


def offline_wer(clips: dict[str, bytes], refs: dict[str, str]) -> tuple[float, dict[str, str]]:
    from faster_whisper import WhisperModel

    from rymi_endpoints.models.catalog import resolve
    from servers.stt.config import SttSettings

    settings = SttSettings()
    model = WhisperModel(str(resolve(settings.model, settings.models_dir)), device="cpu",
                         compute_type="int8", cpu_threads=os.cpu_count() or 1)
    texts = {}
    for name, pcm in clips.items():
        audio = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768
        segments, _ = model.transcribe(audio, language="en", beam_size=5, vad_filter=True)
        texts[name] = " ".join(s.text.strip() for s in segments)
    return wer(refs, texts), texts


def wer(refs: dict[str, str], hyps: dict[str, str]) -> float:
    import jiwer
    from whisper_normalizer.english import EnglishTextNormalizer

    norm = EnglishTextNormalizer()
    names = [n for n in refs if refs[n]]
    return jiwer.wer([norm(refs[n]) for n in names], [norm(hyps.get(n, "")) for n in names])


async def single_stream(url: str, clips: dict[str, bytes]) -> dict:
    fin = [await stream_clip(url, n, p, finalize=True) for n, p in clips.items()]
    auto = [await stream_clip(url, n, p, finalize=False) for n, p in clips.items()]
    f2f = [r.finalize_to_final for r in fin if r.finalize_to_final is not None]
    ends = [r.speech_end_to_utterance_end for r in auto
            if r.speech_end_to_utterance_end is not None]
    firsts = [r.first_interim for r in fin + auto if r.first_interim is not None]
    intervals = [x for r in fin + auto for x in r.interim_intervals]
    return {
        "finalize_to_final_p50": pct(f2f, 50), "finalize_to_final_p95": pct(f2f, 95),
        "finals_with_text": sum(bool(r.final_text) for r in fin), "finalizes": len(fin),
        # which clip, so an empty answer can be replayed rather than guessed at
        "finalize_empty_clips": [r.clip for r in fin if not r.final_text],
        "speech_end_to_utterance_end_p50": pct(ends, 50),
        "speech_end_to_utterance_end_p95": pct(ends, 95),
        "first_interim_p50": pct(firsts, 50), "interim_interval_p50": pct(intervals, 50),
        "errors": [r.error for r in fin + auto if r.error],
        "texts": {r.clip: r.text for r in auto},
    }


async def sweep_level(url: str, clips: dict[str, bytes], n: int, per_stream: int,
                      extra: int = 0) -> dict:
    names = list(clips)

    async def one(k: int) -> list:
        out = []
        for j in range(per_stream):
            name = names[(k + j) % len(names)]
            out.append(await stream_clip(url, name, clips[name], finalize=True, tail_s=0.8))
        return out

    async def intruders() -> list[int | None]:
        await asyncio.sleep(1.0)  # the admitted streams are open by now
        got = [await stream_clip(url, names[0], clips[names[0]][:3200], finalize=True,
                                 tail_s=0.1) for _ in range(extra)]
        return [r.refused for r in got]

    t = time.monotonic()
    results = await asyncio.gather(*(one(k) for k in range(n)),
                                   intruders() if extra else asyncio.sleep(0))
    flat = [r for rs in results[:n] for r in rs]
    f2f = [r.finalize_to_final for r in flat if r.finalize_to_final is not None]
    failed = [r.error or "no final after finalize" for r in flat
              if r.error or r.finalize_to_final is None]
    return {"streams": n, "p50": pct(f2f, 50), "p95": pct(f2f, 95), "errors": len(failed),
            "error_reasons": dict(Counter(failed)),
            "intruders": results[n] if extra else [], "wall_s": time.monotonic() - t}


def beyond_capacity(clips: dict[str, bytes], per_stream: int) -> dict:
    """The server at its default session limit, full, and two more callers arriving."""
    from servers.stt.config import SttSettings

    capacity = SttSettings().session_limit()
    print(f"beyond capacity: {capacity} admitted streams + 2 more...", flush=True)
    server = start_server("servers.stt", env={"RYMI_STT_TOKENS": "", "RYMI_TOKENS": ""})
    try:
        return asyncio.run(sweep_level(server.ws_url + "/stt", clips, capacity,
                                       per_stream=per_stream, extra=2))
    finally:
        server.stop()


def fmt(x: float | None) -> str:
    return "-" if x is None else f"{x * 1000:.0f} ms"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.stt", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="4 clips, shorter sweep")
    ap.add_argument("--no-peer", action="store_true", help="skip WhisperLive")
    ap.add_argument("--no-languages", action="store_true",
                    help="skip base vs tiny.en and the per-language table")
    ap.add_argument("--levels", default=",".join(map(str, LEVELS)))
    args = ap.parse_args(argv)
    rows = [r for r in manifest() if r["transcript"] and not r["file"].startswith("two_")]
    if args.quick:
        rows = [r for r in rows if r["file"] in ("goforward.wav", "librivox_ss_880.wav",
                                                 "cards_002.wav", "jfk.wav")]
    clips = {r["file"]: load_pcm(r["file"]) for r in rows}
    refs = {r["file"]: r["transcript"] for r in rows}
    levels = [int(x) for x in args.levels.split(",")]
    report: dict = {"clips": list(clips)}

    print("measuring D (bare decode per clip)...", flush=True)
    report["D"], report["D_per_clip"] = measure_floor(clips)
    report["offline_wer"], _ = offline_wer(clips, refs)
    max_sessions = max(levels)
    server = start_server("servers.stt", env={"RYMI_STT_MAX_SESSIONS": str(max_sessions),
                                              "RYMI_STT_TOKENS": "", "RYMI_TOKENS": ""})
    try:
        url = server.ws_url + "/stt"
        print("single stream...", flush=True)
        report["single"] = asyncio.run(single_stream(url, clips))
        report["streaming_wer"] = wer(refs, report["single"]["texts"])
        sweep = []
        for n in levels:
            print(f"sweep: {n} streams...", flush=True)
            sweep.append(asyncio.run(sweep_level(url, clips, n,
                                                 per_stream=2 if args.quick else 3)))
        report["sweep"] = sweep
        if not args.no_languages:
            from bench import stt_languages
            from servers.common.config import load_settings
            from servers.stt.config import SttSettings

            print("base vs tiny.en, and base by language...", flush=True)
            report["models"] = stt_languages.run(url, clips, refs,
                                                 load_settings(SttSettings, []).models_dir)
    finally:
        server.stop()
    report["beyond_capacity"] = beyond_capacity(clips, per_stream=2 if args.quick else 3)
    if not args.no_peer:
        from bench.stt_whisperlive import run_peer

        report["whisperlive"] = run_peer(clips, levels, refs, quick=args.quick)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "stt.json").write_text(json.dumps(report, indent=2, default=str))
    print_table(report)
    return 0


def print_table(r: dict) -> None:
    from bench.stt_report import table

    print(table(r))
    if "models" in r:
        from bench.stt_languages import table as languages_table

        print(languages_table(r["models"]))


if __name__ == "__main__":
    raise SystemExit(main())
