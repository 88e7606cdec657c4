"""Planning text into pieces: where a sentence ends, how soon the first audio can start,
that no piece is over the cap and that nothing is lost."""

from __future__ import annotations

import pytest

from servers.tts.normalize import normalize
from servers.tts.text import MAX_PIECE, plan


def test_first_sentence_is_cut_at_its_first_clause() -> None:
    pieces = plan("Thanks for calling Acme support, my name is Joe, how can I help? "
                  "Tell me, please, what happened.", "en-US", first_chars=60)
    assert [p.text for p in pieces] == [
        "Thanks for calling Acme support,", "my name is Joe, how can I help?",
        "Tell me, please, what happened."]
    assert [p.ends_sentence for p in pieces] == [False, True, True]


@pytest.mark.parametrize("first_chars, pieces", [
    (60, ["Thanks for calling Acme support,", "how can I help you today?"]),
    (0, ["Thanks for calling Acme support, how can I help you today?"]),  # 0: no cut
    (20, ["Thanks for calling", "Acme support, how can I help you today?"]),
])
def test_a_short_first_sentence_is_cut_at_its_clause_too(first_chars: int,
                                                         pieces: list[str]) -> None:
    """A greeting under first_piece_chars (58 characters) was one piece: its first audio
    came after the whole of it was synthesised (132 ms against 65 ms for the clause)."""
    text = "Thanks for calling Acme support, how can I help you today? Bye."
    got = plan(text, "en-US", first_chars=first_chars)
    assert [p.text for p in got] == [*pieces, "Bye."]
    assert [p.ends_sentence for p in got] == [False] * (len(pieces) - 1) + [True, True]
    # A first clause shorter than a word or two is not cut off on its own.
    assert [p.text for p in plan("Sure, I can help with that.", "en-US", 60)] == [
        "Sure, I can help with that."]


def test_first_sentence_without_clause_is_cut_near_the_limit() -> None:
    sentence = ("This sentence has no clause marks and goes on well past sixty characters "
                "before it ends")
    first, rest = plan(sentence, "en", first_chars=60)
    assert len(first.text) <= 60 and not first.ends_sentence
    assert f"{first.text} {rest.text}" == sentence


@pytest.mark.parametrize("sentence", [
    "I have scheduled your appointment for next Tuesday at the clinic.",
    "Your order has been shipped and will arrive at your building today.",
])
def test_a_first_sentence_just_past_the_limit_keeps_its_last_words(sentence: str) -> None:
    """Cut near 60 characters, "clinic." was a piece alone: piper ends a phrase with a
    pause, heard (0.31 s) before the sentence's last word."""
    assert [p.text for p in plan(sentence, "en", first_chars=60)] == [sentence]


@pytest.mark.parametrize("text, first", [
    # The words one reading made are one unit: the cut goes before them or after them
    # ("...thirty-four | dollars and fifty-six cents" was heard as two amounts).
    ("Your total is $1,234.56 and it is due on the fifteenth of the month.",
     "Your total is"),
    ("You can always write to us at support-team@example.com if it helps",
     "You can always write to us at"),
    ("Call us now at (555) 123-4567 and ask for the billing team please.",
     "Call us now at"),
])
def test_the_first_cut_never_falls_inside_one_reading(text: str, first: str) -> None:
    # (and no clause cut either: "five five five, | one two three" was two engine runs)
    pieces = [p.text for p in plan(text, "en", first_chars=40)]
    assert pieces[0] == first and "\xa0" not in " ".join(pieces), pieces
    assert len(pieces) == 2


@pytest.mark.parametrize("text", [
    "word " * 990,  # no clause mark: the first sentence's tail was one 4,900-character piece
    "Hi 😀" * 1250,
    "Hi there. " + "abcdefghij" * 490,  # one unbreakable "word"
    "x" * 400 + " then some words",  # a first word longer than the first cut
    "Short first. " + "Then a long one " * 40 + ". " + "y" * 700,
])
@pytest.mark.parametrize("first_chars", [60, 500])
def test_no_piece_is_longer_than_the_cap_and_nothing_is_lost(text: str,
                                                             first_chars: int) -> None:
    pieces = [p.text for p in plan(text, "en", first_chars=first_chars)]
    assert max(len(p) for p in pieces) <= MAX_PIECE
    assert len(pieces[0]) <= max(first_chars, MAX_PIECE)
    spoken = normalize(text)
    if not any(len(w) > MAX_PIECE for w in spoken.split()):  # no word cut in two
        assert " ".join(pieces).split() == spoken.split()  # every word, in order
    assert "".join(pieces).replace(" ", "") == spoken.replace(" ", "")


