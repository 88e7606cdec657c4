"""Session fixtures: the real vLLM engine on SmolLM2 (the suite's shared one, started
once in tests/conftest.py, which prepares the model folder on first use), proxies in
front of it and of a fault double.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LLM_TOKEN as TOKEN
from tests.llm.fault_upstream import FaultUpstream
from tests.support.servers import RunningServer, free_port, refused_port, start_server


@pytest.fixture(scope="session")
def prepared_model(prepared_llm: Path) -> Path:
    return prepared_llm


@pytest.fixture(scope="session")
def llm(llm_server: RunningServer) -> RunningServer:
    """The suite's one in-process vLLM server (tests/conftest.py): bearer auth on, small
    limits so 413s are cheap to reach."""
    return llm_server


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
    """Proxy to a port nobody listens on (start-up check off), aliasing off. The port is
    held for the session, so no server started later takes it."""
    with refused_port() as port:
        server = start_server("servers.llm", env={
            "RYMI_LLM_BACKEND": "upstream",
            "RYMI_LLM_UPSTREAM_URL": f"http://127.0.0.1:{port}/v1",
            "RYMI_LLM_UPSTREAM_CHECK": "false",
            "RYMI_LLM_UPSTREAM_MODEL": "only-this",
            "RYMI_LLM_ALLOW_ANY_MODEL_NAME": "false",
            "RYMI_LLM_TOKENS": "",
        }, ready_timeout=120)
        yield server
        server.stop()
