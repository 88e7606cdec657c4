"""Hold an upstream's chunks to the contract's stream rules, whatever the upstream does.

The contract: one ``id`` and ``created`` for the whole stream, ``delta.role`` in the first
chunk, ``finish_reason`` on the last choice chunk. vLLM, llama.cpp, ollama and OpenAI keep
all three, so for them this is a few byte searches that find what they look for and parse
nothing (the relay's hot path). An event is parsed and rewritten only where an upstream
breaks a rule: an id or created that changes or is missing, a first chunk with no role.
A stream that reaches ``[DONE]`` without a ``finish_reason`` gets a closing chunk (the
relay asks for it), since a client waits for one to know the answer is whole.
``conform_answer`` does the same for an answer not streamed (off the hot path).
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from servers.common.errors import ApiError

from ..sse import compact_json, event, event_data, json_or_none, total_added
from .secret import blanked

_ID = re.compile(rb'"id"\s*:\s*"[^"\\]*"')  # an id with escapes takes the slow path
_CREATED = re.compile(rb'"created"\s*:\s*\d+')
_ROLE = re.compile(rb'"role"\s*:\s*"assistant"')
_FINISH = re.compile(rb'"finish_reason"\s*:\s*"')


class Conformer:
    """One stream's identity (its first chunk's) and what the stream still owes."""

    def __init__(self, served: str = "") -> None:
        self._served = served  # the model name of a chunk we make before any came
        self.finish_seen = False
        self._role_pending = True
        # The id and created exactly as the first chunk wrote them: an upstream writes
        # every chunk with one serializer, so a later chunk that keeps them holds these.
        self._tokens: tuple[bytes, bytes] | None = None
        self._first = b""  # the first chunk as bytes, parsed only if its fields are needed
        self._ident: dict[str, Any] | None = None  # id, created, model

    def feed(self, ready: bytes) -> bytes:
        """``ready`` (whole events) with every chunk keeping the stream's rules."""
        if not self.finish_seen and _FINISH.search(ready):
            self.finish_seen = True
        if self._tokens is None or self._role_pending:
            return self._opening(ready)
        id_token, created_token = self._tokens
        chunks = ready.count(b"data:")
        if ready.count(id_token) >= chunks and ready.count(created_token) >= chunks:
            return ready
        chunks -= ready.count(b"[DONE]")  # it carries neither (once a stream)
        if ready.count(id_token) >= chunks and ready.count(created_token) >= chunks:
            return ready
        return self._rewrite(ready)

    def _opening(self, ready: bytes) -> bytes:
        """The events up to the first chunk with a choice, which sets the stream's id."""
        if self._tokens is None:
            if ready.find(b'"choices"') < 0:
                return ready  # comments, or an error before any chunk: nothing to hold yet
            start = ready.find(b"data:")
            end = ready.find(b"\n\n", start) + 2
            first = ready[start:end]
            id_match, created_match = _ID.search(first), _CREATED.search(first)
            if id_match and created_match and _ROLE.search(first) and \
                    first.find(b'"choices"') >= 0:  # a well-formed first chunk, as it is
                self._tokens = (id_match.group(), created_match.group())
                self._first, self._role_pending = first, False
                # Nearly always the first chunk comes alone; the rest, if any, as usual.
                return ready if end == len(ready) else ready[:end] + self.feed(ready[end:])
        return self._rewrite(ready)

    def _rewrite(self, ready: bytes) -> bytes:
        return b"".join(self._conform(ev + b"\n\n") for ev in ready.split(b"\n\n")[:-1])

    def chunk(self, fields: dict[str, Any]) -> bytes:
        """A chunk of our own in this stream (its id, created and model; made once here
        if the upstream sent no chunk, so the next one of ours has the same)."""
        ident = self._identity()
        if ident is None:
            ident = self._ident = {"id": f"chatcmpl-{uuid.uuid4().hex}",
                                   "created": int(time.time()), "model": self._served}
        return event({"id": ident["id"], "object": "chat.completion.chunk",
                      "created": ident["created"], "model": ident["model"] or self._served,
                      **fields})

    def closing_chunk(self) -> bytes:
        """The choice chunk that ends a stream whose upstream never sent a finish_reason
        (with the role, if no chunk before it had a choice)."""
        self.finish_seen = True
        delta = {"role": "assistant"} if self._role_pending else {}
        self._role_pending = False
        return self.chunk({"choices": [{"index": 0, "delta": delta, "logprobs": None,
                                        "finish_reason": "stop"}]})

    def _identity(self) -> dict[str, Any] | None:
        if self._ident is None and self._first:
            first = json_or_none(event_data(self._first))
            if isinstance(first, dict):
                self._ident = {k: first.get(k) for k in ("id", "created", "model")}
        return self._ident

    def _conform(self, ev: bytes) -> bytes:
        payload = event_data(ev)
        obj = json_or_none(payload)
        if not isinstance(obj, dict) or not isinstance(obj.get("choices"), list):
            return ev  # [DONE], an error event, or something else the relay judges
        if not obj["choices"] and obj.get("usage") is None and self._identity() is None:
            return b""  # Azure's opening prompt_filter_results: no id, created 0, no text
        changed = self._hold_identity(obj, payload)
        choices = obj["choices"]
        if self._role_pending and choices:  # the first chunk with a choice owes the role
            self._role_pending = False
            delta = choices[0].get("delta") if isinstance(choices[0], dict) else None
            if isinstance(delta, dict) and delta.get("role") != "assistant":
                choices[0]["delta"] = {"role": "assistant", **delta}
                changed = True
        return event(obj) if changed else ev

    def _hold_identity(self, obj: dict[str, Any], payload: bytes) -> bool:
        """Give ``obj`` the stream's id and created (its own, if it is the first)."""
        ident = self._identity()
        if ident is None:
            ident = self._ident = {
                "id": _str_or(obj.get("id"), f"chatcmpl-{uuid.uuid4().hex}"),
                "created": obj["created"] if type(obj.get("created")) is int and
                obj["created"] > 0 else int(time.time()),
                "model": obj.get("model") if isinstance(obj.get("model"), str) else ""}
            id_match, created_match = _ID.search(payload), _CREATED.search(payload)
            self._tokens = (
                id_match.group() if ident["id"] == obj.get("id") and id_match
                else b'"id":' + compact_json(ident["id"]),
                created_match.group() if ident["created"] == obj.get("created") and
                created_match else b'"created":%d' % ident["created"])
        if obj.get("id") == ident["id"] and obj.get("created") == ident["created"]:
            return False
        obj["id"], obj["created"] = ident["id"], ident["created"]
        return True


