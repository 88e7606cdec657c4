"""English street addresses, said as a caller writes them down: street suffixes written
short ("5th Ave", "Main St.") as their words, and a house number in pairs as people say
it ("sixteen hundred Pennsylvania Avenue", not "one thousand six hundred").
Used by ``normalize.py``'s English rules, before its number rules.
"""

from __future__ import annotations

import re

from num2words import num2words

from .stops import kept_stop

# After a name or an ordinal, with or without the stop (US addresses mostly leave it
# out: "350 5th Ave, New York" was heard "fifth ave", "Pennsylvania Ave NW" "Pennsylvania
# Abe"). "Main St." and "Oak St," are streets, "St. Louis" a saint.
STREETS = {"St": "Street", "Ave": "Avenue", "Blvd": "Boulevard", "Rd": "Road",
           "Ln": "Lane", "Hwy": "Highway", "Pkwy": "Parkway"}
_NAME = r"(?:[A-Z][a-z]+|\d+(?:st|nd|rd|th))"
_STREET = re.compile(rf"\b({_NAME}) (" + "|".join(STREETS) + r")\b\.?(?=[\s,;:]|$)")
_SUITE = re.compile(r"\bSte\.?(?= ?#?\d)")  # "Ste 200" was heard "C200"
_WAYS = ("Street|Avenue|Road|Boulevard|Lane|Drive|Way|Court|Place|Highway|Parkway"
         "|Terrace|Circle|Square|Plaza|Trail")
# A house number: three or four digits before one to three words of a name and the
# kind of street ("1600 Pennsylvania Avenue", "350 5th Avenue", "221 Baker Street").
_HOUSE = re.compile(rf"(?<![\w.,$€£#/-])(\d{{3,4}})(?= (?:{_NAME} ){{1,3}}(?:{_WAYS})\b)")


# "45 W. 34th St.", "500 W Madison St": the direction after a house number ("W");
# "Pennsylvania Ave NW": a quarter after the street ("N W" before).
_COMPASS = re.compile(r"(?<=\d )([NSEW])\.?(?= (?:\d+(?:st|nd|rd|th)|[A-Z][a-z]+) )")
_DIRECTIONS = {"N": "North", "S": "South", "E": "East", "W": "West"}
_QUARTER = re.compile(rf"\b({_WAYS}) ([NS])\.?([EW])\b\.?(?=[\s,;:]|$)")
# A suite's, a room's or a highway's number in pairs, as a house number ("Suite 1200"
# was "one thousand two hundred", "Hwy 101" "Hwy one hundred and one").
_NUMBERED = re.compile(r"\b(Suite|Room|Rm\.?|Hwy\.?|Highway|Route|Rte\.?)( #?)(\d{1,4})\b"
                       r"(?![.,]\d)")
_NUMBERED_NAMES = {"Hwy": "Highway", "Rte": "Route", "Rm": "Room"}
# "2nd fl.": the floor ("fl" was said as letters).
_FLOOR = re.compile(r"(?<=\d(?:st|nd|rd|th) )[Ff]l\b\.?")


# "winds NW at 10 mph": a wind's direction ("N W" before).
_WIND = re.compile(r"\b(?P<w>(?i:winds?|wind from the|winds from the|blowing from the) )"
                   r"(?P<a>[NS])?(?P<b>[EW])?\b(?<=[NSEW])")


def _wind(m: re.Match[str]) -> str:
    a = _DIRECTIONS[m["a"]] if m["a"] else ""
    b = _DIRECTIONS[m["b"]] if m["b"] else ""
    return m["w"] + (a + b.lower() if a else b)


def expand_streets(text: str) -> str:
    text = _WIND.sub(_wind, text)
    text = _COMPASS.sub(lambda m: _DIRECTIONS[m[1]], text)
    text = _STREET.sub(_street, text)
    text = _QUARTER.sub(lambda m: (f"{m[1]} {_DIRECTIONS[m[2]]}{_DIRECTIONS[m[3]].lower()}"
                                   + kept_stop(m)), text)
    text = _SUITE.sub("Suite", text)
    text = _NUMBERED.sub(lambda m: _NUMBERED_NAMES.get(m[1].rstrip("."), m[1].rstrip("."))
                         + " " + (house_number(m[3]) if len(m[3]) > 2 else m[3]), text)
    text = _FLOOR.sub(lambda m: "floor" + kept_stop(m), text)
    return _HOUSE.sub(lambda m: house_number(m[1]), text)


def _street(m: re.Match[str]) -> str:
    # A sentence's first word is capitalised whatever it is: there, before a name,
    # "Visit St. Louis" is a saint and "The Ave Maria" a prayer ("Main St is closed" and
    # "on Main St. He" stay streets).
    if not m[1][0].isdigit() and re.search(r"(?:^|[.!?:]\s*)$", m.string[:m.start()]) \
            and re.match(r"\s+[A-Z][a-z]", m.string[m.end():]):
        return m[0]
    return f"{m[1]} {STREETS[m[2]]}" + kept_stop(m)


def house_number(digits: str) -> str:
    """"350" three fifty, "305" three oh five, "1600" sixteen hundred, "1234" twelve
    thirty-four, "2005" twenty oh five; round hundreds and thousands as amounts."""
    n = int(digits)
    if n % 100 == 0 and (n < 1000 or n % 1000 == 0) or digits.startswith("0"):
        return _words(n)
    head, tail = divmod(n, 100)
    if tail == 0:
        return f"{_words(head)} hundred"
    return f"{_words(head)} {_words(tail) if tail >= 10 else 'oh ' + _words(tail)}"


def _words(n: int) -> str:
    return num2words(n, lang="en").replace(",", "")
