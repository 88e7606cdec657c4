"""Which language an utterance is decoded in, when the URL says ``language=auto``.

Whisper's language detection looks at one 30 s window; on a short utterance it is often
unsure and sometimes confidently wrong (a 4 s Spanish clip came out as Hindi at p=0.19
once the silence was cut). So detection is only *trusted* when it is sure and the
utterance is long enough; otherwise the session keeps the language it already settled
on, and the first utterance of a session falls back to the candidates the URL listed
(``language=es,en``) or, for plain ``auto``, to the best of what was detected. (Decoding
an unsure first utterance in the runners-up too and keeping the likeliest decode was
tried: a Spanish clip then came out as confident Greek, so it is not done.)
"""

from __future__ import annotations

from dataclasses import dataclass

# Detection must be at least this sure, on at least this much speech, to switch an
# already-settled session to another language (a caller may really switch).
CONFIDENT_PROBABILITY = 0.5
MIN_DETECT_S = 1.5

# Whisper's codes that BCP-47 spells differently.
_TO_BCP47 = {"jw": "jv"}
_FROM_BCP47 = {v: k for k, v in _TO_BCP47.items()}


def whisper_languages() -> frozenset[str]:
    """Every language code the multilingual Whisper models know (99 + Cantonese)."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return frozenset(_LANGUAGE_CODES)


def to_whisper(primary: str) -> str:
    return _FROM_BCP47.get(primary, primary)


def to_bcp47(code: str) -> str:
    return _TO_BCP47.get(code, code)


@dataclass(frozen=True)
class LanguageChoice:
    language: str  # Whisper code the decode was forced to
    detected: str | None = None  # detection's top answer (None: no detection ran)
    probability: float = 0.0


def choose_language(probs: list[tuple[str, float]], *, audio_s: float,
                    previous: str | None, candidates: tuple[str, ...] = ()) -> LanguageChoice:
    """Pick the decode language from detection's ``(code, probability)`` list (best first).

    ``candidates`` (Whisper codes) limits detection to the languages the agent expects;
    ``previous`` is the language earlier utterances of this session settled on.
    """
    if candidates:
        allowed = set(candidates)
        probs = [(code, p) for code, p in probs if code in allowed]
        total = sum(p for _, p in probs) or 1.0
        probs = [(code, p / total) for code, p in probs]  # sure *among the candidates*
    if not probs:
        return LanguageChoice(previous or (candidates[0] if candidates else "en"))
    best, p = probs[0]
    sure = p >= CONFIDENT_PROBABILITY and audio_s >= MIN_DETECT_S
    if sure or (previous is None and not candidates):
        return LanguageChoice(best, best, p)
    if previous is not None:
        return LanguageChoice(previous, best, p)
    # First utterance, unsure, candidates listed: the first candidate is the agent's main
    # language unless detection clearly prefers another one of the list.
    first = candidates[0]
    first_p = dict(probs).get(first, 0.0)
    return LanguageChoice(best if p >= 2 * first_p and p >= CONFIDENT_PROBABILITY / 2
                          else first, best, p)