def conform_answer(answer: object) -> bool:
    """Hold an answer not streamed to the contract: one ``chat.completion`` with an id,
    created, each choice's message the assistant's with a finish_reason, and usage (its
    total added where left out, null where the upstream counted nothing). True if it
    changed. A body with no choices is no answer: 502, with the upstream's error if any.
    """
    choices = answer.get("choices") if isinstance(answer, dict) else None
    if not (isinstance(choices, list) and choices and all(
            isinstance(c, dict) and isinstance(c.get("message"), dict) for c in choices)):
        error = answer.get("error") if isinstance(answer, dict) else None
        said = error.get("message") if isinstance(error, dict) else error
        said = blanked(said) if isinstance(said, str) else said
        raise ApiError(502, f"the upstream answered 200 with no answer (no choice with a "
                       f"message){f': {said}' if isinstance(said, str) else ''}",
                       "upstream_bad_response")
    fixes: dict[str, Any] = {}
    if answer.get("object") != "chat.completion":
        fixes["object"] = "chat.completion"
    if not (isinstance(answer.get("id"), str) and answer["id"]):
        fixes["id"] = f"chatcmpl-{uuid.uuid4().hex}"
    if type(answer.get("created")) is not int:
        fixes["created"] = int(time.time())
    if "usage" not in answer or not isinstance(answer["usage"], dict | None):
        fixes["usage"] = None
    elif (mended := total_added(answer["usage"])) is not None:
        fixes["usage"] = mended
    answer.update(fixes)
    changed = bool(fixes)
    for choice in answer["choices"]:
        message = choice["message"]
        if message.get("role") != "assistant":
            choice["message"], changed = {**message, "role": "assistant"}, True
        if not choice.get("finish_reason"):
            choice["finish_reason"], changed = "stop", True
    return changed


def answer_as_stream(answer: dict[str, Any]) -> bytes:
    """A conformed whole answer as the stream it stands for: per choice a chunk with the
    role and all of the message, then one with its finish_reason; the usage chunk; [DONE]."""
    head = {"id": answer["id"], "object": "chat.completion.chunk",
            "created": answer["created"], "model": answer.get("model", "")}
    events = []
    for choice in answer["choices"]:
        message, index = choice["message"], choice.get("index", 0)
        delta = {k: v for k, v in message.items() if v is not None}
        if isinstance(delta.get("tool_calls"), list):  # a stream's calls carry their index
            delta["tool_calls"] = [{"index": i, **c} if isinstance(c, dict) else c
                                   for i, c in enumerate(delta["tool_calls"])]
        events.append(event({**head, "choices": [
            {"index": index, "delta": delta, "finish_reason": None}]}))
        events.append(event({**head, "choices": [
            {"index": index, "delta": {}, "finish_reason": choice["finish_reason"]}]}))
    if isinstance(answer.get("usage"), dict):
        events.append(event({**head, "choices": [], "usage": answer["usage"]}))
    return b"".join(events) + b"data: [DONE]\n\n"


def _str_or(value: object, default: str) -> str:
    return value if isinstance(value, str) and value else default

