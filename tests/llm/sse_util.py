"""Read raw SSE bytes the way a strict client would, for byte-level checks."""

from __future__ import annotations

import json
from typing import Any

import httpx


def raw_stream(url: str, body: dict[str, Any], token: str | None = None,
               timeout: float = 120, headers: dict[str, str] | None = None
               ) -> tuple[httpx.Response, bytes]:
    headers = {**({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, headers=headers,
                      timeout=timeout) as r:
        data = r.read()
    return r, data


def ask_fault(url: str, fault: str, stream: bool = True, **extra: Any
              ) -> tuple[httpx.Response, bytes]:
    """A request that tells the fault upstream (``fault_upstream.py``) which fault to act."""
    body = {"model": "m", "messages": [{"role": "user", "content": f"fault:{fault}"}],
            "stream": stream, **extra}
    return raw_stream(url, body, timeout=30)


def events(data: bytes) -> list[bytes]:
    """Split on the blank line; every event must be exactly one ``data: `` line."""
    assert data.endswith(b"\n\n"), data[-200:]
    assert b"\r" not in data
    parts = data[:-2].split(b"\n\n")
    for p in parts:
        assert p.startswith(b"data: ") and b"\n" not in p, p
    return [p[len(b"data: "):] for p in parts]


def payloads(data: bytes) -> list[Any]:
    """JSON of each event; the string "[DONE]" for the terminator."""
    return [e.decode() if e == b"[DONE]" else json.loads(e) for e in events(data)]


def normalise(objs: list[Any]) -> list[Any]:
    """Drop what legitimately differs between two servers' streams: ids and timestamps."""
    out = []
    for o in objs:
        if isinstance(o, dict):
            o = {k: v for k, v in o.items() if k not in ("id", "created")}
        out.append(o)
    return out
