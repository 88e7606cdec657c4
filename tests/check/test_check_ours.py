"""Our three servers pass every rule of the checker (a simulated Rymi gateway)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import LLM_TOKEN, STT_TOKEN
from tests.support.servers import REPO


def run_check(tmp_path, *args: str) -> tuple[int, dict, str]:
    out = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "-m", "rymi_endpoints", "check", *args,
                           "--json", str(out)], cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    return proc.returncode, json.loads(out.read_text()), proc.stdout


def assert_all_pass(code: int, report: dict, stdout: str, channel: str, min_rules: int) -> None:
    failed = [r for r in report["results"] if r["outcome"] == "fail"]
    assert code == 0 and not failed, stdout[-3000:]
    passed = [r for r in report["results"] if r["outcome"] == "pass" and r["channel"] == channel]
    assert len(passed) >= min_rules, [r["rule"] for r in passed]


def test_our_llm_passes(llm_server, tmp_path):
    code, report, out = run_check(tmp_path, "--llm", f"{llm_server.url}/v1/chat/completions",
                                  "--token", LLM_TOKEN)
    assert_all_pass(code, report, out, "llm", 25)
    assert any(r["rule"] == "auth.wrong_token_401" for r in report["results"])


def test_our_tts_passes(tts_server, tmp_path):
    code, report, out = run_check(tmp_path, "--tts", f"{tts_server.url}/tts")
    assert_all_pass(code, report, out, "tts", 25)


def test_our_stt_passes(stt_server, tmp_path):
    code, report, out = run_check(tmp_path, "--stt", f"{stt_server.ws_url}/stt",
                                  "--token", STT_TOKEN)
    assert_all_pass(code, report, out, "stt", 10)
    rules = {r["rule"] for r in report["results"] if r["outcome"] == "pass"}
    assert {"finalize.one_final_with_text", "noise.no_words", "close.code_1000",
            "auth.wrong_token_401"} <= rules


def test_wrong_token_fails_the_check(stt_server, tmp_path):
    code, report, _ = run_check(tmp_path, "--stt", f"{stt_server.ws_url}/stt",
                                "--token", "not-the-token")
    assert code == 1
    assert any(r["rule"] == "handshake" and r["outcome"] == "fail" for r in report["results"])


def test_url_options_are_checked(stt_server, tts_server, tmp_path):
    code, report, out = run_check(
        tmp_path, "--stt", f"{stt_server.ws_url}/stt?language=en-GB&endpointing_ms=400",
        "--stt-token", STT_TOKEN, "--tts", f"{tts_server.url}/tts?format=pcm_8000")
    assert code == 0, out[-3000:]
    rules = {r["rule"]: r for r in report["results"]}
    assert rules["options.language_honoured"]["outcome"] == "pass"
    assert "en-GB" in rules["options.language_honoured"]["evidence"]
    assert rules["options.format_honoured"]["outcome"] == "pass"
