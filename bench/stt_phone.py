"""Phone-call audio: who hears the caller. ``python -m bench.stt_phone``.

Every speech clip of tests/data (English on tiny.en, Spanish, German and French on base,
language given) as a phone call reaches Rymi: 8 kHz, 300-3400 Hz, mu-law, sent on at
16 kHz (``tests.stt.client.phone_band``). Three listeners, same clips, same models, same
run:
- ours at its defaults (a narrowband stream is scored at narrowband_vad_threshold), in
  100 ms frames and in a phone bridge's 20 ms ones;
- ours with ``?vad_threshold=0.5`` in the URL: the threshold every stream had before;
- offline faster-whisper with its own Silero filter (``vad_filter=True``, threshold 0.5),
  as the faster-whisper servers (WhisperLive, wyoming-faster-whisper) run it.
Per listener: clips with no words at all (a caller never heard) and WER. Results go to
results/stt_phone.json.
"""

from __future__ import annotations

import asyncio
import json
import os

import numpy as np

from bench import RESULTS
from tests.stt.client import (
    AUDIO,
    MULTILINGUAL,
    load_pcm,
    manifest,
    phone_band,
    silence,
    transcribe,
)
from tests.support.servers import start_server


def clips() -> list[tuple[str, str, str, bytes]]:
    """(name, language, reference, phone-band PCM) for every speech clip."""
    out = [(r["file"], "en", r["transcript"], load_pcm(AUDIO / r["file"]))
           for r in manifest() if r["transcript"] and not r["file"].startswith("noise")]
    out += [(r["file"], r["language"], r["transcript"], load_pcm(MULTILINGUAL / r["file"]))
            for r in manifest(MULTILINGUAL)]
    return [(name, lang, ref, phone_band(pcm)) for name, lang, ref, pcm in out]


def wer(refs: list[str], hyps: list[str]) -> float:
    import jiwer
    from whisper_normalizer.basic import BasicTextNormalizer

    norm = BasicTextNormalizer()
    return jiwer.wer([norm(r) for r in refs], [norm(h) or "-" for h in hyps])


async def ours(url: str, items: list, query: str, chunk_bytes: int = 3200) -> list[str]:
    texts = []
    for _, lang, _, pcm in items:
        model = "" if lang == "en" else f"model=base&language={lang}&"
        got = await transcribe(f"{url}?{model}{query}", pcm + silence(1.5), finalize=True,
                               chunk_bytes=chunk_bytes)
        texts.append(got.text())
    return texts


def offline(items: list) -> list[str]:
    from faster_whisper import WhisperModel

    from rymi_endpoints.models.catalog import resolve
    from servers.common.config import load_settings
    from servers.stt.config import SttSettings

    settings = load_settings(SttSettings, [])  # the models folder the server uses
    models = {}
    texts = []
    for _, lang, _, pcm in items:
        name = "whisper-tiny.en" if lang == "en" else "whisper-base"
        if name not in models:
            models[name] = WhisperModel(str(resolve(name, settings.models_dir)), device="cpu",
                                        compute_type="int8", cpu_threads=os.cpu_count() or 1)
        audio = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768
        segments, _ = models[name].transcribe(audio, language=lang, beam_size=5,
                                              vad_filter=True)
        texts.append(" ".join(s.text.strip() for s in segments))
    return texts


def main() -> int:
    from rymi_endpoints.models.catalog import load_catalog
    from rymi_endpoints.models.prepare import prepare
    from servers.common.config import load_settings
    from servers.stt.config import SttSettings

    # base for the other languages, in the folder the server reads, before it starts.
    prepare(load_catalog()["whisper-base"], load_settings(SttSettings, []).models_dir,
            show_progress=False)
    items = clips()
    refs = [ref for _, _, ref, _ in items]
    server = start_server("servers.stt", env={k: "" for k in os.environ
                                              if k.startswith(("RYMI_STT_", "RYMI_TOKEN"))})
    try:
        url = server.ws_url + "/stt"
        texts = {"ours, defaults": asyncio.run(ours(url, items, "")),
                 # A phone bridge's 20 ms frames: under the band check's 512-sample
                 # window, they were never looked at (the call scored as wideband).
                 "ours, defaults, 20 ms frames": asyncio.run(ours(url, items, "", 640)),
                 "ours, vad_threshold=0.5 in the URL": asyncio.run(
                     ours(url, items, "vad_threshold=0.5"))}
    finally:
        server.stop()
    texts["offline faster-whisper, vad_filter"] = offline(items)
    rows = {who: {"no_words": sum(not t.strip() for t in hyps), "wer": wer(refs, hyps)}
            for who, hyps in texts.items()}
    base = rows["ours, defaults"]
    print(f"Phone-band audio, {len(items)} speech clips (8 kHz, 300-3400 Hz, mu-law, "
          "sent at 16 kHz)\n")
    print(f"{'listener':38} {'clips with no words':>20} {'WER':>7} {'WER x ours':>11}")
    for who, r in rows.items():
        print(f"{who:38} {r['no_words']:>20} {r['wer']:7.1%} {r['wer'] / base['wer']:10.2f}x")
    print("\nclips with no words:")
    for who, hyps in texts.items():
        print(f"  {who}: {[n for (n, *_), t in zip(items, hyps, strict=True) if not t.strip()]}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "stt_phone.json").write_text(json.dumps(
        {"rows": rows, "texts": texts, "clips": [n for n, *_ in items]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
