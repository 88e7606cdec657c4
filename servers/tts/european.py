"""Spanish, German, French, Portuguese, Italian, Dutch, Swedish, Danish and Norwegian: what
espeak misreads in them, written the way it is said.

espeak reads the digits of these languages well, so the rules here change a number's
shape, not its words: "15/03/2025" becomes "15 de marzo de 2025" and espeak says each
number in its own language. What it got wrong (heard through piper's own phonemizer):
a slashed date read as its digits ("quince barra cero tres barra ..."; in French the
slashes silent), a dotted one as a version ("fünfzehn Punkt null drei ..."), "14:30 Uhr"
as "vierzehn Uhr dreißig Uhr", "9:05" as "nueve cero cinco", "14h30" as "quatorze ache
trente", "Nr." spelt and a sentence ended on it, "1 €" as "uno euro", cents after a
comma ("veinticinco coma cincuenta euro"), a phone number as millions.

No English ever goes into these languages: a rule that cannot place its match leaves it
as written, for espeak. Polish and Russian, whose words inflect, have rules of their own
(``polish.py``, ``russian.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from num2words import num2words

from . import polish, russian
from .european_abbreviations import abbreviation_rules, sentence_stop
from .european_digits import digit_rules
from .european_numbers import number_rules
from .european_words import DUTCH, GERMAN, LANGUAGES, Language

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


_SIGNS = {"€": "€", "EUR": "€", "$": "$", "US$": "US$", "USD": "US$", "£": "£", "GBP": "£",
          "kr": "kr", "kr.": "kr", "SEK": "kr", "DKK": "kr", "NOK": "kr",
          "R$": "R$", "BRL": "R$"}


# --- dates ---------------------------------------------------------------------------

def _day_month_year(lang: str, d: int, mo: int, year: str | None, before: str) -> str | None:
    if not (1 <= d <= 31 and 1 <= mo <= 12):
        return None
    if year and len(year) == 2:
        year = f"20{year}"
    if lang == "de":
        return f"{_german_day(d, before)} {GERMAN.months[mo - 1]}" + (
            f" {_year('de', int(year))}" if year else "")
    if lang == "nl":  # "15 maart 2025"
        return f"{d} {DUTCH.months[mo - 1]}" + (f" {_year('nl', int(year))}" if year else "")
    if lang in ("da", "nb"):  # "15. marts 2025": espeak says the dotted day as an ordinal
        return f"{d}. {LANGUAGES[lang].months[mo - 1]}" + (f" {year}" if year else "")
    if lang == "sv":  # "femtonde mars 2025" (espeak: "femton mars")
        return f"{num2words(d, lang='sv', to='ordinal')} {LANGUAGES['sv'].months[mo - 1]}" + (
            f" {year}" if year else "")
    words = LANGUAGES[lang]  # "15 de marzo de 2025", "15 mars 2025", "1º de março"
    day = words.first_of_month if d == 1 else str(d)
    of = f" {words.date_of}" if words.date_of else ""
    return f"{day}{of} {words.months[mo - 1]}" + (f"{of} {year}" if year else "")


def _german_day(d: int, before: str) -> str:
    """"am 15." is "am fünfzehnten", "der 15." "der fünfzehnte": the ending follows the
    word before (espeak read "15." as "fünfzehn" and ended the sentence on its stop)."""
    ordinal = num2words(d, lang="de", to="ordinal")
    if re.search(r"\b(?:ist|sind|war|wäre)\s*$", before):  # "ist der fünfzehnte"
        return f"der {ordinal}"
    bare = re.search(r"\b(?:der|die|das|Heute|heute)\s*$", before)
    return ordinal if bare else f"{ordinal}n"


def _year(lang: str, y: int) -> str:
    # "1999" is "neunzehnhundertneunundneunzig", "negentienhonderd negenennegentig";
    # espeak said "eintausendneunhundert...", "duizend negenhonderd ...".
    return num2words(y, lang=lang, to="year") if 1100 <= y < 2000 else str(y)


def _numeric_date(lang: str) -> Callable[[re.Match[str]], str]:
    def rule(m: re.Match[str]) -> str:
        if m["iso"]:
            d, mo, year = int(m["id"]), int(m["imo"]), m["iso"]
        else:
            d, mo, year = int(m["d"]), int(m["mo"]), m["y"]
        before = m.string[max(0, m.start() - 20):m.start()]
        if _VERSION_BEFORE.search(before):  # "Version 2.10.15" is no date
            return m[0]
        return _day_month_year(lang, d, mo, year, before) or m[0]
    return rule


_VERSION_BEFORE = re.compile(r"(?i:\b(?:versi[oó]n|release|firmware|update|build|v))\s?$")


# Day first, as all of them write it: "15/03/2025", "15.03.2025", "15-03-25", and ISO.
_NUMERIC_DATE = re.compile(
    r"(?<![\w./-])(?:(?P<iso>(?:19|20)\d\d)-(?P<imo>[01]?\d)-(?P<id>[0-3]?\d)"
    r"|(?P<d>[0-3]?\d)(?P<s>[./-])(?P<mo>[01]?\d)(?P=s)(?P<y>(?:19|20)\d\d|\d\d))"
    r"(?![\w/-]|[.,]\d)")
# Without a year only where a date is plain: after "el"/"le"/"am", or German's closing dot;
# not before what a fraction measures ("el 1/2 kg", "le 3/4 de la population", "1/3 dos
# casos").
_NOT_MEASURED = r"(?!\s?(?:kg|g|mg|l|ml|cl|cm|mm|m|km|%)\b| d(?:e|el|u|o|a|os|as)\b| ?d')"
# What a day and month alone follow, by language: an article or a preposition, or a day.
_DATE_BEFORE = {
    "es": "el|del|al|El",
    "fr": "le|du|au|Le",
    "pt": "(?i:dia|em|até|desde)",
    "it": "(?i:il|dal|al|entro il|fino al)",
    "nl": "(?i:op|van|tot|vanaf|per|sinds|uiterlijk|t/m)",
    "sv": "(?i:den|från|till|före|efter|senast|med)",
    "da": "(?i:den|fra|til|senest|indtil|efter|før)",
    "nb": "(?i:den|fra|til|innen|senest|etter|før)",
}


def _slashed_day_month(lang: str) -> re.Pattern[str]:
    days = "|".join(sorted(set(LANGUAGES[lang].days.values())))
    return re.compile(rf"\b(?P<w>(?:{_DATE_BEFORE[lang]}|{days})(?:-feira)?,? )"
                      rf"(?P<d>[0-3]?\d)/(?P<mo>[01]?\d)(?![\w/]|[.,-]\d){_NOT_MEASURED}")


_SHORT_DATE = {
    **{lang: _slashed_day_month(lang) for lang in _DATE_BEFORE},
    # ("Version 2.10." is no date: only after what a date follows.)
    "de": re.compile(r"\b(?P<w>(?i:am|vom|zum|bis|ab|seit|den|dem|der|datum:?|termin:?)"
                     r"(?: zum)? |(?:(?:Mon|Diens|Donners|Frei|Sams|Sonn)tag|Mittwoch|"
                     r"Mo|Di|Mi|Do|Fr|Sa|So)\.?,? )(?P<d>[0-3]?\d)\.(?P<mo>[01]?\d)\.(?!\d)"),
}
_GERMAN_MONTH_DAY = re.compile(
    rf"(?<![\w.,])(?P<d>[0-3]?\d)\.\s(?P<month>{'|'.join(GERMAN.months)}|Jänner)\b"
    r"(?: (?P<y>(?:1[1-9]|20)\d\d)\b)?")


def _short_date(lang: str) -> Callable[[re.Match[str]], str]:
    def rule(m: re.Match[str]) -> str:
        before = m.string[max(0, m.start() - 20):m.start()]
        date = _day_month_year(lang, int(m["d"]), int(m["mo"]), None, before + m["w"])
        if not date:
            return m[0]
        # German's closing dot may end the sentence too ("bis zum 2.10. Danach ...").
        return m["w"] + date + sentence_stop(m)
    return rule


def _german_month_day(m: re.Match[str]) -> str:
    d = int(m["d"])
    if not 1 <= d <= 31:
        return m[0]
    day = _german_day(d, m.string[max(0, m.start() - 20):m.start()])
    return f"{day} {m['month']}" + (f" {_year('de', int(m['y']))}" if m["y"] else "")


# --- times ---------------------------------------------------------------------------

_TIME = {
    "es": re.compile(r"(?<![\w:.,])(?P<h>[01]?\d|2[0-3])(?::(?P<m>[0-5]\d)(?![\d:])(?: ?h\b)?"
                     r"| ?h\b)"),
    "de": re.compile(r"(?<![\w:.,])(?P<h>[01]?\d|2[0-3])[:.](?P<m>[0-5]\d)(?![\d:])"
                     r"(?P<uhr> Uhr\b)?(?(uhr)|(?<=\d:\d\d))"),
    "fr": re.compile(r"(?<![\w:.,])(?P<h>[01]?\d|2[0-3])(?::|\s?h\s?)(?P<m>[0-5]\d)?(?![\d:])"
                     r"(?(m)|(?!\w))"),
    "pt": re.compile(r"(?<![\w:.,])(?P<h>[01]?\d|2[0-3])(?::|h)(?P<m>[0-5]\d)?(?![\d:])"
                     r"(?(m)(?:h\b)?|(?!\w))"),
    # "14:30 uur" was "veertien dertig uur", "9:05" "negen nul vijf"
    "nl": re.compile(r"(?<![\w:.,])(?P<h>[01]?\d|2[0-3])[:.](?P<m>[0-5]\d)(?![\d:])"
                     r"(?P<uhr> uur\b)?(?(uhr)|(?<=\d:\d\d))"),
    # "kl. 14.30" was "klockan fjorton punkt trettio"; a dot only after "klockan"
    "sv": re.compile(r"(?<![\w:.,])(?P<w>(?i:klockan|kl\.) )?(?P<h>[01]?\d|2[0-3])"
                     r"(?::|(?(w)\.|(?!)))(?P<m>[0-5]\d)(?![\d:])"),
}
# "kl. 14.30" was "klokken fjorten punktum tredive"
_TIME["da"] = _TIME["nb"] = re.compile(r"(?<![\w:.,])(?P<w>(?i:klokken|klokka|kl\.) )"
                                       r"(?P<h>[01]?\d|2[0-3])\.(?P<m>[0-5]\d)(?![\d:]|\.\d)")
# "alle 14.30" ("quattordici punto trenta"): a dot only after what a time follows;
# "9:05" was "nove e zero cinque".
_TIME["it"] = re.compile(r"(?<![\w:.,])(?P<w>(?i:alle|dalle|ore|entro le|le) )?"
                         r"(?P<h>[01]?\d|2[0-3])(?::|(?(w)\.|(?!)))(?P<m>[0-5]\d)(?![\d:])")
# An hour is feminine in Portuguese: "duas horas", "uma e meia" ("dois horas" before).
_PT_HOURS = {1: "uma", 2: "duas", 21: "vinte e uma", 22: "vinte e duas"}


def _time(lang: str) -> Callable[[re.Match[str]], str]:
    def rule(m: re.Match[str]) -> str:
        h, minutes = int(m["h"]), int(m["m"] or 0)
        if lang == "es":  # "las nueve y cinco", "las catorce horas", "la una"
            hour = "una" if h == 1 else str(h)
            return f"{hour} y {minutes}" if minutes else hour if h == 1 else f"{h} horas"
        if lang == "de":  # "neun Uhr fünf", "ein Uhr"
            hour = "ein" if h == 1 else str(h)
            return f"{hour} Uhr" + (f" {minutes}" if minutes else "")
        if lang == "nl":  # "veertien uur dertig", "negen uur vijf"
            return f"{h} uur" + (f" {minutes}" if minutes else "")
        if lang in ("da", "nb"):  # "klokken 14:30", as espeak reads it well
            return f"{m['w']}{h}" + (f":{m['m']}" if minutes else "")
        if lang == "sv":  # "klockan fjorton", "nio noll fem", "fjorton trettio"
            return (m["w"] or "") + str(h) + (
                "" if not minutes else f" noll {minutes}" if minutes < 10 else f" {minutes}")
        if lang == "it":  # "le nove e cinque", "le quattordici"
            return (m["w"] or "") + str(h) + (f" e {minutes}" if minutes else "")
        if lang == "pt":  # "catorze e trinta", "duas horas"
            hour = _PT_HOURS.get(h, str(h))
            return f"{hour} e {minutes}" if minutes else f"{hour} hora{'' if h == 1 else 's'}"
        hour = "une heure" if h == 1 else f"{h} heures"  # "quatorze heures trente"
        return hour + (f" {minutes}" if minutes else "")
    return rule


# --- money ---------------------------------------------------------------------------

# "1.299,99", "1 299,99", "25,50", and "1,299.99" or "25.50" as a dollar is written;
# "25,-" is a whole amount (Dutch and German price tags).
_AMOUNT = (r"(?P<whole>\d{1,3}(?:[.\u202f\xa0 ]\d{3})+|\d{1,3}(?:,\d{3})+(?=\.\d\d(?!\d))|\d+)"
           r"(?:,(?P<cents>\d\d)|\.(?P<pc>\d\d)|,[-–]{1,2}(?![\w-]))?(?!\d|[,.]\d)")
_CURRENCY = r"(?P<cur>US\$|\bR\$|[€$£]|\b(?:EUR|USD|GBP|BRL|SEK|DKK|NOK)\b|\bkr\b\.?)"
_MONEY_SIGN_FIRST = re.compile(rf"{_CURRENCY}\s?{_AMOUNT}")
_MONEY_SIGN_AFTER = re.compile(rf"(?<![\w.,]){_AMOUNT}\s?{_CURRENCY}")


def _money(lang: Language) -> Callable[[re.Match[str]], str]:
    def rule(m: re.Match[str]) -> str:
        said = _amount(m)
        # "25 kr. Tak": the stop of "kr." may end the sentence too.
        return said if said == m[0] else said + sentence_stop(m)

    def _amount(m: re.Match[str]) -> str:
        sign = _SIGNS[m["cur"]]  # "US$" is "$" where "$" is no peso
        currency = lang.currencies.get(sign, lang.currencies.get("$") if sign == "US$" else None)
        if currency is None:
            return m[0]  # "R$" in Spanish text: left to espeak
        one, many, hundredths, article = currency
        whole = int(re.sub(r"\D", "", m["whole"]))
        cents = int(m["cents"] or m["pc"] or 0)
        # One hundredth is "un céntimo", "ein Cent", "un centime" ("1 céntimos" before).
        cents_said = f"{article} {_ONE_HUNDREDTH.get(hundredths, hundredths)}" \
            if cents == 1 else f"{cents} {hundredths}"
        if not whole and cents:
            return cents_said
        said = f"{article} {one}" if whole == 1 else f"{whole} {many}"
        if not cents:
            return said
        return f"{said} {lang.cents_join} {cents_said}" if lang.cents_join else f"{said} {cents}"
    return rule


_ONE_HUNDREDTH = {"céntimos": "céntimo", "centavos": "centavo", "peniques": "penique",
                  "centimes": "centime", "cents": "cent", "pence": "penny",
                  "cêntimos": "cêntimo", "centesimi": "centesimo"}


def _number_mark(lang: Language) -> Rule:
    return (re.compile(rf"{lang.number_marks}\s?(?=\d)"), lambda m: f"{lang.number} ")


# The languages with rules of their own.
_OWN_RULES = {"pl": polish.rules, "ru": russian.rules}

# Where "$" is the peso: "$500" in Mexico is "quinientos pesos", not dollars ("US$" is).
_PESO_REGIONS = {"MX", "AR", "CO", "CL", "UY", "DO", "CU"}


def rules_for(language: str) -> list[Rule]:
    """The rules of one language (a BCP-47 tag: "es-MX" reads "$" as pesos), in order;
    none for a language without them."""
    lang, _, region = language.partition("-")
    lang = "nb" if lang == "no" else lang  # (Norwegian as Bokmål)
    if own := _OWN_RULES.get(lang):  # (they inflect what the others leave to espeak)
        return own()
    words = LANGUAGES.get(lang)
    if words is None:
        return []
    if lang == "es" and region[:2] in _PESO_REGIONS:
        words = replace(words, currencies={**words.currencies, "US$": words.currencies["$"],
                                           "$": ("peso", "pesos", "centavos", "un")})
    # Abbreviations first: "Mo. 3.11." is a date once "Mo." is "Montag".
    out: list[Rule] = [*abbreviation_rules(words), (_NUMERIC_DATE, _numeric_date(lang)),
                       (_SHORT_DATE[lang], _short_date(lang))]
    if lang == "de":
        out.append((_GERMAN_MONTH_DAY, _german_month_day))
    return [*out, _number_mark(words), *digit_rules(words), *number_rules(lang),
            (_MONEY_SIGN_FIRST, _money(words)), (_MONEY_SIGN_AFTER, _money(words)),
            (_TIME[lang], _time(lang))]
