"""STT rules: the WebSocket session as Rymi drives it (PCM16 16 kHz in, JSON events out)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from typing import Any

import websockets

from .client import Target, check_tls
from .report import Report
from .stt_session import (
    RATE,
    Session,
    SessionClosed,
    noise_pcm,
    open_socket,
    speech_pcm,
    url_endpointing_ms,
    url_language,
    words,
)

CH = "stt"
EXPECTED = "he was not an ill disposed young man"
ENDPOINT_MARGIN_S = 1.5  # silence sent beyond the endpoint (500 ms default: 2 s in all)
# A finalize's final: the decode of a 3 s utterance (well under a second on a CPU).
FINALIZE_PROMPT_S = 5.0


def check_stt(report: Report, target: Target, timeout: float = 30) -> None:
    check_tls(report, CH, target)
    asyncio.run(_check(report, target, timeout))


async def _check(report: Report, target: Target, timeout: float) -> None:
    if not await _auth(report, target):
        return
    await _unknown_option(report, target)
    sessions, closed = [], []
    for run in (_auto_endpoint, _finalize_mid_utterance, _noise):
        try:
            sessions.append(await run(report, target, timeout))
        except SessionClosed as exc:  # the rules of its events still apply
            sessions.append(exc.session)
            closed.append(exc.evidence(run.__name__.strip("_")))
    report.add(CH, "session.open_until_client_closes", not closed, closed[0] if closed else
               "no session was closed by the server while the client still spoke")
    broken = [why for s in sessions if (why := turn_order_problem(s.events))]
    report.add(CH, "order.turns", not broken, broken[0] if broken else
               "each speech_started closed by one final, then utterance_end; no event of "
               "an utterance after its final")


def turn_order_problem(events: list[tuple[float, dict[str, Any]]]) -> str | None:
    """The first break of the contract's turn order in one session's events, or None:
    every speech_started closed by exactly one final and then utterance_end, interims
    only inside an utterance, no speech_started while one is open. (A server that sends
    no speech_started at all has its interims inside the finals they lead to.)"""
    uses_started = any(e["type"] == "speech_started" for _, e in events)
    state = "idle"  # idle, open (speech_started seen), closed (final seen, end owed)
    seen: list[str] = []
    for _, e in events:
        kind = e["type"]
        seen.append(kind)
        where = f"events {seen[-6:]}"
        if kind == "speech_started":
            if state != "idle":
                return f"speech_started while an utterance is {state}: {where}"
            state = "open"
        elif kind == "interim":
            if state == "closed" or (uses_started and state == "idle"):
                return f"an interim outside an utterance (after its final): {where}"
        elif kind == "final":
            if state == "closed":
                return f"two finals before utterance_end: {where}"
            state = "closed"
        elif kind == "utterance_end":
            if state != "closed":
                return f"utterance_end without a final before it: {where}"
            state = "idle"
    if state != "idle":
        return f"the session ended with an utterance {state} (no final/utterance_end): " \
               f"events {seen[-6:]}"
    return None


async def _unknown_option(report: Report, target: Target) -> None:
    """A typo in a saved URL must be loud: an unknown option is a 400 on the handshake."""
    url = target.with_unknown_option()
    try:
        ws = await open_socket(dataclasses.replace(target, url=url))
        await ws.close()
        report.add(CH, "options.unknown_refused", False, f"{url}: handshake accepted",
                   "options")
    except websockets.InvalidStatus as exc:
        code = exc.response.status_code
        report.add(CH, "options.unknown_refused", code == 400, f"handshake HTTP {code}",
                   "options")


async def _auth(report: Report, target: Target) -> bool:
    cases = [("missing", None), ("wrong", "rymi-check-wrong")] if target.token else []
    for name, token in cases:
        try:
            ws = await open_socket(target, token)
            await ws.close()
            report.add(CH, f"auth.{name}_token_401", False, "handshake accepted", "common")
        except websockets.InvalidStatus as exc:
            code = exc.response.status_code
            report.add(CH, f"auth.{name}_token_401", code == 401, f"handshake HTTP {code}",
                       "common")
    try:
        ws = await open_socket(target)
        await ws.close()
        return report.add(CH, "handshake", True, "WebSocket accepted")
    except (websockets.InvalidStatus, websockets.InvalidHandshake, OSError) as exc:
        return report.add(CH, "handshake", False, f"{type(exc).__name__}: {exc}")


async def _auto_endpoint(report: Report, target: Target, timeout: float) -> Session:
    s = Session(await open_socket(target))
    await s.send_audio(speech_pcm(), speed=2.0)
    speech_sent = time.monotonic()  # the recording ends where its speech does
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
        got = str(f.get("language_code") or "")
        if asked is not None:  # a URL option must be honoured, not ignored
            report.add(CH, "options.language_honoured", got.split("-")[0].lower() == asked,
                       f"URL asks for {asked!r}; final says language_code={got!r}", "options")
        elif got:
            report.add(CH, "final.language_code", got.split("-")[0].lower() == "en",
                       f"English speech; final says language_code={got!r}")
        _endpointing(report, target, s, speech_sent)
        if asked in (None, "en"):
            heard, want = set(words(f.get("text", ""))), words(EXPECTED)
            hit = sum(w in heard for w in want) / len(want)
            report.add(CH, "final.transcript", hit >= 0.6, f"heard {f.get('text')!r} "
                       f"({hit:.0%} of the expected words)")
        report.add(CH, "order.final_then_utterance_end",
                   t.index("final") < t.index("utterance_end") if got_end else False, f"{t}")
    n = len(s.events)
    await s.send(json.dumps({"type": "keepalive"}))
    await s.send("{not json")
    got_err = await s.wait_for("error", n, 10)
    report.add(CH, "control.bad_json_error_event", got_err, f"events after bad JSON: "
               f"{s.types(n)}")
    n = len(s.events)
    await s.send(json.dumps({"type": "finalize"}))
    await s.wait_for("utterance_end", n, timeout)
    await asyncio.sleep(0.5)
    after = s.types(n)
    report.add(CH, "finalize.nothing_pending", after.count("final") == 1 and
               after[-1:] == ["utterance_end"] and not s.reader.done(),
               f"session survived bad JSON; finalize answered with {after}")
    await s.send(json.dumps({"type": "close"}))
    try:
        await asyncio.wait_for(s.reader, 10)
    except TimeoutError:
        pass
    code = s.ws.close_code
    report.add(CH, "close.code_1000", code == 1000, f"close code {code}")
    return s


def _endpointing(report: Report, target: Target, s: Session, speech_sent: float) -> None:
    """``?endpointing_ms=`` honoured: the automatic final waits for that much silence
    (less the tail the VAD may end early on), not the server's own default."""
    want = url_endpointing_ms(target.url, default=0) / 1000
    if not want:  # the URL sets none
        return
    at = next((t for t, e in s.events if e["type"] == "final"), None)
    if at is None:
        return
    waited = at - speech_sent
    report.add(CH, "options.endpointing_honoured", waited >= 0.8 * want - 0.1,
               f"URL asks for {want * 1000:.0f} ms of silence; the final came "
               f"{waited * 1000:.0f} ms after the speech ended", "options")


