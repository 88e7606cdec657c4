"""Numbers said digit by digit in Spanish, German, French, Portuguese, Italian, Dutch and
the Nordic languages: phone numbers, postcodes and long runs of digits, which espeak read
as amounts ("null dreißig eine Million ...", "veintiocho mil trece", "duizend twaalf a be").
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .european_numbers import spelt_groups
from .european_words import Language

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]

# "+34 612 345 678", "030 1234567", "(030) 123 45 67": from a 0 or a "+", seven digits
# or more; espeak read each group as a number ("null dreißig eine Million ...").
# A mobile's one digit may follow the country code ("+31 6 12345678", "+33 6 12 34 56 78").
_PHONE = re.compile(r"(?<![\w.,+])(?:\+\d{1,3}(?:[ .-]\d(?=[ .-]\d))?|\(?0\d{1,4}\)?)"
                    r"(?:[ ./-]?\d{2,8}){1,5}(?![\w,.]\d|\w)")
# A Spanish number has no 0 before it: nine digits from a 6 to a 9, in groups of two or
# three ("612 345 678", "91 123 45 67"), read as millions before.
_SPANISH_PHONE = re.compile(r"(?<![\w.,+])[6-9]\d{1,2}(?: \d{2,3}){2,3}(?![\w,.]\d|\w)")
# A postal code before its town ("28013 Madrid", "10115 Berlin", "75002 Paris"), digit
# by digit as it is dictated ("veintiocho mil trece", "zehntausendeinhundertfünfzehn").
_POSTCODE = re.compile(r"(?<=, )\d{5}(?= (?!Euro|Dollar|Pfund|Franken|euros?\b|dollars?\b)"
                       r"[A-ZÄÖÜÁÉÍÓÚ][a-zäöüßáéíóúñèéêàç])")
# Brazil: "(11) 98765-4321", "11 3456-7890", and a CEP "01310-100" or Portugal's
# "1000-001": read as amounts ("onze noventa e oito mil ... menos quatro mil ...").
_BRAZIL_PHONE = re.compile(r"(?<![\w+])(?:\(\d{2}\)\s?|\d{2}\s)9?\d{4}-\d{4}(?![\w-])")
# An Italian mobile: "333 123 4567", ten digits from a 3 (no 0 before it).
_ITALIAN_MOBILE = re.compile(r"(?<![\w.,+])3\d{2}[ .]?\d{3}[ .]?\d{4}(?![\w,.]\d|\w)")
_PORTUGUESE_POSTCODE = re.compile(r"(?<![\w-])\d{4,5}-\d{3}(?![\w-])")
# A Dutch one: four digits and two capitals ("1012 AB Amsterdam", "duizend twaalf a be").
_DUTCH_POSTCODE = re.compile(r"(?<![\w-])(?P<n>[1-9]\d{3}) ?(?P<l>[A-Z]{2})(?!\w)"
                             r"(?P<town> [A-Z][a-z])?(?(town)|(?=[,.;]|$))")


def _dutch_postcode(m: re.Match[str]) -> str:
    # Without a town after it, a year is no postcode ("in 2024 EU."), unless one is named.
    if not m["town"] and re.fullmatch(r"(?:19|20)\d\d", m["n"]) and not re.search(
            r"(?i)postcode", m.string[max(0, m.start() - 30):m.start()]):
        return m[0]
    return " ".join(m["n"] + m["l"]) + (m["town"] or "")


# Seven digits or more in one run are a number to write down (an order, an account), as
# in English; a round one ("1000000") is an amount.
DIGIT_RUN = re.compile(r"(?<![\w.,+])\d{7,}(?<!000)(?![\w]|[.,]\d)")


def _phone(lang: Language) -> Callable[[re.Match[str]], str]:
    def rule(m: re.Match[str]) -> str:
        digits = sum(c.isdigit() for c in m[0])
        if digits < 7 or m.re is _SPANISH_PHONE and digits != 9:
            return m[0]
        groups = re.findall(r"\+?\d+", m[0])
        said = [" ".join(g.lstrip("+")) for g in groups]
        if groups[0].startswith("+"):
            said[0] = f"{lang.plus} {said[0]}"
        return ", ".join(said)
    return rule


def digit_rules(words: Language) -> list[Rule]:
    """One language's, in order: its phone numbers before the digit runs they hold."""
    out: list[Rule] = [(_PHONE, _phone(words))]
    if words.code == "es":
        out.append((_SPANISH_PHONE, _phone(words)))
    if words.code == "it":
        out.append((_ITALIAN_MOBILE, _phone(words)))
    if words.code == "pt":
        out += [(_BRAZIL_PHONE, _phone(words)), (_PORTUGUESE_POSTCODE, spelt_groups)]
    if words.code == "nl":
        out.append((_DUTCH_POSTCODE, _dutch_postcode))
    return [*out, (DIGIT_RUN, _phone(words)), (_POSTCODE, lambda m: " ".join(m[0]))]
