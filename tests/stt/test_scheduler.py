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


async def test_a_decode_cancelled_at_shutdown_leaves_no_unread_error(engine) -> None:
    """At SIGTERM the loop cancels the running decode's task: its job's future was given
    the CancelledError as an exception, which nobody read, so asyncio logged "Future
    exception was never retrieved" at error level on every stop with a decode running."""
    import gc

    loop = asyncio.get_running_loop()
    unread: list[dict] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: unread.append(context))
    scheduler = DecodeScheduler(engine, workers=1, share_cores=False)
    try:
        job = scheduler.submit(speech(), DecodeOptions("en"), "final")
        await asyncio.sleep(0.05)  # running on its worker thread
        for task in list(scheduler._tasks):
            task.cancel()
        await asyncio.gather(*scheduler._tasks, return_exceptions=True)
        cancelled = job.future.cancelled()
        del job
        gc.collect()
        await asyncio.sleep(0)
        assert unread == [] and cancelled
    finally:
        scheduler.close()
        loop.set_exception_handler(previous)


async def test_finals_are_taken_from_the_sessions_in_turn(engine: WhisperEngine) -> None:
    """One session's backlog of finals (a caller streaming faster than real time) does not
    go all before another session's turn: first come, first served made every other
    caller wait behind all of it (38 s seen, 1.7 s alone)."""
    recorded = Recorded(engine)
    scheduler = DecodeScheduler(recorded, workers=1, share_cores=False)
    fast, other = object(), object()
    try:
        jobs = []
        for name, owner in (("fast1", fast), ("fast2", fast), ("fast3", fast),
                            ("other1", other)):
            audio = speech()
            recorded.names[id(audio)] = name
            jobs.append(scheduler.submit(audio, DecodeOptions("en"), "final", owner))
        await asyncio.gather(*(j.future for j in jobs))
    finally:
        scheduler.close()
    starts = [e.removeprefix("start ") for e in recorded.log if e.startswith("start")]
    # fast1 was running when the rest came; then one final from each session in turn.
    assert starts == ["fast1", "fast2", "other1", "fast3"], starts
