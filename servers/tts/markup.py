"""Markup out of text to be spoken: Markdown, HTML or SSML tags, emoji.

The text a voice agent speaks comes from a language model, and models write Markdown
(SmolLM2 lists its answers with ``**bold**`` items) and emoji. espeak, which piper
phonemizes with, reads them aloud: ``**Sure!**`` is "asterisk asterisk Sure", ``# Title``
"hash Title", 😀 "grinning face", ``<b>`` "b". A listener hears nothing of that markup in
a human voice, so it goes, in every language: emphasis marks, code ticks, heading,
bullet and quote marks at a line's start (the line then ends a sentence, so a list is
read item by item), a link's target (its label stays), tags, emoji. HTML entities
("&amp;") become the characters they stand for. A line break a listener would hear as a
stop gets one, since whitespace is collapsed after this.
"""

from __future__ import annotations

import html
import re

# <b>, </speak>, <break time="1s"/>: a name, and attributes only as name="value", so
# "if a<b and c>d" is text, not a tag.
_TAG = re.compile(r"""<(?P<close>/)?(?P<name>[A-Za-z][\w:-]*)"""
                  r"""(?P<attrs>(?:\s+[\w:-]+\s*=\s*(?:"[^"<>]*"|'[^'<>]*'))*)\s*(?P<end>/?)>""")
_ELEMENTS = frozenset("""
    a abbr address article aside b bdi bdo big blockquote body br button caption center cite
    code col colgroup dd del details dfn div dl dt em fieldset figcaption figure font footer
    form h1 h2 h3 h4 h5 h6 head header hr html i iframe img input ins kbd label legend li
    link main meta nav ol option pre q samp script section select small source span strike
    strong style summary sup table tbody td template textarea tfoot th thead title tr tt u
    ul var video wbr
    speak break p s emphasis prosody say-as sub phoneme voice audio mark lang lexicon
    lookup metadata desc paragraph sentence w token
""".split())  # HTML, then SSML
# "&amp;", "&#39;": what a model copied from a web page. Only with the ";", so "AT&T" or
# "&para" in running text stays as written (html.unescape alone takes "&para" for ¶).
_ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_LINK = re.compile(r"!?\[([^\[\]]*)\]\([^()\s]*\)")  # [label](https://...) -> label
# A heading, bullet or quote mark opening a line goes; a numbered item keeps its number. A
# horizontal rule ("* * *", "---") goes whole, or its stars would be read as keys (below).
_RULE = r"[ \t]*([-*_])(?:[ \t]*\1){2,}[ \t]*$"
_LINE_MARK = re.compile(rf"^(?:{_RULE}|[ \t]*(?:#{{1,6}}|[-*+•>])[ \t]+)", re.M)
# "1. Basic": the item's number is said before it ("one, Basic"); with its stop it was a
# sentence of its own, heard at the end of the line before.
_NUMBERED = re.compile(r"^[ \t]*(\d{1,2})[.)][ \t]+", re.M)
# "a) red": the letter is said as a letter ("A, red"; a lowercase "a" is the article), and
# only with ")" ("a. m." and "I. Smith" open lines too).
_LETTERED = re.compile(r"^[ \t]*\(?([a-z])\)[ \t]+", re.M)
_LIST_LINE = re.compile(
    rf"^(?:{_RULE}|[ \t]*(?:#{{1,6}}|[-*+•>]|\d{{1,3}}[.)]|\(?[a-z]\))[ \t]+)", re.M)
# "3 * 4": the sign "×", which normalize.py or espeak says in the voice's language.
_TIMES = re.compile(r"(?<=\d)[ \t]*[*×][ \t]*(?=\d)")
# A Markdown table: a header row, its rule row ("|---|:--:|"), and the rows after it that
# have a "|". The rule goes and each row is read as one line of cells, "Basic, five
# dollars", as a list item is; a "|" outside a table stays.
_TABLE = re.compile(r"^[^\n|]*\|[^\n]*\n[ \t]*\|?(?:[ \t]*:?-+:?[ \t]*\|)+(?:[ \t]*:?-+:?)?[ \t]*$"
                    r"(?:\n[^\n|]*\|[^\n]*)*", re.M)


def _table(m: re.Match[str]) -> str:
    header, _rule, *rows = m[0].split("\n")
    return "\n".join(", ".join(c.strip() for c in row.split("|") if c.strip())
                     for row in (header, *rows))


# A code fence's line, with its language tag ("```bash" was read "bash").
_FENCE = re.compile(r"^[ \t]*(?:`{3,}|~{3,})[^\n`]*$", re.M)
# **bold**, _it_, ~~x~~, `code`. A lone "*" (a space or the text's end each side, a stop
# allowed after) is a key, "press * to go back": it stays, for English to read "star" and
# espeak, in other languages, its own word.
# A star before a digit or "#" with none after it on the line is a key too: "dial *72".
_EMPHASIS = re.compile(r"\*{2,}|(?<=\S)\*|\*(?=[^\s.,!?;:\d#])|\*(?=[\d#][^*\n]*\S\*)|~~|`+"
                       r"|(?<!\w)_+|_+(?!\w)")
