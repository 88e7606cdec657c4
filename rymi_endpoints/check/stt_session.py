"""The checker's STT client: the recordings it sends and one timestamped session."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import wave
from importlib import resources
from ssl import SSLContext
from typing import Any

import numpy as np
import websockets
from websockets.asyncio.client import ClientConnection, connect

from .client import Target, unverified_context

EVENT_TYPES = {"interim", "final", "utterance_end", "speech_started", "error"}
RATE = 16000
# While it waits for an event, the check sends a keepalive this often (the contract's
# {"type":"keepalive"}, accepted and ignored).
KEEPALIVE_S = 5.0


def speech_pcm() -> bytes:
    with resources.as_file(resources.files(__package__) / "data" / "speech.wav") as p:
        with wave.open(str(p)) as w:
            return w.readframes(w.getnframes())


def noise_pcm(seconds: float = 2.0) -> bytes:
    rng = np.random.default_rng(1)
    return (rng.normal(0, 150, int(RATE * seconds))).astype("<i2").tobytes()


def url_language(url: str) -> str | None:
    """The single language a URL asks for (``?language=es-ES`` -> ``es``), if any."""
    from urllib.parse import parse_qs, urlsplit
    values = parse_qs(urlsplit(url).query).get("language", [])
    if len(values) != 1 or "," in values[0] or values[0].lower() == "auto":
        return None
    return values[0].replace("_", "-").split("-")[0].lower()


def url_endpointing_ms(url: str, default: int = 500) -> int:
    """The silence a URL asks for before the automatic final (``?endpointing_ms=``)."""
    from urllib.parse import parse_qs, urlsplit
    values = parse_qs(urlsplit(url).query).get("endpointing_ms", [])
    return int(values[0]) if len(values) == 1 and values[0].strip().isdigit() else default


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]", " ", text.lower()).split()


class SessionClosed(Exception):
    """The server closed a session while the check still had something to send."""

    def __init__(self, session: Session, exc: websockets.ConnectionClosed) -> None:
        super().__init__(str(exc))
        self.session, self.rcvd = session, exc.rcvd

    def evidence(self, name: str) -> str:
        said = (f"code {self.rcvd.code}, reason {self.rcvd.reason!r}" if self.rcvd
                else "no close frame: the connection dropped")
        return (f"{name}: the server closed the session ({said}) while the check was "
                f"still sending; events before it {self.session.types()[-8:]}")


class Session:
    """One socket with a reader that timestamps every event."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.bad_frames: list[str] = []
        self.arrived = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if isinstance(msg, bytes):
                    self.bad_frames.append(f"binary frame of {len(msg)} bytes")
                    continue
                try:
                    ev = json.loads(msg)
                    assert isinstance(ev, dict) and ev.get("type") in EVENT_TYPES
                except (ValueError, AssertionError):
                    self.bad_frames.append(msg[:80])
                    continue
                self.events.append((time.monotonic(), ev))
                self.arrived.set()
        except websockets.ConnectionClosed:
            pass

    async def send(self, data: str | bytes) -> None:
        try:
            await self.ws.send(data)
        except websockets.ConnectionClosed as exc:
            raise SessionClosed(self, exc) from exc

    def types(self, since: int = 0) -> list[str]:
        return [e["type"] for _, e in self.events[since:]]

    async def wait_for(self, kind: str, since: int, timeout: float) -> bool:
        """Wait for an event, keeping the line alive as a caller's stream would: waiting
        in silence for as long as a server's idle timeout (30 s here and by default)
        got the session cut, and the report named the cut, not the answer that never
        came."""
        deadline = time.monotonic() + timeout
        while kind not in self.types(since):
            self.arrived.clear()
            left = deadline - time.monotonic()
            if left <= 0 or self.reader.done():
                return False
            try:
                await asyncio.wait_for(self.arrived.wait(), min(left, KEEPALIVE_S))
            except TimeoutError:
                if time.monotonic() >= deadline:
                    return False
                with contextlib.suppress(SessionClosed):  # (the reader sees the close)
                    await self.send(json.dumps({"type": "keepalive"}))
        return True

    async def send_audio(self, pcm: bytes, speed: float, frame: int = 3200) -> None:
        """Frames alternate odd sizes, so samples are split across frames."""
        pos, n = 0, 0
        while pos < len(pcm):
            size = frame + (1 if n % 2 == 0 else -1)
            await self.send(pcm[pos:pos + size])
            pos += size
            n += 1
            await asyncio.sleep(size / (2 * RATE) / speed)


async def open_socket(target: Target, token: str | None = "__default__") -> ClientConnection:
    ssl: SSLContext | bool | None = None
    if target.secure:  # websockets takes a context or True for wss, never False
        ssl = unverified_context() if target.verify is False else target.verify
    return await connect(target.url, additional_headers=target.headers(token),
                         ssl=ssl, open_timeout=20, max_size=2**22)
