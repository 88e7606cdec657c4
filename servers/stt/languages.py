"""Which language an utterance is decoded in, when the URL says ``language=auto``.

Whisper's language detection looks at one 30 s window; on a short utterance it is often
unsure and sometimes wrong. Measured with base (int8) on what the server's VAD cuts from
the six multilingual clips and ten English ones, whole and cut to their first 1.5-3 s,
each shifted by 0-300 ms at the start and 0-200 ms at the end (796 detections): every
wrong top answer came from one hard Spanish clip (47 of its cuts: Hindi or Greek), most
at p 0.2-0.5, but up to 0.77 (Greek, 2.8 s); every right answer but 35 of 749 was at
p >= 0.85. Length does not separate them (the wrong answers came from 1.5-2.9 s of
speech; right ones at p >= 0.85 from 1.0 s), the probability does.

So only a *sure* detection (``CONFIDENT_PROBABILITY`` on at least ``MIN_DETECT_S``)
settles the session's language, or switches a settled one. An unsure detection is
decoded in the session's language when there is one; before there is one, in the first
candidate the URL listed (``language=es,en``) unless detection clearly prefers another,
or, for plain ``auto``, in detection's top guess, and it is not kept: the next sure
utterance decides. (Decoding an unsure first utterance in the runners-up too and keeping
the likeliest decode was tried: a Spanish clip then came out as confident Greek, so it
is not done.)
"""

from __future__ import annotations

from dataclasses import dataclass

# A detection this sure, on this much speech (the VAD's cut), settles the session's
# language: above every measured wrong answer (0.77); 714 of 749 right ones reach it.
CONFIDENT_PROBABILITY = 0.85
MIN_DETECT_S = 1.0

# Whisper's codes that BCP-47 spells differently.
_TO_BCP47 = {"jw": "jv"}
# Codes Whisper users pass that Whisper spells otherwise (deprecated ISO 639-1 codes,
# Norwegian's two written standards, Filipino, Mandarin): primary subtag -> Whisper code.
# Whisper also has an "nn" token; Nynorsk is folded into "no" with Bokmal, one setting
# for written Norwegian (not measured here: there is no Norwegian recording to compare).
ALIASES = {"jv": "jw", "nb": "no", "nn": "no", "fil": "tl", "iw": "he", "in": "id",
           "ji": "yi", "cmn": "zh"}


def whisper_languages() -> frozenset[str]:
    """Every language code the multilingual Whisper models know (99 + Cantonese)."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return frozenset(_LANGUAGE_CODES)


def to_whisper(primary: str) -> str:
    """A BCP-47 primary subtag (``nb``, ``fil``, ``es``) -> the Whisper code it decodes as."""
    return ALIASES.get(primary, primary)


def to_bcp47(code: str) -> str:
    return _TO_BCP47.get(code, code)


@dataclass(frozen=True)
class LanguageChoice:
    language: str  # Whisper code the decode was forced to
    detected: str | None = None  # detection's top answer (None: no detection ran)
    probability: float = 0.0
    sure: bool = False  # detection was sure enough to settle (or switch) the session's


class SessionLanguage:
    """The language sure detections settled one session on (``language=auto``). The
    decode whose detection was sure sets it, on its worker thread, so the next
    utterance's decode sees it even when it starts before that final is sent (finals
    of a quick talker decode back to back)."""

    __slots__ = ("code",)

    def __init__(self) -> None:
        self.code: str | None = None


def is_sure(probability: float, audio_s: float) -> bool:
    return probability >= CONFIDENT_PROBABILITY and audio_s >= MIN_DETECT_S


def choose_language(probs: list[tuple[str, float]], *, audio_s: float,
                    previous: str | None, candidates: tuple[str, ...] = ()) -> LanguageChoice:
    """Pick the decode language from detection's ``(code, probability)`` list (best first).

    ``candidates`` (Whisper codes) limits detection to the languages the agent expects;
    ``previous`` is the language earlier sure utterances of this session settled on.
    """
    if candidates:
        allowed = set(candidates)
        probs = [(code, p) for code, p in probs if code in allowed]
        total = sum(p for _, p in probs) or 1.0
        probs = [(code, p / total) for code, p in probs]  # sure *among the candidates*
    if not probs:
        return LanguageChoice(previous or (candidates[0] if candidates else "en"))
    best, p = probs[0]
    if is_sure(p, audio_s):
        return LanguageChoice(best, best, p, sure=True)
    if previous is not None:
        return LanguageChoice(previous, best, p)
    if not candidates:  # nothing better to go on for this one; the session keeps nothing
        return LanguageChoice(best, best, p)
    # First utterance, unsure, candidates listed: the first candidate is the agent's main
    # language unless detection clearly prefers another one of the list.
    first = candidates[0]
    first_p = dict(probs).get(first, 0.0)
    return LanguageChoice(best if p >= 2 * first_p and p >= CONFIDENT_PROBABILITY / 2
                          else first, best, p)
