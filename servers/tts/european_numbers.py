"""Numbers in Spanish, German, French, Portuguese, Italian, Dutch and the Nordic languages,
in the shapes espeak misread: a range ("10-15 minutos" was "diez quince", "zehn Strich
fünfzehn"), "per" ("€/mes" was "barra mes"), "km/h" ("ka eme barra hache"), "24/7"
("veinticuatro barra siete"), ordinals ("2. Stock" ended a sentence on "zwei.", "2e
étage" was "deux e", "2.º" "dos punto o", "2° piano" "due gradi", "2e verdieping" "tweede
e"), a code of capitals and digits ("AB-1234-X" was "a be mil doscientos ..."), and
French "24h/24", "7j/7".
"""

from __future__ import annotations

import re
from collections.abc import Callable

from num2words import num2words

from .european_abbreviations import sentence_stop

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]

_RANGE_WORD = {"es": "a", "de": "bis", "fr": "à", "pt": "a", "it": "a", "nl": "tot",
               "sv": "till", "da": "til", "nb": "til"}
# "per" before a time or a unit of what is sold; Spanish says "al mes", "a la semana".
_PER = {
    "es": {"mes": "al mes", "año": "al año", "día": "al día", "semana": "a la semana",
           "hora": "por hora", "noche": "por noche", "persona": "por persona",
           "minuto": "por minuto", "kg": "por kilo"},
    "de": {w: f"pro {w}" for w in ("Monat", "Jahr", "Tag", "Woche", "Stunde", "Nacht",
                                   "Person", "Minute", "kg", "Stück")},
    "fr": {w: f"par {w}" for w in ("mois", "an", "jour", "semaine", "heure", "nuit",
                                   "personne", "minute", "kg")},
    "pt": {w: f"por {w}" for w in ("mês", "ano", "dia", "semana", "hora", "noite",
                                   "pessoa", "minuto", "kg")},
    "it": {"mese": "al mese", "anno": "all'anno", "giorno": "al giorno", "ora": "all'ora",
           "notte": "a notte", "persona": "a persona", "settimana": "a settimana",
           "minuto": "al minuto", "kg": "al chilo"},
    "nl": {w: f"per {w}" for w in ("maand", "jaar", "dag", "week", "uur", "nacht",
                                   "persoon", "minuut", "kg", "stuk")},
    "sv": {"mån": "i månaden", "månad": "i månaden", "år": "om året", "dag": "om dagen",
           "vecka": "i veckan", "tim": "i timmen", "timme": "i timmen", "natt": "per natt",
           "person": "per person", "st": "per styck", "kg": "per kilo"},
    "da": {"md.": "om måneden", "md": "om måneden", "måned": "om måneden", "år": "om året",
           "dag": "om dagen", "uge": "om ugen", "time": "i timen", "person": "per person",
           "stk.": "per stk", "kg": "per kilo"},
    "nb": {"mnd.": "i måneden", "mnd": "i måneden", "måned": "i måneden", "år": "i året",
           "dag": "om dagen", "uke": "i uka", "time": "i timen", "person": "per person",
           "stk.": "per stk", "kg": "per kilo"},
}
_KMH = {"es": "kilómetros por hora", "de": "Kilometer pro Stunde", "fr": "kilomètres heure",
        "pt": "quilômetros por hora", "it": "chilometri orari", "nl": "kilometer per uur",
        "sv": "kilometer i timmen", "da": "kilometer i timen", "nb": "kilometer i timen"}
# A German sentence may start with these after a number's stop: "ist 3. Bitte ..." is
# no "dritte Bitte", whatever comes before the number.
_STARTS_A_SENTENCE = (
    "Der|Die|Das|Den|Dem|Ich|Wir|Sie|Es|Er|Bitte|Dann|Danke|Vielen|Ihr|Ihre|Mein|Meine|"
    "Ein|Eine|Wenn|Wie|Was|Wo|Wann|Warum|Haben|Können|Kann|Ist|Sind|Gibt|Gerne|Ja|Nein|"
    "Und|Aber|Oder|Auch|So|Jetzt|Heute|Morgen|Hier|Da|Dies|Diese|Dieser|Leider|Natürlich|"
    "Vielleicht|Falls|Um|Im|Am|Zum|Für|Mit|Bei|Nach|Von|In|Auf|Zu|Alles|Sonst|Noch")
