"""A whole answer (``stream: false``) put together from the engine's deltas."""

from __future__ import annotations

from typing import Any

from .backends import Delta


class Answer:
    """Text, reasoning and tool calls, as one ``chat.completion`` message carries them:
    each call's deltas (its id, type and name first, then its arguments in pieces)
    joined by their ``index``, as the OpenAI SDK joins a stream's."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}

    def add(self, d: Delta) -> None:
        self.text.append(d.text)
        if d.reasoning:
            self.reasoning.append(d.reasoning)
        for part in d.tool_calls or ():
            call = self.calls.setdefault(part.get("index", 0), {
                "id": "", "type": "function", "function": {"name": "", "arguments": ""}})
            call["id"] = part.get("id") or call["id"]
            call["type"] = part.get("type") or call["type"]
            fn = part.get("function") or {}
            call["function"]["name"] += fn.get("name") or ""
            call["function"]["arguments"] += fn.get("arguments") or ""

    def message(self) -> dict[str, Any]:
        text = "".join(self.text)
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if self.reasoning:
            message["reasoning"] = "".join(self.reasoning)
        if self.calls:
            # OpenAI's own: a message that only calls a tool has no content (null).
            message["content"] = text or None
            message["tool_calls"] = [self.calls[i] for i in sorted(self.calls)]
        return message