# "Settings → Account", "Menu -> Help", "Settings > Privacy": a step to the next, said as
# a pause ("right arrow" was read aloud, and ">" was silent).
_ARROW = re.compile(r"(?<![ \t])[ \t]*(?:[\u2190-\u21FF\u27F5-\u27FF\u2794\u279C\u27A1]|->|=>)[ \t]*"
                    r"|(?<=[^\W\d])[ \t]+>[ \t]+(?=[A-Z])")
# "Specials • Salmon • Ribeye": a bullet inside a line is a pause between its items (it
# is silent); after a colon, "today: • Salmon", the colon's pause is enough.
_INLINE_BULLET = re.compile(r"(?:(?P<stop>[:;,.!?])|(?<![ \t]))[ \t]+•[ \t]+(?=\S)")
# "****4242", "•••• 4242", "*4242": a card masked to its last four, for the rule that reads
# those (the stars were emphasis, the bullets silent, and "4242" an amount).
_MASK = re.compile(r"(?<![\w*•●])(?:[*•●]{1,4}[ -]?){1,4}(?=\d{4}(?![\d*]))")
# "Gate B12 → C3", "$40 -> $35": a change from one value to another is "to".
_CHANGE = re.compile(r"(?<=\d)[ \t]*(?:→|->|⟶)[ \t]*(?=[$€£]?\d|[A-Z]{1,2}\d)")
_SNAKE = re.compile(r"_(?![\w.+-]{0,64}@[\w-])")  # (a local part is 64 at most)
_NUMBER_SIGN = re.compile(r"(?<!\w)#:?[ \t]?(?=\d)")  # "#3", "# 3", "#: 3": "number 3"
# The word for it in the voice's language; where there is none here the sign just goes
# (a Spanish "pedido #4521" was "pedido number").
NUMBER_WORDS = {"en": "number", "es": "número", "pt": "número", "ca": "número",
                "fr": "numéro", "it": "numero", "fi": "numero", "de": "Nummer",
                "nl": "nummer", "sv": "nummer", "da": "nummer", "nb": "nummer",
                "no": "nummer", "pl": "numer", "ro": "numărul", "cs": "číslo",
                "ru": "номер", "uk": "номер", "tr": "numara"}
_HASHTAG = re.compile(r"(?<!\w)#(?=[^\W\d])")  # "#Rymi": the mark goes ("C#" stays)
_EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u2300-\u23FF"
                    "\uFE0E\uFE0F\u200D\u20E3]+")
_BEFORE_STOP = re.compile(r"(?<![ \t])[ \t]+(?=[.,!?;:])")
# A text emoticon goes as an emoji does (":D" was "colon D", "Thanks <3" "thanks less
# than three"); "<3" only before "!", a line's end or the text's ("a dose <3 mg", "if
# x <3, stop", "keep it <3." are comparisons).
_EMOTICON = re.compile(r"(?:^|(?<![ \t])[ \t]+)(?:[:;=]-?[)(DPp]|</?3+(?=[!\n]|\s*$))"
                       r"(?=[\s.,!?]|$)")
_HEART = re.compile(r"\b(I|[Ww]e|[Yy]ou|[Tt]hey) <3 (?=[^\W\d])")  # "I <3 you"
# "Zelle®", "Venmo™": a brand's mark, not said ("Zelle registered", "Venmo trade mark").
_BRAND_MARK = re.compile(r"(?<=\w)[\u00ae\u2122\u2120]")
# A line ending with no punctuation, and what starts the next one (nothing at the end).
_LINE_END = re.compile(r"(?<=[\w)\]\"'’”])[ \t\r]*\n(?P<blank>[ \t\r]*\n)?[ \t\r]*(?P<next>\S?)")
# piper takes text in [[ ]] as raw phonemes, so "[[hello]]" would be mangled, not said: a
# run of brackets is one. Done last, as removing other marks can bring brackets together.
_PHONEME_BRACKETS = re.compile(r"([\[\]])\1+")


def _tag(m: re.Match[str]) -> str:
    """A tag goes. But a bare "<Enter>" or "<filename>", named as no HTML or SSML element
    is, is a key or a placeholder a model wrote for the listener: its name is said. So is
    a key spelt like an element, "<Del>": elements are written "<del>" or "<DEL>"."""
    name = m["name"]
    element = name.lower() in _ELEMENTS and (name.islower() or name.isupper())
    if m["close"] or m["attrs"] or m["end"] or ":" in name or element:
        return " "
    return f" {name} "


