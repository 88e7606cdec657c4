"""The checker catches what real peers get wrong, with a clear reason."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from rymi_endpoints.models.catalog import default_model, resolve
from servers.common.config import default_models_dir
from tests.support.peers import peer_python
from tests.support.servers import REPO, free_port


def run_check(*args: str, tmp_path) -> tuple[int, dict]:
    out = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "-m", "rymi_endpoints", "check", *args,
                           "--json", str(out)], cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    return proc.returncode, json.loads(out.read_text())


# What one peer may take: piper's server holds ~0.3 GB. Past this its allocations fail
# inside it, instead of the machine's memory running out under every other server of
# the suite (no swap: they stall, ours for minutes, until the kernel kills the biggest).
PEER_ADDRESS_SPACE = 8 << 30


@pytest.fixture
def piper_http_server():
    """piper's own HTTP server on the same joe voice: it answers a WAV file, not PCM.
    Stopped when its test ends: work the check left it doing is not the next test's."""
    import httpx
    python = peer_python("piper-http", ["piper-tts[http]==1.8.0"])
    voice = resolve(default_model("tts").name, default_models_dir())
    port = free_port()
    proc = subprocess.Popen([str(python), "-m", "piper.http_server", "-m", str(voice),
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Set from here, not in the child before exec (preexec_fn can deadlock a parent with
    # threads); the voice loads after this, well within the limit.
    resource.prlimit(proc.pid, resource.RLIMIT_AS, (PEER_ADDRESS_SPACE, PEER_ADDRESS_SPACE))
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{url}/voices", timeout=1)
            break
        except httpx.HTTPError:
            import time
            time.sleep(0.2)
    yield url, proc.pid
    proc.terminate()
    proc.wait(10)


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(x for x in status.splitlines() if x.startswith("VmHWM:")).split()[1]) / 1024


def by_rule(report: dict) -> dict[str, dict]:
    return {f"{r['channel']}.{r['rule']}": r for r in report["results"]}


def test_piper_http_server_fails_with_reasons(piper_http_server, tmp_path):
    url, pid = piper_http_server
    code, report = run_check("--tts", f"{url}/synthesize", tmp_path=tmp_path)
    assert code == 1 and not report["ok"]
    rules = by_rule(report)
    raw = rules["tts.pcm_24000.raw_pcm"]
    assert raw["outcome"] == "fail" and "RIFF" in raw["evidence"]
    assert rules["tts.pcm_24000.content_type"]["outcome"] == "fail"
    assert rules["tts.error.unknown_voice_404"]["outcome"] == "fail"
    # piper has no text limit: it takes the over-long text and synthesises it. The
    # check neither waits that out nor makes it one inference of unbounded memory (a
    # single 2,000-word sentence grew piper to 20 GB).
    too_long = rules["tts.error.text_too_long_413"]
    assert too_long["outcome"] == "fail", too_long
    assert peak_rss_mb(pid) < 1500
    assert all(r["section"].startswith("CONTRACT.md#") for r in report["results"])


def test_plain_http_server_is_not_an_stt_websocket(tmp_path):
    """wss:// to something that is not a WebSocket server: a failed handshake, not a crash."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Plain(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *a):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Plain)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        code, report = run_check("--stt", f"ws://127.0.0.1:{httpd.server_address[1]}/stt",
                                 tmp_path=tmp_path)
    finally:
        httpd.shutdown()
    assert code == 1
    rules = by_rule(report)
    assert rules["stt.handshake"]["outcome"] == "fail"


@pytest.mark.parametrize("mistake,rule", [
    ("float32", "pcm16_mono"), ("bigendian", "pcm16_mono"), ("stereo", "pcm16_mono"),
    ("empty", "raw_pcm"), ("lax-options", "options.unknown_refused"),
    ("endless", "duration"),  # it hung the check
])
def test_audio_that_is_not_pcm16_mono_fails(tts_server, tmp_path, mistake, rule):
    """Our own voice, re-encoded as custom endpoints get it wrong: float32 samples (noise
    to the caller), big-endian, two channels. Each passed every rule; an empty 200
    crashed the check ("reachable: IndexError")."""
    from tests.check.broken_tts import BrokenTts

    with BrokenTts(tts_server.url) as broken:
        code, report = run_check("--tts", f"{broken.url}/{mistake}/tts", tmp_path=tmp_path)
    rules = by_rule(report)
    rule = rule if rule.startswith("options.") else f"pcm_24000.{rule}"
    # (A real server's stall, seen once in a full run, is told with its log.)
    assert not broken.errors, (broken.errors, tts_server.logs()[-4000:])
    assert code == 1 and rules.get(f"tts.{rule}", {}).get("outcome") == "fail", rules
    assert "tts.reachable" not in rules or rules["tts.reachable"]["outcome"] == "pass"


@pytest.mark.parametrize("mistake,url_query,rule", [
    ("late-interim", "", "order.turns"),
    ("stray-start", "", "order.turns"),
    ("slow-finalize", "", "finalize.prompt"),
    ("lang-fr", "", "final.language_code"),
    ("lax-options", "", "options.unknown_refused"),
    ("no-endpointing", "?endpointing_ms=3000", "options.endpointing_honoured"),
    ("hang-up", "", "session.open_until_client_closes"),
])
def test_an_stt_session_that_breaks_turn_taking_fails(stt_server, tmp_path, mistake,
                                                      url_query, rule):
    """Our real session with its events altered as custom endpoints get them wrong:
    each passed the check (a stale interim after the final, a speech_started never
    closed, a finalize answered after 8 s, French on English speech, unknown options
    taken, a URL's endpointing ignored). A session closed after its first utterance was
    "reachable: ConnectionClosedOK": now a rule that names the close and the events."""
    from tests.check.broken_stt import BrokenStt
    from tests.conftest import STT_TOKEN

    with BrokenStt(stt_server.ws_url, STT_TOKEN) as broken:
        code, report = run_check("--stt", f"{broken.url}/{mistake}/stt{url_query}",
                                 tmp_path=tmp_path)
    rules = by_rule(report)
    # (.get: a rule missing from the report shows the report, not a KeyError)
    assert code == 1 and rules.get(f"stt.{rule}", {}).get("outcome") == "fail", \
        {k: (v["outcome"], v["evidence"][:200]) for k, v in rules.items()}
    assert "stt.reachable" not in rules  # a session's end is named, never an exception
    session = rules["stt.session.open_until_client_closes"]
    if mistake != "hang-up" and session["outcome"] != "pass":
        # The real server ended a session under the relay: seen in 1 CI run of 3 under
        # load (1008 after utterance_end), never here. Not this test's subject (the
        # checker still caught the mistake, asserted above), so said, not failed.
        cut = [r for r in stt_server.usage_records() if r.get("close_reason")][-2:]
        warnings.warn(f"the real STT server closed a relayed session: {session['evidence']}; "
                      f"its last records of a session it ended: {cut}", stacklevel=1)
    # One CI run caught such a cut (slow-finalize: 1008 for idle, 44 s in, one final in
    # the record: the held finalize seems to have gone unanswered for 30 s). The check
    # now keeps the line alive while it waits, so such a finalize would show here.
    pending = rules.get("stt.finalize.nothing_pending", {})
    if mistake == "slow-finalize" and pending.get("outcome") != "pass":
        warnings.warn(f"a finalize relayed to the real STT server went unanswered: "
                      f"{pending.get('evidence')}; its records: "
                      f"{stt_server.usage_records()[-3:]}", stacklevel=1)
