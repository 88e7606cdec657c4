"""vLLM's engine built off the event loop, and a build given up when the server stops.

``AsyncLLM.from_engine_args`` blocks for tens of seconds (minutes for a large model), so
it runs in a thread while /healthz answers. A thread cannot be cancelled: stopped while
building (Ctrl-C, SIGTERM), the process waited for the build at exit, then shut the
fresh engine down (44 s measured; the whole build when the signal came before the
engine's processes were started, as CI found on a fast machine). Its engine processes
are killed instead, as soon as they exist, until the build gives up: with them gone it
fails at once, and they hold nothing worth a clean stop yet.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

from . import vllm_lifeline, vllm_plugin

T = TypeVar("T")
REAP_EVERY_S = 0.05  # a build's engine process lives at most this long once abandoned
# The resource tracker's "leaked shared_memory objects" warning (-W syntax).
_TRACKER_QUIET = "ignore:resource_tracker:UserWarning"


def prepare_processes(kv_cache_gb: float | None, busy_wait: bool) -> None:
    """What the engine's processes inherit from this one: set before they start.
    ``kv_cache_gb``: on a CPU only."""
    if kv_cache_gb is not None:  # vLLM-CPU sizes its KV cache from this variable only:
        # derived from RYMI_LLM_KV_CACHE_GB, it wins over a value already set.
        os.environ["VLLM_CPU_KVCACHE_SPACE"] = f"{kv_cache_gb:g}"
    # Read by .vllm_plugin in the engine's own processes.
    os.environ[vllm_plugin.ENV] = "1" if busy_wait else "0"
    # Read by .vllm_lifeline in the engine core: it ends when this process is gone.
    os.environ[vllm_lifeline.ENV] = str(os.getpid())
    # A teardown cut short (close's within_s) leaves the worker's shared-memory queue to
    # multiprocessing's resource tracker, which unlinks it and then warns of a "leak"
    # after the server's last word: an error that is none. The tracker runs with this
    # process's -W options, so the filter goes in before vLLM starts it.
    if _TRACKER_QUIET not in sys.warnoptions:
        sys.warnoptions.append(_TRACKER_QUIET)


async def build_in_thread(make: Callable[[], T]) -> T:
    built = threading.Event()

    def run() -> T:
        try:
            return make()
        finally:
            built.set()

    build = asyncio.ensure_future(asyncio.to_thread(run))
    try:
        return await asyncio.shield(build)
    except asyncio.CancelledError:
        # Its failure (the engine killed) is expected, not "never retrieved" noise.
        build.add_done_callback(lambda f: f.cancelled() or f.exception())
        _abandon(built)
        raise


def _abandon(built: threading.Event) -> None:
    def reap() -> None:
        # At least once, as before this reaper (a build that had just finished when the
        # signal came has an engine no one will use), and once more after the build
        # ended (for a process started just before it gave up).
        while True:
            ended = built.is_set()
            try:
                children = multiprocessing.active_children()
            except RuntimeError:  # the set of children changed under us: one starting
                continue
            for process in children:
                process.kill()
            if ended:
                return
            built.wait(REAP_EVERY_S)

    threading.Thread(target=reap, name="rymi-abandon-build", daemon=True).start()
