"""Dates as people say them: "2024-03-15", "03/15/2024", "15.03.2024", "March 5th",
"the 5th of June", a card's "exp. 09/27", and ISO date-times from a tool's output.

The rules here go into ``normalize.RULES`` at their places (a dotted date before codes
are spelt, the others after times); ``rewrite_dates`` runs before all of them and writes
what they would misread as the plain date and time they read well.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .numerals import DATE_BEFORE, MONTHS, NOT_DATE_AFTER, fraction_not_date, words

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]
_MONTH = r"(?P<month>" + "|".join(MONTHS) + r")"


def spoken_year(y: int) -> str:
    return words(y, to="year")


def _date(month: int, day: int, year: str | None) -> str | None:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    out = f"{MONTHS[month - 1]} {words(day, to='ordinal')}"
    return f"{out}, {spoken_year(int(year))}" if year else out


def _numeric_date(m: re.Match[str]) -> str:
    """"2024-03-15", "03/15/2024", "15.03.2024": the order is the pattern's (its groups)."""
    return _date(int(m["mo"]), int(m["d"]), m["y"]) or m[0]


def _month_day(m: re.Match[str]) -> str:
    day = words(int(m["d"]), to="ordinal")
    return f"{m['month']} {day}" + (f", {spoken_year(int(m['y']))}" if m["y"] else "")


def _day_month(m: re.Match[str]) -> str:
    day = words(int(m["d"]), to="ordinal")
    the = m["the"] or "the "  # "on the 5th of June": the match took the "the", said once
    return f"{the}{day} of {m['month']}" + (f", {spoken_year(int(m['y']))}" if m["y"] else "")


# What says a card's month and year follows ("valid thru 12/31" alone may be a day).
_EXPIRY_BEFORE = re.compile(r"(?:\b[Cc]ard\b[^.\n]{0,40}?\b(?i:expires|expiring|exp\.?|"
                            r"expiry|expiration|valid thru|good thru)|\b(?i:exp\.|"
                            r"expiry(?: date)?|expiration date))\s*:?\s*$")


def _expiry(m: re.Match[str]) -> str:
    if not _EXPIRY_BEFORE.search(m.string[max(0, m.start() - 60):m.start()]):
        return m[0]
    return f"{MONTHS[int(m['mm']) - 1]} {spoken_year(2000 + int(m['yy']))}"


# "15.03.2024": a day-first date, as Europe writes it (it was read as a version).
DOTTED_DATE_RULE: Rule = (
    re.compile(r"(?<![\w.])(?<![vV]ersion\s)(?P<d>\d{1,2})\.(?P<mo>\d{1,2})\.(?P<y>\d{4})"
               r"(?!\d|\.\d)"), _numeric_date)
# A card's expiry, month and year: "expires 09/27" was "September twenty-seventh".
EXPIRY_RULE: Rule = (
    re.compile(r"(?<![\w/])(?P<mm>0[1-9]|1[0-2])/(?P<yy>\d\d)(?![\w/])"), _expiry)
DATE_RULES: list[Rule] = [
    (re.compile(r"\b(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})\b"), _numeric_date),
    (re.compile(r"\b(?P<mo>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})\b"), _numeric_date),
    (re.compile(rf"\b{_MONTH}\s(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s(?P<y>\d{{4}}))?\b"),
     _month_day),
    (re.compile(rf"(?P<the>\b(?i:the)\s)?\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s(?:of\s)?{_MONTH}"
                r"(?:,?\s(?P<y>\d{4}))?\b"), _day_month),
]


# "15/03/1990": a date with its day first, written as the ISO date the rules read. Day
# first where the voice's English writes it so (en-GB "03/04/2024" is 3 April), and
# wherever the first number can be no month.
_SLASH_DATE = re.compile(r"(?<![\w/.])(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<y>\d{4})(?![\w/])")
_DAY_FIRST = ("en-gb", "en-au", "en-nz", "en-ie", "en-in", "en-za")


def _day_first(m: re.Match[str], writes_day_first: bool) -> str:
    day, month = int(m["a"]), int(m["b"])
    if month <= 12 and (day > 12 or writes_day_first):
        return f"{m['y']}-{month:02d}-{day:02d}"
    return m[0]


# "2025-03-15T14:30:00Z", as an agent reads out a tool's answer: it was a code spelt
# digit by digit ("two zero two five, zero three, ..."). The date and the time go to the
# rules that read them; the seconds go (nobody says them of an appointment); a zone is
# said. "2025-03-15 14:30" gets its "at" too.
# An offset only as one can be (up to 14 hours), and after a space only with a "+":
# there "14:30-16:00" is a range of times, not UTC minus sixteen.
_ISO_DATE_TIME = re.compile(
    r"\b(?P<date>\d{4}-\d{2}-\d{2})(?:(?P<t>T)| (?=\d\d:))(?P<hm>\d\d:\d\d)"
    r"(?::\d\d(?:[.,]\d+)?)?(?:(?P<utc>Z|(?(t)[+-]|\+)00:?00)|(?P<sign>(?(t)[+-]|\+))"
    r"(?P<zh>0\d|1[0-4]):?(?P<zm>[0-5]\d))?(?![\w:])")


def _iso_date_time(m: re.Match[str]) -> str:
    zone = ""
    if m["utc"]:
        zone = " UTC"
    elif m["sign"]:
        offset = str(int(m["zh"])) + (f":{m['zm']}" if m["zm"] != "00" else "")
        zone = f" UTC {'plus' if m['sign'] == '+' else 'minus'} {offset}"
    return f"{m['date']} at {m['hm']}{zone}"


# "Monday 15/05", "from 20/12 to 2/1": a day and month with no year, after what a date
# follows, written month first for the rule that reads those ("fifteen slash zero five").
_DAY_MONTH = re.compile(rf"\b(?P<w>(?i:{DATE_BEFORE}):? )(?P<a>\d{{1,2}})/(?P<b>\d{{1,2}})"
                        r"(?:(?P<to> (?i:to|through|thru|until|and) |\s?[-–]\s?)"
                        rf"(?P<c>\d{{1,2}})/(?P<d>\d{{1,2}}))?(?![\d/]){NOT_DATE_AFTER}")


def _day_month_first(m: re.Match[str], writes_day_first: bool) -> str:
    """Day first where the voice's English writes it so, or where the first number can be
    no month; a range's second date is written as its first is."""
    if not m["c"] and fraction_not_date(m, f"{m['a']}/{m['b']}"):
        return m[0]
    pairs = [(int(m["a"]), int(m["b"]))] + ([(int(m["c"]), int(m["d"]))] if m["c"] else [])
    day_first = writes_day_first or pairs[0][0] > 12
    if not day_first or not all(1 <= mo <= 12 and 1 <= d <= 31 for d, mo in pairs):
        return m[0]  # month first already, or no date: as written
    first, *second = (f"{mo}/{d}" for d, mo in pairs)
    return f"{m['w']}{first}" + (f"{m['to']}{second[0]}" if second else "")


def rewrite_dates(text: str, language: str) -> str:
    day_first = language.lower().replace("_", "-")[:5] in _DAY_FIRST  # the voice's English
    text = _ISO_DATE_TIME.sub(_iso_date_time, text)
    text = _DAY_MONTH.sub(lambda m: _day_month_first(m, day_first), text)
    return _SLASH_DATE.sub(lambda m: _day_first(m, day_first), text)