# Words no sentence ends on, by language: a hard-wrapped line ending on one goes on,
# even before a capital ("We met with\nJohn", "is on\nMonday"; in German every noun
# starts with one). French elisions ("l'", "qu'") are words of their own here.
_GOES_ON = {lang: frozenset(words.split()) for lang, words in {
    "en": "a an the of to in on at for with from by about into onto over under between "
          "than and or but nor as if that which who whose whom when where while because so "
          "is are was were be been am has have had do does did will would can could shall "
          "should may might must my your our their his her its this these those very not",
    # Not the prepositions that are also separable prefixes ("Wir stimmen zu."), nor the
    # words a German sentence often ends on ("das", "nicht", "sein", "sehr").
    "de": "der die den dem des eine einen einem einer eines und oder aber sondern von vom "
          "zum zur im in am für ohne als wie wenn dass weil ob mein meine dein deine seine "
          "ihre unser unsere",
    # Only articles, prepositions, conjunctions, possessives: "Así es." and "Fais-le."
    # end sentences.
    "es": "el los las un una unos unas de del al a en con por para sin sobre entre y e o "
          "u pero que cuando donde como porque muy mi mis tu tus su sus nuestro nuestra",
    "fr": "un une des du de d l au aux à dans avec pour par sur sous entre et ou mais que qu "
          "qui quand où comme très ne n mon ma mes ton ta tes son sa ses notre votre ce "
          "cet cette ces",
}.items()}
_LAST_WORD = re.compile(r"(\w+)\W*$")


def _line_end(m: re.Match[str], every_line: bool, goes_on: frozenset[str]) -> str:
    """A stop where the line ends a sentence: every line of a list, else a line before a
    blank one or before one that starts anew (no lowercase: a capital, a digit, a quote,
    a script with no case), as a model writes lines with no stop. A next line starting in
    lowercase is a hard-wrapped sentence going on, as is a line ending on a word no
    sentence ends on (in English, German, Spanish, French); a line ending the text needs
    none."""
    nxt = m["next"]
    stop = every_line or (nxt and (m["blank"] or not nxt.islower()))
    if stop and goes_on and not every_line and not m["blank"]:
        last = _LAST_WORD.search(m.string, max(0, m.start() - 40), m.start())
        # In capitals it is no such word: "9:00 AM", "Plan A" end a line.
        stop = not (last and last[1].lower() in goes_on and not last[1].isupper())
    return (".\n" if stop else "\n") + nxt


def strip_markup(text: str, language: str = "") -> str:
    """``text`` with the markup above removed; whitespace is left for the caller."""
    if language in ("", "en"):
        text = _HEART.sub(r"\1 love ", text)
    text = _EMOTICON.sub("", text)
    if not _MAY_HAVE.search(text):  # most text has none: one scan, no rewrites
        return text
    # Entities first, so "&lt;b&gt;" is a tag that goes and "&amp;" an "&" English reads.
    text = _ENTITY.sub(lambda m: html.unescape(m[0]), text)
    text = _TAG.sub(_tag, text)
    text = _FENCE.sub("", _LINK.sub(r"\1", text))
    text, tables = _TABLE.subn(_table, text)
    listed = bool(_LIST_LINE.search(text))  # a list or headings: each line a sentence
    every_line = bool(tables) or listed
    if listed:
        text = _NUMBERED.sub(r"\1, ", _LINE_MARK.sub("", text))
        text = _LETTERED.sub(lambda m: f"{m[1].upper()}, ", text)
    english = language in ("", "en")
    # A card's mask is "xxxx" for the English rule that reads the last four; elsewhere
    # it goes ("equis equis equis equis").
    text = _MASK.sub("xxxx" if english else "", text)
    text = _ARROW.sub(", ", _CHANGE.sub(" to " if english else ", ", text))
    text = _INLINE_BULLET.sub(lambda m: f"{m['stop']} " if m["stop"] else ", ", text)
    text = _EMPHASIS.sub("", _TIMES.sub(" × ", text))
    # snake_case inside a word: two words; but not in an email address, whose
    # underscore is read out ("john_smith@" was "john smith at").
    text = _SNAKE.sub(" ", text)
    number = NUMBER_WORDS.get(language or "en")
    text = _HASHTAG.sub("", _NUMBER_SIGN.sub(f"{number} " if number else "", text))
    text = _BRAND_MARK.sub("", _EMOJI.sub(" ", text))
    # Line ends once the marks that may close a line ("**Hours**", "Done 👍") are gone.
    goes_on = _GOES_ON.get(language, frozenset())
    text = _LINE_END.sub(lambda m: _line_end(m, every_line, goes_on), text)
    text = _BEFORE_STOP.sub("", text)  # "world 👍." -> "world."
    return _PHONEME_BRACKETS.sub(r"\1", text)


_MAY_HAVE = re.compile(r"[<\[*_~`#>•●×&|\n\u00ae\u2122\u2120\u2190-\u21FF\u27F5-\u27FF"
                       r"\u2300-\u27BF\u2B00-\u2BFF\uFE0E\uFE0F\u200D\u20E3"
                       "\U0001F000-\U0001FAFF]")
