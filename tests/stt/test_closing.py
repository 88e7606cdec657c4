"""How a session the server ends meets a client that reads slowly or not at all.

Every answer here is decoded (the client sends only bad control messages, each answered
with an error event): what is left unsent waits on the client's reading alone. A client
that reads it late gets all of it and the limit's own close code; one that never reads
is dropped once flush_timeout_s is over, and its record says so. (Before, both were told
a final was lost (1011) and the log said "0 final(s) lost".)

The client stops reading its socket (a small receive buffer, the transport paused) and
floods until the server's writes block and, past its back-pressure bound, it stops
reading too; then max_session_s (2 s) ends the session.

And ``closing.read_close`` alone (below): what a session whose write failed reads of
the close that explains it."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import websockets

from servers.stt.closing import read_close
from tests.support.servers import RunningServer, metric, start_server

from .conftest import CLEAN

MAX_SESSION_S = 2
FLUSH_TIMEOUT_S = 3  # each of the close's two waits: for the answers, then the writes
FLOOD = 20_000  # ~2.6 MB of error events: past the kernel's buffers on both sides


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    server = start_server("servers.stt", env={
        **CLEAN, "RYMI_STT_MAX_SESSION_S": str(MAX_SESSION_S),
        "RYMI_STT_FLUSH_TIMEOUT_S": str(FLUSH_TIMEOUT_S), "RYMI_STT_SEND_TIMEOUT_S": "60"})
    yield server
    server.stop()


async def _stalled_client(server: RunningServer, rid: str) -> websockets.ClientConnection:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.connect(("127.0.0.1", server.port))
    ws = await websockets.connect(f"{server.ws_url}/stt", sock=sock, ping_interval=None,
                                  additional_headers={"X-Request-Id": rid})
    ws.transport.pause_reading()

    async def flood() -> None:
        for _ in range(FLOOD):
            await ws.send('{"type":"nope"}')

    asyncio.ensure_future(flood())  # (blocks once the server stops reading: left so)
    return ws


async def test_a_client_that_reads_late_gets_every_answer_and_the_limits_close(
        server: RunningServer) -> None:
    t0 = time.monotonic()
    ws = await _stalled_client(server, "reads-late")
    # Past the limit and the close's wait for its answers, inside its wait for writes.
    await asyncio.sleep(MAX_SESSION_S + FLUSH_TIMEOUT_S + 1.5 - (time.monotonic() - t0))
    ws.transport.resume_reading()
    errors = []
    with pytest.raises(websockets.ConnectionClosed):
        while True:
            errors.append(await asyncio.wait_for(ws.recv(), 30))
    assert ws.close_code == 1008, (ws.close_code, errors[-2:])
    assert "max_session_s" in errors[-1] and "lost" not in errors[-1], errors[-1]
    assert all('"error"' in e and "lost" not in e for e in errors)
    record = server.wait_usage("reads-late")
    assert record["error"] == "session_too_long" and record["close_code"] == 1008
    assert "client_disconnected" not in record
    assert "final(s) lost" not in server.logs()


async def test_a_client_that_never_reads_is_dropped_and_its_record_says_so(
        server: RunningServer) -> None:
    ws = await _stalled_client(server, "never-reads")
    try:
        record = await asyncio.to_thread(server.wait_usage, "never-reads", 30)
    finally:
        ws.transport.abort()
    # The limit ended it (the first error said wins); nothing was lost but the writes.
    assert record["error"] == "session_too_long" and "close_code" not in record
    assert record["client_disconnected"] is True and record["client_close_code"] is None
    assert 0 < record["total_s"] < MAX_SESSION_S + 2 * FLUSH_TIMEOUT_S + 2
    logs = server.logs()
    assert re.search(r"stt session closing \(1008\): the client did not take the rest in "
                     r"\d+\.\d s \(flush_timeout_s: 3 s, for its answers, then for the "
                     r"writes\)", logs), logs[-2000:]
    assert "final(s) lost" not in logs


# -- closing.read_close alone: what a failed write reads of the close ------------------
# (A mutation round found its branches untested: in the server tests the close is always
# read already when the write fails. The socket's receive() is a double here, its
# faults injected: late, never, failed, and a frame with no close after it.)

class _Socket:
    def __init__(self, receive: Any) -> None:
        self.receive = receive


def _session(receive: Any = None) -> SimpleNamespace:
    async def never() -> dict:
        await asyncio.Event().wait()
        return {}
    return SimpleNamespace(client_close_code=None, ws=_Socket(receive or never))


async def test_a_close_read_a_moment_after_the_failed_write_is_taken() -> None:
    loop = asyncio.get_running_loop()
    receive = loop.create_future()
    loop.call_later(0.03, receive.set_result, {"type": "websocket.disconnect", "code": 1009})
    session = _session()
    await asyncio.wait_for(read_close(session, receive), 5)
    assert session.client_close_code == 1009


async def test_no_close_at_all_is_waited_for_briefly_and_its_read_dropped() -> None:
    receive = asyncio.get_running_loop().create_future()
    session = _session()
    await asyncio.wait_for(read_close(session, receive), 5)  # returns: no hang
    assert receive.cancelled() and session.client_close_code is None


async def test_a_read_that_failed_ends_it_quietly() -> None:
    receive = asyncio.get_running_loop().create_future()
    receive.set_exception(RuntimeError("the socket is gone"))
    session = _session()
    await asyncio.wait_for(read_close(session, receive), 5)  # nothing raised
    assert session.client_close_code is None


async def test_frames_with_no_close_after_them_are_read_briefly_then_left() -> None:
    receive = asyncio.get_running_loop().create_future()
    receive.set_result({"type": "websocket.receive", "text": '{"type":"keepalive"}'})
    session = _session()  # its reader then waits for ever: no close comes
    await asyncio.wait_for(read_close(session, receive), 5)  # nothing raised, no hang
    assert session.client_close_code is None


def test_a_text_frame_not_utf8_is_the_servers_close_in_the_record(stt_server) -> None:  # type: ignore[no-untyped-def]
    """The WebSocket layer closes 1007 itself; the session saw the client go, and the
    record said ``client_disconnected`` with ``client_close_code`` 1007 (the server's)."""
    import struct

    from tests.common.test_ws_protocol import answer_to, frame
    from tests.conftest import STT_TOKEN

    data = answer_to(stt_server.port, frame(0x1, b'{"type": "fin\xffalize"}'), path="/stt",
                     token=STT_TOKEN, rid="stt-not-utf8")
    assert data[:2] == b"\x88\x02" and struct.unpack("!H", data[2:4])[0] == 1007, data
    record = stt_server.wait_usage("stt-not-utf8")
    assert (record["error"], record["close_code"]) == ("invalid_utf8", 1007), record
    assert record["close_reason"] == "a text frame that is not UTF-8"
    assert "client_disconnected" not in record
    assert metric(stt_server, "rymi_stt_session_closes_total", code="1007") >= 1
