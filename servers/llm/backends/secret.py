"""The upstream token, blanked out of whatever an upstream says that reaches a caller or
the log: some APIs echo the key they refused in their error, inside a 4xx, a 200's JSON
or a stream's error event, and JSON may escape its characters (``\\u002d`` for ``-``), so
it is blanked in the decoded text, where every spelling is one."""

from __future__ import annotations

SHOWN = "[the upstream token]"
_token = ""


def keep_out(token: str) -> None:
    """(Set once, by the one upstream backend a process has.)"""
    global _token
    _token = token


def blanked(text: str) -> str:
    return text.replace(_token, SHOWN) if _token and text.find(_token) >= 0 else text
