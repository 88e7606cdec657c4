"""The synthesis pool's queue: earliest deadline first, and a withdrawn piece leaves it."""

from __future__ import annotations

import asyncio
import threading

from servers.tts.pool import SynthesisPool


async def test_withdrawn_pieces_leave_the_queue_at_once() -> None:
    """Hang-ups withdraw their queued pieces: the places are free for the next request
    before any worker gets to them (else full() would refuse it with 503)."""
    pool = SynthesisPool(workers=1, queue_size=3)
    gate, ran = threading.Event(), []
    pool.start()
    try:
        busy = asyncio.ensure_future(pool.run(gate.wait, deadline=0))  # holds the worker
        while pool.waiting:
            await asyncio.sleep(0.01)
        waiting = [asyncio.ensure_future(pool.run(lambda i=i: ran.append(i), deadline=i))
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
