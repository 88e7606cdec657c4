"""An engine double for servers.llm's in-process path (fault injection only).

``create_app(settings, backend=FaultEngine())`` serves the real routes, SSE framing,
usage records and metrics over this double instead of vLLM, so a failure half way
through a stream can be made on demand, with no model loaded. The last user message
picks the behaviour: ``fault:ok`` (a few tokens, then stop), ``fault:raise`` (a few
tokens, then an exception the backend did not map: a bug), ``fault:engine-error`` (a
few tokens, then the EngineError a real backend maps a failure to), ``fault:first``
(fails before the first token), ``fault:dead`` (fails as vLLM does once its engine
process died), ``fault:hold`` (a token every 0.1 s for 30 s), ``fault:hold-first`` (a
prefill of 30 s before its first token); and the engine dies with no request running
once the file ``RYMI_FAULT_ENGINE_DEAD_FILE`` names exists. ``InProcessLlm`` runs the app under uvicorn in a thread of the test
process, on a free port; ``python -m tests.llm.fault_engine`` runs it as the real
server process does (settings from RYMI_LLM_*, exit codes).
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable

import uvicorn

from servers.common.config import load_settings
from servers.common.serve import serve
from servers.llm.app import create_app
from servers.llm.backends import Delta, EngineError
from servers.llm.config import LlmSettings
from servers.llm.schema import ChatRequest
from tests.support.servers import free_port

TOKENS_BEFORE_FAULT = 3


class FaultEngine:
    name = "fault-engine"
    served_name = "fault-engine-model"

    def __init__(self) -> None:
        self.active = 0  # generations running now (the engine-requests gauge reads it)
        self.started = 0
        self.closed = 0  # generations whose generator was closed (aborted or finished)
        self.outputs = 0  # deltas made, for the stall watch
        self.closed_within: list[float | None] = []  # each close's teardown bound

    async def start(self) -> None:
        pass

    async def close(self, within_s: float | None = None) -> None:
        self.closed_within.append(within_s)

    async def warmup(self) -> None:
        pass

    def running(self) -> int:
        return self.active

    def progress(self) -> int:
        return self.outputs

    def dead(self) -> bool:
        """The engine's process gone while idle: once the file RYMI_FAULT_ENGINE_DEAD_FILE
        names exists."""
        path = os.environ.get("RYMI_FAULT_ENGINE_DEAD_FILE")
        return bool(path) and os.path.exists(path)

    async def generate(self, req: ChatRequest, request_id: str,
                       on_prompt: Callable[[int], None] | None = None
                       ) -> AsyncIterator[Delta]:
        fault = req.messages[-1].text().removeprefix("fault:")
        if fault == "first":
            raise EngineError(500, "the double failed before its first token", "engine_error")
        if fault == "dead":  # (what vllm_engine maps vLLM's EngineDeadError to)
            raise EngineError(500, "the inference engine has stopped", "engine_dead")
        self.active += 1
        self.started += 1
        try:
            if fault == "hold-first":
                await asyncio.sleep(30)
            if fault == "hold":
                for i in range(300):
                    await asyncio.sleep(0.1)
                    self.outputs += 1
                    yield Delta(f"h{i} ", None, 7, i + 1)
            for i in range(TOKENS_BEFORE_FAULT):
                await asyncio.sleep(0.01)
                self.outputs += 1
                yield Delta(f"t{i} ", None, 7, i + 1)
            if fault == "raise":
                raise RuntimeError("simulated crash inside the engine")
            if fault == "engine-error":
                raise EngineError(500, "the inference engine failed", "engine_error")
            yield Delta("", "stop", 7, TOKENS_BEFORE_FAULT)
        finally:
            self.active -= 1
            self.closed += 1


class InProcessLlm:
    """servers.llm's app over ``engine``, under uvicorn in a background thread."""

    def __init__(self, engine: FaultEngine, token: str) -> None:
        self.engine = engine
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings = LlmSettings(host="127.0.0.1", port=self.port, tokens=token,
                               token_file=None, warmup=True, log_level="info")
        self.app = create_app(settings, backend=engine)  # type: ignore[arg-type]
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                log_config=None, access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.app.state.uvicorn_server = self.server
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> InProcessLlm:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not (self.server.started and self.app.state.server.ready):
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise TimeoutError("in-process LLM did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def main() -> int:
    # (start_server names the port setting after the module: RYMI_FAULT_ENGINE_PORT)
    settings = load_settings(LlmSettings, ["--port", os.environ["RYMI_FAULT_ENGINE_PORT"]],
                             prog="fault-engine")
    return serve(create_app(settings, backend=FaultEngine()), settings,  # type: ignore[arg-type]
                 "llm")


if __name__ == "__main__":
    sys.exit(main())
