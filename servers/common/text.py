"""Whether a str can be written as UTF-8 at all."""

from __future__ import annotations


def is_text(text: str) -> bool:
    """False for a str holding a lone surrogate: "\\ud83d" in JSON (valid there), or a
    file name's bytes that are not UTF-8 (Python keeps them as surrogates). No UTF-8
    answer, log line or engine can take it."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
