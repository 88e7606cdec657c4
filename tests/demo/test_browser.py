"""The demo console in a real browser (Debian's Chromium, headless) against the real
servers: a WAV is fed as the microphone, and the page must show the final transcript, an
LLM answer, and play the TTS audio. A screenshot is kept in results/demo/.

No timing is asserted (this machine is shared and slow); the latencies the page showed
are written next to the screenshot for the record.
"""

from __future__ import annotations

import json
import shutil
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.demo.conftest import TOKEN
from tests.support.servers import REPO, RunningServer

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = Path("/usr/bin/chromium")
RESULTS = REPO / "results" / "demo"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)"),
]


@pytest.fixture(scope="session")
def caller_wav(tmp_path_factory: pytest.TempPathFactory, audio_dir: Path) -> Path:
    """jfk.wav between silences: Chromium loops its fake capture file, and the trailing
    silence lets the utterance end (and the answer play) before the loop speaks again."""
    with wave.open(str(audio_dir / "jfk.wav")) as w:
        rate = w.getframerate()
        speech = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    pcm = np.concatenate([np.zeros(rate, "<i2"), speech, np.zeros(45 * rate, "<i2")])
    path = tmp_path_factory.mktemp("audio") / "caller.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


@pytest.fixture
def page(caller_wav: Path) -> Iterator[object]:
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless=new", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={caller_wav}",
        ])
        # The dev CA is not in Chromium's store; the page is still https (secure context).
        context = browser.new_context(ignore_https_errors=True,
                                      viewport={"width": 1280, "height": 860})
        page = context.new_page()
        page.console_log = []  # type: ignore[attr-defined]
        page.on("console", lambda m: page.console_log.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: page.console_log.append(f"pageerror: {e}"))
        yield page
        browser.close()


def test_a_spoken_question_gets_a_spoken_answer(page, demo: RunningServer) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    try:
        page.goto(f"{demo.url}/")
        assert page.evaluate("window.isSecureContext")
        assert page.url.startswith("https://")
        # The token, entered once: it goes to sessionStorage only.
        page.fill("#token", TOKEN)
        page.click("#save-token")
        page.wait_for_function("document.querySelectorAll('#voice option').length > 0 && "
                               "document.querySelector('#voice').value !== ''")
        assert page.evaluate("sessionStorage.getItem('rymi-demo-token')") == TOKEN
        assert TOKEN not in page.evaluate("JSON.stringify(localStorage)")
        page.wait_for_function(
            "[...document.querySelectorAll('#servers li')].every(li => li.className === 'up')",
            timeout=15000)

        # The editable prompt is used: a tiny model follows a plain, speakable instruction.
        page.fill("#prompt", "You are a phone agent for Acme. Reply with one short, "
                  "friendly sentence in plain words.")
        page.dispatch_event("#prompt", "change")
        page.click("#start")
        # JFK pauses after "Americans": the server ends that utterance, the agent starts to
        # answer, and "ask not..." barges in. Wait for the words, then for a turn that was
        # answered to the end (the clip is followed by long silence).
        page.wait_for_function("[...document.querySelectorAll('.msg.user')]"
                               ".map(e => e.textContent).join(' ').includes('country')",
                               timeout=120_000)
        heard = " ".join(page.locator(".msg.user").all_inner_texts()).lower()
        assert "fellow" in heard and "country" in heard, heard
        done = ("window.rymiDemo.turns().filter(t => t.state === 'done' && "
                "t.firstTokenAt !== null && t.firstAudioAt !== null)")
        page.wait_for_function(f"{done}.length > 0", timeout=180_000)
        turn = page.evaluate(f"{done}.at(-1)")
        answer = turn["answer"]
        assert answer.strip() and answer.strip() in " ".join(
            page.locator(".msg.agent").all_inner_texts())
        assert page.locator(".msg.agent.error").count() == 0, page.console_log
        stats = page.evaluate("window.rymiDemo.stats()")
        assert stats["pcmBytes"] > 0 and stats["buffers"] > 0
        assert stats["audioState"] == "running"  # the Web Audio clock ran the playback
        row = page.locator("#latency tbody tr").filter(
            has=page.locator(f"td:first-child:text-is('{turn['id']}')")
        ).locator("td").all_inner_texts()
        record = {"heard": heard, "answer": answer, "stats": stats, "turns": page.evaluate(
                      "window.rymiDemo.turns().map(t => [t.id, t.user, t.state])"),
                  "latency_ms": dict(zip(["turn", "to_final", "to_first_token",
                                          "to_first_audio", "tokens", "status"], row,
                                         strict=False))}
        (RESULTS / "latency.json").write_text(json.dumps(record, indent=2))
        print(json.dumps(record["latency_ms"]))
    finally:
        state = page.evaluate("({turns: window.rymiDemo?.turns(), "
                              "stats: window.rymiDemo?.stats()})")
        (RESULTS / "state.json").write_text(json.dumps(state, indent=2))
        page.screenshot(path=str(RESULTS / "demo-console.png"), full_page=True)
        (RESULTS / "console.log").write_text("\n".join(page.console_log))
        shutil.copy(demo.log_path, RESULTS / "demo-app.log")


def _ready_page(page, demo: RunningServer) -> None:
    page.goto(f"{demo.url}/")
    page.fill("#token", TOKEN)
    page.click("#save-token")
    page.wait_for_function(
        "[...document.querySelectorAll('#servers li')].every(li => li.className === 'up')",
        timeout=15000)


def test_stop_then_start_mid_utterance_leaves_a_live_session(page, demo: RunningServer) -> None:
    """The old socket's close came after the server's flush, when the new session was
    open, and ended it: the page said "Listening" and sent nothing (review round 7)."""
    _ready_page(page, demo)
    page.click("#start")
    page.wait_for_function("window.rymiDemo.stats().sttBytes > 32000 * 2.5",  # mid-speech
                           timeout=60_000)
    page.click("#start")  # Stop
    page.wait_for_function("document.querySelector('#start').textContent === 'Start' && "
                           "!document.querySelector('#start').disabled", timeout=10_000)
    page.click("#start")  # and Start again, at once
    page.wait_for_function("window.rymiDemo.stats().sttBytes > 0", timeout=30_000)
    page.wait_for_timeout(3000)  # past the old socket's close
    sent = page.evaluate("window.rymiDemo.stats().sttBytes")
    page.wait_for_timeout(1000)
    assert page.locator("#start").inner_text() == "Stop", page.console_log
    assert page.evaluate("window.rymiDemo.stats().sttBytes") > sent, "the session died"


def test_the_server_dots_go_down_when_the_console_is_gone(page, demo: RunningServer) -> None:
    """They stayed green after make run was stopped."""
    _ready_page(page, demo)
    page.route("**/demo/servers", lambda route: route.abort())
    page.wait_for_function(
        "[...document.querySelectorAll('#servers li')].every(li => li.className === 'down')",
        timeout=15_000)
    assert "unreachable" in page.locator("#servers li").first.get_attribute("title")
