"""Readings that a mutation round found no test to check (German ordinals without an
article, Russian temperatures): each case fails if one small rule or table entry changes.

Text in, the exact normalised text out, as in ``test_readings_edges.py``."""

from __future__ import annotations

import pytest

from servers.tts.normalize import normalize


@pytest.mark.parametrize("language, text, spoken", [
    # A German ordinal with no article takes its noun's strong ending: each noun of the
    # gender table (a missing one read as feminine: "dritte Platz").
    ("de-DE", "Ergebnis: 3. Platz.", "Ergebnis: dritter Platz."),
    ("de-DE", "Beginn: 3. Monat.", "Beginn: dritter Monat."),
    ("de-DE", "Weg: 2. Gang.", "Weg: zweiter Gang."),
    ("de-DE", "Abfahrt: 4. Bahnsteig.", "Abfahrt: vierter Bahnsteig."),
    ("de-DE", "Neu: 2. Termin.", "Neu: zweiter Termin."),
    ("de-DE", "Quelle: 3. Absatz.", "Quelle: dritter Absatz."),
    ("de-DE", "Büro: 1. Obergeschoss.", "Büro: erstes Obergeschoss."),
    ("de-DE", "Lager: 2. Untergeschoss.", "Lager: zweites Untergeschoss."),
    ("de-DE", "Heute: 5. Mal.", "Heute: fünftes Mal."),
    ("de-DE", "Frist: 3. Quartal.", "Frist: drittes Quartal."),
    ("de-DE", "Start: 2. Halbjahr.", "Start: zweites Halbjahr."),
    # After a bare preposition, the strong dative of each gender.
    ("de-DE", "Büro auf 2. Etage.", "Büro auf zweiter Etage."),
    ("de-DE", "Treffen auf 3. Bahnsteig.", "Treffen auf drittem Bahnsteig."),
    # The preposition opening a sentence is one too.
    ("de-DE", "Auf 3. Gleis fährt der Zug.", "Auf drittem Gleis fährt der Zug."),
    # Russian: a space between "°" and its scale is the scale's; a capital letter after
    # "°" that begins a word is no scale.
    ("ru-RU", "Сейчас 5° C днём.", "Сейчас 5 градусов по Цельсию днём."),
    ("ru-RU", "Сейчас 5° F днём.", "Сейчас 5 градусов по Фаренгейту днём."),
    ("ru-RU", "Днём было +5° Солнечно и тихо.", "Днём было плюс 5 градусов Солнечно и тихо."),
])
def test_round4_reading(language: str, text: str, spoken: str) -> None:
    assert normalize(text, language) == spoken
