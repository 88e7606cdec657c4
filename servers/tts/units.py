"""English names of the units of measure written short after a number ("500 mg",
"5kg", "20°C", "100 km/h"), of inch and foot marks in heights and sizes ("5'11\"",
'12" x 8"'), of the comparison signs before one ("<5", ">=18"), and of the "x" of a
dimension ("2x4": "by") or a multiple ("3x faster": "times").

espeak spelt the units letter by letter ("five hundred em gee", "kay em slash aitch")
and said nothing for "<" or ">", so "wait <5 minutes" was heard "wait five minutes".
Units a listener hears well as letters ("GB", "mph") or that espeak already names
("lbs", "tbsp", "GHz") are left to it; so is a bare "m" (meters, minutes or million).
Used by ``normalize.py``'s English rules, after ``numerals.py``'s (a decimal comma, a
range) and before the numbers become words.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .identifiers import paired
from .stops import kept_stop

_MASS = {"mg": "milligram", "mcg": "microgram", "µg": "microgram", "g": "gram",
         "kg": "kilogram", "oz": "ounce"}
_VOLUME = {"ml": "milliliter", "mL": "milliliter", "cl": "centiliter", "l": "liter",
           "L": "liter", "fl oz": "fluid ounce", "tsp": "teaspoon", "gal": "gallon"}
_LENGTH = {"mm": "millimeter", "cm": "centimeter", "km": "kilometer", "mi": "mile",
           "yd": "yard", "ft": "foot", "sq ft": "square foot"}
_OTHER = {"km/h": "kilometer per hour", "kph": "kilometer per hour", "kW": "kilowatt",
          "kWh": "kilowatt hour", "°C": "degree Celsius", "°F": "degree Fahrenheit",
          # A connection's speed ("twenty M B P S" was read).
          "kbps": "kilobit per second", "Mbps": "megabit per second",
          "Gbps": "gigabit per second"}
UNITS = _MASS | _VOLUME | _LENGTH | _OTHER
# Plurals that are not the singular and an "s".
_PLURAL = {"foot": "feet", "square foot": "square feet", "kilometer per hour":
           "kilometers per hour", "kilowatt hour": "kilowatt hours",
           "degree Celsius": "degrees Celsius", "degree Fahrenheit": "degrees Fahrenheit",
           **{f"{size}bit per second": f"{size}bits per second" for size in ("kilo", "mega",
                                                                            "giga")}}

# Longest first, so "kWh" is not read as "kW" and an "h".
_UNIT = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))
_UNIT = _UNIT.replace("°", r"°\s?")  # "20° C" too
_NOT_AFTER = r"(?![\w/°])"  # "5 mins", "3 kg/m": not a unit of this table
_ARTICLE = re.compile(r"(?<!\w)(?i:an?) $")
_COMPARE = {"<": "less than", ">": "more than", "<=": "at most", ">=": "at least"}


def _name(unit: str, number: str) -> str:
    singular = UNITS[re.sub(r"°\s+", "°", unit)]
    if number == "1":
        return singular
    return _PLURAL.get(singular, singular + "s")


def _measure(m: re.Match[str]) -> str:
    one = "1" if _before_noun(m) else m["n"]  # "a 5 mm bolt", "a 500 mg tablet"
    per = f" per {_name(m['per'], '1')}" if m["per"] else ""  # "5 mg/kg"
    return f"{m['n']} {_name(m['u'], one)}{per}"


def _before_noun(m: re.Match[str]) -> bool:
    """"a 27-inch monitor": after "a", a measure before its noun, said in the singular."""
    return bool(_ARTICLE.search(m.string[max(0, m.start() - 5):m.start()]))


def _inches(n: str, m: re.Match[str]) -> str:
    return f"{n} inch" if n == "1" or _before_noun(m) else f"{n} inches"


def _height(m: re.Match[str]) -> str:
    feet = "foot" if m["f"] == "1" or _before_noun(m) else "feet"
    return f"{m['f']} {feet} {_inches(m['i'], m)}" + kept_stop(m)  # "4 in." ends one


def _sides(m: re.Match[str]) -> str:
    said = " by ".join(paired(int(n)) if len(n) == 4 and n.isdigit() else n
                       for n in (m["a"], m["b"], m["c"]) if n)
    if not m["u"]:
        return said
    unit = {"in": ("inch", "inches"), "ft": ("foot", "feet")}[m["u"].rstrip(".")][
        not _before_noun(m)]
    return f"{said} {unit}" + kept_stop(m)


# An inch mark: a double prime, or straight or curly double quotes, which only a number in
# a height or a dimension makes an inch mark (elsewhere a closing quote: 'say "5"').
_IN = r"(?:\"|”|″|'')"
_SIZE = r"\d+(?:\.\d+)?"
# A measured amount, its commas only between groups of three: "\d[\d,]*" backtracked
# through a whole "1,1,1,..." run from each of its digits (6,400 characters: 0.6 s).
_AMOUNT = r"(?P<n>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)"

MEASURE_RULES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    # "5'11\"", "5′ 11″", "5 ft 11 in": a height (it was "five'eleven\"" and "eleven in").
    (re.compile(rf"(?<![\w.'’])(?P<f>\d{{1,2}})(?:['’′]|\s?ft\.?)\s?(?P<i>\d{{1,2}})"
                rf"(?:{_IN}|\s?in\b\.?)"),
     _height),
    # '12" x 8" x 4"': a size in inches, "twelve by eight by four inches" (each mark was
    # silent, each "x" the letter).
    (re.compile(rf"(?<![\w.])(?P<a>{_SIZE}){_IN}\s?x\s?(?P<b>{_SIZE}){_IN}"
                rf"(?:\s?x\s?(?P<c>{_SIZE}){_IN})?"),
     lambda m: _inches(" by ".join(n for n in (m["a"], m["b"], m["c"]) if n), m)),
    # "27″ monitor": the double prime is only ever inches.
    (re.compile(rf"(?<![\w.])(?P<n>{_SIZE})″"), lambda m: _inches(m["n"], m)),
    # "2x4", "1920x1080", "10x20 ft": dimensions, "by" (it was "two x4"); four digits in
    # pairs as sizes are said ("nineteen twenty by ten eighty", not "one thousand and
    # eighty"). Shorter ones stay digits, for a unit after them to be named.
    # Three sides too, and inches or feet written short after them ("12x10x8 in." was
    # "twelve x10x8 in.").
    # ("in" only where it can be no preposition: "a 2x4 in the wall" is none.)
    (re.compile(rf"(?<![\w.])(?P<a>{_SIZE})x(?P<b>{_SIZE})(?:x(?P<c>{_SIZE}))?"
                r"(?:\s?(?P<u>ft\b\.?|in(?=\.?\s*$|[.,;)])\.?))?(?!\w|\.\d)"), _sides),
    # "2x daily", "1x a week": how often, "twice daily", "once a week" ("two x daily").
    (re.compile(r"(?<![\w.])(?P<n>\d{1,2})x(?: ?/ ?(?P<per>day|week|month|year)\b|(?= "
                r"(?:daily|weekly|monthly|yearly|a|an|per|each|every)\b))"),
     lambda m: {"1": "once", "2": "twice"}.get(m["n"], f"{m['n']} times")
     + (f" a {m['per']}" if m["per"] else "")),
    # "a 10-min drive", "a 2-hr wait": a measure before its noun, the unit's word.
    (re.compile(r"(?<![\w.])(?P<n>\d+)-(?P<u>min|mins|hr|hrs|sec|secs)\b\.?(?= \w)"),
     lambda m: f"{m['n']}-" + {"m": "minute", "h": "hour", "s": "second"}[m["u"][0]]),
    # "3x faster", "2x the price": a multiple, "times" (it was "three x faster").
    (re.compile(rf"(?<![\w.])({_SIZE})x(?= (?:faster|slower|quicker|more|less|fewer|"
                r"cheaper|larger|bigger|smaller|higher|lower|better|worse|longer|shorter|"
                r"as|the|your|my|our|their|his|her|its|that|what)\b)"), r"\1 times"),
    # "1,850 sq. ft.": written with its stops, as listings do ("sq. ft." was read).
    (re.compile(rf"(?<![\w.,]){_AMOUNT}\s?sq\.\s?ft\b\.?"),
     lambda m: f"{m['n']} {_name('sq ft', '1' if _before_noun(m) else m['n'])}" + kept_stop(m)),
    (re.compile(rf"(?<![\w.,]){_AMOUNT}\s?(?P<u>{_UNIT})"
                rf"(?:/(?P<per>{_UNIT}))?{_NOT_AFTER}"), _measure),
    # Not after a word or another sign ("x>5", "a<=b", "->" are not comparisons).
    (re.compile(r"(?<![\w<>=\-])(?P<op><=|>=|<|>)\s?(?=[$€£]?\d)"),
     lambda m: _COMPARE[m["op"]] + " "),
]
# "$4.99 per kg", "20 EUR/kg" (numerals.py and money.py made "/kg" "per"): one of the
# unit. After the money rules, which write that "per" themselves.
PER_UNIT_RULE = (re.compile(rf"(?<=\bper[ \xa0])(?P<u>{_UNIT}){_NOT_AFTER}"),
                 lambda m: _name(m["u"], "1"))
