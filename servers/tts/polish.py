"""Polish: what espeak misreads in it, written the way it is said.

Heard through piper's own phonemizer, espeak read "15.03.2025" as "piętnaście zero trzy
dwa tysiące ..." (the dots silent), "14:30" as "czternaście trzydzieści", "zł" as "zet
el", "+48 600 123 456" as billions, "pon.-pt." as one word and a sentence's end, and
"ul." ended a sentence. Unlike the other languages' rules (``european.py``), these write
the words themselves where Polish inflects them: a date's day and year are genitive
ordinals ("piętnastego marca dwa tysiące dwudziestego piątego roku"), an hour a feminine
ordinal in the case its preposition takes ("o czternastej", "od dziewiątej do
siedemnastej"), and a currency takes the form its number asks for ("2 złote", "5
złotych"). espeak still says the cardinals.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from num2words import num2words

from .european_abbreviations import abbreviation_rules, ends_sentence, sentence_stop
from .european_numbers import TWENTY_FOUR_SEVEN
from .european_words import Language

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]

_DAYS = {"pon": "poniedziałek", "wt": "wtorek", "śr": "środa", "czw": "czwartek",
         "pt": "piątek", "sob": "sobota", "niedz": "niedziela", "nd": "niedziela"}
_DAY = "|".join(_DAYS)
POLISH = Language(
    code="pl",
    # genitive, as a date says them ("15 marca")
    months=("stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca", "lipca",
            "sierpnia", "września", "października", "listopada", "grudnia"),
    days=_DAYS, until="do", plus="plus", currencies={}, number="numer",
    number_marks=r"\b(?:[Nn]r\.?)",
    abbreviations={"ul.": "ulica", "al.": "aleja", "pl.": "plac", "os.": "osiedle",
                   "tel.": "telefon", "ok.": "około", "tj.": "to jest", "tzn.": "to znaczy",
                   "np.": "na przykład", "itd.": "i tak dalej", "itp.": "i tym podobne",
                   "m.in.": "między innymi", "ds.": "do spraw",
                   "mgr": "magister", "inż.": "inżynier", "prof.": "profesor",
                   "godz.": "godzina", **{f"{day}.": name for day, name in _DAYS.items()}},
    may_end=frozenset({"itd.", "itp."}))
_DAYS_GENITIVE = {"pon": "poniedziałku", "wt": "wtorku", "śr": "środy", "czw": "czwartku",
                  "pt": "piątku", "sob": "soboty", "niedz": "niedzieli", "nd": "niedzieli"}


# --- an ordinal's forms ----------------------------------------------------------------

def _ordinal(n: int, ending: Callable[[str], str]) -> str:
    """num2words' masculine nominative ordinal ("dwudziesty pierwszy", "dwa tysiące
    dwudziesty piąty"), each ordinal word given ``ending``; cardinal words ("dwa
    tysiące") are left as they are."""
    words = num2words(n, lang="pl", to="ordinal").split()
    return " ".join(ending(w) if w[-1] in "yi" else w for w in words)


def _genitive(word: str) -> str:  # piętnasty -> piętnastego, trzeci -> trzeciego
    return word[:-1] + "ego" if word.endswith("y") else word + "ego"


def _feminine(case: str) -> Callable[[str], str]:
    """An hour's ordinal: "czternasta" (nominative), "czternastej" (after "o", "od",
    "do"), "czternastą" (after "przed", "między", "za")."""
    def ending(word: str) -> str:
        stem = word[:-1] if word.endswith("y") or word.endswith("gi") else word
        return stem + {"nom": "a", "gen": "ej", "ins": "ą"}[case]
    return ending


def _plural(n: int, one: str, few: str, many: str) -> str:
    """1 złoty, 2-4 złote (not 12-14), else złotych."""
    if n == 1:
        return one
    return few if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14) else many


# --- dates ---------------------------------------------------------------------------

def _date(d: int, mo: int, year: str | None) -> str | None:
    if not (1 <= d <= 31 and 1 <= mo <= 12):
        return None
    said = f"{_ordinal(d, _genitive)} {POLISH.months[mo - 1]}"
    if year:
        y = int(year) if len(year) == 4 else 2000 + int(year)
        said += f" {_ordinal(y, _genitive)} roku"
    return said


_NUMERIC_DATE = re.compile(
    r"(?<![\w./-])(?:(?P<iso>(?:19|20)\d\d)-(?P<imo>[01]?\d)-(?P<id>[0-3]?\d)"
    r"|(?P<d>[0-3]?\d)(?P<s>[./])(?P<mo>[01]?\d)(?P=s)(?P<y>(?:19|20)\d\d|\d\d))"
    r"(?![\w/-]|[.,]\d)(?: ?r\.(?= |$|,))?")
