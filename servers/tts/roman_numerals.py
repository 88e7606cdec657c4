"""Roman numerals after a name, as they are said: "World War Two", "Type Two diabetes",
"Henry the Eighth", "Super Bowl fifty-eight" (espeak said "World War Roman two").

Only numerals of I, V and X (L after "Super Bowl"): "DC", "MD", "CD", "CV" and "XL" are
far more often a city, a degree, a disc, a résumé or a size. A one-letter numeral ("I",
"V", "X") only after a word that counts ("War", "Type", "Part"): elsewhere "I" is the
pronoun. And only after a capitalised word: "an IV drip" is a drip.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from num2words import num2words

_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50}
# Words a number follows ("World War II", "Phase III", "Title IX", "Super Bowl LVIII").
_COUNTING = ("War|Type|Phase|Part|Chapter|Title|Class|Tier|Stage|Level|Grade|Category|"
             "Book|Volume|Act|Round|Bowl|Article|Section|Schedule|Appendix|Division|"
             "Episode|Mark|Series|Season")
# Names a monarch or a pope has, and the titles before one: "Henry VIII", "King Charles
# III", "Pope John Paul II" are "the Eighth", "the Third", "the Second".
_REGNAL = ("Henry|Elizabeth|Charles|George|Edward|William|Richard|James|Louis|Mary|Philip|"
           "Frederick|Peter|Catherine|Napoleon|Leo|Pius|Gregory|Benedict|Innocent|Clement|"
           "Urban|Boniface|Paul|John|Alexander|Nicholas|Ivan|Ferdinand|Isabella|Constantine")
_TITLE = r"(?:King|Queen|Pope|Emperor|Empress|Tsar|Czar|Prince|Princess|Duke|Sultan)"
_NUMERAL = r"(?P<r>X{0,3}(?:IX|IV|V?I{0,3})|L?X{0,3}(?:IX|IV|V?I{0,3}))"
_ROMAN = re.compile(
    rf"(?:(?P<count>\b(?:{_COUNTING}) )(?=[IVXL])"
    rf"|(?P<regnal>\b(?:{_TITLE} (?:[A-Z][a-z]+ ){{1,2}}|(?:{_REGNAL}) ))(?=[IVX]{{1,4}}\b)"
    rf"|(?P<person>\b[A-Z][a-z]+ (?!(?:{_COUNTING}) )[A-Z][a-z'-]+ )(?=I{{2,3}}\b)"
    rf"|(?P<name>\b[A-Z][a-z]+ )(?=[IVX]{{2,4}}\b))"
    rf"{_NUMERAL}(?![\w'’-]|\.\w)")


def value(numeral: str) -> int:
    """"LVIII" -> 58: each letter added, or taken away before a larger one."""
    total = 0
    for letter, after in zip(numeral, [*numeral[1:], ""], strict=True):
        v = _VALUES[letter]
        total += -v if after and _VALUES[after] > v else v
    return total


def _roman(m: re.Match[str]) -> str:
    numeral = m["r"]
    if not numeral or "L" in numeral and not (m["count"] or "").startswith("Bowl"):
        return m[0]
    n = value(numeral)
    if m["count"]:
        if numeral == "I" and m["count"] == "War " and not m.string[:m.start()].endswith("World "):
            return m[0]  # "after the War I went home": the pronoun
        return f"{m['count']}{num2words(n)}"
    if numeral == "IV" and not m["regnal"]:
        return m[0]  # "Start IV fluids": intravenous, far more often than a sequel
    if m["regnal"] or m["person"]:  # "Henry the Eighth", "Robert Davis the Third"
        return f"{m['regnal'] or m['person']}the {num2words(n, to='ordinal')}"
    # "Rocky two", "Final Fantasy seven": a person's own suffix is II or III, almost never
    # more, so a larger numeral after two names is a title's number.
    return f"{m['name']}{num2words(n)}"


ROMAN_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (_ROMAN, _roman),
]
