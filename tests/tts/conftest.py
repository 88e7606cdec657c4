from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rymi_endpoints.models.catalog import default_model, resolve
from servers.common.config import default_models_dir
from tests.support.servers import RunningServer, start_server

TOKEN = "tts-test-token-5d1e"

FOUR_SENTENCES = ("Hello! Thanks for calling Acme support, my name is Joe. "
                  "Your balance is $12.50. Your appointment is on March 3rd at 3:30 pm.")


@pytest.fixture(scope="session")
def fault_server() -> Iterator[RunningServer]:
    """Real engine wrapped with injected faults; a token; one worker and a tiny queue,
    so capacity limits can be reached on purpose."""
    server = start_server("tests.tts.fault_tts", env={
        "RYMI_FAULT_TTS_TOKENS": TOKEN, "RYMI_FAULT_TTS_WORKERS": "1",
        "RYMI_FAULT_TTS_QUEUE_SIZE": "1", "RYMI_FAULT_TTS_DAWDLE_S": "3"})
    yield server
    server.stop()


@pytest.fixture(scope="session")
def client(tts_server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=tts_server.url, timeout=60) as c:
        yield c


@pytest.fixture(scope="session")
def voice_path() -> Path:
    return resolve(default_model("tts").name, default_models_dir())