# Without a year only after what a date follows ("do 15.03", "z dnia 3.04").
_SHORT_DATE = re.compile(r"\b(?P<w>(?i:do|od|dnia|na|po|przed|terminie) )(?P<d>[0-3]?\d)\."
                         r"(?P<mo>[01]?\d)(?![\d/-]|\.\d)")
# "15 marca 2025 r.": the day before a month's name ("piętnaście marca" before).
_DAY_MONTH = re.compile(rf"(?<![\w.,])(?P<d>[0-3]?\d)\.? (?P<month>{'|'.join(POLISH.months)})"
                        r"\b(?: (?P<y>(?:19|20)\d\d)\b(?: ?r\.(?= |$|,))?)?")


def _numeric_date(m: re.Match[str]) -> str:
    if m["iso"]:
        return _date(int(m["id"]), int(m["imo"]), m["iso"]) or m[0]
    return _date(int(m["d"]), int(m["mo"]), m["y"]) or m[0]


def _short_date(m: re.Match[str]) -> str:
    if _COUNTED_AFTER.match(m.string, m.end()):  # "na 3.5 kg"
        return m[0]
    date = _date(int(m["d"]), int(m["mo"]), None)
    return m["w"] + date if date else m[0]


def _day_month(m: re.Match[str]) -> str:
    mo = POLISH.months.index(m["month"]) + 1
    return _date(int(m["d"]), mo, m["y"]) or m[0]


# --- times ---------------------------------------------------------------------------

# The case an hour takes from the word before it ("o godz." is "o godzinie" by then).
_GENITIVE_BEFORE = re.compile(r"\b(?:o|od|do|po|około|koło|godziny|godzinie)\s*$",
                              re.IGNORECASE)
# ("a" only in "między 9:00 a 10:00": "o 9:00, a 14:00 to ..." is nominative)
_INSTRUMENTAL_BEFORE = re.compile(r"\b(?:przed|między|pomiędzy|za|(?:między|pomiędzy) \S+ a)"
                                  r"\s*$", re.IGNORECASE)
_TIME = re.compile(r"(?<![\w:.,])(?P<h>[01]?\d|2[0-3])[:.](?P<m>[0-5]\d)(?![\d:]|[.,]\d)")
_HOUR = r"(?:[01]?\d|2[0-3])(?:[:.][0-5]\d)?"
# "9-17", "9:00-17:00", "od 9 do 17": after "godz." or a day range, or with minutes.
_TIME_RANGE = re.compile(rf"(?<![\w:.,])(?:od )?(?P<a>{_HOUR})(?:\s?[-–]\s?| do )"
                         rf"(?P<b>{_HOUR})(?![\w:.,]\d|\d)")


# What a number counts: then "9-17", "3.5" or "2.50" is no time and no date.
_COUNTED_AFTER = re.compile(r"\s?(?:minut|min\b|sekund|dni|godzin|tygodni|miesięcy|lat\b|osób|"
                            r"zł|PLN|%|€|\$|km|kg|cm|mm|ml|m\b|g\b|l\b|proc|razy|sztuk)")


def _hour(text: str, case: str) -> str:
    h, _, minutes = text.replace(".", ":").partition(":")
    said = "zero" if int(h) == 0 else _ordinal(int(h), _feminine(case))
    m = int(minutes or 0)
    return said + ("" if not m else f" zero {m}" if m < 10 else f" {m}")


def _time(m: re.Match[str]) -> str:
    before = m.string[max(0, m.start() - 24):m.start()]
    if m[0][-3] == "." and (not _GENITIVE_BEFORE.search(before)
                            or _COUNTED_AFTER.match(m.string, m.end())):
        return m[0]  # "9.30" alone is an amount, "po 2.50 zł" too; "o 9.30" a time
    case = "gen" if _GENITIVE_BEFORE.search(before) else \
        "ins" if _INSTRUMENTAL_BEFORE.search(before) else "nom"
    return _hour(f"{m['h']}:{m['m']}", case)


def _time_range(m: re.Match[str]) -> str:
    before = m.string[max(0, m.start() - 24):m.start()]
    timed = ":" in m["a"] + m["b"] or m[0].startswith("od ") or \
        re.search(rf"(?:godz\.|godzinach|\b(?:{_DAY})\.?|poniedziałku|piątku|soboty|"
                  r"niedzieli)\s*$", before, re.IGNORECASE)
    counted = _COUNTED_AFTER.match(m.string, m.end())  # "od 10 do 15 minut"
    if not timed or counted or int(re.split("[:.]", m["a"])[0]) > int(re.split("[:.]", m["b"])[0]):
        return m[0]  # "2-1" is a score
    return f"od {_hour(m['a'], 'gen')} do {_hour(m['b'], 'gen')}"


