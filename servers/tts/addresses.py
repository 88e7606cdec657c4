"""English readings of what a listener may have to write down: emails, URLs, phone
numbers, IBANs, IP addresses. Read as they are written, so digits are said one by one and
separators by name ("dot", "slash"); an amount reading ("one hundred and ninety-two")
would have to be turned back into digits. Used by ``normalize.py``'s English rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable

DIGITS = "zero one two three four five six seven eight nine".split()


def spell_digits(s: str) -> str:
    return " ".join(DIGITS[int(c)] for c in s if c.isdigit())


def spelt(code: str) -> str:
    """"8XK2P9" -> "eight X K two P nine": a code as it is read out."""
    return " ".join(spell_digits(c) if c.isdigit() else c for c in code)


def spell_groups(s: str) -> str:
    """Each run of digits in ``s`` digit by digit, the runs apart by a comma (a pause)."""
    return ", ".join(spell_digits(group) for group in re.split(r"\D+", s) if group)


def _phone(m: re.Match[str]) -> str:
    return spell_groups(m[0])


def _extension(m: re.Match[str]) -> str:
    word = m["w"] if m["w"] and m["w"].lower() != "ext" else "extension"
    space = "" if m["w"] else " "  # " x123": its space was matched
    return f"{space}{word} {spell_digits(m['n'])}"


def _url(m: re.Match[str]) -> str:
    url = re.sub(r"^https?://", "", m[0]).rstrip("/")
    return spoken_address(url)


def _email(m: re.Match[str]) -> str:
    user, _, domain = m[0].partition("@")
    return f"{spoken_address(user)} at {spoken_address(domain)}"


# What a mark is called when it is read out, in an address or a password.
MARK_NAMES = {".": "dot", "/": "slash", "-": "dash", "_": "underscore", "?": "question mark",
              "=": "equals", ":": "colon"}
_ADDRESS_MARKS = {**MARK_NAMES, "&": "and"}  # "?a=1&b=2": its parameters, "and"


def spoken_address(s: str) -> str:
    for sym, word in _ADDRESS_MARKS.items():
        s = s.replace(sym, f" {word} ")
    s = re.sub(r"\d+", lambda m: f" {spell_digits(m[0])} ", s)  # "doe42": "doe four two"
    return re.sub(r"\s+", " ", s).strip()


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
ADDRESS_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    # Tried only where a run of its characters starts: at every position of a long run
    # with no "@" it was quadratic (2,500 "1."s: 68 ms on the event loop).
    (re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), _email),
    (re.compile(r"\b(?:https?://|www\.)[^\s,;]+[^\s,;.!?)]"), _url),
    # An IBAN in groups of four ("DE89 3704 0044 0532 0130 00"), spelt group by group as
    # it is read out: its groups were phone numbers and amounts. Before the phone rules.
    (re.compile(r"\b[A-Z]{2}\d{2}(?: [A-Z\d]{4}){2,7}(?: [A-Z\d]{1,3})?\b"),
     lambda m: ", ".join(spelt(g) for g in m[0].split())),
    # "555-1234 x123", "ext. 123" (made "extension" by then), "ext 42": an extension, digit
    # by digit as it is dialled; before the phone rules, so "x123" is not left on its number.
    (re.compile(r"(?:(?<=\d{4}) x|\b(?P<w>(?i:extension|ext)) ?)(?P<n>\d{2,6})\b"), _extension),
    (re.compile(r"(?<![\w.])(?:\+?1[\s.-]?)?(?:\(\d{3}\)[\s.-]?|\d{3}[\s.-])\d{3}[\s.-]\d{4}\b"),
     _phone),
    # "+44 20 7946 0958", "+44 (0)20 7946 0958", "+49 30 1234567": a country code, then
    # groups; seven digits at least.
    (re.compile(r"(?<![\w+])\+\d{1,3}(?:\s?\(0\))?(?:[\s.-]?\(?\d{1,8}\)?){1,5}(?![\w-])"),
     lambda m: f"plus {_phone(m)}" if sum(c.isdigit() for c in m[0]) >= 7 else m[0]),
    # "020 7946 0958", "0412 345 678", "01 23 45 67 89", "0044 20 7946 0958": a number in
    # groups from a 0, ten to fifteen digits (a national one, or an international one
    # after its 00); its middle groups were read as amounts. Not from a group inside a
    # longer run ("9400 1000 0000 0000": a tracking number's groups were read apart).
    (re.compile(r"(?<![\w.$€£+-])(?<!\d )\(?0\d{1,4}\)?(?: \d{2,8}){1,5}(?![\w-])"),
     lambda m: _phone(m) if 10 <= sum(c.isdigit() for c in m[0]) <= 15 else m[0]),
    # "1800-123-456", "1300 555 123": Australia's 4-3-3 service numbers.
    (re.compile(r"(?<![\w.$€£+-])1[38]00[\s-]\d{3}[\s-]\d{3}(?![\w-])"), _phone),
    # "555-1234": a local number (a range would have one or two digits a side).
    (re.compile(r"(?<![\w.$€£+-])\d{3}-\d{4}(?![\w-])"), _phone),
    # "00:1A:2B:3C:4D:5E": a MAC address, pair by pair ("zero zero:one A:two B ...").
    (re.compile(r"(?<![\w:-])[0-9A-Fa-f]{2}(?:([:-])[0-9A-Fa-f]{2})(?:\1[0-9A-Fa-f]{2}){4}"
                r"(?![\w:-])"),
     lambda m: ", ".join(spelt(g.upper()) for g in re.split(r"[:-]", m[0]))),
    # "192.168.1.1", as its URL would be read ("one nine two dot ..."), with its port
    # ("...:8080" was "one:eight thousand and eighty"). Not after "version", where four
    # numbers are a version's (normalize.py).
    (re.compile(rf"(?<![\w.])(?<![vV]ersion\s)(?:{_OCTET}\.){{3}}{_OCTET}(?::\d{{1,5}})?"
                r"(?!\d|\.\d)"),
     lambda m: spoken_address(m[0])),
]
