"""Decode scheduling on the real tiny.en engine: what starts when, in exact order."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import numpy as np
import pytest

from rymi_endpoints.models.catalog import resolve
from servers.stt.engine import DecodeOptions, Transcript, WhisperEngine
from servers.stt.scheduler import DecodeScheduler

from .client import AUDIO, load_pcm


class Recorded:
    """The real engine, with each decode's start and end written down."""

    def __init__(self, engine: WhisperEngine) -> None:
        self.engine = engine
        self.names: dict[int, str] = {}
        self.log: list[str] = []
        self._lock = threading.Lock()

    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> Transcript:
        name = self.names[id(audio)]
        with self._lock:
            self.log.append(f"start {name}")
        try:
            return self.engine.transcribe(audio, options)
        finally:
            with self._lock:
                self.log.append(f"end {name}")


@pytest.fixture(scope="module")
def engine() -> WhisperEngine:
    return WhisperEngine(resolve("whisper-tiny.en", Path(".")), cpu_threads=1, workers=2)


def speech() -> np.ndarray:
    pcm = load_pcm(AUDIO / "librivox_ss_880.wav")
    return np.frombuffer(pcm, "<i2").astype(np.float32) / 32768


async def run(engine: WhisperEngine, share_cores: bool) -> list[str]:
    recorded = Recorded(engine)
    scheduler = DecodeScheduler(recorded, workers=2, share_cores=share_cores)
    try:
        jobs = []
        for name, kind in (("final", "final"), ("interim", "interim")):
            audio = speech()
            recorded.names[id(audio)] = name
            jobs.append(scheduler.submit(audio, DecodeOptions("en"), kind))
        results = await asyncio.gather(*(j.future for j in jobs))
    finally:
        scheduler.close()
    assert all("old" in r.text.lower() for r in results), [r.text for r in results]
    return recorded.log


def test_on_cpu_an_interim_waits_for_the_final(engine: WhisperEngine) -> None:
    # Decodes share the cores: an interim beside the final would slow the caller's turn.
    log = asyncio.run(run(engine, share_cores=True))
    assert log == ["start final", "end final", "start interim", "end interim"]


def test_with_cores_to_spare_they_run_side_by_side(engine: WhisperEngine) -> None:
    log = asyncio.run(run(engine, share_cores=False))
    assert set(log[:2]) == {"start final", "start interim"}, log
