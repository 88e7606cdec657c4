from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import STT_TOKEN as TOKEN
from tests.support.servers import RunningServer, start_server

# The shared STT server must find the models the ``models_dir`` fixture prepares
# (``make`` exports this already; a bare ``pytest`` would otherwise leave the server on the
# user cache, where ``?model=base`` is not prepared). Set at import: before any server starts.
os.environ.setdefault("RYMI_MODELS_DIR", str(Path(__file__).resolve().parents[2] / ".models"))

# Settings from the developer's shell must not change what the tests start.
CLEAN = {k: "" for k in os.environ if k.startswith(("RYMI_STT_", "RYMI_TOKEN"))}


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
