"""LLM rules: OpenAI chat-completions over SSE, exactly as Rymi reads it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from .client import Target, check_error, check_http_auth, check_tls
from .report import Report
from .sse import SseStream, parse_sse

CH = "llm"


def _body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "rymi-check-any-model-name",
        "messages": [{"role": "system", "content": "You are a helpful phone agent."},
                     {"role": "user", "content": "Say hello to the caller in one sentence."}],
        "stream": True, "stream_options": {"include_usage": True},
        "temperature": 0.7, "max_tokens": 24,
    }
    body.update(over)
    return body


def check_llm(report: Report, target: Target, timeout: float = 120) -> None:
    check_tls(report, CH, target)
    with httpx.Client(verify=target.verify, timeout=timeout) as client:
        if not _auth(report, client, target):
            return
        _stream(report, client, target, include_usage=True)
        _stream(report, client, target, include_usage=False)
        _non_stream(report, client, target)
        _errors(report, client, target)
        _models(report, client, target)


def _auth(report: Report, client: httpx.Client, target: Target) -> bool:
    return check_http_auth(report, CH, client, target, _body(stream=False, max_tokens=1))


def _stream(report: Report, client: httpx.Client, target: Target, include_usage: bool) -> None:
    tag = "stream.usage" if include_usage else "stream.no_usage"
    body = _body() if include_usage else _body(stream_options=None)
    if not include_usage:
        body.pop("stream_options")
    with client.stream("POST", target.url, json=body, headers=target.headers()) as r:
        raw = r.read()
    ctype = r.headers.get("content-type", "")
    if not report.add(CH, f"{tag}.status", r.status_code == 200,
                      f"HTTP {r.status_code} {raw[:160]!r}"):
        return
    report.add(CH, f"{tag}.content_type", ctype.startswith("text/event-stream"), ctype)
    s = parse_sse(raw)
    report.add(CH, f"{tag}.framing", not s.problems, "; ".join(s.problems) or
               f"{len(s.events)} events, each `data: <json>` + blank line")
    if s.crlf:
        report.add(CH, f"{tag}.line_endings", False, "CRLF line endings (OpenAI uses LF)",
                   warn_only=True)
    report.add(CH, f"{tag}.done_last", s.done and s.after_done == 0 and not s.errors,
               f"[DONE] seen={s.done}, events after it={s.after_done}, errors={s.errors[:1]}")
    _chunks(report, s, tag, include_usage)


def _chunks(report: Report, s: SseStream, tag: str, include_usage: bool) -> None:
    chunks = s.chunks
    if not report.add(CH, f"{tag}.chunks", bool(chunks), f"{len(chunks)} chunks"):
        return
    objs = {c.get("object") for c in chunks}
    report.add(CH, f"{tag}.object", objs == {"chat.completion.chunk"}, f"object values {objs}")
    ids, created = {c.get("id") for c in chunks}, {c.get("created") for c in chunks}
    report.add(CH, f"{tag}.one_id", len(ids) == 1 and None not in ids and len(created) == 1
               and None not in created,
               f"ids={list(ids)[:3]} created={list(created)[:3]}")
    with_choices = [c for c in chunks if c.get("choices")]
    first = with_choices[0]["choices"][0].get("delta", {}) if with_choices else {}
    report.add(CH, f"{tag}.role_first", first.get("role") == "assistant", f"first delta {first}")
    text = "".join((c["choices"][0].get("delta", {}).get("content") or "") for c in with_choices)
    report.add(CH, f"{tag}.content", bool(text.strip()), f"text {text[:80]!r}")
    reasons = [c["choices"][0].get("finish_reason") for c in with_choices]
    report.add(CH, f"{tag}.finish_reason_last", bool(reasons) and
               isinstance(reasons[-1], str) and bool(reasons[-1]) and
               all(r is None for r in reasons[:-1]), f"finish_reasons {reasons[-3:]}")
    usage_chunks = [c for c in chunks if c.get("usage") is not None or c.get("choices") == []]
    if not include_usage:
        report.add(CH, f"{tag}.absent", not usage_chunks,
                   f"{len(usage_chunks)} usage chunk(s) without include_usage")
        return
    if not report.add(CH, f"{tag}.one_usage_chunk", len(usage_chunks) == 1
                      and usage_chunks[0] is chunks[-1] and usage_chunks[0].get("choices") == [],
                      f"{len(usage_chunks)} usage chunk(s); last chunk {str(chunks[-1])[:160]}"):
        return
    u = usage_chunks[0].get("usage")
    if u is None:
        report.add(CH, f"{tag}.counts", False, "usage is null: Rymi falls back to estimates",
                   warn_only=True)
        return
    ok = all(isinstance(u.get(k), int) for k in ("prompt_tokens", "completion_tokens",
                                                  "total_tokens")) and \
        u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
    report.add(CH, f"{tag}.counts", ok, f"usage {u}")


def _non_stream(report: Report, client: httpx.Client, target: Target) -> None:
    r = client.post(target.url, json=_body(stream=False, stream_options=None),
                    headers=target.headers())
    try:
        obj = r.json()
    except ValueError:
        obj = {}
    msg = (obj.get("choices") or [{}])[0].get("message", {})
    u = obj.get("usage") or {}
    report.add(CH, "non_stream.completion", r.status_code == 200 and
               obj.get("object") == "chat.completion" and isinstance(msg.get("content"), str)
               and isinstance(u.get("total_tokens"), int), f"HTTP {r.status_code} {str(obj)[:160]}")


def _errors(report: Report, client: httpx.Client, target: Target) -> None:
    h = {**target.headers(), "Content-Type": "application/json"}
    check_error(report, CH, "error.malformed_json_400", client, target.url, 400,
                content=b'{"model": "x", "messages": [', headers=h)
    check_error(report, CH, "error.bad_value_400", client, target.url, 400,
                json=_body(stream=False, temperature="hot"), headers=h)
    r = client.post(target.url, json=_body(stream=False, max_tokens=4,
                                           rymi_unknown_field={"x": 1}), headers=h)
    report.add(CH, "request.unknown_field_ignored", r.status_code == 200,
               f"HTTP {r.status_code} {r.text[:120]}")


def models_url(target: Target) -> str:
    """``/models`` beside the chat URL's ``/chat/completions``, under whatever prefix
    the URL has (``https://gw/llm/v1/chat/completions``: ``/llm/v1/models``); a bare
    URL (a host of its own) has them at ``/v1/models``."""
    path = urlsplit(target.url).path.rstrip("/")
    if path.endswith("/chat/completions"):
        return target.sibling(path.removesuffix("/chat/completions") + "/models")
    return target.sibling("/v1/models")


def _models(report: Report, client: httpx.Client, target: Target) -> None:
    r = client.get(models_url(target), headers=target.headers())
    try:
        data = r.json().get("data") or []
    except (ValueError, AttributeError):
        data = []
    report.add(CH, "models.list", r.status_code == 200 and bool(data) and "id" in data[0],
               f"HTTP {r.status_code} {[m.get('id') for m in data][:3]}")