_PREPOSITION = r"(?:in|an|auf|aus|bei|mit|nach|von|zu|vor|ab|seit|über|unter|hinter|neben|zwischen)"


def _range(lang: str) -> Callable[[re.Match[str]], str]:
    return lambda m: f"{m['a']} {_RANGE_WORD[lang]} {m['b']}"


def _per(lang: str) -> Callable[[re.Match[str]], str]:
    def rule(m: re.Match[str]) -> str:  # ("/md. Tak": its stop ends the sentence too)
        return f" {_PER[lang][m['u']]}{sentence_stop(m)}"
    return rule


def _german_ordinal(m: re.Match[str]) -> str:
    """"im 2. Stock" is "im zweiten Stock", "3. Tür" "dritte Tür": after a preposition
    or its article the dative ending, else the plain one. Only after an article or
    before what is counted: "Zimmer 12. Frühstück ..." is a number, then a sentence."""
    before = m.string[max(0, m.start() - 24):m.start()]
    counted = _COUNTED.match(m.string, m.end())
    article = _ARTICLE_BEFORE.search(before)
    if not (counted or article):
        return m[0]
    ordinal = num2words(int(m["n"]), lang="de", to="ordinal")
    dative = re.search(rf"\b(?:im|am|zum|vom|beim|zur|dem|den|des|einem|einer|"
                       rf"{_PREPOSITION} (?:der|dem|den))\s*$", before, re.IGNORECASE)
    if dative:
        return f"{ordinal}n "
    if counted and not article:
        # No article: the ending shows the noun's gender ("Büro: 3. Stock" is "dritter
        # Stock", "3. Kapitel" "drittes Kapitel"); after a bare preposition the dative's.
        gender = _GENDER.get(counted[0], "f")
        bare = re.search(rf"\b{_PREPOSITION}\s*$", before, re.IGNORECASE)
        return ordinal + (_STRONG_DATIVE if bare else _STRONG)[gender] + " "
    return f"{ordinal} "


_ARTICLE_BEFORE = re.compile(
    r"\b(?i:der|die|das|den|dem|des|im|am|zum|zur|vom|beim|ihr|ihre|ihrem|ihren|unser|"
    r"unsere|unserem|mein|meine|jede|jeder|jedes|jeden|ab dem|bis zum)\s*$")
_COUNTED = re.compile(
    r"(?:Stock|Etage|Obergeschoss|Untergeschoss|Klasse|Platz|Tür|Reihe|Stufe|Mal|Woche|"
    r"Monat|Quartal|Halbjahr|Liga|Runde|Auflage|Ausgabe|Kapitel|Absatz|Seite|Gang|"
    r"Haltestelle|Ausfahrt|Bahnsteig|Gleis|Termin|Mahnung|Rate)\b")
# The counted nouns' genders where not feminine (m, n), and the strong endings an
# ordinal without an article takes after num2words' "-e" (nominative, dative).
_STRONG, _STRONG_DATIVE = {"m": "r", "n": "s", "f": ""}, {"m": "m", "n": "m", "f": "r"}
_GENDER = {**dict.fromkeys(("Stock", "Platz", "Monat", "Gang", "Bahnsteig", "Termin",
                            "Absatz"), "m"),
           **dict.fromkeys(("Obergeschoss", "Untergeschoss", "Mal", "Quartal", "Halbjahr",
                            "Kapitel", "Gleis"), "n")}


def _french_ordinal(m: re.Match[str]) -> str:
    n = int(m["n"])
    if n == 1:
        return "première" if m["s"] in ("re", "ère") else "premier"
    return num2words(n, lang="fr", to="ordinal")


