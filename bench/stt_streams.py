"""Real-time STT streams against our server, timed the way a caller hears it.

Each stream sends a clip at real-time pace in 20 ms frames, then keeps sending silence
(a phone line never stops), and either sends ``finalize`` 300 ms after the clip's speech
ends or waits for the server's own endpoint. Times are taken on the client.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import websockets

FRAME = 640  # 20 ms of PCM16 at 16 kHz
RATE = 16000


def speech_bounds(pcm: bytes) -> tuple[float, float]:
    """(start, end) of speech in seconds by frame energy: the caller's words, not VAD's.

    A 20 ms frame is speech when it is within 34 dB of the loudest frame, so a quiet word
    ending still counts. Every benchmark measures "end of speech" with this one function.
    """
    x = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768
    n = len(x) // 320
    rms = np.sqrt((x[: n * 320].reshape(n, 320) ** 2).mean(axis=1))
    loud = np.nonzero(rms > max(0.02 * rms.max(), 1e-4))[0]
    if not len(loud):
        return 0.0, 0.0
    return float(loud[0] * 0.02), float((loud[-1] + 1) * 0.02)


@dataclass
class StreamResult:
    clip: str
    finalize_to_final: float | None = None
    final_text: str = ""
    speech_end_to_utterance_end: float | None = None
    first_interim: float | None = None  # after the speech onset
    interim_intervals: list[float] = field(default_factory=list)
    text: str = ""
    error: str | None = None
    refused: int | None = None  # HTTP status when the handshake was refused


async def stream_clip(url: str, clip: str, pcm: bytes, *, finalize: bool,
                      tail_s: float = 1.5, headers: dict[str, str] | None = None
                      ) -> StreamResult:
    result = StreamResult(clip)
    start_s, end_s = speech_bounds(pcm)
    events: list[tuple[float, dict[str, Any]]] = []
    try:
        async with websockets.connect(url, additional_headers=headers or {}) as ws:
            t0 = time.monotonic()

            async def read() -> None:
                async for message in ws:
                    events.append((time.monotonic() - t0, json.loads(message)))

            reader = asyncio.create_task(read())
            audio = pcm + bytes(2 * int(tail_s * RATE))
            finalize_at: float | None = (end_s + 0.3) if finalize else None
            sent_finalize: float | None = None
            for i in range(0, len(audio), FRAME):
                due = t0 + i / (2 * RATE)
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if finalize_at is not None and sent_finalize is None and i / (2 * RATE) >= \
                        finalize_at:
                    await ws.send(json.dumps({"type": "finalize"}))
                    sent_finalize = time.monotonic() - t0
                await ws.send(audio[i:i + FRAME])
            await ws.send(json.dumps({"type": "close"}))
            await asyncio.wait_for(reader, 60)
            if ws.close_code != 1000:
                result.error = f"closed {ws.close_code}"
    except websockets.InvalidStatus as exc:
        result.refused = exc.response.status_code
        result.error = f"refused {result.refused}"
        return result
    except (OSError, websockets.WebSocketException, TimeoutError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        return result
    _score(result, events, start_s, end_s, sent_finalize)
    return result


def _score(result: StreamResult, events: list[tuple[float, dict[str, Any]]], start_s: float,
           end_s: float, sent_finalize: float | None) -> None:
    finals = [(t, e) for t, e in events if e["type"] == "final"]
    result.text = " ".join(e["text"] for _, e in finals if e["text"]).strip()
    if any(e["type"] == "error" for _, e in events):
        result.error = next(e["message"] for _, e in events if e["type"] == "error")
    if sent_finalize is not None:
        after = [(t, e) for t, e in finals if t >= sent_finalize]
        if after:
            result.finalize_to_final = after[0][0] - sent_finalize
            result.final_text = after[0][1]["text"]
    else:
        ends = [t for t, e in events if e["type"] == "utterance_end" and t >= end_s]
        if ends:
            result.speech_end_to_utterance_end = ends[0] - end_s
    interims = [t for t, e in events if e["type"] == "interim"]
    if interims:
        result.first_interim = interims[0] - start_s
    last: float | None = None
    for t, e in events:
        if e["type"] == "interim":
            if last is not None:
                result.interim_intervals.append(t - last)
            last = t
        elif e["type"] in ("final", "speech_started"):
            last = None


def pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None
