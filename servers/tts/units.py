"""English names of the units of measure written short after a number ("500 mg",
"5kg", "20°C", "100 km/h"), of the comparison signs before one ("<5", ">=18"), and of
the "x" of a dimension ("2x4": "by") or a multiple ("3x faster": "times").

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

_MASS = {"mg": "milligram", "mcg": "microgram", "µg": "microgram", "g": "gram",
         "kg": "kilogram", "oz": "ounce"}
_VOLUME = {"ml": "milliliter", "mL": "milliliter", "cl": "centiliter", "l": "liter",
           "L": "liter", "fl oz": "fluid ounce", "tsp": "teaspoon"}
_LENGTH = {"mm": "millimeter", "cm": "centimeter", "km": "kilometer", "mi": "mile",
           "yd": "yard", "ft": "foot", "sq ft": "square foot"}
_OTHER = {"km/h": "kilometer per hour", "kph": "kilometer per hour", "kW": "kilowatt",
          "kWh": "kilowatt hour", "°C": "degree Celsius", "°F": "degree Fahrenheit"}
UNITS = _MASS | _VOLUME | _LENGTH | _OTHER
# Plurals that are not the singular and an "s".
_PLURAL = {"foot": "feet", "square foot": "square feet", "kilometer per hour":
           "kilometers per hour", "kilowatt hour": "kilowatt hours",
           "degree Celsius": "degrees Celsius", "degree Fahrenheit": "degrees Fahrenheit"}

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
    # "a 5 mm bolt", "a 500 mg tablet": a measure before its noun is said in the singular.
    one = "1" if _ARTICLE.search(m.string[max(0, m.start() - 5):m.start()]) else m["n"]
    per = f" per {_name(m['per'], '1')}" if m["per"] else ""  # "5 mg/kg"
    return f"{m['n']} {_name(m['u'], one)}{per}"


MEASURE_RULES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    # "2x4", "1920x1080", "10x20 ft": dimensions, "by" (it was "two x4").
    (re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)x(\d+(?:\.\d+)?)(?!\w|\.\d)"), r"\1 by \2"),
    # "3x faster", "2x the price": a multiple, "times" (it was "three x faster").
    (re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)x(?= (?:faster|slower|quicker|more|less|fewer|"
                r"cheaper|larger|bigger|smaller|higher|lower|better|worse|longer|shorter|"
                r"as|the)\b)"), r"\1 times"),
    (re.compile(rf"(?<![\w.])(?P<n>\d[\d,]*(?:\.\d+)?)\s?(?P<u>{_UNIT})"
                rf"(?:/(?P<per>{_UNIT}))?{_NOT_AFTER}"), _measure),
    # "$4.99 per kg" (numerals.py made "/kg" "per"): one of the unit.
    (re.compile(rf"(?<=\bper )(?P<u>{_UNIT}){_NOT_AFTER}"), lambda m: _name(m["u"], "1")),
    # Not after a word or another sign ("x>5", "a<=b", "->" are not comparisons).
    (re.compile(r"(?<![\w<>=\-])(?P<op><=|>=|<|>)\s?(?=[$€£]?\d)"),
     lambda m: _COMPARE[m["op"]] + " "),
]