def test_short_text_is_one_piece_and_punctuation_alone_is_nothing() -> None:
    assert [p.text for p in plan("Hi.")] == ["Hi."]
    assert plan("... ?!") == []


@pytest.mark.parametrize("text, language, spoken", [
    # A model's lines with no stop: each line a sentence, in every language and script.
    ("Hello there\nHow are you", "en-US", ["Hello there.", "How are you"]),
    ("Hola\n¿Qué tal?", "es-ES", ["Hola.", "¿Qué tal?"]),
    ("Привет\nКак дела", "ru-RU", ["Привет.", "Как дела"]),
    ("你好\n今天天气很好", "zh-CN", ["你好.", "今天天气很好"]),
    # A blank line ends a paragraph whatever follows; so does a list item in lowercase.
    ("First part\n\nsecond part", "en-US", ["First part.", "second part"]),
    ("- one\n- two", "es-ES", ["one.", "two"]),
    # A numbered item's number goes with it, not with the line before.
    ("Here are your options:\n1. Basic - $10\n2) Pro", "en-US",
     ["Here are your options: one, Basic - ten dollars.", "two, Pro"]),
    # A lettered item's letter is said as a letter, its line a sentence (they ran
    # together, "a) red b) blue", the "a" the article); "a lot" opening a line is no item.
    ("Pick one:\na) red\nb) blue\n(c) green", "en-US", ["Pick one: A, red.", "B, blue.",
                                                    "C, green"]),
    ("We need\na lot of time", "en-US", ["We need a lot of time"]),
    ("Done!\nnext", "en-US", ["Done!", "next"]),
    # A line ending in a time's A M or P M ends there: the stop the time took is put
    # back, and "AM" in capitals is no "am" a sentence goes on after (the slots of a
    # booking reply ran together as one sentence).
    ("Open slots:\n1. 9am\n2. 11am", "en-US", ["Open slots: one, nine A M.",
                                            "two, eleven A M"]),
    ("- Monday at 9 AM\n- Friday at 4 PM", "en-US", ["Monday at nine A M.",
                                                  "Friday at four P M"]),
    ("Times: 9:00 AM\n2:00 PM", "en-US", ["Times: nine A M.", "two P M"]),
    ("Open at 9 a.m.\nTuesday too", "en-US", ["Open at nine A M.", "Tuesday too"]),
    # The marks closing a line go first, then the line ends; "\r\n" is a line break too.
    ("**Hours**\r\nWe open at 9 👍\nSee you", "en-US", ["Hours.", "We open at nine.", "See you"]),
    # A wrapped sentence goes on, as does a line ending at a comma or an abbreviation.
    ("A line that was\nwrapped, and goes\non", "en-US", ["A line that was wrapped, and goes on"]),
    ("Ask Dr.\nLee, e.g.\nthis one\n", "en-US", ["Ask Doctor Lee, for example this one"]),
    # An English line ending on a word no sentence ends on goes on before a capital too
    # ("We met with. John" before); a blank line is still a paragraph's end.
    ("We met with\nJohn on\nMonday, and the\nBoard agreed\nThanks", "en-US",
     ["We met with John on Monday, and the Board agreed.", "Thanks"]),
    ("Signed by the\n\nBoard", "en-US", ["Signed by the.", "Board"]),
    # The same in German (where every noun has a capital), Spanish and French.
    ("Der Brief kam von\nJohann am\nMontag und der\nVorstand sah ihn\nDanke", "de-DE",
     ["Der Brief kam von Johann am Montag und der Vorstand sah ihn.", "Danke"]),
    ("Wir stimmen zu\nIch weiß es nicht\nDanke", "de-DE",  # "zu" a prefix here
     ["Wir stimmen zu.", "Ich weiß es nicht.", "Danke"]),
    ("Hablé con\nMaría y\nPedro ayer\nGracias", "es-ES", ["Hablé con María y Pedro ayer.",
                                                        "Gracias"]),
    ("Je suis allé à\nParis avec\nMarie et l'\nAmi de\nLéa\nMerci", "fr-FR",
     ["Je suis allé à Paris avec Marie et l' Ami de Léa.", "Merci"]),
    ("Fais-le\nMerci", "fr-FR", ["Fais-le.", "Merci"]),
])
def test_a_line_break_ends_a_sentence_where_a_listener_hears_one(
        text: str, language: str, spoken: list[str]) -> None:
    assert [p.text for p in plan(text, language, first_chars=0)] == spoken
    assert [p.ends_sentence for p in plan(text, language, first_chars=0)] == [True] * len(spoken)


