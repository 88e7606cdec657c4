"""Security: tokens never in logs, constant-time comparison for every token, TLS 1.2+,
no path traversal through voice or model names, no debug endpoints by default.

The log scan here reads every server log started so far; the same scan runs again at
the end of the session over every log of it (pytest_sessionfinish in conftest.py).
(pip-audit is not run here: PyPI's vulnerability API is not reachable from this machine.)
"""

from __future__ import annotations

import ast
import asyncio
import hmac
import json
import ssl
from urllib.parse import quote

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from servers.common import auth as auth_module
from servers.common.auth import BearerTokens
from tests.support.servers import REPO, STARTED, TOKENS, RunningServer, tokens_in_logs

from .conftest import ALL_TOKENS, LLM_TOKEN, REL_TOKEN, auth, start

TRAVERSALS = ["../../etc/passwd", "/etc/passwd", "..%2F..%2Fetc%2Fpasswd", "....//....//etc",
              "voices/../../../etc/shadow", "\x00", "~root/.ssh/id_rsa"]


def test_every_token_is_compared_in_constant_time(monkeypatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth_module.hmac, "compare_digest", spy)
    tokens = BearerTokens(["first-token", "second-token", "third-token"])
    for header, ok in (("Bearer second-token", True), ("Bearer wrong", False),
                       ("Bearer first-token", True), ("Bearer ", False)):
        calls.clear()
        assert tokens.accepts(header) is ok
        assert len(calls) == 3, "every configured token is compared, match or not"
    assert "token" not in repr(tokens).replace("BearerTokens", "")


def test_a_non_ascii_token_matches_the_bytes_a_client_sends() -> None:
    """A UTF-8 token in the token file matches the same bytes in the header (which the
    server decodes latin-1, as ASGI does); other text with the same letters does not."""
    token = "s\u00e9same-\u4e2d\u6587"
    tokens = BearerTokens([token])
    on_the_wire = ("Bearer " + token).encode("utf-8").decode("latin-1")
    assert tokens.accepts(on_the_wire)
    assert not tokens.accepts("Bearer " + token)  # not what any client puts on the wire
    assert not tokens.accepts(("Bearer " + token).encode("utf-16").decode("latin-1"))


def test_no_other_code_compares_tokens() -> None:
    """Only servers/common/auth.py reads the Authorization header or compares tokens."""
    offenders = []
    for path in (REPO / "servers").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if path.name == "auth.py" and path.parent.name == "common":
            continue
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
                value = node.value.lower() if isinstance(node.value, str) else \
                    node.value.decode("latin-1").lower()
                if value == "authorization":
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    # The proxy *sends* an Authorization header upstream (upstream.py); nothing else.
    assert all("backends/upstream.py" in o for o in offenders), offenders


@pytest.fixture(scope="module")
def tls_tts(dev_certs):
    server = start("servers.tts", {"RYMI_TTS_TOKENS": REL_TOKEN,
                                   "RYMI_TTS_TLS_CERT": str(dev_certs["cert"]),
                                   "RYMI_TTS_TLS_KEY": str(dev_certs["key"])},
                   verify=ssl.create_default_context(cafile=str(dev_certs["ca"])))
    yield server
    server.stop()


@pytest.mark.parametrize("version, ok", [(ssl.TLSVersion.TLSv1, False),
                                         (ssl.TLSVersion.TLSv1_1, False),
                                         (ssl.TLSVersion.TLSv1_2, True),
                                         (ssl.TLSVersion.TLSv1_3, True)])
def test_tls_1_2_or_newer_only(tls_tts: RunningServer, dev_certs, version, ok) -> None:
    ctx = ssl.create_default_context(cafile=str(dev_certs["ca"]))
    ctx.minimum_version = ctx.maximum_version = version
    if ok:
        r = httpx.get(f"{tls_tts.url}/voices", verify=ctx, headers=auth())
        assert r.status_code == 200
    else:
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{tls_tts.url}/healthz", verify=ctx)


@pytest.mark.parametrize("name", TRAVERSALS)
def test_tts_voice_names_cannot_traverse(tts_server: RunningServer, name: str) -> None:
    r = httpx.post(f"{tts_server.url}/tts", json={"text": "Hi.", "voice": name}, timeout=30)
    assert r.status_code == 404 and r.json()["error"]["code"] == "voice_not_found"
    assert "root:" not in r.text
    r = httpx.post(f"{tts_server.url}/tts", params={"voice": name}, json={"text": "Hi."})
    assert r.status_code == 400 and r.json()["error"]["param"] == "voice"


async def test_stt_model_names_cannot_traverse(stt_server: RunningServer) -> None:
    for name in [*TRAVERSALS, "..", "../..", str(REPO / ".models" / "whisper-base")]:
        with pytest.raises(InvalidStatus) as err:
            async with connect(f"{stt_server.ws_url}/stt?model={quote(name, safe='')}",
                               additional_headers=stt_server.auth_headers):
                pass
        assert err.value.response.status_code == 400, name
        assert json.loads(err.value.response.body)["error"]["param"] == "model"


def test_llm_model_names_cannot_traverse(llm_server: RunningServer, small_llm) -> None:
    """Aliasing on (the default): any name is served by the configured model, never opened
    as a path; the listed and answered model is the configured one."""
    for name in TRAVERSALS[:3]:
        r = httpx.post(f"{llm_server.url}/v1/chat/completions", timeout=60,
                       headers={"Authorization": f"Bearer {LLM_TOKEN}"},
                       json={"model": name, "max_tokens": 1,
                             "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 200 and r.json()["model"] == "smollm2-135m-instruct"


def test_no_debug_endpoints_by_default(tts_server: RunningServer, llm_server: RunningServer,
                                       stt_server: RunningServer) -> None:
    for server in (tts_server, llm_server, stt_server):
        for path in ("/docs", "/redoc", "/debug", "/debug/pprof", "/__debug__", "/console",
                     "/admin", "/env", "/config", "/settings", "/.env"):
            r = httpx.get(server.url + path, headers=server.auth_headers)
            assert r.status_code in (404, 405), (server.module, path, r.status_code)
            assert "Traceback" not in r.text
    # An unhandled error shows no traceback: the TTS 500 body is the shaped error only.
    r = httpx.post(f"{tts_server.url}/tts", content=b'{"text": "\\ud800"}',
                   headers={"Content-Type": "application/json"})
    assert r.status_code < 500 or "Traceback" not in r.text


def test_tokens_never_in_any_log(request) -> None:
    """Every server log of the session, every token used by any test."""
    # Wrong and right tokens once more, where a careless log line would show them.
    for name in ("stt_server", "tts_server", "llm_server"):
        server = request.getfixturevalue(name)
        for tok in ALL_TOKENS:
            httpx.get(f"{server.url}/v1/models", headers={"Authorization": f"Bearer {tok}"})
            httpx.post(f"{server.url}/tts?voice={tok}", json={"text": tok, "voice": tok},
                       headers={"Authorization": f"Bearer {tok}"})
    try:
        asyncio.run(_ws_with_token(request.getfixturevalue("stt_server"), REL_TOKEN))
    except InvalidStatus:
        pass
    findings, scanned = tokens_in_logs()
    print(f"\ntoken scan so far: {len(STARTED)} server logs, {scanned / 1024:.0f} KiB, "
          f"{len(TOKENS)} tokens: {findings or 'none found'}")
    assert set(ALL_TOKENS) <= TOKENS and not findings


async def _ws_with_token(server: RunningServer, tok: str) -> None:
    async with connect(f"{server.ws_url}/stt", additional_headers={
            "Authorization": f"Bearer {tok}"}):
        pass
