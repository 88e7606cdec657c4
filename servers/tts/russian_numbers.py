"""Russian numbers and what they count, written the way they are said (``russian.py``
has the dates, days and times).

espeak says every number in the nominative masculine and reads a noun's abbreviation as
letters, so a noun's form by its number ("2 рубля", "5 рублей", "одна минута") and a
number's case after its preposition ("до десяти килограммов", "более ста") are written
here; "3-й" was "три краткой", "руб." "руп", "кг" "ка гэ", "1 500" "один пятьсот", a
phone number millions, and the minus of "-150 руб." dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import pairwise

from num2words import num2words

from .european_abbreviations import sentence_stop
from .european_digits import DIGIT_RUN
from .russian_words import CURRENCIES, MULTIPLIERS, SIGNS, UNITS, Counted

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]

# --- numbers and the forms they ask for -----------------------------------------------

def form(n: int, noun: Counted, case: str = "n") -> str:
    """The noun after ``n``: "1 рубль", "2 рубля", "5 рублей"; in the genitive "до 1
    рубля", "до 5 рублей"."""
    one = n % 10 == 1 and n % 100 != 11
    if case == "g":
        return noun.few if one else noun.many
    if one:
        return noun.one_accusative or noun.one if case == "a" else noun.one
    return noun.few if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14) else noun.many


def number(n: int, case: str = "n", gender: str = "m") -> str:
    """A cardinal: left in digits where espeak's reading (nominative, masculine) is
    right; written out where it is not ("одна минута", "до восемнадцати")."""
    if case in "na" and (gender == "m" or n % 10 not in (1, 2) or n % 100 in (11, 12)):
        return str(n)
    words = num2words(n, lang="ru", case=case, gender=gender, animate=False)
    # "от тысячи девятисот рублей", "более миллиона", not num2words' "одной тысячи"
    first, _, rest = words.partition(" ")
    return rest if first.startswith("од") and rest.startswith(("тысяч", "миллион",
                                                               "миллиард")) else words


def ordinal(n: int, case: str, gender: str = "m", plural: bool = False) -> str:
    return num2words(n, lang="ru", to="ordinal", case=case, gender=gender, plural=plural)


# The prepositions after which a number is in the genitive ("до пяти", "более ста").
_GENITIVE = r"(?i:до|от|около|после|более|менее|свыше|больше|меньше|из|без|для|кроме|течение)"
_GENITIVE_BEFORE = re.compile(rf"(?<!\w){_GENITIVE}\s$")
_ACCUSATIVE_BEFORE = re.compile(r"(?<!\w)(?i:через|за|на|ждите|подождите)\s$")


def case_before(m: re.Match[str]) -> str:
    """"g" after "до", "a" after "через" ("через одну минуту"), else "n"."""
    before = m.string[max(0, m.start() - 12):m.start()]
    return "g" if _GENITIVE_BEFORE.search(before) else \
        "a" if _ACCUSATIVE_BEFORE.search(before) else "n"


# --- ordinals, phones, amounts -----------------------------------------------------------

# "3-й этаж", "1-го числа", "90-х годов", "до 3-х лет": the ending says the case.
_SUFFIX = re.compile(r"(?<![\w.,-])(?P<n>\d{1,4})-(?P<s>ый|ий|ой|й|ая|я|ое|е|ого|го|ому|му|ом|м|"
                     r"ую|ю|ых|х|ти|ми|мя)(?!\w)")
_ORDINAL_ENDINGS = {"й": ("n", "m"), "ый": ("n", "m"), "ий": ("n", "m"), "ой": ("n", "m"),
                    "я": ("n", "f"), "ая": ("n", "f"), "е": ("n", "n"), "ое": ("n", "n"),
                    "го": ("g", "m"), "ого": ("g", "m"), "му": ("d", "m"), "ому": ("d", "m"),
                    "м": ("p", "m"), "ом": ("p", "m"), "ю": ("a", "f"), "ую": ("a", "f")}


