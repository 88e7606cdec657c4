"""Decode scheduling on the real tiny.en engine: what starts when, in exact order; and,
on an engine that decodes nothing, the slots, cancellation and failure accounting."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Collection
from pathlib import Path

import numpy as np
import pytest

from rymi_endpoints.models.catalog import resolve
from servers.stt import metrics
from servers.stt.engine import DecodeOptions, Transcript, WhisperEngine
from servers.stt.scheduler import BROKEN_AFTER, DecodeScheduler

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


class Fake:
    """An engine that decodes nothing: each call's start and end written down, the
    decodes named in ``held`` kept running until ``gate`` opens, and the calls numbered
    in ``failing`` (from 1) raising."""

    def __init__(self, held: Collection[str] = (), failing: Collection[int] = ()) -> None:
        self.names: dict[int, str] = {}
        self.log: list[str] = []
        self.calls = 0
        self.held, self.failing = held, failing
        self.gate = threading.Event()
        self._lock = threading.Lock()

    def audio(self, name: str) -> np.ndarray:
        audio = np.zeros(1600, np.float32)
        self.names[id(audio)] = name
        return audio

    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> Transcript:
        name = self.names.get(id(audio), "?")
        with self._lock:
            self.calls += 1
            call = self.calls
            self.log.append(f"start {name}")
        try:
            if name in self.held:
                self.gate.wait(5)
            if call in self.failing:
                raise RuntimeError(f"decode {call} failed")
            return Transcript("x", 1.0, "en", 0.1, 0.01)
        finally:
            with self._lock:
                self.log.append(f"end {name}")


async def test_without_an_interim_lane_one_worker_is_kept_from_interims() -> None:
    """Interims share the finals' workers, and a running decode cannot be preempted: were
    every worker on an interim, a caller's final would wait for one to end."""
    engine = Fake(held={"interim1", "interim2"})
    scheduler = DecodeScheduler(engine, workers=2)
    try:
        interims = [scheduler.submit(engine.audio(f"interim{i}"), DecodeOptions(interim=True),
                                     "interim", owner=i) for i in (1, 2)]
        final = scheduler.submit(engine.audio("final"), DecodeOptions(), "final", owner=3)
        for _ in range(100):  # 1 s at most
            if "end final" in engine.log:
                break
            await asyncio.sleep(0.01)
        engine.gate.set()
        await asyncio.gather(final.future, *(j.future for j in interims))
    finally:
        engine.gate.set()
        scheduler.close()
    assert engine.log.index("end final") < engine.log.index("end interim1"), engine.log


async def decode_all(scheduler: DecodeScheduler, engine: Fake, count: int,
                     said: list[str]) -> list[int]:
    """``count`` finals one after another; how many times the engine was called broken
    after each."""
    broken = []
    for i in range(count):
        try:
            await scheduler.submit(engine.audio(f"final{i}"), DecodeOptions(), "final").future
        except RuntimeError:
            pass
        broken.append(len(said))
    return broken


async def test_a_success_between_failures_starts_the_count_again() -> None:
    """Only failures in a row are a broken engine: sporadic ones (a bad chunk of audio now
    and then) must not add up over the server's life until it stops itself."""
    said: list[str] = []
    engine = Fake(failing={1, 2, 4, 5, 6})  # 5 failures, but at most 3 in a row
    scheduler = DecodeScheduler(engine, workers=1, on_broken=said.append)
    try:
        assert await decode_all(scheduler, engine, 6, said) == [0] * 6
    finally:
        scheduler.close()
    assert said == [] and scheduler.failures_in_row == 3


async def test_the_engine_is_called_broken_once_at_the_fifth_failure_in_a_row() -> None:
    """At BROKEN_AFTER failures in a row, not one later (every call in between is closed
    1011 while /readyz says ready), and once: the server is already stopping."""
    said: list[str] = []
    engine = Fake(failing=set(range(1, BROKEN_AFTER + 2)))
    scheduler = DecodeScheduler(engine, workers=1, on_broken=said.append)
    try:
        broken = await decode_all(scheduler, engine, BROKEN_AFTER + 1, said)
    finally:
        scheduler.close()
    assert BROKEN_AFTER == 5
    assert broken == [0, 0, 0, 0, 1, 1], broken
    assert f"failed {BROKEN_AFTER} decodes in a row" in said[0]


async def test_a_queued_final_cancelled_is_never_decoded() -> None:
    """A session gone before its queued final starts: the engine is not asked for it (a
    decode is a worker's seconds), and the skipped decode is counted."""
    engine = Fake(held={"first"})
    scheduler = DecodeScheduler(engine, workers=1)
    skipped = metrics.DECODES_SKIPPED.labels("final")
    before = skipped._value.get()
    try:
        first = scheduler.submit(engine.audio("first"), DecodeOptions(), "final", owner=1)
        second = scheduler.submit(engine.audio("second"), DecodeOptions(), "final", owner=2)
        await asyncio.sleep(0.02)
        assert engine.log == ["start first"] and scheduler.queued == 1
        second.cancel()
        engine.gate.set()
        await first.future
        await asyncio.gather(*scheduler._tasks)  # any decode the freed worker took
    finally:
        engine.gate.set()
        scheduler.close()
    assert engine.log == ["start first", "end first"] and second.future.cancelled()
    assert skipped._value.get() == before + 1


async def test_a_running_decode_cancelled_then_failing_leaves_no_unread_error() -> None:
    """An interim the utterance's end cancelled once it was running, whose decode then
    failed: its future was given the exception, which nobody would read (the session
    had let it go), so asyncio logged "Future exception was never retrieved" at error
    level, with no request id, whenever it was collected."""
    import gc

    loop = asyncio.get_running_loop()
    unread: list[dict] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: unread.append(context))
    engine = Fake(held={"interim"}, failing={1})
    scheduler = DecodeScheduler(engine, workers=1)
    try:
        job = scheduler.submit(engine.audio("interim"), DecodeOptions(interim=True), "interim")
        for _ in range(100):
            if engine.log:
                break
            await asyncio.sleep(0.01)
        job.cancel()  # running: the decode goes on, its result unwanted
        engine.gate.set()
        await asyncio.gather(*scheduler._tasks, return_exceptions=True)
        assert engine.log == ["start interim", "end interim"]
        assert scheduler.failures_in_row == 1  # still a failure of the engine's
        # Let go as cancelled, the exception not set on it for nobody to read.
        assert job.future.cancelled()
        del job
        gc.collect()
        await asyncio.sleep(0)
        assert unread == [], unread
    finally:
        engine.gate.set()
        scheduler.close()
        loop.set_exception_handler(previous)