async def _finalize_mid_utterance(report: Report, target: Target, timeout: float) -> Session:
    s = Session(await open_socket(target))
    await s.send_audio(speech_pcm(), speed=4.0)
    asked = time.monotonic()
    await s.send(json.dumps({"type": "finalize"}))
    await s.wait_for("utterance_end", 0, timeout)
    answered = next((t for t, e in s.events if e["type"] == "final"), None)
    took = None if answered is None else answered - asked
    report.add(CH, "finalize.prompt", took is not None and took <= FINALIZE_PROMPT_S,
               f"final {'never came' if took is None else f'{took * 1000:.0f} ms'} after "
               f"the finalize (at most {FINALIZE_PROMPT_S:g} s: the caller waits on it)")
    await asyncio.sleep(1.0)  # a second final would arrive here
    t = s.types()
    finals = [e for _, e in s.events if e["type"] == "final"]
    report.add(CH, "finalize.one_final_with_text", len(finals) == 1 and
               bool(finals[0].get("text", "").strip()) and t[-1:] == ["utterance_end"],
               f"events {t}; finals {[f.get('text') for f in finals]}")
    await s.ws.close()
    return s


async def _noise(report: Report, target: Target, timeout: float) -> Session:
    s = Session(await open_socket(target))
    await s.send_audio(noise_pcm(), speed=2.0)
    await s.send(json.dumps({"type": "finalize"}))
    await s.wait_for("utterance_end", 0, timeout)
    texts = [e.get("text", "") for _, e in s.events if e["type"] in ("interim", "final")]
    report.add(CH, "noise.no_words", not any(t.strip() for t in texts) and
               "speech_started" not in s.types(),
               f"events on 2 s of line noise: {s.types()}; texts {texts}")
    await s.ws.close()
    return s
