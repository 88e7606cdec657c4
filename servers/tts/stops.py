"""Whether a rule keeps the stop its match swallowed: "at 9 a.m. Then" ends a sentence,
"9 a.m. Monday" goes on. Shared by the English rules of ``normalize.py`` and
``streets.py``."""

from __future__ import annotations

import re

from .numerals import DAYS, MONTHS, SHORT_MONTHS

# Capitals that go on after an abbreviation's stop rather than start a sentence: a day,
# a month, a time zone ("9 a.m. Monday", "5 p.m. EST"), the unit of an address ("Main St.
# Apt 4B").
_GOES_ON_AFTER = re.compile(
    r"\s+(?:" + "|".join([*dict.fromkeys(DAYS.values()), *DAYS, r"May(?=\s\d)",
                          *(m for m in MONTHS if m != "May"), *SHORT_MONTHS])
    + r"|[ECMP][SD]?T|UTC|GMT|BST|CET|CEST|Apt|Apartment|Suite|Ste|Unit|Floor|Fl|Room|Rm"
    r"|Bldg|Building)\b")


# An acronym goes on after the stop ("incl. VAT" was "including. VAT", two sentences).
_ACRONYM = re.compile(r"\s+[A-Z]{2,5}\b")


def kept_stop(m: re.Match[str], extra: int = 0) -> str:
    """"at 9 a.m. Then" / "at 9 a.m." end a sentence: keep the stop the match swallowed.
    So does one before a line break (a list's "9am." lines ran together): the stop there
    was written, or put by markup.py, to end the line."""
    rest = m.string[m.end() + extra:]
    if m.string[:m.end() + extra].endswith(".") and (
            not rest.strip() or rest.lstrip(" ").startswith("\n")
            or (re.match(r"\s+[A-Z]", rest) and not _GOES_ON_AFTER.match(rest)
                and not _ACRONYM.match(rest))):
        return "."
    return ""
