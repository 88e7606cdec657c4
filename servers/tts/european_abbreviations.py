"""Abbreviations in Spanish, German, French, Portuguese, Italian, Dutch and the Nordic
languages said as their words, and a range of short days ("Mo.-Fr.", "Lun.-Vie.",
"lun.-ven.", "seg.-sex.", "ma t/m vr", "mån-fre") as the two days it names.

espeak ends a sentence at an abbreviation's stop ("Sr. López" was "señor. López", with
the pause of a full stop), spells some ("Str." "S T R", "z. B." "zet. be"), and our own
planner cuts a piece before the capital after it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .european_words import Language

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]
_CAPITAL = "A-ZÀ-ÖØ-ÞĀ-ŽА-ЯЁ"  # (a rough upper-case class: Latin and Cyrillic letters)


def _capitalised(table: dict[str, str]) -> dict[str, str]:
    """Each lower-case entry once more as a sentence starts it ("Aprox.", "Env.")."""
    return {**table, **{k[0].upper() + k[1:]: v[0].upper() + v[1:]
                        for k, v in table.items() if k[0].islower()}}


def _starts_sentence(m: re.Match[str], lang: Language | None = None) -> bool:
    # (Only the words just before: the whole text before each match made a long text's
    # normalizing quadratic.)
    before = m.string[max(0, m.start() - 40):m.start()].rstrip()
    if not before or before[-1] in "!?:\n":
        return True
    # After another abbreviation's stop the sentence goes on ("d.w.z. bijv. morgen").
    return before[-1] == "." and not (lang and any(
        _ends_with_word(before.lower(), a.lower())
        for a in lang.abbreviations if a not in lang.may_end))


def _ends_with_word(text: str, word: str) -> bool:
    return text.endswith(word) and not text[:-len(word)][-1:].isalnum() \
        and not text[:-len(word)].endswith(".")


def _expand(lang: Language) -> Callable[[re.Match[str]], str]:
    table = _capitalised(lang.abbreviations)

    def rule(m: re.Match[str]) -> str:
        abbr = m["a"]
        said = table[abbr]
        if _starts_sentence(m, lang):  # "Tel. 123" -> "Teléfono 123": the planner cuts before it
            said = said[0].upper() + said[1:]
        ends = ends_sentence(m) if abbr in lang.may_end else _ends_text(m)
        return said + ("." if ends and abbr.endswith(".") else "")
    return rule


def _ends_text(m: re.Match[str]) -> bool:
    rest = m.string[m.end():]
    return not rest.strip() or rest.lstrip(" ").startswith("\n")


def ends_sentence(m: re.Match[str]) -> bool:
    """A stop that also ends the sentence stays: "usw. Danach", "etc. Luego". (Only
    the abbreviations that end sentences ask: in German a noun has a capital too.)"""
    return _ends_text(m) or bool(re.match(rf"\s+[{_CAPITAL}]", m.string[m.end():]))


def sentence_stop(m: re.Match[str]) -> str:
    """The stop a rule's match swallowed, given back where it also ends the sentence
    ("Mo.-Fr. Danach", "25 kr. Tak", "bis zum 2.10. Danach"); else nothing."""
    return "." if m[0].endswith(".") and ends_sentence(m) else ""


_UNTIL_TIME = {"es": "a", "de": "bis", "fr": "à", "pt": "às", "it": "alle", "nl": "tot",
               "pl": "do", "ru": "до", "sv": "till", "da": "til", "nb": "til"}


def _day_range(lang: Language) -> Callable[[re.Match[str]], str]:
    days = _capitalised(lang.days)

    def rule(m: re.Match[str]) -> str:
        first = days[m["a"]]
        if not m["w"] and _starts_sentence(m):
            first = first[0].upper() + first[1:]
        stop = sentence_stop(m)
        if not m["b"]:  # "Sa. 10:00": one day, before its time
            return f"{first}{stop}"
        last = days[m["b"]] if lang.code == "de" else days[m["b"]].lower()
        return f"{m['w'] or ''}{first} {m['to'] or lang.until} {last}{stop}"
    return rule


def _time_range(lang: Language) -> Callable[[re.Match[str]], str]:
    # After a day or "klockan" it is hours too: "Montag bis Freitag 9-17".
    days = "|".join([*lang.days, *lang.days.values()])
    after_day = re.compile(rf"\b(?:{days}|klockan|klokken)\.?\s*$", re.IGNORECASE)

    def rule(m: re.Match[str]) -> str:
        unit = re.match(r"\s?(?:Uhr|uur|h)\b", m.string[m.end():m.end() + 6])
        day = after_day.search(m.string[max(0, m.start() - 24):m.start()])
        if not (unit or day or any(c in m["a"] + m["b"] for c in ":h")):
            return m[0]  # "2-1" is a score, "2.50-3.75" two amounts
        return f"{m['a']} {_UNTIL_TIME[lang.code]} {m['b']}"
    return rule


# "9:00-17:00", "8h30-18h", "9-17 Uhr": from one time to another ("neun Uhr Strich ...").
_TIME = r"[0-2]?\d(?:[:.h][0-5]\d|h)?"
_TIME_RANGE = re.compile(rf"(?<![\w.,:])(?P<a>{_TIME})\s?[-–]\s?(?P<b>{_TIME})(?![\w:.,]\d|\d)")


def abbreviation_rules(lang: Language) -> list[Rule]:
    names = sorted(_capitalised(lang.abbreviations), key=len, reverse=True)  # "Sra." first
    # "M." only before a name ("M. Dupont"): elsewhere it is a letter.
    short = [re.escape(a) + rf"(?= [{_CAPITAL}])" if len(a) <= 2 else re.escape(a) for a in names]
    days = "|".join(_capitalised(lang.days))
    return [
        # ("ma t/m vr": Dutch's "up to and including", the range's own word there.)
        (re.compile(rf"(?<!\w)(?P<w>(?i:du|de|von|van) )?(?P<a>{days})(?:\.?(?:\s?[-–]\s?|"
                    rf" t/m |(?(w) (?P<to>au|a|bis|tot) |(?!)))(?P<b>{days})\b\.?"
                    rf"|\.(?=,? \d))"),
         _day_range(lang)),
        (_TIME_RANGE, _time_range(lang)),
        (re.compile(rf"(?<![\w.])(?P<a>{'|'.join(short)})(?=[\s,;:)]|$)"), _expand(lang)),
        # "Hauptstr. 5": a street's "str." is written onto its name.
        *([(re.compile(r"(?<=\w)str\.(?=\s?\d)"), lambda m: "straße")]
          if lang.code == "de" else []),
    ]
