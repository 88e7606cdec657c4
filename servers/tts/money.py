"""English readings of amounts of money: "$1,299.99", "€5,50" and "1.299,00 €" as Europe
writes them, "£2bn", "A$30", "¥12,000", "USD 50" and "20 EUR", and a scale written onto
a bare number ("5M users"). Used by ``normalize.py``'s English rules, before the rules
that turn each remaining number into words.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .numerals import words

CURRENCIES = {"$": ("dollar", "dollars", "cent", "cents"),
              "€": ("euro", "euros", "cent", "cents"),
              "£": ("pound", "pounds", "penny", "pence"),
              # "A$30" was "Athirty dollars", "¥12,000" heard "in $12,000".
              "US$": ("US dollar", "US dollars", "cent", "cents"),
              "A$": ("Australian dollar", "Australian dollars", "cent", "cents"),
              "C$": ("Canadian dollar", "Canadian dollars", "cent", "cents"),
              "NZ$": ("New Zealand dollar", "New Zealand dollars", "cent", "cents"),
              "HK$": ("Hong Kong dollar", "Hong Kong dollars", "cent", "cents"),
              "R$": ("real", "reais", "centavo", "centavos"),
              "¥": ("yen", "yen", "sen", "sen"), "₹": ("rupee", "rupees", "paisa", "paise"),
              # "CHF 5.50" was "CHF five point five zero", "₩5000" "₩five thousand".
              "S$": ("Singapore dollar", "Singapore dollars", "cent", "cents"),
              "MX$": ("Mexican peso", "Mexican pesos", "centavo", "centavos"),
              "₩": ("won", "won", "jeon", "jeon"), "₪": ("shekel", "shekels", "agora", "agorot"),
              "₺": ("Turkish lira", "Turkish lira", "kurus", "kurus"),
              "₱": ("Philippine peso", "Philippine pesos", "centavo", "centavos"),
              "₦": ("naira", "naira", "kobo", "kobo"), "฿": ("baht", "baht", "satang", "satang"),
              "CHF": ("Swiss franc", "Swiss francs", "centime", "centimes"),
              "CNY": ("yuan", "yuan", "fen", "fen"), "ZAR": ("rand", "rand", "cent", "cents"),
              "PLN": ("zloty", "zlotys", "grosz", "groszy"),
              "AED": ("dirham", "dirhams", "fil", "fils"),
              "SEK": ("Swedish krona", "Swedish kronor", "öre", "öre"),
              "NOK": ("Norwegian krone", "Norwegian kroner", "øre", "øre"),
              "DKK": ("Danish krone", "Danish kroner", "øre", "øre")}
# Currencies written by their ISO code alone, said by name ("CHF 5", "20 SEK").
_NAMED = ("CHF", "CNY", "ZAR", "PLN", "AED", "SEK", "NOK", "DKK")
# "USD 50", "20 EUR": an ISO code as LLMs and invoices write it, said as its sign is
# (it was spelt, "fifty you ess dee", and its cents were a decimal). Not "PHP" or "TRY":
# a language and a word far more often than money.
CODES = {"USD": "US$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "CAD": "C$",
         "AUD": "A$", "NZD": "NZ$", "HKD": "HK$", "BRL": "R$", "SGD": "S$", "MXN": "MX$",
         "KRW": "₩", "ILS": "₪", "NGN": "₦", "THB": "฿", "RMB": "CNY",
         **{code: code for code in _NAMED}}
_CODE = "(?P<code>" + "|".join(CODES) + ")"
_AMOUNT = r"(?P<amount>\d(?:[\d,.]*\d)?)"
SCALES = r"(?:thousand|million|billion|trillion)"
# "$5M", "£2bn", "$20K": a scale written onto an amount, as finance writes it.
SCALE_MARKS = {"k": "thousand", "m": "million", "mn": "million", "b": "billion",
               "bn": "billion", "t": "trillion", "tn": "trillion"}
# A currency's sign and a scale's mark, as the money rule and the range rule read them.
_SIGN = rf"(?P<cur>\b(?:US|A|C|NZ|HK|R|S|MX)\$|[$€£¥₹₩₪₺₱₦฿]|\b(?:{'|'.join(_NAMED)})(?=\s?\d))"
SIGNS = "$€£¥₹₩₪₺₱₦฿"  # for a lookbehind: a number after one is an amount
_MARK = r"(?i:k|[bmt]n?)"


def _money(m: re.Match[str]) -> str:
    one, many, sub_one, sub_many = CURRENCIES[m["cur"]]
    whole = m["whole"].replace(",", "")
    scale = m["scale"] or SCALE_MARKS.get((m["mark"] or m["spaced"] or "").lower())
    # "$3.5 million" -> "three point five million dollars"; "$1.234" is no cents either.
    if scale or len(m["cents"] or "") > 2:
        amount = whole + (f".{m['cents']}" if m["cents"] else "")
        return f"{words(amount)}{f' {scale}' if scale else ''} {many}"
    cents = int((m["cents"] or "0").ljust(2, "0")[:2])
    cents_said = f"{words(cents)} {sub_one if cents == 1 else sub_many}"
    if cents and not whole.strip("0"):  # "$0.99": "ninety-nine cents", no "zero dollars"
        if sub_one == "cent" and m["cur"] not in ("$", "US$"):
            # "€0.50" is "fifty euro cents": "cents" alone says dollars.
            return f"{words(cents)} {one.rsplit(' ', 1)[0]} {cents_said.split(' ')[-1]}"
        return cents_said
    out = f"{words(whole)} {one if whole.lstrip('0') == '1' else many}"
    return f"{out} and {cents_said}" if cents else out


def _scaled(m: re.Match[str]) -> str:
    """"5M users", "2.5B": a scale written onto a bare number, as on an amount."""
    if m["dec"]:
        return f"{words(m['dec'])} billion"
    return f"{words(m['n'])} {SCALE_MARKS[m['mark'].lower()]}"


_END = r"\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:\.\d+)?"  # a range's end


def _money_range(m: re.Match[str]) -> str:
    """"$1-2K": one to two thousand dollars, the scale and the currency said once ("one,
    two K" before, read as a code; "$5-10" was "five dollars to ten")."""
    many = CURRENCIES[m["cur"]][1]
    scale_b = m["scale"] or SCALE_MARKS.get((m["mb"] or "").lower())
    scale_a = SCALE_MARKS.get((m["ma"] or "").lower())
    a, b = m["a"].replace(",", ""), m["b"].replace(",", "")
    per = " per " if m["per"] else ""
    if not (scale_a or scale_b) and any(len(x.partition(".")[2]) == 2 for x in (a, b)):
        # Cents: each end an amount of its own ("$5.50-$10").
        return f"{m['cur']}{m['a']} to {m['cur']}{m['b']}{m['per'] or ''}"
    first = words(a) + (f" {scale_a}" if scale_a and scale_a != scale_b else "")
    return f"{first} to {words(b)}{f' {scale_b}' if scale_b else ''} {many}{per}"


def _scaled_range(m: re.Match[str]) -> str:
    """"5-10K users": five to ten thousand (it was spelt as a code, "five, one zero K")."""
    return f"{words(m['a'])} to {words(m['b'])} {SCALE_MARKS[m['mark'].lower()]}"


# Ranges first: their ends were read as a code, or the currency and scale only once.
RANGE_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(rf"{_SIGN}\s?(?P<a>{_END})(?P<ma>{_MARK}(?![\w]))?\s?[-–]\s?(?P=cur)?\s?"
                rf"(?P<b>{_END})(?:\s(?P<scale>{SCALES})\b|(?P<mb>{_MARK})(?!\w)|(?![\w.,]\d|\w))"
                r"(?!\s?=)(?P<per>/(?=[^\W\d]))?"),  # not a sum ("$10 - $3 = $7"); "/mo"
     _money_range),
    (re.compile(rf"(?<![\w.,{SIGNS}-])(?P<a>\d+(?:\.\d+)?)\s?[-–]\s?(?P<b>\d+(?:\.\d+)?)"
                r"(?P<mark>[KkM]|[mb]n|Bn|B(?<=\.\dB))(?!\w)"), _scaled_range),
]

