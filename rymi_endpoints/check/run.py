"""``rymi-endpoints check``: run every channel's rules and report."""

from __future__ import annotations

import argparse
from pathlib import Path

from .client import Target
from .llm import check_llm
from .report import Report
from .stt import check_stt
from .tts import check_tts


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--llm", metavar="URL",
                   help="custom_llm_url, e.g. https://host/v1/chat/completions")
    p.add_argument("--tts", metavar="URL", help="custom_voice_url, e.g. https://host/tts")
    p.add_argument("--stt", metavar="URL", help="custom_transcriber_url, e.g. wss://host/stt")
    p.add_argument("--token", help="bearer token for every channel (as Rymi forwards it)")
    for ch in ("llm", "tts", "stt"):
        p.add_argument(f"--{ch}-token", help=f"bearer token for {ch} only")
    p.add_argument("--ca", help="PEM file of a private CA to trust (default: system store)")
    p.add_argument("--voice", help="TTS voice id to use (default: the first of /voices)")
    p.add_argument("--json", metavar="FILE", default="results/check.json",
                   help="where to write the JSON report")


def run_check(args: argparse.Namespace) -> int:
    if not (args.llm or args.tts or args.stt):
        print("check: give at least one of --llm, --tts, --stt")
        return 2
    if args.ca and not Path(args.ca).is_file():  # said as itself, not as a failed channel
        print(f"check: --ca {args.ca}: no such file")
        return 2
    report = Report()
    for ch, fn in (("llm", check_llm), ("tts", check_tts), ("stt", check_stt)):
        url = getattr(args, ch)
        if not url:
            continue
        target = Target(url=url, token=getattr(args, f"{ch}_token") or args.token, ca=args.ca)
        try:
            fn(report, target, voice=args.voice) if ch == "tts" else fn(report, target)
        except Exception as exc:  # an endpoint that breaks the checker fails, loudly
            report.add(ch, "reachable", False, f"{type(exc).__name__}: {exc}")
    report.print()
    report.write(Path(args.json))
    return 1 if report.failed else 0
