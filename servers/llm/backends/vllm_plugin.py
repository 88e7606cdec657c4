"""A vLLM general plugin: how long vLLM's engine processes busy-wait on each other.

vLLM's engine core and its worker pass every step through a shared-memory ring buffer,
and a reader spins (``sched_yield`` in a loop) for up to one second after its last read
before it sleeps on a socket. On a GPU the wait is a few milliseconds and the spin saves
a wake-up. On a CPU the worker computes the step itself, so the engine core spins for
the whole step: one full core burnt per generating server, taken from the speech
recogniser and the voice on a small box (measured on 2 cores: the engine core at 97%
CPU, 95% of it in ``sched_yield``, while the worker computed).

The LLM server sets ``RYMI_VLLM_BUSY_WAIT=0`` for its own engine (the default on CPU);
the engine processes inherit it and load this plugin through the ``vllm.general_plugins``
entry point. A reader then never spins: while active (within vLLM's own one-second
window) it sleeps on the notification socket for at most ``POLL_MS`` at a time, so a
notification that never arrives costs a millisecond, not a hang (seen here: with the
spin simply set to zero, both processes soon slept in ``poll`` for good; vLLM's own
design only sleeps on the socket after a second idle). Idle, it waits as vLLM does.
Without the variable (any other vLLM in this environment, such as the benchmark's peer
server) nothing changes. Against a CPU decode step of tens of milliseconds the
wake-ups cost nothing measurable.
"""

from __future__ import annotations

import logging
import os
import time

ENV = "RYMI_VLLM_BUSY_WAIT"
POLL_MS = 1

log = logging.getLogger("rymi.llm.vllm")


def register() -> None:
    if os.environ.get(ENV, "1") != "0":
        return
    try:
        import zmq
        from vllm.distributed.device_communicators.shm_broadcast import SpinCondition
    except ImportError:  # another vLLM layout: keep its behaviour, say so
        log.warning("%s=0 but this vLLM has no SpinCondition; busy-wait left on", ENV)
        return
    if getattr(SpinCondition, "_rymi_patched", False):  # vLLM may load plugins twice
        return
    original = SpinCondition.wait

    def wait(self: SpinCondition, timeout_ms: int | None = None) -> None:
        if time.monotonic() > self.last_read + self.busy_loop_s:
            return original(self, timeout_ms)  # idle: vLLM's own blocking wait
        # Active: where vLLM would sched_yield, sleep on the notification instead.
        timeout_ms = POLL_MS if timeout_ms is None else min(timeout_ms, POLL_MS)
        if self.local_notify_socket in dict(self.poller.poll(timeout=timeout_ms)):
            self.local_notify_socket.recv(flags=zmq.NOBLOCK, copy=False)

    SpinCondition._rymi_patched = True
    SpinCondition.wait = wait  # type: ignore[method-assign]
