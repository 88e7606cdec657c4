"""Fractions as they are said: "three quarters", "one and a half cups", "a 5/8" bolt".

A few fractions are said anywhere ("1/2 off", "3/4 cup"). Any other is a fraction only
before what it measures ("5/8 inch", "1/8 teaspoon", "3/16 of an inch", '3/8" hose'):
elsewhere "5/8" is as likely May 8th, a score or a page, and is left to those rules.
A whole number before one makes it one amount ("2 3/4 inches": "two and three
quarters", not "two three quarters").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from num2words import num2words

COMMON = {"1/2", "1/3", "2/3", "1/4", "3/4"}
_SAID = {2: ("half", "halves"), 4: ("quarter", "quarters")}
# What a fraction measures: a unit written out or short ("5/8-inch" too), or "of".
UNIT = (r"-?(?:inch(?:es)?|in\b\.?|teaspoons?|tsps?\b|tablespoons?|tbsps?\b|cups?|miles?|"
        r"mi\b|pounds?|lbs?\b|ounces?|oz\b|yards?|yds?\b|feet|foot|ft\b|acres?|gallons?|"
        r"gal\b|quarts?|qts?\b|pints?|liters?|litres?|hours?|hrs?\b)")
MEASURED = rf"(?:{UNIT}|of\b)"
# "1/8 to 1/4 inch": the first measures what the second does.
_OR_ANOTHER = r"(?:\s?(?:to|or|and|-|–)\s?\d\d?/\d\d?)?"
MEASURE_AFTER = rf"(?={_OR_ANOTHER}\s?{UNIT})"
# An inch mark, or "in" as a unit: at the end of a clause, or "in." before a noun.
_INCH_MARK = r"(?:\"|”|″|\s?in(?=\.?\s*$|[,;)])|\s?in\.(?=\s[^\W\d]))"
QUOTE_REACH = 200  # characters back to look for an open quotation
_PART = r"(?P<n>[1-9]\d?)/(?P<d>[2-9]|1[0-6]|32|64)"


def said(n: int, d: int, after_whole: bool = False) -> str:
    """3/8 "three eighths"; after a whole number, one part is "a"/"an" ("one and a half")."""
    one, many = _SAID.get(d) or (num2words(d, to="ordinal"), num2words(d, to="ordinal") + "s")
    name = one if n == 1 else many
    if n == 1 and after_whole:
        return ("an " if name[0] in "aeiou" else "a ") + name
    return f"{num2words(n)} {name}"


def _proper(m: re.Match[str]) -> bool:
    return int(m["n"]) < int(m["d"])


def _closing_quote(m: re.Match[str]) -> bool:
    """'type "3/4"': a double quote after a fraction closes a quotation when one is open
    before it (an inch mark before, '3/8" hose', opens none). Looked for in the clause's
    reach only: the whole text before each match made a long list of sizes quadratic."""
    before = re.sub(r'(?<=\d)"', "", m.string[max(0, m.start() - QUOTE_REACH):m.start()])
    return m["mark"] == '"' and re.search(r'(?:^|[\s(\[])"[^"]*$', before) is not None


def _fraction(m: re.Match[str]) -> str:
    if not _proper(m) or m["mark"] and _closing_quote(m):
        return m[0]
    n, d = int(m["n"]), int(m["d"])
    whole = m["w"]
    amount = f"{whole} and {said(n, d, after_whole=True)}" if whole else said(n, d)
    if not m["mark"]:
        return amount
    # An inch mark: "a 3/8" hose" is "a three eighths inch hose"; "1 1/2"" alone inches.
    noun_after = re.match(r"\s?[^\W\d]", m.string[m.end():])
    return f"{amount} {'inches' if whole and not noun_after else 'inch'}"


def _vulgar(m: re.Match[str]) -> str:
    """"2½", "2 ½", "⅛": one character for a fraction ("two a half" was espeak's)."""
    n, _, d = unicodedata.normalize("NFKC", m["f"]).partition("\u2044")
    if m["w"]:
        return f"{m['w']} and {said(int(n), int(d), after_whole=True)}"
    return said(int(n), int(d))


# A unit written short after a fraction, said ("one eighth tsp" was "T S P", "oz" "oz").
_SHORT_UNITS = {"tsp": "teaspoon", "tbsp": "tablespoon", "oz": "ounce", "lb": "pound",
                "ft": "foot", "mi": "mile", "yd": "yard", "gal": "gallon", "qt": "quart",
                "hr": "hour"}
_PLURAL_UNITS = {"foot": "feet"}
_PART_NAMES = "|".join(sorted({*("half", "halves", "quarter", "quarters", "fourth", "fourths"),
                               *(f"{num2words(d, to='ordinal')}{s}" for d in (3, *range(5, 17),
                                                                           32, 64)
                                 for s in ("", "s"))}, key=len, reverse=True))
_FRACTION_UNIT = re.compile(rf"\b(?P<f>{_PART_NAMES}) (?P<u>{'|'.join(_SHORT_UNITS)})s?\b\.?")


def _fraction_unit(m: re.Match[str]) -> str:
    name = _SHORT_UNITS[m["u"]]
    # After a whole number, many ("two and a half teaspoons"); a fraction alone, one.
    if re.search(r"\d\sand\s(?:an?|[a-z-]+)\s$", m.string[max(0, m.start() - 24):m.start()]):
        name = _PLURAL_UNITS.get(name, name + "s")
    # "lbs. Plus": the stop it took ends the sentence where a capital or the end follows.
    ends = m[0].endswith(".") and re.match(r"\s+[A-Z]|\s*$", m.string[m.end():])
    return f"{m['f']} {name}" + ("." if ends else "")


FRACTION_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"(?:(?<![\w.,])(?P<w>\d+)\s?)?(?P<f>[\u00bc-\u00be\u2150-\u215e])"), _vulgar),
    # A whole number and a fraction, or a fraction before what it measures.
    (re.compile(rf"(?<![\w/.,])(?:(?P<w>\d+)\s)?{_PART}(?:(?P<mark>{_INCH_MARK})|"
                rf"(?={_OR_ANOTHER}\s?{MEASURED}))(?![\w/])"),
     _fraction),
    (re.compile(rf"(?<![\w/.,])(?P<w>\d+)\s{_PART}(?P<mark>)(?![\w/]|\.\d)"), _fraction),
    # The fractions people say anywhere.
    (re.compile(r"(?<![\w/.])(?:1/[234]|2/3|3/4)(?![\w/])"),
     lambda m: said(*map(int, m[0].split("/")))),
    (_FRACTION_UNIT, _fraction_unit),
]