def _spanish_ordinal(m: re.Match[str]) -> str:
    """"3er piso" is "tercer" ("tres er"), "2do" "segundo"."""
    n = int(m["n"])
    if m["s"] == "er" and n in (1, 3):
        return "primer" if n == 1 else "tercer"
    return num2words(n, lang="es", to="ordinal") if m["s"] != "er" else m[0]


def spelt_groups(m: re.Match[str]) -> str:
    """Each character, a group at a time: "A B, 1 2 3 4, X"."""
    return ", ".join(" ".join(group) for group in m[0].split("-"))


# Capitals and digits in groups, runs of at most three capitals ("COVID-19" is a name).
_CODE = re.compile(r"(?<![\w-])(?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])(?![A-Z0-9-]*[A-Z]{4})"
                   r"[A-Z0-9]{1,10}(?:-[A-Z0-9]{1,10})+(?![\w-])")  # (no nested repeats)
_NUMBER_RANGE = re.compile(
    r"(?<![\w.,:/-])(?P<a>\d+(?:,\d+)?)\s?[-–]\s?(?P<b>\d+(?:,\d+)?)(?= [^\W\d]|\s?[€$£%])")


# "24/7" is said as its two numbers ("veinticuatro barra siete"; Polish "24 na 7").
TWENTY_FOUR_SEVEN = re.compile(r"(?<![\w/.,])24\s?/\s?7(?![\w/]|[.,]\d)")


def number_rules(lang: str) -> list[Rule]:
    """One language's rules (a code of ``_PER``), in order: before money (which would take the "€"
    of "€/mes"), after dates and phone numbers (whose dashes are no range)."""
    per_words = "|".join(re.escape(w) for w in sorted(_PER[lang], key=len, reverse=True))
    out: list[Rule] = [
        (re.compile(r"(?<=\d)\s?km/[hu]\b"), lambda m: f" {_KMH[lang]}"),  # ("km/u": Dutch)
        (TWENTY_FOUR_SEVEN, lambda m: "24 7"),
        (re.compile(rf"(?:(?<=[\d€$£%])|(?<=\bkr)|(?<=\bkr\.))\s?/\s?(?P<u>{per_words})"
                    r"(?!\w)"),
         _per(lang)),
        (_CODE, spelt_groups),
        (_NUMBER_RANGE, _range(lang)),
    ]
    if lang == "de":
        out.append((re.compile(
            rf"(?<![\w.,])(?P<n>[1-9]\d?)\. (?=[A-ZÄÖÜ])(?!(?:{_STARTS_A_SENTENCE}|"
            r"Januar|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|"
            r"Dezember)\b)"), _german_ordinal))
    if lang == "es":  # "2.º" is "2º" ("segundo"); espeak read the stop as "punto"
        out += [(re.compile(r"(?<=\d)\.(?=[ºª])"), lambda m: ""),
                (re.compile(r"(?<![\w.,])(?P<n>[1-9]\d?)(?P<s>er|ro|do|to|vo|no|mo)(?!\w)"),
                 _spanish_ordinal)]
    if lang == "it":  # "2° piano" was "due gradi piano": an ordinal before what it counts
        out.append((re.compile(r"(?<![\w.,])(?P<n>[1-9]\d?)°(?= (?:piano|posto|anno|livello|"
                               r"giorno|turno|classificato|premio|binario|corso)\b)"),
                    lambda m: num2words(int(m["n"]), lang="it", to="ordinal")))
    if lang == "nl":  # "2e verdieping" was "tweede e": "1e", "3de", "21ste"
        out.append((re.compile(r"(?<![\w.,])(?P<n>[1-9]\d?)(?:e|de|ste)(?!\w)"),
                    lambda m: num2words(int(m["n"]), lang="nl", to="ordinal")))
    if lang == "fr":
        out += [
            (re.compile(r"(?<![\w.,])(?P<n>[1-9]\d?)(?P<s>e|è|ème|eme|re|ère|er)(?!\w)"),
             _french_ordinal),
            (re.compile(r"\b24 ?h ?/ ?24\b"), lambda m: "24 heures sur 24"),
            (re.compile(r"\b7 ?j ?/ ?7\b"), lambda m: "7 jours sur 7"),
        ]
    return out
