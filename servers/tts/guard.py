"""Each text rule wrapped twice: a rule that fails keeps its match as written, and the
words of one reading are joined so the planner never cuts between them."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

log = logging.getLogger("rymi.tts")


def _kept_on_failure(rule: Callable[[re.Match[str]], str]) -> Callable[[re.Match[str]], str]:
    """A rule that fails leaves its match as written: words read a little worse are
    better than a 500 that costs the call. The text itself is never logged."""
    def apply(m: re.Match[str]) -> str:
        try:
            return rule(m)
        except Exception as exc:
            log.warning("text rule %s failed (%s); the match is kept as written",
                        getattr(rule, "__name__", "?"), type(exc).__name__)
            return m[0]
    return apply


# The words of one reading ("one thousand two hundred ... cents", "support at example dot
# com") are joined by this no-break space, so the planner's first cut, made at a plain
# space, never splits them into two things heard; the planner makes it a space again.
JOIN = "\xa0"
_JOINED_UP_TO = 100  # characters: a longer reading may be cut like any text


def _joined(rule: Callable[[re.Match[str]], str]) -> Callable[[re.Match[str]], str]:
    def apply(m: re.Match[str]) -> str:
        out = rule(m)
        return out.replace(" ", JOIN) if len(out) <= _JOINED_UP_TO else out
    apply.__name__ = getattr(rule, "__name__", "?")
    return apply


def guarded(rule: Callable[[re.Match[str]], str]) -> Callable[[re.Match[str]], str]:
    return _kept_on_failure(_joined(rule))
