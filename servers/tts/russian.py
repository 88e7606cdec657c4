"""Russian: what espeak misreads in it, written the way it is said.

Heard through piper's own phonemizer, espeak read "15.03.2025" as "пятнадцать точка ноль
три точка ...", "3-й" as "три краткой", "1-го" as "один го", "руб." as "руп" (and a
sentence's end), "кг" as "ка гэ", "1 500" as "один пятьсот", "+7 (495) 123-45-67" as
millions, "-3°" as "три", and "ул. Ленина" as two sentences. Like Polish (``polish.py``)
and unlike the others (``european.py``), the words are written here where Russian
inflects them: a date's day is an ordinal in the case the word before it asks
("пятнадцатого марта", "на пятнадцатое марта"), a noun takes the form its number asks
("2 рубля", "5 рублей"), and a number after "до", "от", "более" ... is in the genitive
("до восемнадцати", "более ста человек"), which espeak cannot do: it says every number in
the nominative, so that is left to it elsewhere. Here: days, dates, years and times;
numbers and what they count are in ``russian_numbers.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .european_abbreviations import abbreviation_rules, sentence_stop
from .european_numbers import TWENTY_FOUR_SEVEN
from .russian_numbers import form, number, number_rules, ordinal, phone_rules
from .russian_words import DAYS, HOUR, MONTHS, RUSSIAN, YEAR_FORMS

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


def _starts_sentence(m: re.Match[str]) -> bool:
    before = m.string[max(0, m.start() - 4):m.start()].rstrip()
    return not before or before[-1] in ".!?\n"


# --- days, dates, years -----------------------------------------------------------------

_DAY = "|".join(DAYS)


def _day_range(m: re.Match[str]) -> str:
    """"пн-пт", "с пн по пт": "с понедельника по пятницу" (espeak: "пэ эн пэ тэ")."""
    start = "С" if m["w"] == "С" or not m["w"] and _starts_sentence(m) else "с"
    return (f"{start} {DAYS[m['a'].lower()][1]} по {DAYS[m['b'].lower()][2]}"
            + sentence_stop(m))


def _day(m: re.Match[str]) -> str:
    """"сб 10-16", "Пн: 9:00", "Сб, Вс — выходной": the day's name."""
    name = DAYS[m["a"].lower()][0]
    return (name[0].upper() + name[1:]) if _starts_sentence(m) else name


def _date_case(before: str) -> str:
    """A date's day: "на пятнадцатое", "к пятнадцатому", else "пятнадцатого" (when)."""
    if re.search(r"(?i)(?:\bна|\bпо|сегодня|завтра|вчера|дата:?)\s*$", before):
        return "n"
    return "d" if re.search(r"(?i)(?<!\w)к\s*$", before) else "g"


def _date(d: int, mo: int, year: str | None, case: str) -> str | None:
    if not (1 <= d <= 31 and 1 <= mo <= 12):
        return None
    said = f"{ordinal(d, case, 'n')} {MONTHS[mo - 1]}"
    if year:
        y = int(year) if len(year) == 4 else 2000 + int(year)
        said += f" {ordinal(y, 'g')} года"
    return said


_YEAR_MARK = r"(?:\s?г\.(?!\w)|\s?года\b)?"
_NUMERIC_DATE = re.compile(
    r"(?<![\w./-])(?:(?P<iso>(?:19|20)\d\d)-(?P<imo>[01]\d)-(?P<id>[0-3]\d)"
    r"|(?P<d>[0-3]?\d)(?P<s>[./])(?P<mo>[01]?\d)(?P=s)(?P<y>(?:19|20)\d\d|\d\d))"
    rf"(?![\w/-]|[.,]\d){_YEAR_MARK}")
# Without a year only after what a date follows ("до 15.03"), the month in two digits.
_SHORT_DATE = re.compile(r"(?<!\w)(?P<w>(?i:до|с|от|на|к|по|после|дата:?) )(?P<d>[0-3]?\d)\."
                         r"(?P<mo>0[1-9]|1[0-2])(?![\d/-]|[.,]\d)")
# "15 марта 2025 г.", "с 1 по 15 марта" (espeak: "пятнадцать марта", "один").
_DAY_MONTH = re.compile(
    r"(?<![\w.,])(?:(?P<w1>[СсОо]т?) (?P<d1>[0-3]?\d) (?P<by>по|до) )?"
    rf"(?P<d>[0-3]?\d) (?P<month>{'|'.join(MONTHS)})\b"
    rf"(?: (?P<y>(?:19|20)\d\d)\b{_YEAR_MARK})?")


def _before(m: re.Match[str], width: int = 16) -> str:
    return m.string[max(0, m.start() - width):m.start()]


_VERSION_BEFORE = re.compile(r"(?i:\b(?:верси[яию]|version|релиз|сборка|v))\s?$")


def _numeric_date(m: re.Match[str]) -> str:
    if _VERSION_BEFORE.search(_before(m)):  # "версия 2.10.15" is no date
        return m[0]
    case = _date_case(_before(m))
    if m["iso"]:
        said = _date(int(m["id"]), int(m["imo"]), m["iso"], case)
    else:
        said = _date(int(m["d"]), int(m["mo"]), m["y"], case)
    return said + sentence_stop(m) if said else m[0]


def _short_date(m: re.Match[str]) -> str:
    date = _date(int(m["d"]), int(m["mo"]), None, _date_case(m["w"]))
    return m["w"] + date if date else m[0]


