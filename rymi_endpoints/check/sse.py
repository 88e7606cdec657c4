"""A strict reader of an OpenAI chat-completions SSE body, as bytes on the wire."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SseStream:
    events: list[str] = field(default_factory=list)  # the data payloads, in order
    chunks: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False
    after_done: int = 0
    crlf: bool = False
    problems: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


def parse_sse(raw: bytes) -> SseStream:
    s = SseStream()
    text = raw.decode("utf-8", errors="replace")
    if "\r\n" in text:
        s.crlf = True
        text = text.replace("\r\n", "\n")
    if text and not text.endswith("\n\n"):
        s.problems.append("stream does not end with a blank line (cut mid-event?)")
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        data_lines = []
        for line in block.split("\n"):
            if line.startswith(":"):
                continue  # SSE comment (keep-alive)
            if line.startswith("data:"):
                data_lines.append(line[5:].removeprefix(" "))
            elif line:
                s.problems.append(f"unexpected SSE line {line[:60]!r}")
        if not data_lines:
            continue
        payload = "\n".join(data_lines)
        s.events.append(payload)
        if s.done:
            s.after_done += 1
            continue
        if payload == "[DONE]":
            s.done = True
            continue
        try:
            obj = json.loads(payload)
        except ValueError:
            s.problems.append(f"event is not JSON: {payload[:80]!r}")
            continue
        if isinstance(obj, dict) and "error" in obj and "choices" not in obj:
            s.errors.append(obj)
        else:
            s.chunks.append(obj)
    return s
