"""What a language model writes for a screen (markdown, emoji, tags) is never read aloud."""

from __future__ import annotations

import pytest

from servers.tts.normalize import normalize
from servers.tts.text import plan


# What a language model writes and espeak would read aloud ("asterisk asterisk Sure",
# "hash Title", "grinning face", "b bold slash b").
@pytest.mark.parametrize("text, spoken", [
    ("**Sure!** Here are *three* options:\n- One thing\n- Two things",
     "Sure! Here are three options: One thing. Two things"),
    ("## Hours\nWe open at 9.", "Hours. We open at nine."),
    ("1. Call us\n2. Pay", "one, Call us. two, Pay"),
    ("Run this:\n```bash\nls\n```\nDone", "Run this: ls. Done"),
    ("Hello 😀 world 👍🏽.", "Hello world."),
    ("<speak>Hi <break time=\"1s\"/> there.</speak>", "Hi there."),
    ("See [the docs](https://example.com/a) or `pip install`.", "See the docs or pip install."),
    ("Ticket #5 for #Rymi, user_id _now_ ~~not~~", "Ticket number five for Rymi, user id now not"),
    ("3 * 4 and 2×3", "three times four and two times three"),
    ("a < b and b > c, ™ ©", "a < b and b > c, ™ ©"),  # not markup
    ("if a<b and c>d", "if a<b and c>d"),
    ("<p>One</p><prosody rate='slow'>two</prosody>", "One two"),
    ("A line\nwrapped mid-sentence", "A line wrapped mid-sentence"),
    # A lone "*" is a key, not emphasis; a line of them is a horizontal rule.
    ("Press * to go back, or *.", "Press star to go back, or star."),
    ("Intro\n* * *\nMore *here*", "Intro. More here"),
    # A bare <Name> that is no HTML or SSML element is a key or a placeholder: it is said.
    ("Press <Enter> to continue, or <Del>.", "Press Enter to continue, or Del."),
    ("Replace <filename> with yours", "Replace filename with yours"),
    ("<b>Bold</b><BR><emphasis>now</emphasis><amazon:effect>!</amazon:effect>", "Bold now!"),
    # HTML entities are the characters they stand for; an "&" not ending in ";" is text.
    ("Tom &amp; Jerry, &quot;AT&T&quot; &lt;b&gt;", 'Tom and Jerry, "AT&T"'),
    # Only an entity with its ";" is one: "&not" in a word is no "¬" ("Fees¬ices").
    ("Fees&notices apply.", "Fees&notices apply."),
    # A line that starts "a. m." is words, not a list item lettered "a".
    ("- Hours\na. m. is when we open", "Hours. a. m. is when we open"),
    # A Markdown table is read row by row, its cells apart ("| Plan | Price | |---|---|"
    # was read out, one run-on line); a "|" outside a table stays.
    ("| Plan | Price |\n|---|:--:|\n| Basic | $5 |\n| Pro | $10 |\nThanks.",
     "Plan, Price. Basic, five dollars. Pro, ten dollars. Thanks."),
    ("Plan | Price\n--- | ---\nBasic | $5\n\na | b", "Plan, Price. Basic, five dollars. a | b"),
    # Text emoticons go as emoji do ("colon D", "less than three"); a comparison stays.
    ("Great :D see you soon ;-) Thanks :).", "Great see you soon Thanks."),
    ("I <3 you. Thanks <3", "I love you. Thanks"),
    ("If x <3, stop. A dose <3 mg at 10:30, ratio 2:1", "If x less than three, stop. A dose "
     "less than three milligrams at ten thirty, ratio two to one"),
])
def test_markup_is_not_read_aloud(text: str, spoken: str) -> None:
    assert normalize(text, "en-US") == spoken


def test_markup_goes_in_every_language_and_an_emoji_alone_is_nothing_to_say() -> None:
    assert normalize("**Hola** 😀", "es-ES") == "Hola"
    assert normalize("Gracias :) <3", "es-ES") == "Gracias"
    assert normalize("Pulse * para volver", "es-ES") == "Pulse * para volver"  # "asterisco"
    assert normalize("Tom &amp; Jerry", "es-ES") == "Tom & Jerry"
    assert normalize("5_000 filas", "es-ES") == "5000 filas"  # "5 000" was "cinco cero"
    assert normalize("Ｈｏｌａ 𝑦 ＊＊adiós＊＊", "es-ES") == "Hola y adiós"
    assert plan("😀🎉") == [] and plan("**") == []


@pytest.mark.parametrize("language", ["en-US", "es-ES"])
def test_double_brackets_never_reach_piper(language: str) -> None:
    # piper reads text in [[ ]] as raw phonemes: "hello" would be mangled, not said.
    assert normalize("Say [[hello]] now", language) == "Say [hello] now"
    spoken = normalize("[[[a]]], [`[b]`] and [**[c**]]", language)
    assert "[[" not in spoken and "]]" not in spoken
