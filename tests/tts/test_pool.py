"""The synthesis pool's queue: earliest deadline first, and a withdrawn piece leaves it."""

from __future__ import annotations

import asyncio
import threading

from servers.tts.pool import SynthesisPool


async def _one_worker_held(queue_size: int) -> tuple[SynthesisPool, threading.Event,
                                                     asyncio.Future[object]]:
    """A started pool of one worker, held busy until ``gate`` is set."""
    pool = SynthesisPool(workers=1, queue_size=queue_size)
    gate = threading.Event()
    pool.start()
    busy = asyncio.ensure_future(pool.run(lambda _: gate.wait(), deadline=0))
    while pool.waiting:  # the worker has taken it
        await asyncio.sleep(0.01)
    return pool, gate, busy


async def test_withdrawn_pieces_leave_the_queue_at_once() -> None:
    """Hang-ups withdraw their queued pieces: the places are free for the next request
    before any worker gets to them (else full() would refuse it with 503)."""
    pool, gate, busy = await _one_worker_held(queue_size=3)
    ran: list[int] = []
    try:
        waiting = [asyncio.ensure_future(pool.run(lambda _, i=i: ran.append(i), deadline=i))
                   for i in range(3)]
        await asyncio.sleep(0.05)
        assert pool.waiting == 3 and pool.full()
        for task in waiting[:2]:
            task.cancel()
        await asyncio.gather(*waiting[:2], return_exceptions=True)
        assert pool.waiting == 1 and not pool.full()
        gate.set()
        await busy
        await waiting[2]
        assert ran == [2]  # the withdrawn pieces never ran
    finally:
        gate.set()
        await asyncio.to_thread(pool.stop)


async def test_a_running_piece_sees_its_caller_leave() -> None:
    """A piece already on a worker cannot be taken back from the queue: it is told
    instead (its probe turns true), so a long one stops between its runs."""
    pool = SynthesisPool(workers=1, queue_size=2)
    started, seen = threading.Event(), []

    def piece(withdrawn) -> None:  # type: ignore[no-untyped-def]
        started.set()
        for _ in range(500):  # bounded: 5 s at most
            if withdrawn():
                seen.append(True)
                return
            threading.Event().wait(0.01)

    pool.start()
    try:
        task = asyncio.ensure_future(pool.run(piece, deadline=0))
        await asyncio.to_thread(started.wait, 5)
        assert not seen
        task.cancel()
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.02)
        assert seen == [True]
        assert await pool.run(lambda withdrawn: withdrawn(), deadline=0) is False
    finally:
        await asyncio.to_thread(pool.stop)


async def test_the_earliest_deadline_is_served_first() -> None:
    """Pieces queued behind a busy worker go by deadline, not by arrival: a new request's
    first clause (due at once) must not wait behind other requests' later sentences,
    queued before it but due only when the audio before them runs out."""
    pool, gate, busy = await _one_worker_held(queue_size=4)
    ran: list[int] = []
    try:
        pieces = [pool.run(lambda _, d=d: ran.append(d), deadline=d) for d in (3, 1, 2)]
        gate.set()
        await busy
        await asyncio.gather(*pieces)
        assert ran == [1, 2, 3]
    finally:
        gate.set()
        await asyncio.to_thread(pool.stop)
