"""SendWatch: one timer per response cuts off a write that waits too long, and only that.

Real servers are cut off by it in tests/reliability/test_backpressure.py; here the
edges the timer logic must get right: a stuck write, writes that never wait, a write
after a cut-off, and a cancellation that is not the watch's own.
"""

from __future__ import annotations

import asyncio

import pytest

from servers.common.slow_client import SendWatch, SlowClient

TIMEOUT_S = 0.05


async def stuck() -> None:
    await asyncio.get_running_loop().create_future()  # a client whose socket stays full


async def instant() -> None:
    return None


def test_a_write_that_waits_past_the_bound_is_a_slow_client() -> None:
    async def main() -> None:
        watch = SendWatch(TIMEOUT_S)
        with pytest.raises(SlowClient):
            await watch.send(stuck())
        # The task was not left cancelled: it can go on (and clean up) normally.
        assert asyncio.current_task().cancelling() == 0
        await asyncio.sleep(0)
        with pytest.raises(SlowClient):  # a later write is watched afresh (not for ever)
            async with asyncio.timeout(5):
                await watch.send(stuck())
        watch.close()
    asyncio.run(main())


def test_writes_that_never_wait_are_never_cut_off() -> None:
    async def main() -> int:
        watch = SendWatch(TIMEOUT_S)
        writes = 0
        loop = asyncio.get_running_loop()
        end = loop.time() + 5 * TIMEOUT_S  # the watch's timer fires several times meanwhile
        while loop.time() < end:
            await watch.send(instant())
            writes += 1
            await asyncio.sleep(TIMEOUT_S / 10)  # time passes between writes, as in a stream
        watch.close()
        return writes
    assert asyncio.run(main()) > 10


def test_someone_elses_cancel_stays_a_cancel() -> None:
    async def main() -> None:
        watch = SendWatch(60)
        task = asyncio.ensure_future(watch.send(stuck()))
        await asyncio.sleep(0.01)
        task.cancel()  # e.g. the client hung up
        with pytest.raises(asyncio.CancelledError):
            await task
        watch.close()
    asyncio.run(main())


def test_a_write_begun_between_checks_is_cut_at_its_own_bound() -> None:
    """The timer wakes every timeout_s; a write that began in between is looked at again
    when *it* has waited timeout_s, not a whole period later (up to twice the bound)."""
    async def main() -> tuple[float | None, float]:
        watch = SendWatch(1.0)
        write = asyncio.create_task(watch.send(stuck()))
        await asyncio.sleep(0.1)  # the write has waited 0.1 s when the timer wakes
        began = watch._since
        watch._check()
        assert watch._timer is not None
        when = watch._timer.when()
        write.cancel()
        watch.close()
        return began, when
    began, when = asyncio.run(main())
    assert began is not None and when == pytest.approx(began + 1.0, abs=0.01)
