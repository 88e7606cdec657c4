"""A bounded pool of inference threads that serves the most urgent piece first.

Every piece of a request carries a deadline: the moment its audio will be needed if the
caller plays what it has already received in real time. A request's first piece is due
at once; later pieces are due when the audio before them runs out. Workers always take
the earliest deadline, so a new request's first clause is not stuck behind other
requests' later sentences (TTFA stays low under load) while those still arrive in time.

Cancelling a piece's future (client gone) withdraws it if it has not started; the engine
is never asked for it. A piece already running is handed a probe that turns
true then (``fn(withdrawn)``), so a long one can stop between its runs.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import metrics


@dataclass(order=True)
class _Job:
    deadline: float
    seq: int
    fn: Callable[[Callable[[], bool]], Any] = field(compare=False)
    future: asyncio.Future[Any] = field(compare=False)
    loop: asyncio.AbstractEventLoop = field(compare=False)
    cancelled: bool = field(default=False, compare=False)
    queued: float = field(default_factory=time.monotonic, compare=False)


class QueueFull(Exception):
    pass


class SynthesisPool:
    def __init__(self, workers: int, queue_size: int) -> None:
        self.workers = workers
        self.queue_size = queue_size
        self._heap: list[_Job] = []
        self._cv = threading.Condition()
        self._seq = itertools.count()
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self.running = 0  # pieces on a worker now (read without the lock: a hint)

    def start(self) -> None:
        for i in range(self.workers):
            t = threading.Thread(target=self._work, name=f"tts-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        for t in self._threads:
            t.join(timeout=5)

    @property
    def waiting(self) -> int:
        return len(self._heap)

    def full(self) -> bool:
        return len(self._heap) >= self.queue_size

    def late_s(self, now: float) -> float:
        """How long a waiting piece has waited past its deadline (0: none is late): past
        a little, the workers no longer keep up with the audio being played. Counted
        from its queueing at the earliest: a first piece's deadline is its request's
        arrival, and a slow body or a voice's load (1-3 s) before it was taken for
        workers falling behind, and answered every new request with 503."""
        with self._cv:
            return max([0.0, *(now - max(job.deadline, job.queued) for job in self._heap)])

    def run(self, fn: Callable[[Callable[[], bool]], Any], deadline: float) -> asyncio.Future[Any]:
        """``fn(withdrawn)`` on a worker; ``withdrawn()`` is true once the caller left.

        Queued at the call, not when the result is first awaited: a check of ``full()``
        and the queueing of the piece it admits are then one step of the event loop, so
        a burst cannot pass the bound together. Cancelling the future (or a task that
        awaits it) withdraws the piece."""
        loop = asyncio.get_running_loop()
        job = _Job(deadline, next(self._seq), fn, loop.create_future(), loop)
        with self._cv:
            heapq.heappush(self._heap, job)
            metrics.QUEUE.set(len(self._heap))
            self._cv.notify()
        job.future.add_done_callback(lambda f: self._withdraw(job) if f.cancelled() else None)
        return job.future

    def _withdraw(self, job: _Job) -> None:
        """Out of the queue at once, so a burst of hang-ups does not hold places a new
        request needs (full() would answer 503); a worker that has it already drops it."""
        with self._cv:
            job.cancelled = True
            try:
                self._heap.remove(job)
            except ValueError:
                return  # running or done: its result is dropped by _settle
            heapq.heapify(self._heap)
            metrics.QUEUE.set(len(self._heap))
        metrics.PIECES.labels("skipped").inc()

    def _work(self) -> None:
        while True:
            with self._cv:
                while not self._heap and not self._stopping:
                    self._cv.wait()
                if self._stopping:
                    return
                job = heapq.heappop(self._heap)
                metrics.QUEUE.set(len(self._heap))
                if job.cancelled:
                    metrics.PIECES.labels("skipped").inc()
                    continue
                self.running += 1
                metrics.RUNNING.set(self.running)
            try:
                result, error = job.fn(lambda job=job: job.cancelled), None
                metrics.PIECES.labels("done").inc()
            except BaseException as exc:  # handed to the request, never kills the worker
                result, error = None, exc
                metrics.PIECES.labels("skipped" if job.cancelled else "failed").inc()
            finally:
                with self._cv:
                    self.running -= 1
                    metrics.RUNNING.set(self.running)
            job.loop.call_soon_threadsafe(_settle, job.future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the awaiting request was cancelled meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
