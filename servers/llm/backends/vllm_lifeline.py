"""A vLLM general plugin: the engine process ends when the server that started it is gone.

vLLM's engine core is a process of its own, and nothing in it watches its parent. A
server killed outright (the OOM killer, ``kill -9``, a supervisor's hard stop) left its
engine core and that one's worker running for good, holding the model and the KV cache
(2.9 GB of memory measured on SmolLM2 on a CPU; on a GPU, the GPU memory the next start
needs): a restarted server, or the worker supervisor's replacement, then started a second
engine beside the first. The engine's worker already ends with the engine core (vLLM's
death pipe); this ends the engine core with the server. (It starts when vLLM loads its
plugins, after the engine's first handshake: a server gone in the second before that
leaves an engine that waits out vLLM's own five-minute handshake timeout.)

The server sets ``RYMI_VLLM_SERVER_PID`` to its own pid before it builds its engine; its
processes inherit it and load this plugin through the ``vllm.general_plugins`` entry
point. In the engine core (the process whose parent is that server) a daemon thread
checks its parent once a second; once the server is gone it asks vLLM to shut down
(SIGTERM, vLLM's own clean path) and, if still running after ``GRACE_S`` (a start-up
handshake ignores the signal), exits.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

ENV = "RYMI_VLLM_SERVER_PID"
CHECK_S = 1.0
GRACE_S = 5.0

log = logging.getLogger("rymi.llm.vllm")
_watching = False


def register() -> None:
    global _watching
    server = os.environ.get(ENV)
    # Only in the server's own child: the server itself and the engine's worker (whose
    # parent is the engine core, not the server) have other parents.
    if _watching or server is None or server != str(os.getppid()):
        return
    _watching = True
    threading.Thread(target=_end_with, args=(int(server),), name="rymi-lifeline",
                     daemon=True).start()


def _end_with(server: int) -> None:
    while os.getppid() == server:  # an orphan is re-parented (to init or a subreaper)
        time.sleep(CHECK_S)
    log.warning("the server (pid %d) is gone: stopping its engine process", server)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(GRACE_S)
    os._exit(1)
