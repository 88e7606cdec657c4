"""Streaming word error rate, held to offline faster-whisper on the same clips plus one point.

Both sides are scored after whisper-normalizer's EnglishTextNormalizer with jiwer (the
convention of Whisper's evaluations). Offline is computed here, in the same run: tiny.en,
beam 5, VAD filter (DESIGN.md, "Measuring accuracy").

Both sides decode in float32: what this test holds is the streaming pipeline (VAD
segmentation, pads, frames split anywhere, finals), and int8 arithmetic differs from
CPU to CPU (AVX2, AVX-512 VNNI) by more than the point the test allows. On an AVX2 EPYC,
int8: offline 4.05%, streaming 6.76%, the whole gap being one utterance (jfk.wav's "And
so, my fellow Americans", finalised at its pause before the rest is heard) that int8
decodes alone as "And so am I fellow Americans" and float32 decodes right; float32:
3.38% both. The server's default int8 is scored beside it and printed (bench.stt
reports it too), not held: on these 74 words one word is 1.35 points.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import jiwer
import pytest
from whisper_normalizer.english import EnglishTextNormalizer

from rymi_endpoints.models.catalog import resolve
from tests.conftest import STT_TOKEN
from tests.support.servers import RunningServer, start_server

from .checks import assert_well_ordered
from .client import AUDIO, load_pcm, manifest, transcribe
from .conftest import CLEAN

pytestmark = pytest.mark.slow
normalize = EnglishTextNormalizer()
SPEECH = [row for row in manifest() if row["transcript"]]


@pytest.fixture(scope="module")
def float32_url(models_dir: Path) -> Iterator[str]:
    server: RunningServer = start_server("servers.stt", env={
        **CLEAN, "RYMI_STT_MODELS_DIR": str(models_dir), "RYMI_STT_TOKENS": STT_TOKEN,
        "RYMI_STT_COMPUTE_TYPE": "float32"})
    yield server.ws_url + "/stt"
    server.stop()


def offline_transcripts(compute_type: str) -> list[str]:
    from faster_whisper import WhisperModel

    model = WhisperModel(str(resolve("whisper-tiny.en", Path("."))), device="cpu",
                         compute_type=compute_type, cpu_threads=2)
    out = []
    for row in SPEECH:
        segments, _ = model.transcribe(str(AUDIO / row["file"]), language="en", beam_size=5,
                                       vad_filter=True)
        out.append(" ".join(s.text.strip() for s in segments))
    return out


def wer(hypotheses: list[str]) -> float:
    refs = [normalize(r["transcript"]) for r in SPEECH]
    return jiwer.wer(refs, [normalize(h) for h in hypotheses])


async def streamed_transcripts(url: str, auth: dict[str, str]) -> list[str]:
    streamed = []
    for row in SPEECH:  # full speed, odd-sized frames: samples split across frames
        got = await transcribe(url, load_pcm(row["file"]), speed=0, chunk_bytes=3201,
                               tail_s=1.0, headers=auth)
        assert_well_ordered(got.events)
        assert got.close_code == 1000
        streamed.append(got.text())
    return streamed


async def test_streaming_wer_within_one_point_of_offline(float32_url, url, auth):
    offline = await asyncio.to_thread(offline_transcripts, "float32")
    streamed = await streamed_transcripts(float32_url, auth)
    offline_wer, streaming_wer = wer(offline), wer(streamed)
    int8 = wer(await asyncio.to_thread(offline_transcripts, "int8")), \
        wer(await streamed_transcripts(url, auth))
    print(f"\nWER float32: offline {offline_wer:.2%}  streaming {streaming_wer:.2%}; "
          f"int8 (the default, not held): offline {int8[0]:.2%}  streaming {int8[1]:.2%}")
    assert streaming_wer <= offline_wer + 0.01, list(zip(streamed, offline, strict=True))
