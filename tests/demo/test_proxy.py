"""The demo's same-origin proxy against the real servers: bytes and events pass through
unchanged and unbuffered, the page's token reaches the servers as a bearer header, and the
servers' own check still refuses a missing or wrong one."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import wave
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from rymi_endpoints.demo.config import DemoSettings
from rymi_endpoints.demo.proxy import bearer_from_subprotocols
from tests.demo.conftest import TOKEN
from tests.support.servers import RunningServer

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def packed(token: str) -> str:
    """What stt.js offers in Sec-WebSocket-Protocol."""
    return "rymi-demo.bearer." + base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")


def ws_url(server: RunningServer) -> str:
    return f"{server.ws_url}/stt"


# --- pure pieces -------------------------------------------------------------------------

@pytest.mark.parametrize("token", ["abc", "tok/with+odd=chars", "ünïcode-tøken", "x" * 200])
def test_token_round_trips_through_a_subprotocol(token: str) -> None:
    value = packed(token)
    assert all(c.isalnum() or c in "-_." for c in value)  # a valid protocol token
    assert bearer_from_subprotocols(["rymi-demo", value]) == token


def test_no_or_garbled_token_gives_none() -> None:
    assert bearer_from_subprotocols(["rymi-demo"]) is None
    assert bearer_from_subprotocols(["rymi-demo.bearer.%%%"]) is None


@pytest.mark.parametrize("server_code,browser_code", [
    (None, 1000), (1005, 1000), (1006, 1011), (1000, 1000), (1008, 1008), (1013, 1013)])
def test_the_servers_close_reaches_the_browser_as_a_code_that_may_be_sent(
        server_code: int | None, browser_code: int) -> None:
    """1005 and 1006 only describe a close that had no code (RFC 6455 7.4.1: never sent):
    the page got its socket torn down instead of the server's close. A server that went
    without a close frame is an error (1011); the server's own codes pass as they are."""
    from rymi_endpoints.demo.proxy import _close_code

    assert _close_code(server_code) == browser_code


def test_one_https_host_for_all_three_gives_stt_its_wss() -> None:
    """The README's "all three URLs are the same https://host": the STT relay was handed
    https://, which a WebSocket client refuses, and every Start failed (review round 7)."""
    assert DemoSettings(stt_url="https://voice.example/").stt_url == "wss://voice.example"
    assert DemoSettings(stt_url="http://10.0.0.5:8001").stt_url == "ws://10.0.0.5:8001"


def test_default_urls_follow_up_ports_and_tls(monkeypatch: pytest.MonkeyPatch,
                                              dev_certs: dict[str, Path]) -> None:
    for name in ("RYMI_TLS_CERT", "RYMI_STT_TLS_CERT", "RYMI_STT_PORT", "RYMI_DEMO_STT_URL"):
        monkeypatch.delenv(name, raising=False)
    s = DemoSettings()
    assert (s.stt_url, s.tts_url, s.llm_url, s.port) == (
        "ws://127.0.0.1:8001", "http://127.0.0.1:8002", "http://127.0.0.1:8003", 8000)
    monkeypatch.setenv("RYMI_TLS_CERT", str(dev_certs["cert"]))
    monkeypatch.setenv("RYMI_STT_PORT", "9101")
    s = DemoSettings(tls_cert=dev_certs["cert"], tls_key=dev_certs["key"],
                     tts_url="https://voice.example/")
    assert s.stt_url == "wss://127.0.0.1:9101"
    assert s.tts_url == "https://voice.example"  # given: kept, minus the trailing slash
    assert s.upstream_ca == dev_certs["ca"]  # `make cert` puts ca.pem beside the cert
    # A blank own setting is unset (a compose file's ${X:-}), for the server as for its
    # URL here: that STT server takes the shared certificate, so the demo calls wss://.
    from servers.common.config import load_settings
    from servers.stt.config import SttSettings

    monkeypatch.setenv("RYMI_STT_TLS_CERT", "")
    monkeypatch.setenv("RYMI_TLS_KEY", str(dev_certs["key"]))
    assert load_settings(SttSettings, []).tls_cert == dev_certs["cert"]
    assert DemoSettings(tls_cert=dev_certs["cert"], tls_key=dev_certs["key"]).stt_url == \
        "wss://127.0.0.1:9101"


