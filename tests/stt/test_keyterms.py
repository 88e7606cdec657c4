"""Keyterms and every bad URL option, on the real server.

Keyterms: a made-up name, spoken by our own TTS server, is recognised with
``keyterms=<name>`` (faster-whisper hotwords). Without it the test only prints what came
out, so the difference shows in the output; it does not fail if the model gets the name
anyway.
"""

from __future__ import annotations

import json

import httpx
import pytest
import websockets

from .client import silence, transcribe

NAME = "Zorvanek"
SENTENCE = f"Please connect me with {NAME} in billing."


@pytest.fixture(scope="module")
def spoken(tts_server) -> bytes:
    reply = httpx.post(f"{tts_server.url}/tts?format=pcm_16000", json={"text": SENTENCE},
                       timeout=60)
    assert reply.status_code == 200, reply.text
    return silence(0.5) + reply.content


@pytest.mark.parametrize("model", ["tiny.en", "base"])
async def test_keyterm_name_is_recognised(url, auth, spoken, model):
    query = f"{url}?model={model}&language=en&interim=false"
    without = (await transcribe(query, spoken, tail_s=1.0, headers=auth)).text()
    with_terms = (await transcribe(f"{query}&keyterms={NAME},Billing", spoken, tail_s=1.0,
                                   headers=auth)).text()
    print(f"\n{model} without keyterms: {without}\n{model} with keyterms:    {with_terms}")
    if NAME.lower() in without.lower():
        print(f"{model}: the name was right without keyterms too")
    assert NAME.lower() in with_terms.lower()


BAD = [  # query, param, a word the message must name among the accepted values
    ("languge=en", "languge", "language"),
    ("language=es", "language", "en"),  # tiny.en is English-only: refused, not transcribed
    ("language=e$", "language", "BCP-47"),
    ("model=base&language=xx", "language", "auto"),
    ("model=base&language=es,q1", "language", "auto"),
    ("model=large", "model", "tiny.en"),
    ("endpointing_ms=abc", "endpointing_ms", "100"),
    ("endpointing_ms=50", "endpointing_ms", "10000"),
    ("vad_threshold=1.5", "vad_threshold", "0.95"),
    ("vad_threshold=nan", "vad_threshold", "0.05"),
    ("interim=maybe", "interim", "true or false"),
    ("interim=true&interim=false", "interim", "more than once"),
    ("keyterms=" + ",".join(f"t{i}" for i in range(30)), "keyterms", "at most 20"),
    ("keyterms=" + "x" * 60, "keyterms", "50 characters"),
]


@pytest.mark.parametrize("query,param,accepted", BAD, ids=[b[1] + ":" + b[0][:24] for b in BAD])
async def test_bad_option_refused_on_the_handshake(url, auth, query, param, accepted):
    with pytest.raises(websockets.InvalidStatus) as err:
        async with websockets.connect(f"{url}?{query}", additional_headers=auth):
            pass
    response = err.value.response
    body = json.loads(response.body)["error"]
    print(f"\n{query[:40]} -> {response.status_code} {body}")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert body["type"] == "invalid_request_error" and body["param"] == param
    assert accepted in body["message"]
