"""A password or a username said character by character, as a caller must type it.

"Your temporary password is Xy7#pQ2!" was "X Y seven hash P Q two" (the case lost, the
"!" silent), and "jsmith_42" "jsmith forty-two" (markup took the underscore). Spelt
before markup is removed, so every mark is still there to be named. Only a value that
cannot be a word is spelt ("Your password is incorrect" stays): one with a digit, a
mark, a capital after its first letter, or in quotes.
"""

from __future__ import annotations

import re

from .addresses import DIGITS, MARK_NAMES

_MARKS = {**MARK_NAMES, "!": "exclamation mark", "@": "at sign", "#": "hash",
          "$": "dollar sign", "%": "percent", "^": "caret", "&": "ampersand", "*": "star",
          "+": "plus", ",": "comma", "\\": "backslash", ";": "semicolon", "~": "tilde",
          "(": "open bracket", ")": "close bracket", "'": "apostrophe", '"': "quote"}
_CREDENTIAL = re.compile(
    r"\b(?P<w>(?i:(?:(?:temporary|new|one-time|your|the|wi-?fi) )?"
    r"(?:password|passcode|pass code|username|user ?name|user ID|login|log-in)"
    r"(?: is:?| will be|:)\s?))"
    r"(?:\"(?P<q>[^\"\s]{1,40})\"|(?P<v>\S{1,40}?))(?=[.,;!?]?(?:\s|$))")


def _said(value: str) -> str:
    mixed = any(c.isupper() for c in value) and any(c.islower() for c in value)
    out = []
    for c in value:
        if c.isdigit():
            out.append(DIGITS[int(c)])
        elif c.isalpha():
            out.append(f"capital {c}" if mixed and c.isupper() else c.upper())
        else:
            out.append(_MARKS.get(c, c))
    return ", ".join(out)


def _credential(m: re.Match[str]) -> str:
    value = m["q"] or m["v"]
    word_like = value.isalpha() and (value[1:].islower() or value.isupper())
    if not m["q"] and word_like:
        return m[0]
    return m["w"] + _said(value)


def spell_credentials(text: str) -> str:
    return _CREDENTIAL.sub(_credential, text)