# --- the page and probes -----------------------------------------------------------------

def test_page_and_modules_are_served(speech_demo: RunningServer) -> None:
    page = httpx.get(f"{speech_demo.url}/")
    assert page.status_code == 200 and "demo console" in page.text
    for name in ("main.js", "capture-worklet.js", "player.js", "style.css"):
        r = httpx.get(f"{speech_demo.url}/static/{name}")
        assert r.status_code == 200, name
    assert "javascript" in httpx.get(f"{speech_demo.url}/static/main.js").headers["content-type"]


def test_server_probe_reports_each_server(speech_demo: RunningServer) -> None:
    found = httpx.get(f"{speech_demo.url}/demo/servers").json()
    assert found["stt"]["ready"] and found["tts"]["ready"]
    assert not found["llm"]["ready"]  # nothing listens there in this fixture


def test_unreachable_server_is_a_shaped_502(speech_demo: RunningServer) -> None:
    r = httpx.post(f"{speech_demo.url}/v1/chat/completions", json={}, headers=AUTH)
    assert r.status_code == 502
    assert "LLM server unreachable" in r.json()["error"]["message"]


def test_only_the_llm_routes_the_page_uses_are_relayed(speech_demo: RunningServer) -> None:
    for path in ("/v1/%2e%2e/metrics", "/v1/completions", "/v1/models/x"):
        r = httpx.get(f"{speech_demo.url}{path}", headers=AUTH)
        assert r.status_code in (404, 405), (path, r.status_code)
        assert "LLM server" not in r.text  # never forwarded (the LLM is not even up here)


# --- TTS ---------------------------------------------------------------------------------

def test_tts_streams_pcm_with_the_forwarded_token(speech_demo: RunningServer,
                                                  tts_server: RunningServer) -> None:
    body = {"text": "Hello there. This is the demo speaking, through the proxy.",
            "format": "pcm_16000"}
    chunks = []
    with httpx.stream("POST", f"{speech_demo.url}/tts", json=body, headers=AUTH,
                      timeout=60) as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/octet-stream"
        assert "content-length" not in r.headers  # streamed, not buffered into one body
        chunks = [c for c in r.iter_raw() if c]
    total = sum(map(len, chunks))
    assert total % 2 == 0 and total > 16000  # well over half a second of PCM16
    # piper samples its prosody, so lengths differ run to run: compare loosely.
    direct = httpx.post(f"{tts_server.url}/tts", json=body, headers=AUTH, timeout=60)
    assert abs(total - len(direct.content)) < 0.25 * len(direct.content)


def test_a_callers_request_id_reaches_the_server(speech_demo: RunningServer,
                                                 tts_server: RunningServer) -> None:
    """X-Request-Id goes through, so the demo's call is found in the server's log."""
    r = httpx.post(f"{speech_demo.url}/tts", json={"text": "Hi.", "format": "pcm_16000"},
                   headers={**AUTH, "X-Request-Id": "demo-tts-7f3e"}, timeout=60)
    assert r.status_code == 200 and r.headers["x-request-id"] == "demo-tts-7f3e"
    assert tts_server.wait_usage("demo-tts-7f3e")["status"] == 200


def test_tts_refusals_pass_through(speech_demo: RunningServer) -> None:
    r = httpx.post(f"{speech_demo.url}/tts", json={"text": "hi"})
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    r = httpx.post(f"{speech_demo.url}/tts", json={"text": "hi", "format": "pcm_12345"},
                   headers=AUTH)
    assert r.status_code == 422 and "format" in r.text


def test_voices(speech_demo: RunningServer) -> None:
    body = httpx.get(f"{speech_demo.url}/voices", headers=AUTH).json()
    assert body["object"] == "list" and body["default"] in {v["id"] for v in body["data"]}


# --- STT ---------------------------------------------------------------------------------

