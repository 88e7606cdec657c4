"""Turn what piper (espeak) reads badly into words: money, percentages, times, dates,
ordinals, numbers with separators, versions, common abbreviations; and URLs, emails,
phone numbers, IP addresses, read character by character (``addresses.py``).

Markup (Markdown, tags, emoji) goes first, in every language (``markup.py``). Then
English rules (the default voices are English). Spanish, German, French, Portuguese,
Italian, Dutch, Swedish, Danish, Norwegian (``european.py``) and Polish (``polish.py``)
have rules of their own; other languages only have whitespace tidied, because a wrong
English expansion inside Finnish is worse than none.
Numbers become words through num2words, which knows many languages, where a rule is
generic.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from itertools import pairwise

from .abbreviations import expand_abbreviations, name_numbers
from .addresses import ADDRESS_RULES, spell_digits, spelt
from .addresses import DIGITS as DIGITS  # re-exported: the words a digit is read as
from .credentials import spell_credentials
from .dates import DATE_RULES, DOTTED_DATE_RULE, EXPIRY_RULE, rewrite_dates, spoken_year
from .european import rules_for
from .guard import JOIN, guarded
from .identifiers import FORM_RULE
from .markup import strip_markup
from .money import MONEY_RULES, RANGE_RULES
from .numerals import COLON_RULE, MONTHS, NUMERAL_RULES, words
from .roman_numerals import ROMAN_RULES
from .stops import kept_stop as _kept_stop
from .streets import expand_streets
from .units import MEASURE_RULES, PER_UNIT_RULE
from .voices import bcp47, primary

# "×" said where espeak says nothing for it ("3 × 4" is "tres cuatro"); where it has a word
# ("mal", "multiplié par", "vezes") the sign is left to it. English reads the numbers, so
# its word is here too. Not Hebrew: espeak cannot read unpointed "כפול".
TIMES = {"en": "times", "es": "por", "it": "per", "ca": "per", "ro": "ori", "bg": "по",
         "ru": "умножить на", "uk": "помножити на", "fi": "kertaa", "et": "korda",
         "nb": "ganger", "nn": "ganger", "no": "ganger", "el": "επί", "tr": "çarpı",
         "id": "kali", "ms": "kali", "vi": "nhân", "zh": "乘以", "hi": "गुणा", "ar": "ضرب",
         "sl": "krat"}


def _percent(m: re.Match[str]) -> str:
    return f"{words(m[1].replace(',', ''))} percent"


def _time(m: re.Match[str]) -> str:
    hour, minute = int(m["h"]), int(m["m"])
    if hour > 24 or minute > 59:
        return m[0]
    suffix = " ".join((m["ampm"] or "").replace(".", "").upper())
    if hour in (0, 24) and not suffix:  # "00:15" was "zero fifteen"
        if minute == 0:
            return "midnight" + _kept_stop(m)
        hour, suffix = 12, "A M"
    if minute == 0 and not suffix and hour > 12:  # "14:00" was "fourteen o'clock"
        spoken = f"{words(hour)} hundred"
    elif minute == 0:
        spoken = f"{words(hour)} o'clock" if not suffix else words(hour)
    elif minute < 10:
        spoken = f"{words(hour)} oh {words(minute)}"
    else:
        spoken = f"{words(hour)} {words(minute)}"
    return f"{spoken} {suffix}".strip() + _kept_stop(m)


def _code(m: re.Match[str]) -> str:
    groups = m[0].split("-")
    # "12A-12C", "B12-B14": seats or gates of one row or one letter, a range.
    if len(groups) == 2:
        a, b = (re.fullmatch(r"(\d{1,3})[A-Z]|([A-Z])\d{1,3}", g) for g in groups)
        if a and b and (a[1] or a[2]) in (b[1], b[2]):
            return f"{groups[0]} to {groups[1]}"
    # Two short groups are a name with a number ("F-150", "B-52"), unless a group mixes
    # letters and digits, as no name does: "XK7-92B" was "XK seven ninety-two B".
    mixed = any(not g.isalpha() and not g.isdigit() for g in groups)
    if len(groups) < 3 and sum(c.isdigit() for c in m[0]) < 4 and not mixed:
        return m[0]
    # A group of three letters is read as espeak reads it ("REF", "ABC": letters or word).
    return ", ".join(g if g.isalpha() and len(g) > 2 else spelt(g) for g in groups)


def _ordinal(m: re.Match[str]) -> str:
    return words(m[1], to="ordinal")


def _apart(m: re.Match[str], spoken: str) -> str:
    """A unit written onto the match ("5GB", "v2x") stays a word of its own: "five GB"."""
    return f"{spoken} " if m.string[m.end():m.end() + 1].isalpha() else spoken


def _decade(m: re.Match[str]) -> str:
    """"1990s" -> "nineteen nineties", "30s" -> "thirties", "2000s" -> "two thousands"."""
    n = m["n"]
    spoken = spoken_year(int(n)) if len(n) == 4 else words(int(n))
    return spoken[:-1] + "ies" if spoken.endswith("y") else spoken + "s"


def _number(m: re.Match[str]) -> str:
    return _apart(m, _number_words(m[0]))


def _version(m: re.Match[str]) -> str:
    """"v2.0", "version 1.10", "3.2.1": each part a number, "one point ten" (a decimal
    would be "one point one zero"); "v" is said "version", as it is meant."""
    prefix = "version " if m["v"] else (m["version"] or "")
    parts = (m["parts"] or m["dotted"]).split(".")
    spoken = " point ".join(_number_words(part) for part in parts)
    return _apart(m, f"{prefix}{spoken}")


def _number_words(number: str) -> str:
    if re.fullmatch(r"0\d+", number):  # "0427", "007": a code, not four hundred and ...
        return spell_digits(number)
    raw = number.replace(",", "")
    # Seven digits with no grouping are an order or account number, not an amount (unless
    # they end in thousands: "5000000").
    if len(number) >= 7 and number.isdigit() and not number.endswith("000"):
        return spell_digits(number)
    if re.fullmatch(r"1[1-9]\d\d|20\d\d", number) and int(raw) % 100:  # not "1,999" or "2000"
        return spoken_year(int(raw))  # "1999": a year, as people say it
    return words(raw)


def _short_meridiem(m: re.Match[str]) -> str:
    """"5:40a" is 5:40am; an hour alone only in a range of them ("8a-8p"): "5a" may be
    a seat or a form."""
    in_range = (re.match(r"\s?[-–]\s?\d{1,2}(?::\d\d)?[ap]\b", m.string[m.end():])
                or re.search(r"\d[ap]\s?[-–]\s?$", m.string[max(0, m.start() - 12):m.start()]))
    return f"{m['t']}{m['x']}m" if ":" in m["t"] or in_range else m[0]


Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str] | str]
RULES: list[Rule] = [
    *ADDRESS_RULES,  # emails, URLs, phone numbers, IP addresses: before their numbers go
    DOTTED_DATE_RULE,
    *ROMAN_RULES,  # "World War II", "Henry VIII": espeak said "Roman two"
    *RANGE_RULES,  # "$1-2K", "5-10K users": before the code rule reads them as codes
    FORM_RULE,  # "Form 1040", "1099-NEC": a tax form's number in pairs
    # "A-10293", "HX-55-2201-A", "ABC-123-XYZ": a code of capitals and digits in groups,
    # spelt group by group (read as amounts and ranges, "A-ten thousand ..."). Not a
    # name with a number ("COVID-19", "F-150") nor a word ("1-800-FLOWERS").
    (re.compile(r"(?<![\w-])(?=[A-Z0-9-]*[A-Z])(?=[A-Z0-9-]*\d)(?![A-Z0-9-]*[A-Z]{4})"
                r"[A-Z0-9]+(?:-[A-Z0-9]+)+(?![\w-])"), _code),
    EXPIRY_RULE,
    # "0x80070005": hex, each character ("zero x80070005" lost digits).
    (re.compile(r"\b0x(?P<h>[0-9A-Fa-f]+)\b"), lambda m: "hex " + spelt(m["h"].upper())),
    # "7.30pm", as Britain writes a time (it was "seven.thirty P M"): the time rule's form.
    (re.compile(r"(?<![\w.])(?P<h>1[0-2]|0?[1-9])\.(?P<m>[0-5]\d)(?=\s?[ap]\.?m\b)", re.I),
     lambda m: f"{m['h']}:{m['m']}"),
    # "5:40a", "8a–8p": a time with its "a" or "p" alone, as timetables and shop hours
    # write it ("five:forty a" before).
    (re.compile(r"(?<![\w.:])(?P<t>(?:1[0-2]|0?[1-9])(?::[0-5]\d)?)(?P<x>[ap])\b(?!\.\w)"),
     _short_meridiem),
    # "$10 - $3 = $7": a minus, in a sum; a spaced dash was read "to", as in a range.
    (re.compile(r"(?<=\d) [-−–] (?=[$€£]?\d[\d,.]*\s?=)"), " minus "),
    # "Wait 10s": seconds, not the decade "tens" (below).
    (re.compile(r"\b(?P<w>(?i:wait|in|every|for|after|within|takes|took|about|under) )"
                r"(?P<n>\d{1,3})s\b"), lambda m: f"{m['w']}{m['n']} seconds"),
    *NUMERAL_RULES,  # identifiers, ranges, "per", fractions: before their numbers go
    *MEASURE_RULES,  # "500 mg", "20°C", "<5": units and comparisons, named
    # A version: after "v" (a capital "V" only before a point: "V8" is an engine), after
    # "version", or with two points or more, which no decimal has.
    (re.compile(r"(?<![\w.])(?:(?P<v>v|V(?=\d+\.\d))|(?P<version>(?i:version)\s))"
                r"(?P<parts>\d+(?:\.\d+)*)|(?<![\w.])(?P<dotted>\d+(?:\.\d+){2,})"), _version),
    # A decimal written onto a letter ("x1.5" was "x1.five"): a word of its own.
    (re.compile(r"(?<=[^\W\d_])\d+\.\d+(?!\.?\d)"), lambda m: f" {_number(m)}"),
    # A sign before a number, amount or percentage: "-5", "-$20", "−3.5%". Not after a
    # word character, where it is a hyphen ("2-3", "COVID-19").
    (re.compile(r"(?<![\w\-−])[-−](?=[$€£]?\d)"), "minus "),
    *MONEY_RULES,  # amounts of money, their scales ("$5M"), and bare scaled numbers
    PER_UNIT_RULE,  # "per kg": "per kilogram"
    # Only from a number's first digit: tried at every digit of a long run, this rule
    # alone was quadratic (5,000 digits: 0.47 s on the event loop).
    (re.compile(r"(?<![\d,])(\d[\d,]*(?:\.\d+)?)\s?%"), _percent),
    COLON_RULE,  # "3:1", "1:30:45", "25:10": numbers a colon joins that no time is
    (re.compile(r"\b(?P<h>\d{1,2}):(?P<m>\d{2})(?:\s?(?P<ampm>[ap]\.?m\.?))?(?![\w:])", re.I),
     _time),  # (the space before "am" only with it: "10:30 & 11:15" kept its own)
    (re.compile(r"\b(?P<h>\d{1,2})()\s?(?P<ampm>[ap]\.?m\.?)(?!\w)", re.I),
     lambda m: f"{words(int(m['h']))} {' '.join(m['ampm'].replace('.', '').upper())}"
     + _kept_stop(m)),
    *DATE_RULES,
    (re.compile(r"\b(\d+)(?:st|nd|rd|th)\b", re.I), _ordinal),
    # "Tue 12/9 – Thu 12/11" (by now "... ninth – Thursday ..."): a spaced dash between
    # two dates is "to", as an unspaced one is (the dash alone was a pause).
    (re.compile(r"\b(?P<o>(?:\w+-)?(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|"
                r"tenth|eleventh|twelfth|\w+teenth|\w+ieth))"
                r" [–—-] (?=(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day\b|" + "|".join(MONTHS)
                + r")"), r"\g<o> to "),
    # A decade: "the 1990s", "his 30s", "the '80s" (espeak said "nineteen hundred ninety z").
    (re.compile(r"(?<![\w.,$€£])['’]?(?P<n>(?:1[0-9]|20)?[1-9]0|(?:1[0-9]|20)00)s\b"), _decade),
    # A number ends where its digits do, so a unit written onto it stays a word: "1.5GB"
    # is "one point five GB", not "one.5GB". An "s" after another whole number is a
    # plural ("the 747s"), which espeak reads better than "seven hundred forty-seven s".
    (re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d|s\b)|(?<![\w.])\d*\.\d+(?!\d)"
                r"|\b\d+(?!\d|s\b)"), _number),  # ".5" too: "zero point five", not "dot five"
    (re.compile(r"\s&\s"), " and "),
    # markup took every other "*": this one is a key ("*72": "star seventy-two")
    (re.compile(r"\*(?:\s?(?=\w))?"), lambda m: "star " if len(m[0]) > 1 or
     m.string[m.end():m.end() + 1].isalnum() else "star"),
]
# Full-width ("Ｈｅｌｌｏ") and mathematical ("𝐇𝐞𝐥𝐥𝐨") Latin, which espeak reads as hex
# codes: NFKC makes them plain. Only these ranges: NFKC elsewhere changes what espeak
# reads well ("½" to "1⁄2", "m²" to "m2").
_STYLED = re.compile("[\uFF01-\uFF5E\U0001D400-\U0001D7FF]+")
# Zero-width space, joiner, word joiner and BOM: nothing to hear (one shows as nothing),
# but espeak split a word there ("Hel\u200blo" was "hel lo"). ZWNJ stays: in Persian it
# shapes words.
_ZERO_WIDTH = re.compile("[\u200B\u200D\u2060\uFEFF]+")
_KEY_HASH = re.compile(r"(?<![^\s\d*])#(?!\w)")


# Wrapped once here, not on every request.
_GUARDED: list[Rule] = [(p, r if isinstance(r, str) else guarded(r)) for p, r in RULES]


@functools.lru_cache(maxsize=64)  # one entry a voice language
def _local_rules(language: str) -> list[Rule]:
    return [(p, guarded(r)) for p, r in rules_for(language)]


# "5_000": digit groups as code writes them, one number; markup.py makes any other "_" a
# space ("five zero zero zero"). Not in a name ("row_1_000") or past a point.
_DIGIT_GROUPS = re.compile(r"(?<![\w.])\d{1,3}(?:_\d{3})+(?!_?\d)")
# Each run of whitespace one character: a line break where it had one, else a space. One
# pass: "\s*\n\s*" tried at every space of a long run was quadratic (5,000 spaces: 40 ms).
_WHITESPACE = re.compile(r"\s+")


def _one_space(m: re.Match[str]) -> str:
    return "\n" if "\n" in m[0] else " "


_TIMES_SIGN = re.compile(r"(?<=\S) × (?=\S)")  # as markup.py writes it between numbers
# A line break after a stop ends a sentence (markup.py put a stop where a line ends one).
# Whitespace runs made one space, but a JOIN between two words is kept.
_SPACES = re.compile(r"[^\S\xa0]+\xa0?[^\S\xa0]*|\xa0[^\S\xa0]+|\xa0{2,}")
_LINE_STOP = re.compile(r"(?<=[.!?…])[\"')\]”’]*\n")


def normalize(text: str, language: str = "en") -> str:
    return " ".join(normalize_lines(text, language)).replace(JOIN, " ")


def normalize_lines(text: str, language: str = "en") -> list[str]:
    """``text`` as spoken, cut where a line break ends a sentence. The cut must reach the
    planner: espeak hears no stop in "one. two", and the planner splits only before a
    capital or a letter with no case, so a break lost to whitespace is lost aloud."""
    # Composed (NFC) first: espeak reads a decomposed "é" (e + U+0301) as another word
    # ("café" was "kayf"), and macOS and some models write text that way.
    text = _ZERO_WIDTH.sub("", unicodedata.normalize("NFC", text))
    # Styled Latin first, so a full-width "＊＊" is markup like any other.
    text = _STYLED.sub(lambda m: unicodedata.normalize("NFKC", m[0]), text)
    english = language.lower().startswith("en")
    # English reads the comma as grouping ("1,999" is no year); espeak elsewhere reads the
    # bare digits, as "5,000" is five in German.
    text = _DIGIT_GROUPS.sub(lambda m: m[0].replace("_", "," if english else ""), text)
    # Each run of whitespace one character (_WHITESPACE), so the rules below see what they
    # saw when all of it was one space (they match it with \s).
    lang = primary(language)
    if english:  # before markup takes its marks ("jsmith_42", "Xy7#pQ2!")
        text = spell_credentials(text)
    text = _WHITESPACE.sub(_one_space, strip_markup(text, lang)).strip()
    if times := TIMES.get(lang):
        text = _TIMES_SIGN.sub(f" {times} ", text)
    if english:
        text = name_numbers(text)
        text = expand_streets(text)
        # A "#" left by markup (not "#3" nor "#tag") is the phone key: "pound" to an
        # American ("Press # to confirm" was read "hash").
        key = "pound" if language.lower().replace("_", "-")[3:5] in ("us", "ca") else "hash"
        text = _KEY_HASH.sub(f" {key} ", text)
        text = expand_abbreviations(text)
        text = rewrite_dates(text, language)
        for pattern, repl in _GUARDED:
            text = pattern.sub(repl, text)
    else:
        for pattern, repl in _local_rules(bcp47(language)):
            text = pattern.sub(repl, text)
    # The rules may have taken a stop ("Dr.\nLee"): a line is cut only after one left.
    cuts = [0, *(m.end() for m in _LINE_STOP.finditer(text)), len(text)]
    lines = (_SPACES.sub(" ", text[a:b]).strip() for a, b in pairwise(cuts))
    return [line for line in lines if line]
