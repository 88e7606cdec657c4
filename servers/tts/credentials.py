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
    r"(?:\"(?P<q>[^\"\s]{1,40})\"|(?P<v>\S{1,40}?!?))(?=[.,;!?]?(?:\s|$))")


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
    bare = value.rstrip("!")
    word_like = bare.isalpha() and (bare[1:].islower() or bare.isupper())
    if not m["q"] and word_like:
        return m[0]
    # A "!" on the end is the password's own: generated ones end in one far more often
    # than an agent exclaims after reading one out, and a caller who drops it is locked
    # out. The sentence still ends there.
    said = m["w"] + _said(value)
    ends_sentence = value.endswith("!") and m.string[m.end():m.end() + 1] in ("", " ", "\n")
    return f"{said}." if ends_sentence and not m["q"] else said


def spell_credentials(text: str) -> str:
    return _CREDENTIAL.sub(_credential, text)
