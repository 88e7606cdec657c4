"""The reading tables beside these tests: one case a line, columns split by a tab, "#"
lines saying why the cases under them are there."""

from __future__ import annotations

from pathlib import Path


def read_table(name: str, columns: int) -> list[tuple[str, ...]]:
    cases = []
    for n, line in enumerate(Path(__file__).with_name(name).read_text("utf-8").splitlines(), 1):
        if line and not line.startswith("#"):
            row = tuple(line.split("\t"))
            if len(row) != columns:  # a tab lost in an edit: fail collection, loudly
                raise ValueError(f"{name}:{n}: {len(row)} columns, not {columns}")
            cases.append(row)
    return cases
