"""TTS text planning at its worst: how long one hostile text holds the server before its
first audio, against ordinary prose of the same length, in the same run.

    python -m bench.tts_plan [--quick]

Planning (markup, reading rules, pieces) is pure Python: a regex pass holds the GIL, so
time spent here delays every other caller's audio, thread or no thread. Each shape is
planned at 1,250, 2,500 and 5,000 characters (the request limit); "x2" is the time ratio
of the last doubling (about 2 is linear; 4 is quadratic), "x prose" the 5,000-character
time over prose's. The shapes are the ones audits found quadratic before (runs of
spaces and tabs, "Ctrl+" chains, digits before "%", "1." runs) and the densest
expansions ("½", "*1"). Best of 3, milliseconds.
"""

from __future__ import annotations

import argparse
import sys
import time

from servers.tts.text import plan

PROSE = "The quick brown fox jumps over the lazy dog, and then it rests. "
SHAPES: dict[str, str] = {
    "prose": PROSE,
    "spaces": " ",
    "tabs and spaces": " \t",
    "star, then spaces": "Hi *" + " " * 400,
    "no-break spaces": "\xa0",
    "tags": "<a>",
    "Ctrl+ chain": "Ctrl+",
    "digits then %": "1",
    "numbered dots": "1.",
    "fractions": "½",
    "star digit": "*1",
    "phone dashes": "555-",
    "hash numbers": "#1 ",
}
LANGUAGES = ("en-US", "de-DE", "ru-RU", "pl-PL", "es-ES")
SIZES = (1250, 2500, 5000)


def text_of(unit: str, size: int) -> str:
    body = (unit * (size // len(unit) + 1))[: size - 10]
    return f"Hi {body} there."


def best_ms(text: str, language: str, tries: int) -> float:
    times = []
    for _ in range(tries):
        start = time.perf_counter()
        plan(text, language)
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench.tts_plan", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="English only, best of 2")
    args = ap.parse_args(argv)
    languages, tries = (LANGUAGES[:1], 2) if args.quick else (LANGUAGES, 3)
    print("\nTTS planning, ms at 1,250 / 2,500 / 5,000 characters (best of "
          f"{tries}); x2: the last doubling's ratio; x prose: against prose at 5,000")
    print(f"| {'shape':18} | {'lang':5} | {'1,250':>6} | {'2,500':>6} | {'5,000':>6} | "
          f"{'x2':>4} | {'x prose':>7} |")
    print(f"|{'-' * 20}|{'-' * 7}|{'-' * 8}|{'-' * 8}|{'-' * 8}|{'-' * 6}|{'-' * 9}|")
    for language in languages:
        prose = best_ms(text_of(PROSE, SIZES[-1]), language, tries)
        for name, unit in SHAPES.items():
            ms = [best_ms(text_of(unit, size), language, tries) for size in SIZES]
            doubling = ms[2] / ms[1] if ms[1] > 0 else float("nan")
            print(f"| {name:18} | {language[:5]:5} | {ms[0]:6.1f} | {ms[1]:6.1f} | "
                  f"{ms[2]:6.1f} | {doubling:4.1f} | {ms[2] / prose:7.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