# --- money, phones, the rest ------------------------------------------------------------

_MONEY = re.compile(
    r"(?:(?P<cur1>\bPLN|€|\$|\bEUR|\bUSD)\s?)?(?<![\w.,])(?P<whole>\d{1,3}(?:[ \xa0.]\d{3})+|\d+)"
    r"(?:,(?P<cents>\d\d)|,-)?(?!\d|[,.]\d)(?(cur1)|\s?(?P<cur2>zł|PLN|€|EUR|\$|USD)(?!\w))")
_CURRENCIES = {"zł": (("złoty", "złote", "złotych"), ("grosz", "grosze", "groszy")),
               "€": (("euro",) * 3, ("cent", "centy", "centów")),
               "$": (("dolar", "dolary", "dolarów"), ("cent", "centy", "centów"))}
_SIGNS = {"zł": "zł", "PLN": "zł", "€": "€", "EUR": "€", "$": "$", "USD": "$"}


def _money(m: re.Match[str]) -> str:
    whole_forms, cent_forms = _CURRENCIES[_SIGNS[m["cur1"] or m["cur2"]]]
    whole = int(re.sub(r"\D", "", m["whole"]))
    cents = int(m["cents"] or 0)
    said = [f"{whole} {_plural(whole, *whole_forms)}"] if whole or not cents else []
    if cents:
        said.append(f"{cents} {_plural(cents, *cent_forms)}")
    return " ".join(said)


# "+48 600 123 456", "22 123 45 67", "600123456": a Polish number is said in its groups,
# each as a number ("sześćset, sto dwadzieścia trzy, ..."); espeak read billions.
_PHONE = re.compile(r"(?<![\w.,+])(?:\+48[ -]?)?(?:\d{3}[ -]?\d{3}[ -]?\d{3}|"
                    r"\d{2}[ -]\d{3}[ -]\d{2}[ -]\d{2})(?![\w,.]\d|\w)"
                    r"(?!\s?(?:zł|PLN|EUR|USD|€|\$|%))")  # ("100 000 000 zł" is an amount)


def _phone(m: re.Match[str]) -> str:
    groups = re.findall(r"\d+", m[0].removeprefix("+48"))
    if len(groups) == 1:  # "600123456": three and three and three
        groups = [groups[0][i:i + 3] for i in range(0, 9, 3)]
    return ("plus 48, " if m[0].startswith("+48") else "") + ", ".join(groups)


def _day_range(m: re.Match[str]) -> str:
    return (f"od {_DAYS_GENITIVE[m['a'].lower()]} do {_DAYS_GENITIVE[m['b'].lower()]}"
            + sentence_stop(m))


_CASED = {"o godz.": "o godzinie", "w godz.": "w godzinach", "przy ul.": "przy ulicy",
          "na ul.": "na ulicy", "przy al.": "przy alei", "na pl.": "na placu",
          # "w" takes the accusative: "w środę", "w sobotę"
          "w śr.": "w środę", "w sob.": "w sobotę", "w niedz.": "w niedzielę",
          "w nd.": "w niedzielę"}


def _cased(m: re.Match[str]) -> str:
    said = _CASED[m[0].lower()]
    said = m[0][0] + said[1:]  # "O godz." -> "O godzinie"
    # A day's stop may end the sentence ("w śr. Potem"); a street's name follows its own.
    day = said.startswith(("w ", "W "))
    ends = ends_sentence(m) if day else not m.string[m.end():].strip()
    return said + ("." if ends else "")


def rules() -> list[Rule]:
    return [
        (re.compile(r"(?<!\w)(?:od )?(?P<a>" + _DAY + r")\.?\s?(?:[-–]| do )\s?(?P<b>" + _DAY
                    + r")\b\.?", re.IGNORECASE), _day_range),
        (re.compile(r"\b(?:" + "|".join(re.escape(k) for k in _CASED) + ")", re.IGNORECASE),
         _cased),
        (_TIME_RANGE, _time_range),  # (before the others' "9:00-17:00" rule, in abbreviations)
        *abbreviation_rules(POLISH),
        (_NUMERIC_DATE, _numeric_date), (_SHORT_DATE, _short_date), (_DAY_MONTH, _day_month),
        (re.compile(rf"{POLISH.number_marks}\s?(?=\d)"), lambda m: "numer "),
        (_PHONE, _phone),
        (TWENTY_FOUR_SEVEN, lambda m: "24 na 7"),
        (re.compile(r"(?<=\d)\s?km/h\b"), lambda m: " kilometrów na godzinę"),
        (_MONEY, _money),
        (_TIME, _time),
    ]