def _clip(audio_dir: Path, name: str = "jfk.wav") -> bytes:
    with wave.open(str(audio_dir / name)) as w:
        return w.readframes(w.getnframes())


async def _transcribe(url: str, pcm: bytes, protocols: list[str]) -> tuple[list[dict], int]:
    """Stream a clip at full speed, then `close`: the server flushes every final and
    closes with 1000, which the proxy must relay after the last event."""
    events: list[dict] = []
    async with websockets.connect(url, subprotocols=protocols, max_size=None) as ws:
        assert ws.subprotocol == "rymi-demo"  # chosen by the proxy; the token is never echoed
        for i in range(0, len(pcm), 3201):  # odd sizes: the proxy must not re-frame
            await ws.send(pcm[i:i + 3201])
        await ws.send(json.dumps({"type": "close"}))
        async for message in ws:
            events.append(json.loads(message))
    return events, ws.close_code


async def test_stt_relays_events_with_the_token(speech_demo: RunningServer,
                                                audio_dir: Path) -> None:
    pcm = _clip(audio_dir) + bytes(16000)
    events, code = await asyncio.wait_for(
        _transcribe(ws_url(speech_demo), pcm, ["rymi-demo", packed(TOKEN)]), 60)
    assert code == 1000
    kinds = [e["type"] for e in events]
    assert "speech_started" in kinds and "final" in kinds and kinds[-1] == "utterance_end"
    text = " ".join(e["text"] for e in events if e["type"] == "final").lower()
    assert "country" in text and "ask not" in text


async def test_a_sessions_request_id_reaches_the_stt_server(speech_demo: RunningServer,
                                                            stt_server: RunningServer) -> None:
    async with websockets.connect(ws_url(speech_demo), additional_headers={
            "X-Request-Id": "demo-stt-2c9a"}, subprotocols=["rymi-demo", packed(TOKEN)]) as ws:
        await ws.send(json.dumps({"type": "close"}))
        await asyncio.wait_for(ws.wait_closed(), 10)
    assert stt_server.wait_usage("demo-stt-2c9a")["status"] == 101


@pytest.mark.parametrize("protocols", [["rymi-demo"], ["rymi-demo", packed("wrong-token")]])
async def test_stt_without_a_valid_token_is_refused_by_the_server(
        speech_demo: RunningServer, protocols: list[str]) -> None:
    async with websockets.connect(ws_url(speech_demo), subprotocols=protocols) as ws:
        event = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert event["type"] == "error" and "401" in event["message"]
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
        assert ws.close_code == 1008


# --- LLM (through the https demo: the vLLM server starts once for this and the browser) --

def test_llm_stream_passes_through_over_https(demo: RunningServer,
                                              dev_certs: dict[str, Path]) -> None:
    verify = ssl.create_default_context(cafile=str(dev_certs["ca"]))
    models = httpx.get(f"{demo.url}/v1/models", headers=AUTH, verify=verify).json()
    model = models["data"][0]["id"]
    body = {"model": model, "stream": True, "stream_options": {"include_usage": True},
            "max_tokens": 12, "messages": [{"role": "user", "content": "Say hello."}]}
    with httpx.stream("POST", f"{demo.url}/v1/chat/completions", json=body, headers=AUTH,
                      verify=verify, timeout=120) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        data = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert chunks[-1]["usage"]["completion_tokens"] > 0
    assert "".join(c["choices"][0]["delta"].get("content") or ""
                   for c in chunks if c["choices"])
    r = httpx.post(f"{demo.url}/v1/chat/completions", json=body, verify=verify)
    assert r.status_code == 401  # no token: the server's own check answers


async def test_stt_url_options_reach_the_server(speech_demo: RunningServer) -> None:
    """The page's STT options travel in the query string, as in a Rymi URL: a bad one
    gets the server's 400, shown as an error event."""
    url = f"{ws_url(speech_demo)}?endpointing_ms=abc"
    async with websockets.connect(url, subprotocols=["rymi-demo", packed(TOKEN)]) as ws:
        event = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert event["type"] == "error" and "400" in event["message"]
    assert "endpointing_ms" in event["message"]
