"""STT rules: the WebSocket session as Rymi drives it (PCM16 16 kHz in, JSON events out)."""

from __future__ import annotations

import asyncio
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

from .client import Target, check_tls, unverified_context
from .report import Report

CH = "stt"
EXPECTED = "he was not an ill disposed young man"
EVENT_TYPES = {"interim", "final", "utterance_end", "speech_started", "error"}
RATE = 16000
ENDPOINT_MARGIN_S = 1.5  # silence sent beyond the endpoint (500 ms default: 2 s in all)


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

    def types(self, since: int = 0) -> list[str]:
        return [e["type"] for _, e in self.events[since:]]

    async def wait_for(self, kind: str, since: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while kind not in self.types(since):
            self.arrived.clear()
            left = deadline - time.monotonic()
            if left <= 0 or self.reader.done():
                return False
            try:
                await asyncio.wait_for(self.arrived.wait(), left)
            except TimeoutError:
                return False
        return True

    async def send_audio(self, pcm: bytes, speed: float, frame: int = 3200) -> None:
        """Frames alternate odd sizes, so samples are split across frames."""
        pos, n = 0, 0
        while pos < len(pcm):
            size = frame + (1 if n % 2 == 0 else -1)
            await self.ws.send(pcm[pos:pos + size])
            pos += size
            n += 1
            await asyncio.sleep(size / (2 * RATE) / speed)


async def _open(target: Target, token: str | None = "__default__") -> ClientConnection:
    ssl: SSLContext | bool | None = None
    if target.secure:  # websockets takes a context or True for wss, never False
        ssl = unverified_context() if target.verify is False else target.verify
    return await connect(target.url, additional_headers=target.headers(token),
                         ssl=ssl, open_timeout=20, max_size=2**22)


def check_stt(report: Report, target: Target, timeout: float = 30) -> None:
    check_tls(report, CH, target)
    asyncio.run(_check(report, target, timeout))


async def _check(report: Report, target: Target, timeout: float) -> None:
    if not await _auth(report, target):
        return
    await _auto_endpoint(report, target, timeout)
    await _finalize_mid_utterance(report, target, timeout)
    await _noise(report, target, timeout)


async def _auth(report: Report, target: Target) -> bool:
    cases = [("missing", None), ("wrong", "rymi-check-wrong")] if target.token else []
    for name, token in cases:
        try:
            ws = await _open(target, token)
            await ws.close()
            report.add(CH, f"auth.{name}_token_401", False, "handshake accepted", "common")
        except websockets.InvalidStatus as exc:
            code = exc.response.status_code
            report.add(CH, f"auth.{name}_token_401", code == 401, f"handshake HTTP {code}",
                       "common")
    try:
        ws = await _open(target)
        await ws.close()
        return report.add(CH, "handshake", True, "WebSocket accepted")
    except (websockets.InvalidStatus, websockets.InvalidHandshake, OSError) as exc:
        return report.add(CH, "handshake", False, f"{type(exc).__name__}: {exc}")


async def _auto_endpoint(report: Report, target: Target, timeout: float) -> None:
    s = Session(await _open(target))
    await s.send_audio(speech_pcm(), speed=2.0)
    # The caller falls silent for the URL's endpointing_ms and a margin for the decode.
    quiet_s = url_endpointing_ms(target.url) / 1000 + ENDPOINT_MARGIN_S
    await s.send_audio(b"\0\0" * int(RATE * quiet_s), speed=1.0)
    got_end = await s.wait_for("utterance_end", 0, timeout)
    t = s.types()
    report.add(CH, "events.json", not s.bad_frames, f"unparseable/unknown: {s.bad_frames[:2]}")
    report.add(CH, "endpoint.automatic", got_end and "final" in t,
               f"events without finalize: {t[:12]}")
    if "speech_started" in t and "interim" in t:
        report.add(CH, "order.speech_started_before_interim",
                   t.index("speech_started") < t.index("interim"), f"{t[:6]}")
    elif "speech_started" not in t:
        report.add(CH, "order.speech_started_before_interim", False,
                   "no speech_started (optional in Rymi's page; it improves barge-in)",
                   warn_only=True)
    finals = [e for _, e in s.events if e["type"] == "final"]
    if finals:
        f = finals[0]
        conf = f.get("confidence")
        report.add(CH, "final.fields", isinstance(f.get("text"), str) and
                   (conf is None or (isinstance(conf, (int, float)) and 0 <= conf <= 1)),
                   f"{f}")
        if conf is None or f.get("language_code") is None:
            report.add(CH, "final.optional_fields", False, "confidence/language_code missing",
                       warn_only=True)
        asked = url_language(target.url)
        if asked is not None:  # a URL option must be honoured, not ignored
            got = str(f.get("language_code") or "")
            report.add(CH, "options.language_honoured", got.split("-")[0].lower() == asked,
                       f"URL asks for {asked!r}; final says language_code={got!r}", "options")
        if asked in (None, "en"):
            heard, want = set(words(f.get("text", ""))), words(EXPECTED)
            hit = sum(w in heard for w in want) / len(want)
            report.add(CH, "final.transcript", hit >= 0.6, f"heard {f.get('text')!r} "
                       f"({hit:.0%} of the expected words)")
        report.add(CH, "order.final_then_utterance_end",
                   t.index("final") < t.index("utterance_end") if got_end else False, f"{t}")
    n = len(s.events)
    await s.ws.send(json.dumps({"type": "keepalive"}))
    await s.ws.send("{not json")
    got_err = await s.wait_for("error", n, 10)
    report.add(CH, "control.bad_json_error_event", got_err, f"events after bad JSON: "
               f"{s.types(n)}")
    n = len(s.events)
    await s.ws.send(json.dumps({"type": "finalize"}))
    await s.wait_for("utterance_end", n, timeout)
    await asyncio.sleep(0.5)
    after = s.types(n)
    report.add(CH, "finalize.nothing_pending", after.count("final") == 1 and
               after[-1:] == ["utterance_end"] and not s.reader.done(),
               f"session survived bad JSON; finalize answered with {after}")
    await s.ws.send(json.dumps({"type": "close"}))
    try:
        await asyncio.wait_for(s.reader, 10)
    except TimeoutError:
        pass
    code = s.ws.close_code
    report.add(CH, "close.code_1000", code == 1000, f"close code {code}")


async def _finalize_mid_utterance(report: Report, target: Target, timeout: float) -> None:
    s = Session(await _open(target))
    await s.send_audio(speech_pcm(), speed=4.0)
    await s.ws.send(json.dumps({"type": "finalize"}))
    await s.wait_for("utterance_end", 0, timeout)
    await asyncio.sleep(1.0)  # a second final would arrive here
    t = s.types()
    finals = [e for _, e in s.events if e["type"] == "final"]
    report.add(CH, "finalize.one_final_with_text", len(finals) == 1 and
               bool(finals[0].get("text", "").strip()) and t[-1:] == ["utterance_end"],
               f"events {t}; finals {[f.get('text') for f in finals]}")
    await s.ws.close()


async def _noise(report: Report, target: Target, timeout: float) -> None:
    s = Session(await _open(target))
    await s.send_audio(noise_pcm(), speed=2.0)
    await s.ws.send(json.dumps({"type": "finalize"}))
    await s.wait_for("utterance_end", 0, timeout)
    texts = [e.get("text", "") for _, e in s.events if e["type"] in ("interim", "final")]
    report.add(CH, "noise.no_words", not any(t.strip() for t in texts) and
               "speech_started" not in s.types(),
               f"events on 2 s of line noise: {s.types()}; texts {texts}")
    await s.ws.close()
