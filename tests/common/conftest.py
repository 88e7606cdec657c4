from __future__ import annotations

import pytest

from tests.support.servers import RunningServer, start_server

TOKENS = "tok-alpha-9f2c1e,tok-beta-77d0aa"


@pytest.fixture(scope="session")
def echo_server() -> RunningServer:
    """The shared core as a real process, with two accepted tokens (rotation)."""
    server = start_server("tests.common.echo_server",
                          env={"RYMI_ECHO_SERVER_TOKENS": TOKENS}, ready_timeout=30)
    yield server
    server.stop()
