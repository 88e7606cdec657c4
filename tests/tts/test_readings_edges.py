"""Edge readings that a mutation round found no test to check: each case is a reading a
listener would hear wrong if one small rule (a form, a case, a range, an entry) changed.

Text in, the exact normalised text out, as in ``test_european.py``/``test_readings.py``.
The comment on each case names the rule it guards."""

from __future__ import annotations

import pytest

from servers.tts.normalize import normalize


@pytest.mark.parametrize("language, text, spoken", [
    ('ru-RU', 'Это было в 20-х годах.', 'Это было в двадцатых годах.'),  # rn8
    ('ru-RU', 'Пришёл с 2-мя детьми.', 'Пришёл с двумя детьми.'),  # rn9
    ('ru-RU', 'Звоните 8 800 555-00-35.', 'Звоните 8, 800, 555, ноль ноль, 35.'),  # rn10
    ('ru-RU', 'Было 2,5°, потом похолодало.', 'Было 2,5 градуса, потом похолодало.'),  # rn11
    ('ru-RU', 'Было (−5°) утром.', 'Было (минус 5 градусов) утром.'),  # rn12
    ('ru-RU', 'Цена 2,5 руб. за штуку.', 'Цена 2,5 рубля за штуку.'),  # rn13
    ('ru-RU', 'Номер 3000 ₽/сут. без завтрака.', 'Номер 3000 рублей в сутки без завтрака.'),  # rn17
    ('ru-RU', 'Кредит до 2 тыс. руб. на месяц.', 'Кредит до двух тысяч рублей на месяц.'),  # rn18
    ('ru-RU', 'Работаем пн-ср.', 'Работаем с понедельника по среду.'),  # rw3
    ('ru-RU', 'Встреча 15.06.2025 в офисе.', 'Встреча пятнадцатого июня две тысячи двадцать пятого года в офисе.'),  # rw4
    ('ru-RU', 'Зал на 5 чел. и больше.', 'Зал на 5 человек и больше.'),  # rw6
    ('ru-RU', 'Акция продлится по 15.03.2025 включительно.', 'Акция продлится по пятнадцатое марта две тысячи двадцать пятого года включительно.'),  # ru1
    ('ru-RU', 'Встреча 15.03.25 в офисе.', 'Встреча пятнадцатого марта две тысячи двадцать пятого года в офисе.'),  # ru2
    ('ru-RU', 'Вернёмся через 2030 г. к этому.', 'Вернёмся через две тысячи тридцатый год к этому.'),  # ru3
    ('ru-RU', 'Приём до 18:10 каждый день.', 'Приём до восемнадцати десяти каждый день.'),  # ru4
    ('ru-RU', 'Обед 13:00-13:45 каждый день.', 'Обед с тринадцати до тринадцати сорока пяти каждый день.'),  # ru5
    ('ru-RU', 'Работаем до 21:00 каждый день.', 'Работаем до двадцати одного часа каждый день.'),  # ru6
    ('ru-RU', 'Приходите около 18:30 вечера.', 'Приходите около восемнадцати тридцати вечера.'),  # ru7
    ('ru-RU', 'Это было в 2024 году.', 'Это было в две тысячи двадцать четвёртом году.'),  # ru10
    ('ru-RU', 'Встреча в 2:00 у входа.', 'Встреча в 2 часа у входа.'),  # ru11
    ('pl-PL', 'Spotkanie przed 2:00 w nocy.', 'Spotkanie przed drugą w nocy.'),  # pl2
    ('pl-PL', 'Kosztuje 21 zł za sztukę.', 'Kosztuje 21 złotych za sztukę.'),  # pl3
    ('pl-PL', 'Kosztuje 14 zł za sztukę.', 'Kosztuje 14 złotych za sztukę.'),  # pl4
    ('pl-PL', 'Spotkanie 15.03.25 w biurze.', 'Spotkanie piętnastego marca dwa tysiące dwudziestego piątego roku w biurze.'),  # pl5
    ('pl-PL', 'Przyjdę około 9:30 rano.', 'Przyjdę około dziewiątej 30 rano.'),  # pl6
    ('pl-PL', 'Spotkanie o 9:10 w biurze.', 'Spotkanie o dziewiątej 10 w biurze.'),  # pl8
    ('pl-PL', 'Zamknięte w sob. i w niedz. Zapraszamy.', 'Zamknięte w sobotę i w niedzielę. Zapraszamy.'),  # pl10
    ('pl-PL', 'Cena 25,- zł za sztukę.', 'Cena 25 złotych za sztukę.'),  # pl12
    ('pl-PL', 'Pociąg o 0:30 w nocy.', 'Pociąg o zero 30 w nocy.'),  # pl13
    ('pt-BR', 'A loja fecha às 22:00.', 'A loja fecha às vinte e duas horas.'),  # eu6
    ('pt-BR', 'A reunião dura 1h.', 'A reunião dura uma hora.'),  # eu7
    ('sv-SE', 'Mötet börjar 9:10 i morgon.', 'Mötet börjar 9 10 i morgon.'),  # eu8
    ('fr-FR', 'Il reste 0,01 € sur le compte.', 'Il reste un centime sur le compte.'),  # eu9
    ('es-ES', 'Cuesta 0 € el envío.', 'Cuesta 0 euros el envío.'),  # eu10
    ('es-AR', 'Cuesta $500 por mes.', 'Cuesta 500 pesos por mes.'),  # eu11
    ('es-ES', 'Cuesta 50 GBP al mes.', 'Cuesta 50 libras al mes.'),  # eu12
    ('es-ES', 'Cuesta 30 €/semana en total.', 'Cuesta 30 euros a la semana en total.'),  # en2
    ('de-DE', 'Ich komme zum 3. Mal.', 'Ich komme zum dritten Mal.'),  # en3
    ('fr-FR', "C'est sa 1ère visite.", "C'est sa première visite."),  # en4
    ('it-IT', 'Costa 300 €/anno in tutto.', "Costa 300 euro all'anno in tutto."),  # en6
    ('nl-NL', 'Adres: Straat 1, 1998 AB Amsterdam.', 'Adres: Straat 1, 1 9 9 8 A B Amsterdam.'),  # ed4
    ('en-US', 'He is a 6\'2" man.', 'He is a six foot two inch man.'),  # un3
    ('en-US', 'The F-109 is fast.', 'The F one oh nine is fast.'),  # id2
    ('en-US', 'Use a 1 1/8 inch bolt.', 'Use a one and an eighth inch bolt.'),  # fr1
    ('en-US', 'Start IV fluids now.', 'Start IV fluids now.'),  # ro2
    ('en-US', 'Due on 12/11/2024.', 'Due on December eleventh, twenty twenty-four.'),  # da1
    ('en-US', 'Call 555-1234 EXT 42.', 'Call five five five, one two three four extension four two.'),  # ad1
    ('en-US', 'Call 555-1234 Ext 42.', 'Call five five five, one two three four extension four two.'),  # ad1
    ('en-US', 'Turn onto Park Pkwy now.', 'Turn onto Park Parkway now.'),  # st1
    ('en-US', 'Call John Smith Sr. today.', 'Call John Smith Senior today.'),  # ab1
    ('ru-RU', 'Смотрите пункт г.', 'Смотрите пункт г.'),  # ea3
    ('es-ES', 'Cuesta 1 £ al mes.', 'Cuesta una libra al mes.'),  # ew1
    ('es-ES', 'Vivo en el 3º izq. de la casa.', 'Vivo en el 3º izquierda de la casa.'),  # ew2
    ('es-ES', 'Abierto Lun-Mie de 9 a 17 h.', 'Abierto lunes a miércoles de 9 a 17 horas.'),  # ew3
    ('en-US', 'You are on step 3/3 now.', 'You are on step three of three now.'),  # nu5
    ('en-US', 'It opens Sept 5, 2024.', 'It opens September fifth, twenty twenty-four.'),  # nu6
    ('en-US', 'Watch Season II tonight.', 'Watch Season two tonight.'),  # ro3
    ('pl-PL', 'Otwarte pon.-nd. cały rok.', 'Otwarte od poniedziałku do niedzieli cały rok.'),  # pl14
    ('pl-PL', 'Biuro przy al. Jana Pawła.', 'Biuro przy alei Jana Pawła.'),  # pl15
    # Defects the round found in the readings themselves, fixed:
    # "°" with no scale after it took the next word's space ("5 градусовтепла").
    ('ru-RU', 'Сейчас 5° тепла.', 'Сейчас 5 градусов тепла.'),
    ('ru-RU', 'Сейчас -3° мороза.', 'Сейчас минус 3 градуса мороза.'),
    ('ru-RU', 'Вода 90° горячая.', 'Вода 90 градусов горячая.'),
    ('ru-RU', 'Сейчас 5 °C днём.', 'Сейчас 5 градусов по Цельсию днём.'),
    # A German ordinal with no article takes its noun's strong ending ("dritte Stock").
    ('de-DE', 'Büro: 3. Stock.', 'Büro: dritter Stock.'),
    ('de-DE', '3. Kapitel: Anfang.', 'drittes Kapitel: Anfang.'),
    ('de-DE', 'Büro: 2. Etage.', 'Büro: zweite Etage.'),
    ('de-DE', 'Abfahrt auf 3. Gleis.', 'Abfahrt auf drittem Gleis.'),
    ('de-DE', 'Ende des 3. Quartals.', 'Ende des dritten Quartals.'),
    ('de-DE', 'Der 3. Termin.', 'Der dritte Termin.'),
    ('de-DE', 'Ab 3. Gleis fährt der Zug.', 'Ab drittem Gleis fährt der Zug.'),  # (dative)
    # A date after "ist" with no article is said with one ("ist der fünfzehnte").
    ('de-DE', 'Der Termin ist 15.03.2025.', 'Der Termin ist der fünfzehnte März 2025.'),
    ('de-DE', 'Heute ist 3. Mai.', 'Heute ist der dritte Mai.'),
    ('de-DE', 'Heute ist der 3. Mai.', 'Heute ist der dritte Mai.'),
    ('de-DE', 'Frist war 1.4.2024, nicht 2.4.', 'Frist war der erste April 2024, nicht 2.4.'),    # A German ordinal with no article takes its noun's strong ending: each noun of the
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
def test_edge_reading(language: str, text: str, spoken: str) -> None:
    assert normalize(text, language) == spoken
