"""The README's settings table is generated from the settings classes; keep them in step."""

from __future__ import annotations

import importlib

import pytest
from prometheus_client.metrics import MetricWrapperBase

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


@pytest.mark.parametrize("module,readme", [
    ("servers.common.metrics", "README.md"),
    ("servers.stt.metrics", "servers/stt/README.md"),
    ("servers.tts.metrics", "servers/tts/README.md"),
    ("servers.llm.metrics", "servers/llm/README.md"),
])
def test_every_metric_is_documented(module: str, readme: str) -> None:
    """Operators build dashboards and alerts from the READMEs: a metric added in code
    must be named there (the collector's own name, not the _total/_bucket samples)."""
    metrics = importlib.import_module(module)
    described = [c.describe()[0] for c in vars(metrics).values()
                 if isinstance(c, MetricWrapperBase)]
    names = {m.name + ("_total" if m.type == "counter" else "") for m in described}
    assert len(names) >= 5
    text = (REPO / readme).read_text(encoding="utf-8")
    missing = sorted(n for n in names if f"`{n}" not in text)
    assert not missing, f"{readme} does not name {missing}"
