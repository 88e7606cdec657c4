"""How text is read aloud: numbers, dates, codes and units as a listener must hear them.

The English cases are a table, ``readings_en.tsv``, one case a line; the tests here are
the readings that need a language, a failure or a property rather than one answer."""

from __future__ import annotations

import unicodedata

import pytest

from servers.tts import normalize as normalize_module
from servers.tts import numerals as numerals_module
from servers.tts.normalize import normalize

from .tables import read_table


@pytest.mark.parametrize("text, spoken", read_table("readings_en.tsv", 2))
def test_normalize_english(text: str, spoken: str) -> None:
    assert normalize(text, "en-US") == spoken


@pytest.mark.parametrize("text", [
    "9" * 400,  # num2words overflows at 307 digits
    "$" + "9" * 400,
    "1," + "000," * 120 + "000",
    "9" * 4400,  # int() refuses more than 4,300 digits
    "12345678901234567890th",
    "1." + "5" * 400 + "%",
])
def test_long_digit_runs_are_read_digit_by_digit(text: str) -> None:
    spoken = normalize(text)
    digits = sum(c.isdigit() for c in text)
    assert not any(c.isdigit() for c in spoken)
    assert len([w for w in spoken.split() if w in normalize_module.DIGITS]) == digits


def test_a_failing_rule_keeps_its_match_as_written(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("num2words broke")

    monkeypatch.setattr(numerals_module, "num2words", broken)
    assert normalize("I have 5 apples, 20% off.") == "I have 5 apples, 20% off."


@pytest.mark.parametrize("text, language, spoken", [
    # English's "times" was written into every language: "3 times 4" in Spanish.
    ("3 * 4 y 2×3", "es-ES", "3 por 4 y 2 por 3"),
    ("3 * 4", "ru-RU", "3 умножить на 4"),
    ("3*4", "zh_CN", "3 乘以 4"),
    # espeak says "×" itself in these: "drei mal vier", "trois multiplié par quatre".
    ("3 * 4", "de-DE", "3 × 4"),
    ("3 × 4", "fr-FR", "3 × 4"),
    ("3 * 4", "he-IL", "3 × 4"),
])
def test_a_multiplication_is_said_in_the_voices_language(text: str, language: str,
                                                         spoken: str) -> None:
    assert normalize(text, language) == spoken


@pytest.mark.parametrize("text", ["Café au lait, naïve résumé.", "Müller's Straße.",
                                  "¿Qué año? Ñandú."])
def test_decomposed_text_is_read_as_the_composed(text: str) -> None:
    decomposed = unicodedata.normalize("NFD", text)
    assert decomposed != text  # the premise: combining marks
    assert normalize(decomposed) == normalize(text) == text


@pytest.mark.parametrize("mark", ["\u200b", "\u200d", "\u2060", "\ufeff"])
def test_a_zero_width_mark_inside_a_word_leaves_it_one_word(mark: str) -> None:
    assert normalize(f"Hel{mark}lo wor{mark}{mark}ld.") == "Hello world."
    assert normalize(f"Hello{mark} world.") == "Hello world."  # nothing where it was


def test_other_languages_are_left_alone() -> None:
    """No rules for Finnish: only whitespace; an English reading would be worse."""
    assert normalize("Maksaa  $5, 15/03.", "fi-FI") == "Maksaa $5, 15/03."


@pytest.mark.parametrize("language, spoken", [
    ("en-US", "Due March fourth, twenty twenty-four. Call zero two zero, seven nine four six, "
              "zero nine five eight."),
    ("en-GB", "Due April third, twenty twenty-four. Call zero two zero, seven nine four six, "
              "zero nine five eight."),
])
def test_dates_are_read_in_the_voices_order(language: str, spoken: str) -> None:
    """A British (Australian, Irish...) voice reads "03/04/2024" day first, as its
    listeners write it; a national number in groups is digit by digit anywhere."""
    assert normalize("Due 03/04/2024. Call 020 7946 0958.", language) == spoken


@pytest.mark.parametrize("text, language, spoken", [
    ("Call me on Monday 15/05.", "en-US", "Call me on Monday May fifteenth."),
    ("See you Monday 05/06.", "en-GB", "See you Monday June fifth."),
    ("See you Monday 05/06.", "en-US", "See you Monday May sixth."),
    ("Closed from 20/12 to 2/1.", "en-US", "Closed from December twentieth to January second."),
    ("Score 15/05, on 13/13.", "en-US", "Score fifteen/zero five, on thirteen/thirteen."),
    # "by" and "for" take a date, but a common fraction or a measure after them stays one.
    ("Pay by 15/1, cut by 1/2, for 1/10 of it, by 5/8 inch.", "en-GB",
     "Pay by January fifteenth, cut by one half, for one tenth of it, by five eighths inch."),
])
def test_a_day_and_month_without_a_year_are_read_in_their_order(
        text: str, language: str, spoken: str) -> None:
    """"Monday 15/05" was "fifteen slash zero five": only month-first days were dates. A
    first number past 12 (or a day-first English) says the order; its range follows it."""
    assert normalize(text, language) == spoken


@pytest.mark.parametrize("text, spoken", [
    ("World War II, Type II diabetes, a Phase III trial, Title IX, Super Bowl LVIII, "
     "World War I.",
     "World War two, Type two diabetes, a Phase three trial, Title nine, Super Bowl "
     "fifty-eight, World War one."),
    ("Henry VIII, King Charles III, Pope John Paul II and Robert Davis III; Rocky II.",
     "Henry the eighth, King Charles the third, Pope John Paul the second and Robert Davis "
     "the third; Rocky two."),
    # A person's suffix is II or III: a larger numeral after two names is a title's number
    # ("Final Fantasy the seventh" before).
    ("Final Fantasy VII and Star Wars Episode VI are on sale.",
     "Final Fantasy seven and Star Wars Episode six are on sale."),
    # Not numerals here: the pronoun, a drip, a city, a size, a car.
    ("Then I said: start IV fluids in Washington DC, size XL, a Model X.",
     "Then I said: start IV fluids in Washington DC, size XL, a Model X."),
    # "War I" is World War One only after "World" ("the War one went home" before).
    ("After the War I went home.", "After the War I went home."),
])
def test_a_roman_numeral_after_a_name_is_said(text: str, spoken: str) -> None:
    """espeak read them "Roman two" ("World War Roman two", "King Charles Roman three")."""
    assert normalize(text, "en-US") == spoken


@pytest.mark.parametrize("text, spoken", [
    # A wind's direction, a team, a unit of gas ("N W", "forty-nine ers", "per gal").
    ("Winds NW at 10 mph. The 49ers won. Gas is $3.89/gal.",
     "Winds Northwest at ten mph. The Forty-Niners won. Gas is three dollars and "
     "eighty-nine cents per gallon."),
])
def test_weather_and_sports_readings(text: str, spoken: str) -> None:
    assert normalize(text, "en-US") == spoken


@pytest.mark.parametrize("text, spoken", [
    ("Blood pressure 120/80 is normal.",
     "Blood pressure one hundred and twenty over eighty is normal."),
    ("Your BP: 135/85 mmHg.",
     "Your BP: one hundred and thirty-five over eighty-five millimeters of mercury."),
    ("Score 120/80", "Score one hundred and twenty/eighty"),
])
def test_a_blood_pressure_is_one_number_over_another(text: str, spoken: str) -> None:
    assert normalize(text, "en-US") == spoken


@pytest.mark.parametrize("text, spoken", [
    ("It weighs 2,5 kg, rate 2,75%.", "It weighs two point five kilograms, rate two point seven "
     "five percent."),
    ("Items 2,5 and 7; 1,000 kg", "Items two,five and seven; one thousand kilograms"),
])
def test_a_decimal_comma_before_a_unit_is_a_point(text: str, spoken: str) -> None:
    """"2,5 kg" was "two,five kg": no thousands group has one or two digits."""
    assert normalize(text, "en-US") == spoken


@pytest.mark.parametrize("text, spoken", [
    ("Visit https://example.com/ now.", "Visit example dot com now."),
    ("See www.example.com/help/ today.", "See www dot example dot com slash help today."),
    ("Go to 310 Baker Street.", "Go to three ten Baker Street."),
    ("Go to 1010 Oak Avenue.", "Go to ten ten Oak Avenue."),
    ("Go to 305 Baker Street.", "Go to three oh five Baker Street."),
])
def test_a_urls_closing_slash_and_a_house_numbers_tens_are_read_as_said(
        text: str, spoken: str) -> None:
    """A link's closing "/" is not said ("example dot com slash"); a house number's tens
    are said as tens ("three ten", not "three oh ten")."""
    assert normalize(text, "en-US") == spoken


@pytest.mark.parametrize("language", ["en-GB", "en-AU", "en-NZ", "en-IE", "en-IN", "en-ZA",
                                      "en_au"])
def test_a_slash_date_is_day_first_in_every_english_that_writes_it_so(language: str) -> None:
    """03/04/2024 from an Australian (or Irish, Indian...) agent is 3 April; read as the
    US's March 4th, an appointment moved by a month."""
    assert normalize("Born 03/04/2024.", language) == "Born April third, twenty twenty-four."
    assert normalize("Born 03/04/2024.", "en-US") == "Born March fourth, twenty twenty-four."