@pytest.mark.parametrize("text, pieces", [
    # An initial or a dotted abbreviation before a name goes on (a pause and a falling
    # voice fell inside "John A. | Smith"); before a word that starts sentences, it ends one.
    ("Your agent is John A. Smith from billing.", ["Your agent is John A. Smith from billing."]),
    ("Use the U.S. Postal Service.", ["Use the U.S. Postal Service."]),
    ("I live in the U.S. It is big.", ["I live in the U.S.", "It is big."]),
    ("Plan A. Then plan B.", ["Plan A.", "Then plan B."]),
])
def test_an_initial_before_a_name_ends_no_sentence(text: str, pieces: list[str]) -> None:
    assert [p.text for p in plan(text, first_chars=0)] == pieces


def test_sentences_split_after_abbreviations_are_expanded() -> None:
    texts = [p.text for p in plan("Ask Dr. Lee. She knows!", first_chars=60)]
    assert texts == ["Ask Doctor Lee.", "She knows!"]


@pytest.mark.parametrize("text, language, spoken", [
    # A capital in any script starts a sentence (only A-Z did: these were one piece).
    ("Bonjour. Étienne est là.", "fr", ["Bonjour.", "Étienne est là."]),
    ("Привет. Как дела?", "ru", ["Привет.", "Как дела?"]),
    # A script with no case, and CJK full stops, which take no space after them.
    ("مرحبا. كيف حالك؟ بخير.", "ar", ["مرحبا.", "كيف حالك؟", "بخير."]),
    ("你好。你好吗？我很好。", "zh", ["你好。", "你好吗?", "我很好。"]),  # NFKC: "？" is "?"
    ("¿Qué? ¡Sí! «Vale.»", "es", ["¿Qué?", "¡Sí!", "«Vale.»"]),
    # A lowercase word after a stop goes on, in any script.
    ("Il est 5 h. environ. Voilà.", "fr", ["Il est 5 heures. environ.", "Voilà."]),
    ("He said. Two apples! e.g. these.", "en", ["He said.", "Two apples! for example these."]),
])
def test_a_sentence_starts_at_a_capital_or_caseless_letter_in_any_script(
        text: str, language: str, spoken: list[str]) -> None:
    pieces = plan(text, language, first_chars=0)
    assert [p.text for p in pieces] == spoken
    assert all(p.ends_sentence for p in pieces)


RUN = 2000  # a long run: the rules that took whitespace were quadratic on one


@pytest.mark.parametrize("text, short", [
    ("Hi" + " " * RUN + "there.", "Hi there."),
    ("Hi" + " \t" * RUN + "there.", "Hi there."),
    ("Hi" + "\xa0" * RUN + "there.", "Hi there."),
    ("Hi *" + " " * RUN + "there.", "Hi * there."),
    ("Settings" + " " * RUN + "→" + " " * RUN + "Account", "Settings → Account"),
    ("Specials" + " " * RUN + "•" + " " * RUN + "Salmon", "Specials • Salmon"),
    ("Today:" + " " * RUN + "•" + " " * RUN + "Salmon", "Today: • Salmon"),
    ("Great work" + " " * RUN + ":)" + " " * RUN + "Bye", "Great work :) Bye"),
    ("Done" + " " * RUN + "👍" + " " * RUN + ".", "Done 👍."),
    ("First line" + " " * RUN + "\n" + " \t" * RUN + "Second line", "First line\nSecond line"),
])
def test_a_long_run_of_whitespace_reads_as_one_space(text: str, short: str) -> None:
    """Each rule that matches whitespace now tries a run once, at its start: the same
    reading as the run made one space (or one line break), for every rule it meets."""
    assert normalize(text) == normalize(short)
    assert [p.text for p in plan(text)] == [p.text for p in plan(short)]


@pytest.mark.parametrize("at, cut", [(199, 200), (200, None)])
def test_a_clause_is_cut_at_the_limit_itself_and_not_past_it(at: int, cut: int | None) -> None:
    """The clause search stops at the limit (it went on to the text's end, once per cut):
    a comma ending exactly at the limit is still a cut, one character later none."""
    from servers.tts.text import _cut_at_clause

    sentence = "a" * at + ", " + "b" * 300
    assert _cut_at_clause(sentence, 200, 60) == cut
