"""The README's settings table is generated from the settings classes; keep them in step."""

from __future__ import annotations

from rymi_endpoints.settings_table import readme_with_table
from tests.support.servers import REPO


def test_readme_settings_table_is_current():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme_with_table(readme) == readme, (
        "README settings table is stale: run `python -m rymi_endpoints settings "
        "--write-readme README.md`")


def test_readme_starts_with_the_two_commands():
    head = (REPO / "README.md").read_text(encoding="utf-8")[:400]
    assert "make run" in head and "make test" in head
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "\nmake test\n" in ci
