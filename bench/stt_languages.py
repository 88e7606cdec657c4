"""Model and language comparison for ``make bench-stt``: base vs tiny.en, and base by language.

- English (tests/data/audio): WER and finalize->final p50/p95 of each model, both through
  the same server (``?model=``), clips at real-time pace, finalize 300 ms after speech.
- Spanish, German, French (tests/data/audio-multilingual) with base: WER with the language
  given, and detection accuracy with ``language=auto`` (one session per clip: a first
  utterance, the hard case) beside what offline faster-whisper base detects.
Run alone: ``python -m bench.stt_languages [--quick]`` (starts its own server).
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import jiwer
import numpy as np
from whisper_normalizer.basic import BasicTextNormalizer
from whisper_normalizer.english import EnglishTextNormalizer

from bench.stt_streams import pct, stream_clip
from tests.stt.client import MULTILINGUAL, load_pcm, manifest, transcribe

MULTI = MULTILINGUAL
MODELS = ("tiny.en", "base")


def multilingual_rows() -> list[dict[str, str]]:
    return manifest(MULTI)


def offline_detection(rows: list[dict[str, str]], models_dir: Path) -> dict[str, str]:
    from faster_whisper import WhisperModel

    from rymi_endpoints.models.catalog import resolve

    model = WhisperModel(str(resolve("whisper-base", models_dir)), device="cpu",
                         compute_type="int8")
    out = {}
    for row in rows:
        audio = np.frombuffer(load_pcm(MULTI / row["file"]), "<i2").astype(np.float32)
        out[row["file"]] = model.detect_language(audio / 32768, vad_filter=True)[0]
    return out


async def english(url: str, clips: dict[str, bytes], refs: dict[str, str]) -> dict:
    norm = EnglishTextNormalizer()
    names = [n for n in clips if refs[n]]
    out = {}
    for model in MODELS:
        runs = [await stream_clip(f"{url}?model={model}&language=en", n, clips[n],
                                  finalize=True) for n in names]
        f2f = [r.finalize_to_final for r in runs if r.finalize_to_final is not None]
        out[model] = {"wer": jiwer.wer([norm(refs[n]) for n in names],
                                       [norm(r.text) for r in runs]),
                      "f2f_p50": pct(f2f, 50), "f2f_p95": pct(f2f, 95),
                      "errors": [r.error for r in runs if r.error]}
    return out


async def languages(url: str, offline: dict[str, str]) -> dict:
    norm = BasicTextNormalizer()
    rows = multilingual_rows()
    out: dict[str, dict] = {}
    for lang in sorted({r["language"] for r in rows}):
        mine = [r for r in rows if r["language"] == lang]
        hyps, detected = [], []
        for row in mine:
            pcm = load_pcm(MULTI / row["file"])
            given = await transcribe(f"{url}?model=base&language={lang}&interim=false", pcm,
                                     tail_s=1.0)
            hyps.append(given.text())
            auto = await transcribe(f"{url}?model=base&language=auto&interim=false", pcm,
                                    tail_s=1.0)
            codes = [f["language_code"] for f in auto.finals() if f["text"]]
            detected.append(codes[0] if codes else "-")
        out[lang] = {
            "clips": len(mine),
            "wer": jiwer.wer([norm(r["transcript"]) for r in mine], [norm(h) for h in hyps]),
            "detected": detected,
            "detect_ok": sum(d.split("-")[0] == lang for d in detected),
            "offline_ok": sum(offline.get(r["file"]) == lang for r in mine),
        }
    return out


def run(url: str, clips: dict[str, bytes], refs: dict[str, str], models_dir: Path) -> dict:
    offline = offline_detection(multilingual_rows(), models_dir)
    return {"english": asyncio.run(english(url, clips, refs)),
            "languages": asyncio.run(languages(url, offline))}


def table(r: dict) -> str:
    def ms(x: float | None) -> str:
        return "-" if x is None else f"{x * 1000:.0f} ms"

    lines = ["", "English, same server, ?model= (real-time pace, finalize 300 ms after speech)",
             "| model | WER | finalize->final p50 | p95 |", "|---|---|---|---|"]
    for model, e in r["english"].items():
        lines.append(f"| {model} | {e['wer']:.1%} | {ms(e['f2f_p50'])} | {ms(e['f2f_p95'])} |")
    lines += ["", "base by language (WER with language given; auto = one session per clip)",
              "| language | clips | WER | auto detection right | offline base right "
              "| detected |", "|---|---|---|---|---|---|"]
    for lang, x in r["languages"].items():
        lines.append(f"| {lang} | {x['clips']} | {x['wer']:.1%} | {x['detect_ok']}/"
                     f"{x['clips']} | {x['offline_ok']}/{x['clips']} | "
                     f"{', '.join(x['detected'])} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from servers.common.config import load_settings
    from servers.stt.config import SttSettings
    from tests.stt.client import manifest
    from tests.support.servers import start_server

    ap = argparse.ArgumentParser(prog="python -m bench.stt_languages", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="4 English clips")
    args = ap.parse_args(argv)
    rows = [r for r in manifest() if r["transcript"] and not r["file"].startswith("two_")]
    if args.quick:
        rows = rows[:4]
    clips = {r["file"]: load_pcm(r["file"]) for r in rows}
    refs = {r["file"]: r["transcript"] for r in rows}
    server = start_server("servers.stt", env={"RYMI_STT_TOKENS": "", "RYMI_TOKENS": ""})
    try:
        report = run(server.ws_url + "/stt", clips, refs, load_settings(SttSettings, []).models_dir)
    finally:
        server.stop()
    print(table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
