"""TTS rules: JSON in, chunked raw PCM16 out, as Rymi forwards it into a call."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np

from .client import Target, check_error, check_http_auth, check_tls
from .report import Report

CH = "tts"
MAX_AUDIO_S = 30  # the sentence is ~5 s: a longer body is wrong, and is read no further
SENTENCES = "Hello, thanks for calling. Your order shipped this morning and arrives on Friday."


def _req(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"text": SENTENCES, "language": "en-US", "format": "pcm_24000"}
    body.update(over)
    return body


def check_tts(report: Report, target: Target, voice: str | None = None,
              timeout: float = 60) -> None:
    check_tls(report, CH, target)
    with httpx.Client(verify=target.verify, timeout=timeout) as client:
        if not _auth(report, client, target):
            return
        voices = _voices(report, client, target)
        voice = voice or (voices[0] if voices else None)
        lengths = {}
        for rate in (24000, 16000, 8000):
            lengths[rate] = _synthesise(report, client, target, rate, voice)
        if all(lengths.values()):
            # the same text at two rates must be the same duration: the rate is honoured
            d24, d16, d8 = (lengths[r] / r for r in (24000, 16000, 8000))
            ok = abs(d16 - d24) / d24 < 0.1 and abs(d8 - d24) / d24 < 0.1
            report.add(CH, "pcm.rate_honoured", ok,
                       f"durations {d24:.2f}s @24k, {d16:.2f}s @16k, {d8:.2f}s @8k")
        _url_format(report, client, target)
        _errors(report, client, target, voice)


def _auth(report: Report, client: httpx.Client, target: Target) -> bool:
    return check_http_auth(report, CH, client, target, _req(text="Hi."))


def _voices(report: Report, client: httpx.Client, target: Target) -> list[str]:
    base = target.url.rstrip("/")
    url = base + "/voices" if base.endswith("/tts") else target.sibling("/voices")
    r = client.get(url, headers=target.headers())
    try:
        body = r.json()
        ids = [v["id"] for v in body["data"]]
        ok = r.status_code == 200 and body.get("object") == "list" and bool(ids) and all(
            {"id", "language", "sample_rate"} <= v.keys() for v in body["data"])
    except (ValueError, KeyError, TypeError):
        ids, ok = [], False
    report.add(CH, "voices.list", ok, f"GET {url}: HTTP {r.status_code} {ids[:4]}",
               warn_only=True)
    return ids


def _synthesise(report: Report, client: httpx.Client, target: Target, rate: int,
                voice: str | None) -> int:
    tag = f"pcm_{rate}"
    body = _req(format=tag, **({"voice": voice} if voice else {}))
    chunks: list[bytes] = []
    with client.stream("POST", target.url, json=body, headers=target.headers()) as r:
        if r.status_code != 200:
            report.add(CH, f"{tag}.status", False, f"HTTP {r.status_code} {r.read()[:160]!r}")
            return 0
        left = MAX_AUDIO_S * rate * 2  # a body that never ends is read no further
        for c in r.iter_raw():
            if c:
                chunks.append(c)
                left -= len(c)
            if left < 0:
                break
        headers = r.headers
    data = b"".join(chunks)
    report.add(CH, f"{tag}.status", True, "HTTP 200")
    ctype = headers.get("content-type", "")
    report.add(CH, f"{tag}.content_type", ctype.startswith("application/octet-stream"), ctype)
    chunked = headers.get("transfer-encoding", "").lower() == "chunked" and \
        "content-length" not in headers
    report.add(CH, f"{tag}.chunked", chunked,
               f"transfer-encoding={headers.get('transfer-encoding')}, "
               f"content-length={headers.get('content-length')}")
    if data[:4] == b"RIFF" or data[:4] == b"OggS" or data[:3] == b"ID3":
        report.add(CH, f"{tag}.raw_pcm", False,
                   f"body starts with {data[:4]!r}: a container file, not raw PCM16")
        return 0
    report.add(CH, f"{tag}.raw_pcm", len(data) > 0 and len(data) % 2 == 0,
               f"{len(data)} bytes in {len(chunks)} chunks (even: whole samples)")
    samples = np.frombuffer(data[: len(data) - len(data) % 2], dtype="<i2").astype(np.float32)
    seconds = len(samples) / rate
    # ~13 words: anything from 2 to 12 s of audio is speech at a plausible pace
    report.add(CH, f"{tag}.duration", 2.0 <= seconds <= 12.0, f"{seconds:.2f} s of audio")
    rms = float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0
    report.add(CH, f"{tag}.audible", rms > 200, f"RMS {rms:.0f} (int16)")
    problem = _not_pcm16_mono(samples)
    report.add(CH, f"{tag}.pcm16_mono", problem is None,
               problem or "reads as speech in signed 16-bit little-endian mono")
    if not chunks:
        return 0
    first = np.frombuffer(chunks[0][: len(chunks[0]) - len(chunks[0]) % 2], dtype="<i2")
    peak = int(np.abs(first.astype(np.int32)).max()) if len(first) else 0
    report.add(CH, f"{tag}.first_chunk_speech", peak > 1000,
               f"first chunk {len(chunks[0])} bytes, peak {peak} (no silence sent ahead)")
    return len(samples)


def _not_pcm16_mono(samples: np.ndarray) -> str | None:
    """What the body is instead of PCM16 LE mono speech, or None. Speech read right has
    neighbouring samples alike (lag-1 correlation 0.65-0.97 on real recordings at 8-24
    kHz); float32 or big-endian samples read as PCM16 LE are noise (-0.06 to 0.36), which
    the duration and loudness checks let through; two equal channels interleaved repeat
    every sample."""
    if len(samples) < 1000:
        return None  # judged by the duration check
    x = samples.astype(np.float64) - samples.mean()
    energy = float(np.dot(x, x))
    r1 = float(np.dot(x[:-1], x[1:])) / energy if energy else 0.0
    if r1 < 0.45:
        return (f"neighbouring samples uncorrelated (lag-1 {r1:.2f}): noise, not speech, "
                "read as PCM16 LE (float32 or big-endian samples?)")
    pairs = samples[: len(samples) // 2 * 2].reshape(-1, 2)
    loud = pairs[np.abs(pairs[:, 0]) > 500]
    if len(loud) > 100 and float(np.mean(loud[:, 0] == loud[:, 1])) > 0.5:
        return "every sample repeated: two channels interleaved (stereo), not mono"
    return None


def _url_format(report: Report, client: httpx.Client, target: Target) -> None:
    """``?format=pcm_16000`` in the saved URL is the default when the body names none."""
    from urllib.parse import parse_qs, urlsplit
    fmt = parse_qs(urlsplit(target.url).query).get("format", [None])[0]
    if not fmt or not fmt.startswith("pcm_") or not fmt[4:].isdigit():
        return
    rate = int(fmt[4:])
    sizes = {}
    for label, body in (("url", {"text": SENTENCES}),
                        ("explicit", {"text": SENTENCES, "format": fmt})):
        with client.stream("POST", target.url, json=body, headers=target.headers()) as r:
            data = r.read()
        if r.status_code != 200:
            report.add(CH, "options.format_honoured", False, f"HTTP {r.status_code}",
                       "options")
            return
        sizes[label] = len(data)
    ratio = sizes["url"] / max(1, sizes["explicit"])
    report.add(CH, "options.format_honoured", 0.9 <= ratio <= 1.1,
               f"no format in the body: {sizes['url']} bytes; format={fmt} in the body: "
               f"{sizes['explicit']} bytes (the URL's {rate} Hz must be the default)",
               "options")


# Twice the contract's default limit, in short sentences: a server that does not refuse
# it then synthesises sentence by sentence. One 2,000-word sentence ("word " * 2000) was
# one piper inference that grew to 20 GB before the kernel killed it, and starved every
# other process on the machine meanwhile: a check must not take a server down.
TOO_LONG = "This sentence is one of many. " * 334  # 10,020 characters


def _errors(report: Report, client: httpx.Client, target: Target, voice: str | None) -> None:
    h = {**target.headers(), "Content-Type": "application/json"}
    cases = [
        ("error.malformed_json_400", 400, b'{"text": "hi', None),
        ("error.missing_text_422", 422, None, {"format": "pcm_24000"}),
        ("error.empty_text_422", 422, None, _req(text="")),
        ("error.bad_format_422", 422, None, _req(format="mp3_44100")),
        ("error.unknown_voice_404", 404, None, _req(voice="rymi-check-no-such-voice")),
        ("error.text_too_long_413", 413, None, _req(text=TOO_LONG)),
        ("error.wrong_type_422", 422, None, _req(text=["not", "a", "string"])),
    ]
    for rule, want, raw, body in cases:
        payload = {"content": raw} if raw is not None else {"json": body}
        check_error(report, CH, rule, client, target.url, want, headers=h, **payload)
    # A typo in a saved URL must be loud: an unknown option is a 400, not ignored.
    check_error(report, CH, "options.unknown_refused", client, target.with_unknown_option(),
                400, headers=h,
                json=_req(text="Fine."))
    r = client.post(target.url, json=_req(text="Fine.", instructions="speak like a pirate"),
                    headers=h)
    report.add(CH, "instructions.never_an_error", r.status_code == 200, f"HTTP {r.status_code}")
