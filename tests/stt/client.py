"""A small Rymi-like STT client for tests and the benchmark: stream PCM, collect events."""

from __future__ import annotations

import asyncio
import json
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import websockets

from .checks import assert_well_ordered

AUDIO = Path(__file__).resolve().parents[1] / "data" / "audio"
MULTILINGUAL = AUDIO.parent / "audio-multilingual"
RATE = 16000


def load_pcm(name: str | Path) -> bytes:
    """16 kHz mono PCM16 bytes of a clip (the clips in tests/data/audio are 16 kHz)."""
    path = Path(name) if Path(name).is_absolute() else AUDIO / name
    with wave.open(str(path)) as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1 and w.getsampwidth() == 2
        return w.readframes(w.getnframes())


def ulaw_roundtrip(pcm16: np.ndarray) -> np.ndarray:
    """G.711 mu-law encoded and decoded, as a phone line does (Sun's g711.c, vectorised;
    equal to Python's audioop on every 16-bit value)."""
    x = pcm16.astype(np.int32) >> 2
    magnitude = np.minimum(np.minimum(np.abs(x), 8159) + 33, 8191)
    segment = np.clip(np.floor(np.log2(magnitude)).astype(np.int32) - 5, 0, 7)
    level = ((((magnitude >> (segment + 1)) & 0xF) << 3) + 0x84) << segment
    return np.where(x < 0, 0x84 - level, level - 0x84).astype(np.int16)


def phone_band(pcm: bytes) -> bytes:
    """A clip as a phone call reaches Rymi: 8 kHz, 300-3400 Hz, G.711 mu-law, sent on as
    16 kHz PCM16 (so nothing above 4 kHz)."""
    import soxr
    x = soxr.resample(np.frombuffer(pcm, "<i2").astype(np.float32) / 32768, RATE, 8000)
    spectrum, freqs = np.fft.rfft(x), np.fft.rfftfreq(len(x), 1 / 8000)
    spectrum[(freqs < 300) | (freqs > 3400)] = 0
    line = np.round(np.clip(np.fft.irfft(spectrum, len(x)), -1, 1) * 32767)
    x = ulaw_roundtrip(line.astype(np.int16)).astype(np.float32) / 32768
    y = soxr.resample(x, 8000, RATE)
    return np.round(np.clip(y, -1, 1) * 32767).astype("<i2").tobytes()


def silence(seconds: float) -> bytes:
    return bytes(2 * int(seconds * RATE))


def manifest(folder: Path = AUDIO) -> list[dict[str, str]]:
    """A clip folder's MANIFEST.tsv (``MULTILINGUAL``'s has a ``language`` column)."""
    lines = (folder / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()
    head = lines[0].split("\t")
    return [dict(zip(head, line.split("\t"), strict=False)) for line in lines[1:] if line]


def speech_end_s(pcm: bytes, threshold: float = 0.02) -> float:
    """Where a clip's speech ends (last 20 ms frame above an energy floor), for timing."""
    x = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768
    frames = len(x) // 320
    rms = np.sqrt((x[: frames * 320].reshape(frames, 320) ** 2).mean(axis=1))
    loud = np.nonzero(rms > max(threshold * rms.max(), 1e-4))[0]
    return float((loud[-1] + 1) * 0.02) if len(loud) else 0.0


@dataclass
class Received:
    events: list[dict[str, Any]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""

    def kinds(self) -> list[str]:
        return [e["type"] for e in self.events]

    def finals(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == "final"]

    def text(self) -> str:
        return " ".join(e["text"] for e in self.finals() if e["text"]).strip()


async def collect(ws: Any, into: Received, t0: float = 0.0) -> None:
    """Read events until the socket closes."""
    try:
        async for message in ws:
            into.events.append(json.loads(message))
            into.times.append(time.monotonic() - t0)
    except websockets.ConnectionClosed:
        pass
    into.close_code = ws.close_code
    into.close_reason = ws.close_reason or ""


async def send_paced(ws: Any, pcm: bytes, *, chunk_bytes: int = 640, speed: float = 1.0,
                     t0: float | None = None) -> None:
    """Send ``pcm`` in chunks at ``speed`` times real time (0 or less: as fast as possible)."""
    start = time.monotonic() if t0 is None else t0
    sent_s = 0.0
    for i in range(0, len(pcm), chunk_bytes):
        chunk = pcm[i:i + chunk_bytes]
        await ws.send(chunk)
        sent_s += len(chunk) / (2 * RATE)
        if speed > 0:
            delay = start + sent_s / speed - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)


async def transcribe(url: str, pcm: bytes, *, speed: float = 0, chunk_bytes: int = 3200,
                     finalize: bool = False, tail_s: float = 0.0,
                     headers: dict[str, str] | None = None) -> Received:
    """Stream one clip, then (optionally) finalize, then close; returns what came back."""
    got = Received()
    async with websockets.connect(url, additional_headers=headers or {},
                                  max_size=2**22) as ws:
        reader = asyncio.create_task(collect(ws, got, time.monotonic()))
        await send_paced(ws, pcm + silence(tail_s), chunk_bytes=chunk_bytes, speed=speed)
        if finalize:
            await ws.send(json.dumps({"type": "finalize"}))
        await ws.send(json.dumps({"type": "close"}))
        await asyncio.wait_for(reader, 120)
    return got


async def session(url: str, auth: dict[str, str], steps: list, timeout: float = 60) -> Received:
    """Run a scripted session: bytes are streamed at full speed, dicts sent as JSON,
    floats are pauses; the session ends with close and the events are returned."""
    got = Received()
    async with websockets.connect(url, additional_headers=auth) as ws:
        reader = asyncio.create_task(collect(ws, got))
        for step in steps:
            if isinstance(step, bytes):
                await send_paced(ws, step, chunk_bytes=4001, speed=0)
            elif isinstance(step, dict):
                await ws.send(json.dumps(step))
            elif isinstance(step, str):
                await ws.send(step)
            else:
                await asyncio.sleep(step)
        await ws.send(json.dumps({"type": "close"}))
        await asyncio.wait_for(reader, timeout)
    assert_well_ordered(got.events)
    return got
