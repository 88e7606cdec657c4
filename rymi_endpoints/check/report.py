"""Rule results, the printed table and the JSON file."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

CONTRACT = "CONTRACT.md"
SECTIONS = {
    "common": f"{CONTRACT}#common-to-all-three-servers",
    "llm": f"{CONTRACT}#llm-post-v1chatcompletions-openai-chat-completions",
    "tts": f"{CONTRACT}#tts-post-tts-and-post--json-in-raw-pcm-out",
    "stt": f"{CONTRACT}#stt-websocket-at-stt-and-",
    "options": f"{CONTRACT}#per-agent-options-in-the-url",
}

PASS, FAIL, WARN, SKIP = "pass", "fail", "warn", "skip"


@dataclass
class Result:
    channel: str
    rule: str
    outcome: str
    evidence: str
    section: str


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)

    def add(self, channel: str, rule: str, ok: bool | None, evidence: str,
            section: str | None = None, warn_only: bool = False) -> bool:
        outcome = SKIP if ok is None else PASS if ok else (WARN if warn_only else FAIL)
        self.results.append(Result(channel, rule, outcome, evidence[:400],
                                   SECTIONS[section or channel]))
        return bool(ok)

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if r.outcome == FAIL]

    def print(self, console: Console | None = None) -> None:
        console = console or Console()
        table = Table(title="Rymi contract check", show_lines=False)
        for col in ("channel", "rule", "result", "evidence"):
            table.add_column(col, overflow="fold")
        style = {PASS: "green", FAIL: "bold red", WARN: "yellow", SKIP: "dim"}
        for r in self.results:
            table.add_row(r.channel, r.rule, f"[{style[r.outcome]}]{r.outcome}[/]", r.evidence)
        console.print(table)
        counts = {o: sum(r.outcome == o for r in self.results) for o in (PASS, FAIL, WARN, SKIP)}
        console.print(f"{counts[PASS]} passed, {counts[FAIL]} failed, {counts[WARN]} warnings, "
                      f"{counts[SKIP]} skipped")
        for r in self.failed:
            console.print(f"[red]FAIL[/] {r.channel} {r.rule}: see {r.section}")

    def to_json(self) -> dict[str, Any]:
        return {"ok": not self.failed, "results": [asdict(r) for r in self.results]}

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2), encoding="utf-8")
