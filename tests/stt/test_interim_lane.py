"""The interim lane on the real tiny.en engine: low-priority threads, same words, exact order."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from rymi_endpoints.models.catalog import resolve
from servers.stt.config import SttSettings
from servers.stt.engine import DecodeOptions, WhisperEngine
from servers.stt.scheduler import DecodeScheduler

from .test_scheduler import Recorded, speech

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="niceness per thread: Linux")
NICE = 10


def thread_nices() -> dict[int, int]:
    """Niceness of every thread of this process, by thread id (/proc/self/task)."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        out[int(tid)] = int(fields[16])  # stat(5) field 19; pid and comm precede the split
    return out


@pytest.fixture(scope="module")
def laned() -> tuple[WhisperEngine, set[int]]:
    """An engine with an interim lane, and the threads its construction added."""
    before = set(thread_nices())
    engine = WhisperEngine(resolve("whisper-tiny.en", Path(".")), cpu_threads=2, workers=1,
                           interim_workers=2, interim_nice=NICE)
    return engine, set(thread_nices()) - before


def test_interim_workers_run_niced_and_nothing_else_does(laned) -> None:  # noqa: ANN001
    engine, added = laned
    engine.transcribe(speech(), DecodeOptions("en", interim=True))
    nices = thread_nices()
    base = nices[os.getpid()]  # the main thread (and so the event loop) keeps its own
    if base + NICE > 19:
        pytest.skip(f"the suite runs at niceness {base}: no room below it")
    niced = {tid for tid, n in nices.items() if n == base + NICE}
    assert len(niced & added) >= 2, nices  # one CTranslate2 worker per interim slot
    assert os.getpriority(os.PRIO_PROCESS, 0) == base
    assert all(n in (base, base + NICE) for n in nices.values()), nices


def test_both_lanes_hear_the_same_words(laned) -> None:  # noqa: ANN001
    engine, _ = laned
    audio = speech()
    final = engine.transcribe(audio, DecodeOptions("en"))
    interim = engine.transcribe(audio, DecodeOptions("en", interim=True))
    assert "young man" in final.text.lower(), final.text
    assert interim.text == final.text


async def _order(engine: WhisperEngine, jobs: list[tuple[str, str]]) -> list[str]:
    recorded = Recorded(engine)
    scheduler = DecodeScheduler(recorded, workers=1, interim_workers=2, share_cores=True)
    try:
        submitted = []
        for name, kind in jobs:
            audio = speech()
            recorded.names[id(audio)] = name
            submitted.append(scheduler.submit(
                audio, DecodeOptions("en", interim=kind == "interim"), kind))
        await asyncio.gather(*(j.future for j in submitted))
    finally:
        scheduler.close()
    return recorded.log


def test_finals_take_every_core_one_at_a_time(laned) -> None:  # noqa: ANN001
    log = asyncio.run(_order(laned[0], [("f1", "final"), ("f2", "final")]))
    assert log == ["start f1", "end f1", "start f2", "end f2"]


def test_an_interim_still_waits_for_the_final(laned) -> None:  # noqa: ANN001
    log = asyncio.run(_order(laned[0], [("final", "final"), ("i1", "interim"),
                                        ("i2", "interim")]))
    assert log[:2] == ["start final", "end final"], log
    assert set(log[2:4]) == {"start i1", "start i2"}, log  # two interim slots side by side


def test_settings_give_finals_every_core_only_with_the_lane(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr("servers.stt.config.usable_cpus", lambda: 2)
    laned = SttSettings(_cli_parse_args=False)
    assert laned.interim_lane()
    assert (laned.threads_per_decode(), laned.final_workers()) == (2, 1)
    shared = SttSettings(_cli_parse_args=False, interim_nice=0)
    assert not shared.interim_lane()
    assert (shared.threads_per_decode(), shared.final_workers()) == (1, 2)
    for device in ("cuda", "auto"):
        assert not SttSettings(_cli_parse_args=False, device=device).interim_lane()
