"""Map free-text ``instructions`` ("speak warmly and slowly") to piper's controls.

Piper has three: length_scale (pace), noise_scale (how varied the voice sounds) and
noise_w (how varied the rhythm is). Recognised words nudge them; everything else is
ignored, never an error, as the contract asks. The table is in the README.
"""

from __future__ import annotations

import re

from .engine import Style

# word -> (length, noise, noise_w) multipliers
PACE = {
    "very slowly": 1.45, "slowly": 1.25, "slow": 1.25, "slower": 1.2, "unhurried": 1.15,
    "relaxed": 1.1, "calmly": 1.1, "very quickly": 0.72, "quickly": 0.82, "quick": 0.82,
    "fast": 0.82, "faster": 0.85, "rapidly": 0.78, "briskly": 0.88, "hurried": 0.85,
    "urgently": 0.85, "excited": 0.92, "excitedly": 0.92, "energetic": 0.92,
}
# A pace that a mood only implies: a pace word asked for outright wins over it, wherever
# it stands ("excited, fast" was the mood's 0.92, the "fast" lost).
IMPLIED_PACE = frozenset("relaxed calmly hurried urgently excited excitedly energetic".split())
VARIATION = {  # (noise, noise_w)
    "calm": (0.7, 0.7), "calmly": (0.7, 0.7), "soothing": (0.7, 0.7), "gently": (0.75, 0.75),
    "softly": (0.8, 0.8), "flat": (0.5, 0.5), "monotone": (0.4, 0.4), "neutral": (0.8, 0.8),
    "serious": (0.8, 0.8), "professional": (0.85, 0.85), "expressive": (1.25, 1.25),
    "excited": (1.25, 1.3), "excitedly": (1.25, 1.3), "cheerful": (1.2, 1.2),
    "cheerfully": (1.2, 1.2), "happy": (1.15, 1.15), "warm": (1.05, 1.0),
    "warmly": (1.05, 1.0), "enthusiastic": (1.25, 1.3), "energetic": (1.2, 1.25),
    "lively": (1.2, 1.25), "animated": (1.25, 1.3),
}
_WORD = re.compile(r"[a-z]+(?:\s+(?:slowly|quickly))?")
# A word just after one of these, in its own clause, is not asked for: "not too fast"
# sped speech up. The clause bounds it: "No jargon. Speak slowly." was read at pace.
_NEGATIONS = frozenset("not no never don dont without too nor isn aren".split())
_CLAUSE = re.compile(r"[.;,:!?\n]|\bbut\b")


def style_for(instructions: str | None, speed: float = 1.0) -> Style:
    """``speed`` (from the URL or body; length_scale 1/speed) multiplies with the pace."""
    length, noise, noise_w = 1.0 / speed, 1.0, 1.0
    text = (instructions or "").lower()[:500]
    pace: float | None = None  # first pace word asked for outright wins ("slowly, not
    implied: float | None = None  # quickly" is slow), else the first a mood implies
    variation_seen = False
    for word in _asked_for(text):
        key = word if word in PACE or word in VARIATION else word.split()[-1]
        if key in PACE:
            if key not in IMPLIED_PACE and pace is None:
                pace = PACE[key]
            elif key in IMPLIED_PACE and implied is None:
                implied = PACE[key]
        if not variation_seen and key in VARIATION:
            noise, noise_w = VARIATION[key]
            variation_seen = True
    length *= pace if pace is not None else implied if implied is not None else 1.0
    return Style(length=min(max(length, 0.4), 2.5), noise=noise, noise_w=noise_w)


def _asked_for(text: str) -> list[str]:
    """The words of ``text`` in order, less those negated in their clause."""
    found = []
    for clause in _CLAUSE.split(text):
        words = _WORD.findall(clause)
        found += [word for i, word in enumerate(words)
                  if not _NEGATIONS.intersection(words[max(0, i - 3):i])]  # "don't be too slow"
    return found
