"""Decode scheduling: one shared engine, finals first, interims only where they cost nothing.

- Finals (and speculative finals) always go before interims, and are taken from the
  sessions in turn: one streaming faster than real time queues up to max_buffered_s of
  finals, and first come, first served made every other caller's turn wait behind all
  of them (38 s seen, against 1.7 s alone).
- With an interim lane (engine.py: interims on their own low-priority copy of the model)
  finals and interims have separate slots. Without one, interims may hold all but one
  of the shared workers, so a final never waits behind an interim that is already
  running (a decode cannot be preempted).
- On a CPU no interim starts while a final is decoding: the decodes share the cores
  (and the LLM and TTS beside them), and an interim would take CPU from the decode a
  caller's turn is waiting on. Interims resume as soon as the finals are done.
- A cancelled job that has not started is skipped; a running one finishes and its
  result is dropped by its owner (CTranslate2 cannot stop a decode half way).
- Each session keeps at most one interim outstanding (session.py), so under load the
  interims thin out instead of queueing up.
- ``BROKEN_AFTER`` decodes failing in a row, with none succeeding between them, is an
  engine that will not recover by itself (a model out of memory, mkl_malloc failing on
  every call): ``on_broken`` is told, and the server stops for its orchestrator to start
  it again. Until then every call was closed 1011 while /readyz said ready.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from . import metrics
from .engine import DecodeOptions, Transcript

Kind = Literal["final", "interim"]
BROKEN_AFTER = 5

log = logging.getLogger("rymi.stt")


class Engine(Protocol):
    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> Transcript: ...


@dataclass(eq=False)
class DecodeJob:
    kind: Kind
    audio: np.ndarray
    options: DecodeOptions
    future: asyncio.Future[Transcript]
    enqueued: float = field(default_factory=time.monotonic)
    # The asking session's context (its request id for the log): the job may be started
    # from another session's task, when that one's decode frees a slot.
    context: contextvars.Context = field(default_factory=contextvars.copy_context)
    started: bool = False
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True
        if not self.started and not self.future.done():
            self.future.cancel()


class DecodeScheduler:
    def __init__(self, engine: Engine, workers: int, *, interim_workers: int = 0,
                 share_cores: bool = False,
                 on_broken: Callable[[str], None] | None = None) -> None:
        """``workers`` decodes at once; with ``interim_workers`` (an interim lane) that many
        interims besides, on slots of their own."""
        self.engine = engine
        self.on_broken = on_broken
        self.failures_in_row = 0
        self.share_cores = share_cores  # decodes compete for the same cores (CPU)
        self._final_slots = workers
        self._interim_slots = interim_workers or max(1, workers - 1)
        self.workers = workers + interim_workers
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="decode")
        # Each session's finals in order; the sessions in turn (the dict's order).
        self._finals: dict[object, deque[DecodeJob]] = {}
        self._interims: deque[DecodeJob] = deque()
        self._running = 0
        self._running_interims = 0
        self._running_finals = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, audio: np.ndarray, options: DecodeOptions, kind: Kind,
               owner: object = None) -> DecodeJob:
        """``owner``: the session asking; finals are taken from the owners in turn."""
        job = DecodeJob(kind, audio, options, asyncio.get_running_loop().create_future())
        if kind == "final":
            self._finals.setdefault(owner, deque()).append(job)
        else:
            self._interims.append(job)
        self._dispatch()
        return job

    @property
    def queued(self) -> int:
        return sum(map(len, self._finals.values())) + len(self._interims)

    def _next(self) -> DecodeJob | None:
        if self._running_finals < self._final_slots:
            while self._finals:
                owner = next(iter(self._finals))
                queue = self._finals.pop(owner)
                job = queue.popleft()
                if queue:  # this session's next final waits for the others' turns
                    self._finals[owner] = queue
                if not job.cancelled:
                    return job
                metrics.DECODES_SKIPPED.labels(job.kind).inc()
        if self._running_interims >= self._interim_slots or (
                self.share_cores and self._running_finals):
            return None
        while self._interims:
            job = self._interims.popleft()
            if not job.cancelled:
                return job
            metrics.DECODES_SKIPPED.labels(job.kind).inc()
        return None

    def _dispatch(self) -> None:
        try:
            while self._running < self.workers:
                job = self._next()
                if job is None:
                    return
                job.started = True
                metrics.DECODES_RUNNING.labels(job.kind).inc()
                self._running += 1
                self._running_interims += job.kind == "interim"
                self._running_finals += job.kind == "final"
                task = asyncio.get_running_loop().create_task(self._run(job),
                                                              context=job.context)
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            metrics.DECODES_QUEUED.set(self.queued)

    async def _run(self, job: DecodeJob) -> None:
        wait = time.monotonic() - job.enqueued
        metrics.QUEUE_WAIT_SECONDS.labels(job.kind).observe(wait)
        try:
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(self._pool, self.engine.transcribe,
                                                job.audio, job.options)
        except asyncio.CancelledError:  # the server stops: the waiting session's too
            job.future.cancel()  # not set_exception: unread, that logs an error at exit
            raise
        except BaseException as exc:  # an engine failure goes to the session that asked
            if job.cancelled:  # unless it let the job go: nobody would read it, and asyncio
                job.future.cancel()  # said "exception never retrieved" (an ERROR, no id)
            elif not job.future.done():
                job.future.set_exception(exc)
            self._failed(job, exc)
        else:
            self.failures_in_row = 0
            metrics.DECODE_SECONDS.labels(job.kind).observe(result.decode_s)
            if result.audio_s > 0:
                metrics.REAL_TIME_FACTOR.labels(job.kind).observe(
                    result.decode_s / result.audio_s)
            if not job.future.done():
                job.future.set_result(result)
        finally:
            metrics.DECODES_RUNNING.labels(job.kind).dec()
            self._running -= 1
            self._running_interims -= job.kind == "interim"
            self._running_finals -= job.kind == "final"
            self._dispatch()

    def _failed(self, job: DecodeJob, exc: BaseException) -> None:
        self.failures_in_row += 1
        log.error("%s decode failed (%d in a row): %s: %s", job.kind, self.failures_in_row,
                  type(exc).__name__, exc)
        if self.failures_in_row == BROKEN_AFTER and self.on_broken is not None:
            self.on_broken(f"the transcription engine failed {BROKEN_AFTER} decodes in a "
                           f"row ({type(exc).__name__}: {exc})")

    def close(self) -> None:
        for job in (*(j for q in self._finals.values() for j in q), *self._interims):
            job.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)
