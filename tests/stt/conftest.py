from __future__ import annotations

import os

import pytest

from servers.stt.options import ServedModel
from tests.conftest import STT_TOKEN as TOKEN
from tests.support.servers import RunningServer, start_server

# Settings from the developer's shell must not change what the tests start.
CLEAN = {k: "" for k in os.environ if k.startswith(("RYMI_STT_", "RYMI_TOKEN"))}
# The served models as the URL options see them: tiny.en alone, and with multilingual base.
MODELS = {"whisper-tiny.en": ServedModel("whisper-tiny.en", ("tiny.en",), ("en",))}
BASE = {**MODELS, "whisper-base": ServedModel("whisper-base", ("base",), ())}


@pytest.fixture(scope="session")
def limits_server() -> RunningServer:
    """Tiny limits, so each close code can be reached in a second or two."""
    server = start_server("servers.stt", env={
        **CLEAN, "RYMI_STT_MAX_FRAME_BYTES": "32000", "RYMI_STT_IDLE_TIMEOUT_S": "1",
        "RYMI_STT_MAX_SESSION_S": "3", "RYMI_STT_MAX_SESSIONS": "1",
        "RYMI_STT_DECODE_WORKERS": "1"})
    yield server
    server.stop()


@pytest.fixture(scope="session")
def url(stt_server: RunningServer) -> str:
    return stt_server.ws_url + "/stt"


@pytest.fixture(scope="session")
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}
