"""A page that gives up (barge-in aborts its fetch) before the server has answered must
end the request at the server too: otherwise the LLM keeps computing for nobody until its
first token. A stand-in server that never answers tells whether the proxy hung up."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.demo.conftest import start_demo
from tests.support.servers import RunningServer, free_port


class SilentServer:
    """Reads one request, never answers, and notes when the proxy closes the socket."""

    def __init__(self) -> None:
        self.port = free_port()
        self.got_request = threading.Event()
        self.hung_up = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        self.got_request.set()
        while await reader.read(4096):  # body, then EOF when the proxy lets go
            pass
        self.hung_up.set()
        writer.close()

    def start(self) -> SilentServer:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self.handle, "127.0.0.1", self.port), self.loop).result(5)
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer().start()
    yield server
    server.stop()


@pytest.fixture
def demo_to_silent(silent: SilentServer) -> Iterator[RunningServer]:
    url = f"http://127.0.0.1:{silent.port}"
    demo = start_demo({"RYMI_DEMO_LLM_URL": url, "RYMI_DEMO_TTS_URL": url,
                       "RYMI_DEMO_STT_URL": f"ws://127.0.0.1:{silent.port}"})
    yield demo
    demo.stop()


def test_a_page_that_gives_up_ends_the_servers_request(demo_to_silent: RunningServer,
                                                       silent: SilentServer) -> None:
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{demo_to_silent.url}/v1/chat/completions", json=body, timeout=1.5)
    assert silent.got_request.wait(5)
    assert silent.hung_up.wait(5), "the proxy kept the abandoned request open"
