"""Streaming word error rate, held to offline faster-whisper on the same clips plus one point.

Both sides are scored after whisper-normalizer's EnglishTextNormalizer with jiwer (the
convention of Whisper's evaluations). Offline is computed here, in the same run: tiny.en,
int8, beam 5, VAD filter (DESIGN.md, "Measuring accuracy").
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import jiwer
import pytest
from whisper_normalizer.english import EnglishTextNormalizer

from rymi_endpoints.models.catalog import resolve

from .checks import assert_well_ordered
from .client import AUDIO, load_pcm, manifest, transcribe

pytestmark = pytest.mark.slow
normalize = EnglishTextNormalizer()
SPEECH = [row for row in manifest() if row["transcript"]]


def offline_transcripts() -> list[str]:
    from faster_whisper import WhisperModel

    model = WhisperModel(str(resolve("whisper-tiny.en", Path("."))), device="cpu",
                         compute_type="int8", cpu_threads=2)
    out = []
    for row in SPEECH:
        segments, _ = model.transcribe(str(AUDIO / row["file"]), language="en", beam_size=5,
                                       vad_filter=True)
        out.append(" ".join(s.text.strip() for s in segments))
    return out


def wer(hypotheses: list[str]) -> float:
    refs = [normalize(r["transcript"]) for r in SPEECH]
    return jiwer.wer(refs, [normalize(h) for h in hypotheses])


async def test_streaming_wer_within_one_point_of_offline(url, auth):
    offline = await asyncio.to_thread(offline_transcripts)
    streamed = []
    for row in SPEECH:  # full speed, odd-sized frames: samples split across frames
        got = await transcribe(url, load_pcm(row["file"]), speed=0, chunk_bytes=3201,
                               tail_s=1.0, headers=auth)
        assert_well_ordered(got.events)
        assert got.close_code == 1000
        streamed.append(got.text())
    offline_wer, streaming_wer = wer(offline), wer(streamed)
    print(f"\nWER offline {offline_wer:.2%}  streaming {streaming_wer:.2%}")
    assert streaming_wer <= offline_wer + 0.01, list(zip(streamed, offline, strict=True))
