"""English readings of numbers that are not amounts, and of the marks between numbers:
identifiers (ZIP codes, order and PIN numbers) digit by digit, ranges ("3-5 days" is
"three to five", not "three five"), "per" for a slash before a unit, common fractions,
"about" for a tilde, and three-letter months and weekdays. Used by ``normalize.py``'s
English rules, before the rules that turn each number into words.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .addresses import spell_digits

_MONTHS = {"Jan": "January", "Feb": "February", "Mar": "March", "Apr": "April", "Jun": "June",
           "Jul": "July", "Aug": "August", "Sep": "September", "Sept": "September",
           "Oct": "October", "Nov": "November", "Dec": "December"}
_DAYS = {"Mon": "Monday", "Tue": "Tuesday", "Tues": "Tuesday", "Wed": "Wednesday",
         "Thu": "Thursday", "Thur": "Thursday", "Thurs": "Thursday", "Fri": "Friday",
         "Sat": "Saturday", "Sun": "Sunday"}
_DAY = "(?:" + "|".join(_DAYS) + r")\b\.?"
# "1/2 off", "3/4 cup": the fractions people say; "3/5" is as likely a date, left alone.
_FRACTIONS = {"1/2": "one half", "1/3": "one third", "2/3": "two thirds",
              "1/4": "one quarter", "3/4": "three quarters"}
# One end of a range: an amount, a number, a time, a percentage ("$5", "1,200", "9:30",
# "9am", "20%").
_END = r"[$€£]?\d[\d,]*(?:\.\d+)?(?::\d\d)?(?:\s?(?:[ap]\.?m\b\.?|%))?"
# Where a number runs on past the match, it is a date, a phone number or a code, not a
# range ("2024-03-15", "1-800-FLOWERS").
_NOT_AFTER = r"(?![\d.,:]\d|[-–/]\w|\d)"


def _digits(m: re.Match[str]) -> str:
    return ", ".join(spell_digits(group) for group in re.split(r"\D+", m[0]) if group)


def _range(m: re.Match[str]) -> str:
    return f"{m['a']} to {m['b']}"


def _days(m: re.Match[str]) -> str:
    return f"{_DAYS[m['a'].rstrip('.')]} to {_DAYS[m['b'].rstrip('.')]}"


Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str] | str]
NUMERAL_RULES: list[Rule] = [
    # A ZIP code after a state's two capitals: "IL 62704" is no sixty-two thousand.
    (re.compile(r"(?<=\b[A-Z]{2} )\d{5}(?:-\d{4})?(?![\w-])"), _digits),
    # An identifier after what names one, "#12345" included (markup made it "number").
    (re.compile(r"(?i:(?<=\bnumber )|(?<=\bnumber is )|(?<=\bID )|(?<=\bID: )|(?<=\bPIN )"
                r"|(?<=\bPIN: )|(?<=\bcode )|(?<=\bcode: )|(?<=\bcode is ))\d{4,}(?![\w,.]\d)"),
     _digits),
    (re.compile(rf"(?<![\w.,:/–-])(?P<a>{_END})\s?[-–]\s?(?P<b>{_END}){_NOT_AFTER}"), _range),
    (re.compile(rf"\b(?P<a>{_DAY})\s?[-–]\s?(?P<b>{_DAY})"), _days),
    (re.compile(r"\b24/7\b"), "24 7"),
    (re.compile(r"(?<![\w/.])(?:1/[234]|2/3|3/4)(?![\w/])"), lambda m: _FRACTIONS[m[0]]),
    # "$19.99/month", "5/hr": a slash between a number and a word is "per".
    (re.compile(r"(?<=[\d%])\s?/\s?(?=[^\W\d]{1,12}\b)"), " per "),
    (re.compile(r"(?<![\w~])~\s?(?=[$€£]?\d)"), "about "),
    # "Jun 5", "Mar. 15": a month written short before its day.
    (re.compile(r"\b(?:" + "|".join(_MONTHS) + r")\b\.?(?=\s\d{1,2}(?:st|nd|rd|th)?\b)"),
     lambda m: _MONTHS[m[0].rstrip(".")]),
]