def _day_month(m: re.Match[str]) -> str:
    mo = MONTHS.index(m["month"]) + 1
    if m["d1"]:  # "с первого по пятнадцатое марта", "до пятнадцатого"
        if not 1 <= int(m["d1"]) <= 31:
            return m[0]
        date = _date(int(m["d"]), mo, m["y"], "n" if m["by"] == "по" else "g")
        return f"{m['w1']} {ordinal(int(m['d1']), 'g', 'n')} {m['by']} {date}" \
            if date else m[0]
    date = _date(int(m["d"]), mo, m["y"], _date_case(_before(m)))
    return date + sentence_stop(m) if date else m[0]


# "в 2024 г." is "в две тысячи двадцать четвёртом году" (espeak: "... четыре гэ"), "в
# 1998-2000 гг." "в тысяча девятьсот девяносто восьмом — двухтысячном годах".
_YEAR_WORD = r"гг\.|г\.(?!\w)|годах|годов|годы|года|году|год"
_YEAR = re.compile(r"(?<![\w.,])(?:(?P<y0>(?:1[89]|20)\d\d)\s?[-–—]\s?)?"
                   rf"(?P<y>(?:1[89]|20)\d\d)\s?(?P<g>{_YEAR_WORD})(?!\w)")
_WRITTEN_CASE = {"года": "g", "году": "p", "год": "n", "годах": "p", "годов": "g", "годы": "n"}
_YEARS = {"n": "годы", "g": "годов", "d": "годам", "p": "годах"}


def _year(m: re.Match[str]) -> str:
    before = _before(m)
    case = _WRITTEN_CASE.get(m["g"], "")
    if re.search(r"(?i)(?<!\w)к\s*$", before):
        case = "d"
    elif not case:  # "г.": the case its preposition asks
        case = "p" if re.search(r"(?i)(?<!\w)(?:в|во|о|об)\s*$", before) else \
            "n" if re.search(r"(?i)(?<!\w)(?:за|на|через|про)\s*$", before) else "g"
    said = ordinal(int(m["y"]), case)
    if m["y0"]:
        return f"{ordinal(int(m['y0']), case)} — {said} {_YEARS[case]}" + sentence_stop(m)
    return f"{said} {YEAR_FORMS[case]}" + sentence_stop(m)


# --- times -----------------------------------------------------------------------------

_HOUR = r"(?:[01]?\d|2[0-3])(?::[0-5]\d)?"
# "9:00-18:00", "с 9:00 до 18:00", "пн-пт 9-18": "с девяти до восемнадцати".
_TIME_RANGE = re.compile(rf"(?<![\w:.,])(?:(?P<w>[Сс]|[Оо]т) )?(?P<a>{_HOUR})"
                         rf"(?:\s?[-–]\s?| до )(?P<b>{_HOUR})(?![\w:.,]\d|\d|-)")
_AFTER_DAY = re.compile(r"(?i)(?:понедельник|вторник|сред[уа]|четверг|пятниц[уа]|суббот[уа]|"
                        r"воскресенье|ежедневно|часы работы):?\s*$")
_TIME = re.compile(r"(?<![\w:.,])(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)(?![\d:]|[.,]\d)")


def _genitive_time(text: str) -> str:
    h, _, minutes = text.partition(":")
    said = number(int(h), "g")
    mm = int(minutes or 0)
    return said + ("" if not mm else f" ноль {number(mm, 'g')}" if mm < 10
                   else f" {number(mm, 'g')}")


def _time_range(m: re.Match[str]) -> str:
    timed = ":" in m["a"] + m["b"] or _AFTER_DAY.search(_before(m, 24))
    if not timed or int(m["a"].split(":")[0]) > int(m["b"].split(":")[0]):
        return m[0]  # "2-1" is a score; "с 5 до 10" the genitive rule's
    start = m["w"] or ("С" if _starts_sentence(m) else "с")
    return f"{start} {_genitive_time(m['a'])} до {_genitive_time(m['b'])}"


def _time(m: re.Match[str]) -> str:
    """"до 18:00" is "до восемнадцати часов", "в 9:00" "в 9 часов"; "9:05" and
    "14:30" espeak reads as said ("девять ноль пять")."""
    h, mm = int(m["h"]), int(m["m"])
    if re.search(r"(?<!\w)(?:[Сс]|[Оо]т|[Дд]о|[Пп]осле|[Оо]коло)\s$", _before(m, 8)):
        return _genitive_time(m[0]) + ("" if mm else f" {form(h, HOUR, 'g')}")
    return m[0] if mm else f"{h} {form(h, HOUR)}"


def rules() -> list[Rule]:
    return [
        (re.compile(rf"(?<!\w)(?:(?P<w>[Сс]) )?(?P<a>{_DAY})\.?\s?(?:[-–]|(?(w) по |(?!)))"
                    rf"\s?(?P<b>{_DAY})\b\.?", re.IGNORECASE), _day_range),
        (re.compile(rf"(?<!\w)(?P<a>{_DAY})\b\.?(?=[:,]|\s\d|\s[—–-]\s)", re.IGNORECASE), _day),
        (_NUMERIC_DATE, _numeric_date), (_SHORT_DATE, _short_date), (_DAY_MONTH, _day_month),
        (_YEAR, _year),
        *phone_rules(),
        (_TIME_RANGE, _time_range), (_TIME, _time),
        *number_rules(),
        (re.compile(r"(?<![\w.])д\.\s?(?=\d)"), lambda m: "дом "),  # "д. 5"
        (TWENTY_FOUR_SEVEN, lambda m: "24 на 7"),
        *abbreviation_rules(RUSSIAN),
    ]
