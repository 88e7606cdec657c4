"""Session fixtures: the three real servers (bearer auth on, as Rymi would use them) and
the demo app in front of them, serving https with the dev certificate.

The LLM server runs vLLM on CPU and takes about a minute to start: it starts once, and
only when a test asks for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rymi_endpoints.models.catalog import load_catalog
from rymi_endpoints.models.prepare import prepare
from tests.support.servers import REPO, RunningServer, refused_port, start_server

TOKEN = "demo-test-token-81c4"  # accepted by all three servers in these tests
LLM_MODEL = "smollm2-135m-instruct"
# A shared token in the developer's shell must not leak into these servers.
CLEAN = {"RYMI_TOKENS": ""}


def _models_dir() -> Path:
    return Path(os.environ.get("RYMI_MODELS_DIR") or REPO / ".models")


@pytest.fixture(scope="session")
def stt_server() -> Iterator[RunningServer]:
    server = start_server("servers.stt", env={**CLEAN, "RYMI_STT_TOKENS": TOKEN,
                                              "RYMI_STT_MODELS_DIR": str(_models_dir())})
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tts_server() -> Iterator[RunningServer]:
    server = start_server("servers.tts", env={**CLEAN, "RYMI_TTS_TOKENS": TOKEN})
    yield server
    server.stop()


@pytest.fixture(scope="session")
def llm_server() -> Iterator[RunningServer]:
    models = _models_dir()
    prepare(load_catalog()[LLM_MODEL], models, show_progress=False)
    server = start_server("servers.llm", env={
        **CLEAN, "RYMI_LLM_TOKENS": TOKEN, "RYMI_LLM_MODELS_DIR": str(models),
        "RYMI_LLM_MAX_MODEL_LEN": "1024", "VLLM_CPU_KVCACHE_SPACE": "1",
    }, ready_timeout=400)
    yield server
    server.stop(60)


def start_demo(env: dict[str, str]) -> RunningServer:
    return start_server("rymi_endpoints.demo", env={**CLEAN, **env}, ready_timeout=30,
                        verify=False)


@pytest.fixture(scope="session")
def demo(stt_server: RunningServer, tts_server: RunningServer,
         llm_server: RunningServer, dev_certs: dict[str, Path]) -> Iterator[RunningServer]:
    """The demo over https (the microphone needs a secure context), proxying to all three."""
    server = start_demo({
        "RYMI_DEMO_STT_URL": stt_server.ws_url, "RYMI_DEMO_TTS_URL": tts_server.url,
        "RYMI_DEMO_LLM_URL": llm_server.url,
        "RYMI_DEMO_TLS_CERT": str(dev_certs["cert"]), "RYMI_DEMO_TLS_KEY": str(dev_certs["key"]),
    })
    yield server
    server.stop()


@pytest.fixture(scope="session")
def speech_demo(stt_server: RunningServer, tts_server: RunningServer) -> Iterator[RunningServer]:
    """Plain http, STT and TTS only (no LLM start): the proxy tests that need no model."""
    # Nothing listens there, for the whole session (held, so no server started later can
    # be given the number): the LLM routes must answer 502.
    with refused_port() as closed:
        server = start_demo({
            "RYMI_DEMO_STT_URL": stt_server.ws_url, "RYMI_DEMO_TTS_URL": tts_server.url,
            "RYMI_DEMO_LLM_URL": f"http://127.0.0.1:{closed}",
        })
        yield server
        server.stop()
