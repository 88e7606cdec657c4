"""Numbers that name or identify rather than count: codes, order and tracking numbers,
a card's last four, flights, model and road names ("F-150", "I-405"). Read as they are
read out, digit by digit or in pairs, never as amounts ("ABC123" was "one hundred
twenty-three"). Their rules run first, before any number becomes an amount.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from num2words import num2words

from .addresses import spell_groups, spelt

STATES = {"AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas",
          "CA": "California", "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware",
          "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
          "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
          "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan",
          "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
          "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey",
          "NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota",
          "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
          "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
          "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia",
          "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming"}
# Also words or common letters: a state only before a ZIP code ("Sure, OK.").
_STATES_ALSO_WORDS = {"OK", "IN", "OR", "ME", "HI", "ID", "OH", "LA", "MA", "PA", "CO", "DE",
                      "MI"}


def _last_four(m: re.Match[str]) -> str:
    said = re.search(r"(?i:ending(?: in)?|ends(?: in| with)?|last (?:four|4|digits)(?: are| is)?)"
                     r"\W*$",
                     m.string[max(0, m.start() - 24):m.start()])
    return ("" if said else "ending in ") + _digits(m, 1)


def _cardinal(n: int) -> str:
    return num2words(n, lang="en").replace(",", "")


def _digits(m: re.Match[str], group: int | str = 0) -> str:
    return spell_groups(m[group])


# What names an identifier that follows it, and the space after ("#" is "number" by now).
# (The word is matched, not looked behind for: tried at every character, a list of
# lookbehinds cost 0.6 µs a character.)
_ID_WORD = (r"\b(?P<w>(?:(?i:number(?: is)?|ID:?|PIN(?::| is)?|code(?::| is)?|ending(?: in)?|"
            r"ZIP(?: code)?(?: is)?:?|post ?code(?: is)?:?|"
            r"ends in|digits(?: are)?|reference(?: is)?|account|confirmation(?: is)?|"
            r"tracking(?: number)?(?: is)?:?|IMEI:?|ICCID:?|"
            r"(?:your|the|my|this|an?) (?:order|ticket|invoice|case|claim)(?: is)?|"
            r"ticket|invoice|claim|P\.?O\.? box(?: is)?)|Box) )")


def paired(n: int) -> str:
    """A name's number as it is said, in pairs from the right: 150 "one fifty", 405 "four
    oh five", 1234 "twelve thirty-four", 1005 "ten oh five", 200 "two hundred".
    (num2words' year reading is close, but says 1005 "one thousand and five", as a year.)"""
    if n < 100 or n % 1000 == 0 or n >= 10_000:
        return _cardinal(n)
    head, tail = divmod(n, 100)
    if tail == 0:
        return f"{_cardinal(head)} hundred"
    return f"{_cardinal(head)} {'oh ' if tail < 10 else ''}{_cardinal(tail)}"


def _model_number(m: re.Match[str]) -> str:
    """"F-150": "F one fifty" (not "one hundred and fifty"), "I-405": "I four oh five"."""
    return f"{m['p']} {paired(int(m['n']))}"


def _flight(m: re.Match[str]) -> str:
    """"Flight UA123": "U A one twenty-three", "flight B6 1005": "B six ten oh five"."""
    return f"{m['w']}{spelt(m['a'])} {paired(int(m['n']))}"


def _form(m: re.Match[str]) -> str:
    """"Form 1040": "ten forty"; "1099-NEC": "ten ninety-nine N E C" (a code before)."""
    kind = m["x"] or ""
    return f"{m['w'] or ''}{paired(int(m['n'] or m['n2']))}{m['pl'] or ''}" + (
        f" {spelt(kind) if len(kind) <= 3 else kind}" if kind else "")


# A tax form by its number, as it is said, after "Form", or one of the IRS's best known
# with its kind ("1099-NEC", before the code rule spells it) or as a plural ("1099s").
_FORMS = "1040|1099|1098|1095|1065|1120|8949|941|940|990"
FORM_RULE = (re.compile(rf"\b(?:(?P<w>(?i:forms?|schedule) )(?P<n>[1-9]\d{{2,3}})"
                        rf"|(?P<n2>{_FORMS})(?=-[A-Z]|s\b))"
                        r"(?:-(?P<x>[A-Z]{1,4}))?(?P<pl>s)?(?![\w-]|[.,]\d)"), _form)

IDENTIFIER_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str] | str]] = [
    # A number's last four, the rest masked ("(...4821)", "xxxx-xxxx-4821", "****4821" as
    # markup.py leaves it): "ending in" and its digits (a card's was "four thousand two
    # hundred ..."). Not after a word ("Wait...1000 people").
    # (Its groups each end at a space or a dash: any split of a long run of x's was tried,
    # 69 s for 400.)
    (re.compile(r"(?<!\w)(?:\.{3}|…|[xX]{2,}(?:[\s-][xX]{2,}){0,3}[\s-]?)\s?(\d{4})\b"),
     _last_four),
    # A flight: its airline's two characters, then its number in pairs, as it is
    # announced ("UA123" was "U A one hundred twenty three").
    (re.compile(r"\b(?P<w>(?i:flights?) )(?P<a>[A-Z][A-Z\d]|\d[A-Z]) ?(?P<n>[1-9]\d{0,3})\b"),
     _flight),
    # A name of one or two capitals and three digits ("F-150", "I-405", "SR-710"), not a
    # code of more groups ("ABC-123" is one), nor an amount or a decimal.
    (re.compile(r"(?<![\w-])(?P<p>[A-Z]{1,2})-(?P<n>[1-9]\d\d)(?![\w-]|[.,]\d)"), _model_number),
    # "Memphis, TN", "Springfield, IL 62704": a state after its city, by its name ("T N");
    # one that is also a word ("OK", "IN") only before its ZIP code.
    (re.compile(rf"(?<=[a-z], )(?P<s>{'|'.join(STATES)})(?:(?P<zip> \d{{5}}(?:-\d{{4}})?)"
                r"|(?=[.,;:!?)]|\s*$))(?![\w-])"),
     lambda m: m[0] if m["s"] in _STATES_ALSO_WORDS and not m["zip"]
     else STATES[m["s"]] + (f" {spell_groups(m['zip'])}" if m["zip"] else "")),
    # A ZIP code after a state's two capitals: "IL 62704" is no sixty-two thousand.
    (re.compile(r"(?<=\b[A-Z]{2} )\d{5}(?:-\d{4})?(?![\w-])"), _digits),
    # An identifier after what names one, "#12345" included (markup made it "number"),
    # and a card's last digits ("ending in 4242" was "four thousand two hundred ..."); its
    # groups too, each digit by digit ("4829-3312", "112-4458899-1234567", "9400 1000
    # 0000": the groups after the first were read as amounts).
    # (A check digit after a last dash too: "IMEI: 35-209900-176148-1".)
    (re.compile(_ID_WORD + r"(?P<n>(?:\d{4,}(?:[- ]\d{2,})*|\d{2,}(?:[- ]\d{2,})+)(?:-\d)?)"
                r"(?![\w,.]\d)"),
     lambda m: m["w"] + _digits(m, "n")),
    # A code there in groups of capitals and digits, as a tracking number is printed
    # ("1Z 999 AA1 01 2345 6784": "nine hundred and ninety-nine AA1" before): each
    # character, a pause between groups.
    (re.compile(_ID_WORD + r"(?P<n>(?=[A-Z\d ]*[A-Z])(?=[A-Z\d ]*\d)[A-Z\d]{2,}"
                r"(?: [A-Z\d]{1,6}){2,})(?![\w-])"),
     lambda m: m["w"] + ", ".join(spelt(group) for group in m["n"].split())),
    # A code of capitals and digits there, each character ("ABC123": "one hundred
    # twenty-three" was espeak's); four letters in a row are a word ("SAVE20").
    (re.compile(_ID_WORD + r"(?P<n>(?=[A-Z\d]*\d)(?![A-Z\d]*[A-Z]{4})[A-Z\d]*[A-Z][A-Z\d]*)"
                r"\b(?!-)"),
     lambda m: m["w"] + spelt(m["n"])),
    # "ABC-123", "SKU-4410", "REF-2024-0042": a code of capitals and digits, each digit
    # said ("COVID-19" is a name, read as written).
    (re.compile(r"\b(?P<w>[A-Z]{2,}-)(?P<n>\d{3,}(?:-\d{2,})*)\b(?!-)"),
     lambda m: m["w"][:-1] + " " + _digits(m, "n")),
    (re.compile(r"\b401\(k\)"), "four oh one K"),
    # "Text STOP to 12345": a short code, digit by digit ("twelve thousand ..." before).
    (re.compile(r"\b(?P<w>(?i:text|txt|reply|send)(?: [\w\"']+)? to |(?i:text|txt) us at )"
                r"(?P<n>\d{5,6})\b"),
     lambda m: m["w"] + _digits(m, "n")),
    # "Call 911", "TTY 711": a service number, said digit by digit.
    (re.compile(r"\b(?P<w>(?i:call|dial|text|TTY|TDD):? )(?P<n>[2-9]11)\b"),
     lambda m: m["w"] + _digits(m, "n")),
    # A tracking or order code of letters and digits ("1Z999AA10123456784"): each
    # character, as it is read out; a short one ("MP3", "COVID19", "B2B") is a word.
    # So is a booking code whose letters and digits alternate ("8XK2P9" was "eight
    # XK2P9"); one run of each is a name ("RTX4090", "SHA256", "COVID19").
    (re.compile(r"\b(?=[A-Z\d]*[A-Z])(?=(?:[A-Z]*\d){5}|\d*[A-Z]+\d+[A-Z]|[A-Z]*\d+[A-Z]+\d)"
                r"[A-Z\d]{6,}\b"),
     lambda m: spelt(m[0])),
]
