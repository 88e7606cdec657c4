"""Split normalised text into the pieces synthesised one by one.

Pieces are sentences, except the first sentence, which is cut at its first clause
boundary (or near ``first_chars`` on a word boundary) when it is longer than that: the
first audio chunk can only be written once its whole piece is synthesised, so a short
first piece is what makes time-to-first-audio low. Later pieces are whole sentences
(long ones cut at clauses) so prosody stays natural.

No piece, the first included, is longer than ``MAX_PIECE``: piper's time and memory grow
with a piece's length (one 4,900-character piece took 10 GB and 40 s), so a sentence with
no clause mark is cut at a word, and a "word" longer than the cap at a character count.
Characters do not bound phonemes (espeak reads a letter it cannot say by its name), so
the engine also runs each piece in parts of bounded phonemes (``engine.MAX_PHONEMES``):
the cap here keeps pieces short for latency and a hang-up's cancellation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .normalize import JOIN, normalize_lines

# A sentence ends at . ! ? (and closing quotes) and a space, or at a CJK full stop, where
# what follows is no lowercase letter: a capital in any script ("Bonjour. Étienne",
# "Привет. Как"), a letter of a script with no case (Arabic, Hindi, Chinese), a digit.
# Abbreviations were expanded before, so "Dr. Smith" is safe; "e.g. this" goes on. Line
# breaks that end a sentence come from normalize_lines, one line each.
_SENTENCE_END = re.compile(r"(?<=[.!?…؟।])[\"')\]”’»]*\s+|(?<=[。！？])[」』”’)]*\s*"
                           # "？" as normalize_lines writes it (NFKC): "?" before a CJK letter
                           r"|(?<=[!?])(?=[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af])")
_OPENING = "\"'([“‘«„「『¿¡"  # skipped to find the next sentence's first letter
# Not at a no-break space: that is inside one reading ("five five five, one two ...").
_CLAUSE = re.compile(r"[,;:—–](?=[^\S\xa0])|[^\S\xa0]-[^\S\xa0]")
MAX_PIECE = 300  # longer sentences are cut at clauses, else words, else characters
MIN_FIRST = 12  # a first piece shorter than this ("Well,") sounds clipped; keep going
# A word cut that would leave less than this after it is not made: "... next Tuesday at
# the | clinic." put a 0.31 s pause (piper's end of a phrase) before the last word, where
# the sentence in one piece has none, to be heard ~65 ms sooner.
MIN_TAIL = 20


@dataclass(frozen=True)
class Piece:
    text: str
    ends_sentence: bool  # silence follows a sentence; a clause cut flows on


# An initial or a dotted abbreviation ("John A. Smith", "the U.S. Postal Service", "P.O.
# Box") goes on before a name, and was cut there, a pause and a falling voice in a name;
# before a word that starts sentences ("in the U.S. It is", "Plan A. Then") it ends one.
_INITIALS = re.compile(r"(?:^|\s)(?:[A-Z]\.)+$")
_STARTS_SENTENCES = frozenset("""
    I It Its The This That These Those We You He She They There Then Thanks Thank Please
    A An Our My Your His Her Their If So But And Or What How When Where Why Who Which Is
    Are Was Were Do Does Did Can Could Will Would Should Let Yes No Okay Also Now Here Sure
    Just In On At For As After Before Once Meanwhile However Otherwise Finally First Next
""".split())
_WORD = re.compile(r"[^\W\d_]+")


def _goes_on(text: str, stop: int, first: int) -> bool:
    """Whether the stop just before ``stop`` is an initial's, before a name."""
    if not _INITIALS.search(text, max(0, stop - 16), stop):
        return False
    word = _WORD.match(text, first)
    return word is not None and word[0] not in _STARTS_SENTENCES


def sentences(text: str) -> list[str]:
    out, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        first = m.end()  # the next sentence's first letter, past any opening marks
        while first < len(text) and text[first] in _OPENING:
            first += 1
        if first < len(text) and not text[first].islower() \
                and not _goes_on(text, m.start(), first):
            out.append(text[start:m.end()])
            start = m.end()
    out.append(text[start:])
    return [s.strip() for s in out if s.strip()]


_WORD_AFTER = re.compile(r"\S")


def _cut_at_clause(sentence: str, limit: int, minimum: int) -> int | None:
    """Index just after the first clause mark at or past ``minimum`` characters."""
    # Searched only up to the limit: to the end, a long text's every cut was quadratic.
    for m in _CLAUSE.finditer(sentence, 0, limit + 1):
        if minimum <= m.end() and _WORD_AFTER.search(sentence, m.end()):
            return m.end()
    return None


def _cut_at_word(sentence: str, limit: int) -> int | None:
    if len(sentence) <= limit:
        return None
    cut = sentence.rfind(" ", MIN_FIRST, limit + 1)
    if cut < 0:
        cut = sentence.find(" ", limit)
    return cut if 0 < cut < len(sentence) - MIN_TAIL else None


def split_first(sentence: str, first_chars: int) -> list[str]:
    """The first sentence of a text: cut at its first clause mark within ``first_chars``
    (12 characters on), else, past ``first_chars``, at a word near it (MIN_TAIL
    characters before its end at least); 0: not cut. At its clause even where the whole
    is short: "Thanks for calling Acme support," is heard 65 ms sooner than the whole
    58-character greeting (132 ms, piper on a CPU), and a comma is a pause of its own in
    either case."""
    if first_chars <= 0:
        return split_long(sentence)
    cut = _cut_at_clause(sentence, first_chars, MIN_FIRST) or _cut_at_word(sentence, first_chars)
    if cut is None:
        return split_long(sentence)
    # The head may still be long (a first word past first_chars), the tail nearly the
    # whole text: both go under the cap.
    return [*split_long(sentence[:cut].strip()), *split_long(sentence[cut:].strip())]


def _hard_cut(sentence: str, limit: int) -> int:
    """A cut at or before ``limit``: the last space, else the character count itself."""
    cut = sentence.rfind(" ", 1, limit + 1)
    return cut if cut > 0 else limit


def split_long(sentence: str, limit: int = MAX_PIECE) -> list[str]:
    out = []
    while len(sentence) > limit:
        cut = _cut_at_clause(sentence, limit, limit // 3) or _hard_cut(sentence, limit)
        out.append(sentence[:cut].strip())
        sentence = sentence[cut:].strip()
    return [*out, sentence]


def plan(text: str, language: str = "en", first_chars: int = 60) -> list[Piece]:
    """Text as the caller sent it -> the pieces to synthesise, in order."""
    pieces: list[Piece] = []
    for sentence in (s for line in normalize_lines(text, language) for s in sentences(line)):
        if not re.search(r"\w", sentence):
            continue  # "..." or "?!" alone: nothing to say
        parts = split_first(sentence, first_chars) if not pieces else split_long(sentence)
        for j, part in enumerate(parts):
            pieces.append(Piece(part.replace(JOIN, " "), ends_sentence=j == len(parts) - 1))
    return pieces