def _suffixed(m: re.Match[str]) -> str:
    n, ending = int(m["n"]), m["s"]
    decade = n >= 20 and n % 10 == 0  # "90-е", "2000-х": the years of a decade
    if ending in ("х", "ых"):
        return ordinal(n, "g", plural=True) if decade else number(n, "g")
    if ending in ("ти", "ми", "мя"):  # "5-ти" is "пяти", "2-мя" "двумя"
        return number(n, "g" if ending == "ти" else "i")
    case, gender = _ORDINAL_ENDINGS[ending]
    if ending == "е" and decade:
        return ordinal(n, "n", plural=True)
    return ordinal(n, case, gender)


# "+7 (495) 123-45-67", "8 800 555-35-35", "89161234567", "123-45-67": said in its groups
# ("плюс семь, четыреста девяносто пять, сто двадцать три, сорок пять, шестьдесят семь").
_PHONE = re.compile(r"(?<![\w+.,-])(?:(?P<cc>\+7|8)[\s-]?\(?\d{3}\)?[\s-]?\d{3}[\s-]?\d{2}[\s-]?\d{2}"
                    r"|\d{3}-\d{2}-\d{2})(?![\w-]|[.,]\d)")


def _phone(m: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", m[0])
    head = []
    if m["cc"]:
        head, digits = [("плюс 7" if m["cc"] == "+7" else "8")], digits[1:]
    cuts = (0, 3, 6, 8, 10) if len(digits) == 10 else (0, 3, 5, 7)
    groups = [digits[a:b] for a, b in pairwise(cuts)]
    # "05" is "ноль пять", "00" "ноль ноль"
    return ", ".join(head + [" ".join(["ноль"] * (len(g) - len(g.lstrip("0")))
                                       + ([g.lstrip("0")] if g.lstrip("0") else []))
                             for g in groups])


# "1 500" is one number (espeak: "один пятьсот"), as Russian groups its thousands.
_THOUSANDS = re.compile(r"(?<![\w.,])\d{1,3}(?:[ \xa0\u202f]\d{3})+(?![\w]|[.,]\d)")

# (The space after "°" is the scale's only: "5° тепла" kept its word apart.)
_TEMPERATURE = re.compile(r"(?<![\w.,])(?P<sign>[+\-−])?(?P<n>\d+)(?:,(?P<f>\d+))?\s?°"
                          r"(?:\s?(?P<scale>[CСF](?!\w)))?")
_DEGREE = Counted("градус", "градуса", "градусов")


def _temperature(m: re.Match[str]) -> str:
    """"-3°" was "три", "+5°C" "плюс пять си"."""
    n = int(m["n"])
    sign = {"+": "плюс ", "-": "минус ", "−": "минус "}.get(m["sign"] or "", "")
    said = f"{n},{m['f']} {_DEGREE.few}" if m["f"] else f"{n} {form(n, _DEGREE)}"
    scale = {"F": " по Фаренгейту"}.get(m["scale"] or "", " по Цельсию" if m["scale"] else "")
    return sign + said + scale


_CURRENCY = "|".join(re.escape(s) for s in sorted(SIGNS, key=len, reverse=True))
_MULTIPLIER = r"тыс\.?|млн|млрд"  # (MULTIPLIERS' keys; "тыс." with its stop)
_MONEY = re.compile(
    r"(?:(?P<cur1>[$€₽])\s?)?(?<![\w.,])(?P<whole>\d+)(?:,(?P<frac>\d{1,2}))?"
    rf"(?:\s?(?P<mult>{_MULTIPLIER})(?!\w))?"
    rf"(?(cur1)|\s?(?P<cur2>{_CURRENCY})(?!\w))(?:\s(?P<kop>\d\d?)\s?коп\.?(?!\w))?")


def _money(m: re.Match[str]) -> str:
    """"25,50 руб." is "25 рублей 50 копеек" (espeak: "двадцать пять и пять ноль
    десятых руп"); "5 тыс. ₽" "5 тысяч рублей"."""
    main, hundredth = CURRENCIES[SIGNS[m["cur1"] or m["cur2"]]]
    case, whole = case_before(m), int(m["whole"])
    if m["mult"]:
        mult = MULTIPLIERS[m["mult"].rstrip(".")]
        count = f"{whole},{m['frac']} {mult.few}" if m["frac"] else \
            f"{number(whole, case, mult.gender)} {form(whole, mult, case)}"
        return f"{count} {main.many}" + sentence_stop(m)
    if m["frac"] and len(m["frac"]) == 1:  # "2,5 рубля"
        return f"{whole},{m['frac']} {main.few}" + sentence_stop(m)
    cents = int(m["frac"] or m["kop"] or 0)
    said = [f"{number(whole, case, main.gender)} {form(whole, main, case)}"] \
        if whole or not cents else []
    if cents:
        said.append(f"{number(cents, case, hundredth.gender)} {form(cents, hundredth, case)}")
    return " ".join(said) + sentence_stop(m)


_UNIT = "|".join(re.escape(u) + (r"\.?" if u[-1] != "." and u != "км/ч" else "")
                 for u in sorted(UNITS, key=len, reverse=True))
_UNITS = re.compile(rf"(?<![\w.,])(?P<n>\d+)(?:,(?P<f>\d+))?(?:\s?[-–]\s?(?P<n2>\d+))?"
                    rf"\s?(?P<u>{_UNIT})(?![\w/])")


def _unit(m: re.Match[str]) -> str:
    """"2 кг" is "2 килограмма", "1 мин." "одна минута", "до 10 км" "до десяти
    километров" (espeak: "ка гэ", "мин")."""
    noun = UNITS[m["u"].rstrip(".")]
    if m["f"]:  # "2,5 кг": a fraction takes the genitive singular
        return f"{m['n']},{m['f']} {noun.few}" + sentence_stop(m)
    case, last = case_before(m), int(m["n2"] or m["n"])
    first = number(int(m["n"]), case, noun.gender)
    count = f"{first}-{number(last, case, noun.gender)}" if m["n2"] else first
    return f"{count} {form(last, noun, case)}" + sentence_stop(m)


# A number after "до", "от", "более" ...: "до пяти лет" (espeak: "до пять лет"); "с" only
# before "до" or "по" ("с 5 до 10": "с двумя" would be the instrumental). A year is left.
_AFTER_GENITIVE = re.compile(rf"(?<!\w)(?P<p>{_GENITIVE}|[Сс](?=\s\d+\s(?:до|по)\s))\s"
                             r"(?P<n>\d+)(?![\w:-]|[.,]\d|\s?\d)")


def _after_genitive(m: re.Match[str]) -> str:
    if re.fullmatch(r"(?:19|20)\d\d", m["n"]):
        return m[0]
    return f"{m['p']} {number(int(m['n']), 'g')}"



# "299 ₽/мес." is "в месяц" (espeak: "косая черта мес"), "150 ₽/шт." "за штуку".
_PER = {"мес": "в месяц", "месяц": "в месяц", "год": "в год", "день": "в день",
        "сут": "в сутки", "сутки": "в сутки", "час": "в час", "ч": "в час", "мин": "в минуту",
        "шт": "за штуку", "кг": "за килограмм", "чел": "с человека"}
_PER_UNIT = re.compile(rf"(?<=[\w.])\s?/\s?(?P<u>{'|'.join(sorted(_PER, key=len, reverse=True))})"
                       r"\b\.?")


def _per(m: re.Match[str]) -> str:
    return f" {_PER[m['u']]}" + sentence_stop(m)


def phone_rules() -> list[Rule]:
    return [(_PHONE, _phone)]


def number_rules() -> list[Rule]:
    """In order: an ordinal's ending, a sign, then the amounts, then a bare number's case."""
    return [
        (_SUFFIX, _suffixed),
        # "-150 руб.", "-3": espeak dropped the sign ("сто пятьдесят рублей": a debt said
        # as a credit)
        (re.compile(r"(?:(?<=\s)|^)[-−](?=\d)"), lambda m: "минус "),
        # An account's or an order's seven digits or more, digit by digit, as in the
        # other languages; a round one ("1000000") is an amount.
        (DIGIT_RUN, lambda m: " ".join(m[0])),
        (_THOUSANDS, lambda m: re.sub(r"\D", "", m[0])),
        (_TEMPERATURE, _temperature),
        (_MONEY, _money), (_UNITS, _unit), (_PER_UNIT, _per),
        (_AFTER_GENITIVE, _after_genitive),
    ]
