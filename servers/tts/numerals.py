"""English readings of numbers that are not amounts, and of the marks between numbers:
identifiers (ZIP codes, order and PIN numbers) digit by digit, ranges ("3-5 days" is
"three to five", not "three five"), "per" for a slash before a unit, common fractions,
"about" for a tilde, and three-letter months and weekdays. Used by ``normalize.py``'s
English rules, before the rules that turn each number into words.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from num2words import num2words

from .addresses import spell_digits
from .fraction_words import COMMON, FRACTION_RULES, MEASURE_AFTER
from .identifiers import IDENTIFIER_RULES

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
SHORT_MONTHS = {m[:3]: m for m in MONTHS if m != "May"} | {"Sept": "September"}  # "Jun", "Sept"
DAYS = {"Mon": "Monday", "Tue": "Tuesday", "Tues": "Tuesday", "Wed": "Wednesday",
         "Thu": "Thursday", "Thur": "Thursday", "Thurs": "Thursday", "Fri": "Friday",
         "Sat": "Saturday", "Sun": "Sunday"}
LETTER_DAYS = {"M": "Monday", "Tu": "Tuesday", "W": "Wednesday", "Th": "Thursday",
               "F": "Friday", "Sa": "Saturday", "Su": "Sunday"}
_LETTER_DAY = "(?:" + "|".join(LETTER_DAYS) + ")"
_SHORT_DAY = "(?:" + "|".join(DAYS) + r")\b"
_DAY = _SHORT_DAY + r"\.?"
_NAMED = "|".join([*dict.fromkeys(DAYS.values()), *MONTHS, *SHORT_MONTHS])  # a range's end
# One end of a range: an amount, a number, a time, a percentage ("$5", "1,200", "9:30",
# "9am", "20%").
_END = r"[$€£]?\d[\d,]*(?:\.\d+)?(?::\d\d)?(?:\s?(?:[aApP]\.?[mM]\b\.?|%))?"
# Where a number runs on past the match, it is a date, a phone number or a code, not a
# range ("2024-03-15", "1-800-FLOWERS").
_NOT_AFTER = r"(?![\d.,:]\d|[-–/]\w|\d)"


# Longer digit runs are read digit by digit: past a quadrillion they are account or card
# numbers, not amounts (and num2words overflows at 307 digits, int() at 4,301).
LONG_NUMBER = 15

def words(n: int | str, to: str = "cardinal") -> str:
    """A number (an int, or its digits as a string, "3.5" allowed) -> English words."""
    whole, _, frac = str(n).partition(".")
    if frac:  # digit by digit after the point, every one (num2words rounds long ones)
        return f"{words(whole or '0')} point {spell_digits(frac)}"
    if len(whole.lstrip("-")) > LONG_NUMBER:
        return spell_digits(whole)
    return num2words(int(whole), to=to, lang="en").replace(",", "")


def _hours(n: str) -> str:
    return f"{n} hour" + ("" if n == "1" else "s")


def _minutes(n: str) -> str:
    return f"{int(n)} minute" + ("" if int(n) == 1 else "s")


_NAME_BEFORE = re.compile(r"\b[A-Z][a-z]+ $")


def _colon_numbers(m: re.Match[str]) -> str:
    """Numbers a colon joins that are no clock time, which espeak read "three colon one":
    a ratio or score ("3:1", "16:9", "1:100") is "three to one" (after a name, "Psalm
    23:1", a verse: "twenty-three one"); h:mm:ss a duration by its units ("1:30:45"),
    unless its hour has two digits ("14:30:15", a time of day); anything else ("25:10", a lap time "1:23.45") its numbers in turn, "oh" before a
    second digit as on a clock. A clock time is left to the time rule."""
    parts = m[0].split(":")
    if "." in parts[-1]:  # "1:23.45", a lap time: "one twenty-three point four five"
        return " ".join(_clock_part(p) for p in parts)
    if len(parts) == 2 and len(parts[1]) != 2:
        if _NAME_BEFORE.search(m.string[max(0, m.start() - 30):m.start()]):  # a verse
            return f"{parts[0]} {parts[1]}"
        return f"{parts[0]} to {parts[1]}"
    head, tail = parts[0], parts[1:]
    if len(parts) == 2 and len(head) <= 2 and int(head) <= 24 and int(tail[0]) < 60:
        return m[0]  # "9:45", "24:00": the time rule's
    if len(parts) == 3 and len(head) <= 3 and all(len(p) == 2 and int(p) < 60 for p in tail):
        if len(head) == 2 and int(head) <= 24:  # "14:30:15": a time, said as the ISO
            return f"{head}:{tail[0]}"  # rule says one (its seconds are no one's concern)
        said = [f"{n} {unit}{'' if n == 1 else 's'}"
                for n, unit in zip(map(int, parts), ("hour", "minute", "second"), strict=True)
                if n]
        said = said or ["0 seconds"]
        return " and ".join([", ".join(said[:-1]), said[-1]] if len(said) > 1 else said)
    return " ".join(_clock_part(p) for p in parts)


def _clock_part(part: str) -> str:
    """"05" after a colon is "oh five", as on a clock ("05.3": "oh five point three")."""
    whole = part.partition(".")[0]
    return f"oh {part[1:]}" if len(whole) == 2 and whole[0] == "0" and whole != "00" else part


COLON_RULE = (re.compile(r"(?<![\w:.])\d+(?::\d+)+(?:\.\d+)?(?![\w:]|\.\d)"),
              _colon_numbers)


def _nth(day: str) -> str:
    """"5" -> "5th": a day of the month, for the ordinal rule to read."""
    n = int(day)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _range(m: re.Match[str]) -> str:
    # "between 2–4 PM": between two and four ("between two to four" before).
    between = m.string[max(0, m.start() - 8):m.start()].lower().endswith("between ")
    return f"{m['a']} {'and' if between else 'to'} {m['b']}"


# A month after a short day's stop goes on with it ("Wed. Jan. 8th"); another day starts
# a sentence ("Mon-Fri. Sat 10-2").
_DATE_GOES_ON = re.compile(r"\s+(?:" + "|".join(
    [r"May(?=\s\d)", *(m for m in MONTHS if m != "May"), *SHORT_MONTHS]) + r")\b")


def _stop(m: re.Match[str]) -> str:
    """"Mon-Fri. Call us", "Open Sat.": a period the match took ends the sentence too
    where a capital or the text's end follows (not a date's next part)."""
    rest = m.string[m.end():]
    if not m[0].endswith(".") or _DATE_GOES_ON.match(rest):
        return ""
    return "." if re.match(r"\s+[A-Z]|\s*$", rest) else ""


def _days(m: re.Match[str]) -> str:
    return f"{DAYS[m['a'].rstrip('.')]} to {DAYS[m['b'].rstrip('.')]}{_stop(m)}"


_AMONG = r"(?:,|\s?[&/]|\s(?:and|or))\s?"  # between the days of a list: "Sat & Sun"


# A short day among others, before a time or a date ("Sat & Sun", "Fri, Sat 10-2", "Wed.
# 5pm", "Mon, Jan 6"),
# or with its stop ("Open Sat."): "Sat" and "Fri" alone are "sat" and "fry". Not "Sun."
# alone, which may be the star.
def _day(m: re.Match[str]) -> str:
    day, rest = m["day"], m.string[m.end():]
    before = m.string[max(0, m.start() - 12):m.start()]
    among = (re.search(rf"\b{_DAY}{_AMONG}$", before)
             or re.match(rf"\.?{_AMONG}{_SHORT_DAY}", rest))
    before_date = re.match(rf"\.?,?\s(?:{'|'.join(MONTHS)}|{'|'.join(SHORT_MONTHS)})\b", rest)
    if not (among or before_date or re.match(r"\.?\s?\d", rest)
            or (m["stop"] and day != "Sun")):
        return m[0]
    return DAYS[day] + _stop(m)


_UNITS = {"mo": ("month", "months"), "yr": ("year", "years"), "wk": ("week", "weeks"),
          "hr": ("hour", "hours"), "min": ("minute", "minutes"), "sec": ("second", "seconds")}
# A month and day with no year ("12/25") is a date only after what a date follows: the
# words below, or a day's name ("Monday, 3/4"); elsewhere "3/4" is three quarters and
# "4/5" may be a score, "by 1/2" or "for 1/10 of" a fraction ("pay by 1/15" and "booked
# for 10/15" are dates), and "5/8 inch" a measure. A second date after "to", "and", "-"
# is one too ("from 12/24 to 12/26", "between 5/1 and 5/3").
_MD = r"(?:1[0-2]|0?[1-9])/(?:3[01]|[12]\d|0?[1-9])"
DATE_BEFORE = ("on|until|till|from|since|before|after|through|thru|between|due|by|for|as of|"
                "expires|expiring|expired|effective|starting|begins|beginning|ends|ending|"
                "ended|renews|opens|closes|deadline|week of|date|" + "|".join(
                    f"{day},?" for day in [*dict.fromkeys(DAYS.values()), *DAYS]))


def _month_day(md: str) -> str:
    month, day = md.split("/")
    return f"{MONTHS[int(month) - 1]} {int(day)}"


# What follows a measure or a score, not a date ("5/8 inch", '3/8"', "4/5 stars").
NOT_DATE_AFTER = rf"(?!{MEASURE_AFTER}|\"|\s(?:stars?|points?)\b)"


def fraction_not_date(m: re.Match[str], md: str) -> bool:
    """"cut by 1/2", "for 1/10 of the price": after "by" or "for", a fraction."""
    return m["w"].lower().startswith(("by", "for")) and (
        md in COMMON or m.string.startswith(" of ", m.end()))


def _dates(m: re.Match[str]) -> str:
    if not m["b"] and fraction_not_date(m, m["a"]):
        return m[0]
    # The day's name is read with its date: a short one said whole ("Mon, 12/15").
    w = re.sub(rf"^{_SHORT_DAY}\.?", lambda d: DAYS[d[0].rstrip(".")], m["w"])
    if not m["b"]:
        return f"{w}{_month_day(m['a'])}"
    word = m["to"].strip()  # "and", "through", ...; a dash is "to"
    return f"{w}{_month_day(m['a'])} {word if word.isalpha() else 'to'} {_month_day(m['b'])}"


Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str] | str]
NUMERAL_RULES: list[Rule] = [
    *IDENTIFIER_RULES,
    # "2h 30m", "1h30", "45m": a duration ("five h thirty m" before).
    (re.compile(r"\b(?P<h>\d{1,2})\s?h(?:rs?)?(?:\s?(?P<m>[0-5]?\d)\s?m(?:in)?)?\b"),
     lambda m: _hours(m["h"]) + (f" {_minutes(m['m'])}" if m["m"] else "")),
    # "March 5-7": days of one month ("fifth to seven" before).
    (re.compile(r"\b(?P<month>" + "|".join([*MONTHS, *SHORT_MONTHS]) + r")\.? (?P<a>[0-3]?\d)"
                r"(?:st|nd|rd|th)?\s?[-–]\s?(?P<b>[0-3]?\d)(?:st|nd|rd|th)?\b(?![-–/]\d)"),
     lambda m: f"{SHORT_MONTHS.get(m['month'], m['month'])} {_nth(m['a'])} to {_nth(m['b'])}"),
    # "1-800-FLOWERS": a toll-free number spelt in letters ("one-eight hundred-FLOWERS").
    (re.compile(r"\b1-(8(?:00|88|77|66|55|44|33))-(?=[A-Z]{3,})"), r"1 \1 "),
    (re.compile(r"\b(\d+)[kK]\+(?!\w)"), r"\1 thousand plus"),  # "10k+ users"
    (re.compile(rf"(?<![\w.,:/–-])(?P<a>{_END})\s?[-–]\s?(?P<b>{_END}){_NOT_AFTER}"), _range),
    (re.compile(rf"\b(?P<a>{_DAY})\s?[-–]\s?(?P<b>{_DAY})"), _days),
    # "Monday–Friday", "Jan-Mar": the dash was silent ("Monday Friday").
    (re.compile(rf"\b(?P<a>{_NAMED})\s?[-–]\s?(?P<b>{_NAMED})\b"),
     lambda m: f"{SHORT_MONTHS.get(m['a'], m['a'])} to {SHORT_MONTHS.get(m['b'], m['b'])}"),
    # "Open M-F", "M–Th 8–6": days by their letters, as a US shop's hours are written
    # ("T" alone is Tuesday or Thursday: not taken).
    (re.compile(rf"(?<![-–])\b(?P<a>{_LETTER_DAY})\s?[-–]\s?(?P<b>{_LETTER_DAY})\b(?![-–])"),
     lambda m: f"{LETTER_DAYS[m['a']]} to {LETTER_DAYS[m['b']]}"),
    # "9am PT / 12pm ET": one time in two zones, "or" (the slash was said).
    (re.compile(r"(?<=\b[A-Z]T) / (?=\d)"), " or "),
    (re.compile(rf"\b(?P<day>{_SHORT_DAY})(?P<stop>\.)?"), _day),
    (re.compile(r"\b24/7\b"), "24 7"),
    (re.compile(r"\b50/50\b"), "fifty-fifty"),  # "a 50/50 split" (it was "fifty slash fifty")
    # "2,5 kg": a decimal comma, as most of Europe writes it (no thousands group has one
    # or two digits); before a unit only, where no list of numbers ("2,5 and 7") is.
    (re.compile(r"(?<![\d,.])(\d+),(\d{1,2})(?=\s?(?:%|°|(?:kg|g|mg|km|m|cm|mm|l|L|ml|"
                r"lb|lbs|oz|kW|kWh|MB|GB|TB|h|min|s|cl|dl)\b))"), r"\1.\2"),
    # A blood pressure, "120/80 mmHg" or after its name, is "120 over 80" (it was read
    # "one hundred and twenty slash eighty").
    (re.compile(r"(?:\b(?P<w>(?i:blood pressure|BP)\W{0,3}(?:(?i:is|was|of|at|reading|"
                r"reads)\s)?)|\b(?=\d{2,3}/\d{2,3}\s?mm\s?Hg\b))(?P<a>\d{2,3})/(?P<b>\d{2,3})"
                r"\b(?P<unit>\s?mm\s?Hg\b)?"),
     lambda m: f"{m['w'] or ''}{m['a']} over {m['b']}"
     + (" millimeters of mercury" if m["unit"] else "")),
    # A date with a two-digit year ("3/15/24"), or with none after what a date follows
    # ("closed on 12/25"); elsewhere "4/5" may be a score, and "by 1/2" a fraction.
    (re.compile(r"\b(?P<mo>1[0-2]|0?[1-9])/(?P<d>3[01]|[12]\d|0?[1-9])/(?P<y>\d\d)(?![\d/])"),
     lambda m: f"{MONTHS[int(m['mo']) - 1]} {m['d']}, 20{m['y']}"),
    # "Mon, 12/15–Wed, 12/17": a dash before a day and its date is "to" (it was silent).
    (re.compile(rf"(?<=\d)\s?[-–]\s?(?=(?:{_DAY}|{'|'.join(dict.fromkeys(DAYS.values()))}),?"
                r"\s\d)"), " to "),
    # ("Due: 4/1" too: the colon after the word hid it, and "4 slash 1" was read.)
    (re.compile(rf"\b(?P<w>(?i:{DATE_BEFORE}):? )(?P<a>{_MD})(?:(?P<to> (?i:to|through|thru|"
                rf"until|and) |\s?[-–]\s?)(?P<b>{_MD}))?(?![\d/]){NOT_DATE_AFTER}"), _dates),
    (re.compile(rf"(?<![\d/])(?P<w>)(?P<a>{_MD})(?P<to>\s?[-–]\s?)(?P<b>{_MD})(?![\d/])"),
     _dates),  # "12/24-12/26": two dates
    # "2025/03/15": year first, as ISO writes it with slashes.
    (re.compile(r"(?<![\d/])(?P<y>(?:19|20)\d\d)/(?P<mo>1[0-2]|0?[1-9])/(?P<d>3[01]|[12]\d|0?[1-9])"
                r"(?![\d/])"), lambda m: f"{m['y']}-{int(m['mo']):02d}-{int(m['d']):02d}"),
    # "12/2026", as a card's expiry is written: a month and its year.
    (re.compile(r"(?<![\d/])(?P<mo>1[0-2]|0?[1-9])/(?P<y>(?:19|20)\d\d)(?![\d/])"),
     lambda m: f"{MONTHS[int(m['mo']) - 1]} {m['y']}"),
    # "rated 4/5", "4.5/5 stars": a score out of five or ten, not a date or a fraction.
    (re.compile(r"\b(?P<w>(?i:rated|rating(?: of)?|scored?(?: of)?):? )?(?P<a>\d{1,2}(?:\.\d)?)"
                r"/(?P<b>5|10|100)\b(?(w)|(?=\s(?:stars?|rating)\b))"),
     lambda m: f"{m['w'] or ''}{m['a']} out of {m['b']}"),
    # "page 3/12", "step 2 / 5": one of so many, as it is said ("page three/twelve" before).
    (re.compile(r"\b(?P<w>(?i:page|step|part|slide|question|item|chapter|episode|lesson|"
                r"module|photo|image) )(?P<a>\d{1,4}) ?/ ?(?P<b>\d{1,4})(?![\d/])"),
     lambda m: f"{m['w']}{m['a']} of {m['b']}" if 0 < int(m["a"]) <= int(m["b"]) else m[0]),
    *FRACTION_RULES,
    # "$19.99/month", "5/hr": a slash between a number and a word is "per".
    # After an amount's scale too: "$100K/yr" was "one hundred thousand dollars/yr".
    (re.compile(r"(?<=[\d%])\s?/\s?(?=[^\W\d]{1,12}\b)|(?<=\d[KkMB])/(?=[^\W\d]{1,12}\b)"),
     " per "),
    # "$29.99/mo", "2 hrs 30 mins": a unit written short ("per mo" was heard "per mile").
    (re.compile(r"\bper[ \xa0](?P<u>mos?|yrs?|wks?|hrs?|mins?|secs?)\b\.?"),
     lambda m: f"per {_UNITS[m['u'].rstrip('s')][0]}" + _stop(m)),  # "$45/mo. + tax"
    # "30-yr fixed": before its noun, one ("thirty-yr" before).
    (re.compile(r"\b(?P<n>\d+(?:\.\d+)?)(?P<sep>[ -]?)(?P<u>mos?|yrs?|wks?|hrs?|mins?|secs?)\b"),
     lambda m: f"{m['n']}{m['sep'] or ' '}"
     f"{_UNITS[m['u'].rstrip('s')][m['n'] != '1' and m['sep'] != '-']}"),
    (re.compile(r"(?<![\w~])~\s?(?=[$€£]?\d)"), "about "),
    # "Jun 5", "Mar. 15", "Dec 2025": a month written short before its day or year.
    (re.compile(r"\b(?:" + "|".join(SHORT_MONTHS) + r")\b\.?"
                r"(?=\s(?:\d{1,2}(?:st|nd|rd|th)?|(?:19|20)\d\d)\b)"),
     lambda m: SHORT_MONTHS[m[0].rstrip(".")]),
]
