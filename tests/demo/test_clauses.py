"""The page's clause splitter (static/clauses.js), run in Node when it is installed: what
the TTS receives while the LLM streams decides how soon the first audio can start."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.support.servers import REPO

NODE = shutil.which("node")
CLAUSES = REPO / "rymi_endpoints" / "demo" / "static" / "clauses.js"

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def split(tokens: list[str]) -> list[str]:
    script = f"""
import {{ ClauseSplitter, forSpeech }} from {json.dumps(CLAUSES.as_uri())};
const s = new ClauseSplitter();
const out = [];
for (const t of {json.dumps(tokens)}) out.push(...s.push(t));
out.push(...s.flush());
console.log(JSON.stringify(out.map(forSpeech)));
"""
    done = subprocess.run([NODE, "--input-type=module", "-e", script], capture_output=True,
                          text=True, timeout=30, check=True)
    return json.loads(done.stdout)


def tokens_of(text: str) -> list[str]:
    # Like an LLM stream: small pieces that split words and punctuation anywhere.
    return [text[i:i + 3] for i in range(0, len(text), 3)]


def test_sentences_go_out_as_soon_as_they_end() -> None:
    assert split(tokens_of("Hello there! Your balance is $12.50 today. Bye.")) == [
        "Hello there!", "Your balance is $12.50 today.", "Bye."]


def test_long_clauses_are_cut_at_commas_short_ones_are_not() -> None:
    text = "Yes, I can help with that, and the appointment is confirmed for three thirty pm."
    assert split(tokens_of(text)) == [
        "Yes, I can help with that,", "and the appointment is confirmed for three thirty pm."]


def test_times_and_decimals_are_not_cut_and_markdown_is_dropped() -> None:
    assert split(tokens_of("It opens at 3:30 and costs 4.99 **dollars**")) == [
        "It opens at 3:30 and costs 4.99 dollars"]


def test_nothing_speakable_is_not_sent() -> None:
    assert split(["...", " ", "--"]) == []