MONEY_RULES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (re.compile(rf"\b{_CODE}\s?{_AMOUNT}"), lambda m: CODES[m["code"]] + m["amount"]),
    (re.compile(rf"(?<![\w.,]){_AMOUNT}\s?{_CODE}\b(?P<per>/(?=[^\W\d]))?"),
     lambda m: CODES[m["code"]] + m["amount"] + (" per " if m["per"] else "")),  # "/month"
    # "1.299,00 €", "5 €", "2,50€": the euro sign after the amount, as Europe writes it
    # (it was "one point two nine nine, zero zero euros"): written before it, with a
    # decimal comma, for the rule below.
    (re.compile(r"(?<![\w.,])(?P<whole>\d{1,3}(?:\.\d{3})+|\d+)(?:,(?P<cents>\d\d))?\s?€"),
     lambda m: f"€{m['whole']},{m['cents']}" if m["cents"]
     else f"€{m['whole'].replace('.', ',')}"),
    # "€5,50", "€1.234,56": a euro amount with a decimal comma, as the money rule reads it
    # ("five hundred and fifty euros" before: a price a hundred times too high).
    (re.compile(r"€\s?(?P<whole>\d{1,3}(?:\.\d{3})*),(?P<cents>\d\d)(?![\d,.]\d|\d)"),
     lambda m: f"€{m['whole'].replace('.', ',')}.{m['cents']}"),
    (re.compile(rf"{_SIGN}\s?"
                r"(?P<whole>\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.(?P<cents>\d+))?"
                rf"(?:\s(?P<scale>{SCALES})\b|(?P<mark>{_MARK})(?!\w)"
                # After a space only a capital or a two-letter mark: "$5 M", "£2 bn", but
                # not the "t" of "a $5 t-shirt".
                r"|\s(?P<spaced>[KMBT]|(?i:[bmt]n))(?![\w\-])|(?!\w))"), _money),
    # "5M users" (it was "five M users"), "2.5B"; a bare "5B" is an apartment or a pencil
    # and "5K" a race, so B only after a decimal and K only on an amount (above).
    (re.compile(r"(?<![\w.,])(?:(?P<dec>\d+\.\d+)B|(?P<n>\d+(?:\.\d+)?)(?P<mark>M|[mb]n|Bn))"
                r"(?!\w)"), _scaled),
]
