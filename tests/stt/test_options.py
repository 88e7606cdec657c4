"""URL options: parsed and checked before the upgrade (unit), and honoured (real server)."""

from __future__ import annotations

import json

import pytest
import websockets

from servers.stt.config import SttSettings
from servers.stt.options import OptionError, ServedModel, parse_options

from .client import load_pcm, transcribe

MODELS = {"whisper-tiny.en": ServedModel("whisper-tiny.en", ("tiny.en",), ("en",))}


def parse(query: str):
    return parse_options(query, SttSettings(), MODELS)


def test_defaults_come_from_settings():
    opts = parse("")
    assert (opts.language, opts.language_code, opts.endpointing_ms, opts.interim) == (
        "en", "en-US", 500, True)
    assert opts.model == "whisper-tiny.en" and opts.keyterms == ()


def test_all_options():
    opts = parse("language=en-gb&endpointing_ms=300&vad_threshold=0.6&interim=false"
                 "&keyterms=Rymi,Acme&keyterms=Zorblax&model=tiny.en")
    assert opts.language == "en" and opts.language_code == "en-GB"
    assert (opts.endpointing_ms, opts.vad_threshold, opts.interim) == (300, 0.6, False)
    assert opts.keyterms == ("Rymi", "Acme", "Zorblax")
    assert opts.hotwords == "Rymi, Acme, Zorblax"


@pytest.mark.parametrize("query,param", [
    ("foo=1", "foo"), ("endpointing_ms=abc", "endpointing_ms"),
    ("endpointing_ms=50", "endpointing_ms"), ("vad_threshold=1.5", "vad_threshold"),
    ("vad_threshold=nan", "vad_threshold"), ("interim=maybe", "interim"),
    ("language=es", "language"), ("language=e$", "language"), ("model=large", "model"),
    ("keyterms=" + ",".join(f"t{i}" for i in range(30)), "keyterms"),
    ("keyterms=" + "x" * 60, "keyterms"), ("interim=true&interim=false", "interim"),
])
def test_bad_options_name_the_parameter(query, param):
    with pytest.raises(OptionError) as err:
        parse(query)
    assert err.value.param == param
    assert "accepted" in err.value.message or "more than once" in err.value.message


@pytest.mark.parametrize("query,param,accepted", [
    ("languge=en", "languge", "language"),
    ("language=de", "language", "en"),
    ("endpointing_ms=-1", "endpointing_ms", "100"),
])
async def test_bad_option_refused_on_the_handshake_with_400(url, auth, query, param, accepted):
    with pytest.raises(websockets.InvalidStatus) as err:
        async with websockets.connect(f"{url}?{query}", additional_headers=auth):
            pass
    assert err.value.response.status_code == 400
    body = json.loads(err.value.response.body)["error"]
    assert body["param"] == param and accepted in body["message"]
    assert body["type"] == "invalid_request_error"


async def test_options_are_honoured(url, auth):
    pcm = load_pcm("two_utterances_librivox_ss_870_librivox_ss_880.wav")
    # A 3 s endpoint spans the pause between the two sentences: one utterance.
    got = await transcribe(f"{url}?endpointing_ms=3000&language=en-GB&interim=false", pcm,
                           speed=0, tail_s=3.5, headers=auth)
    assert got.kinds().count("final") == 1
    assert got.finals()[0]["language_code"] == "en-GB"
    assert "interim" not in got.kinds()
    assert "young man" in got.text().lower()


BASE = {**MODELS, "whisper-base": ServedModel("whisper-base", ("base",), ())}


@pytest.mark.parametrize("query,language,code,candidates", [
    ("model=base", None, None, ()),  # a multilingual model with no language: detect
    ("model=base&language=auto", None, None, ()),
    ("model=base&language=es-es", "es", "es-ES", ()),
    ("model=base&language=jv", "jw", "jv", ()),  # Whisper spells Javanese "jw"
    ("model=base&language=es,en-US", None, None, ("es", "en")),
    ("language=auto", "en", "en-US", ()),  # English-only: nothing to detect
])
def test_language_forms(query, language, code, candidates):
    opts = parse_options(query, SttSettings(), BASE)
    assert (opts.language, opts.language_code, opts.candidates) == (language, code, candidates)


def test_unsure_detection_keeps_what_the_session_settled_on():
    from servers.stt.languages import choose_language
    unsure = [("hi", 0.19), ("el", 0.19), ("es", 0.14)]
    assert choose_language(unsure, audio_s=4, previous=None).language == "hi"
    assert choose_language(unsure, audio_s=4, previous="es").language == "es"
    assert choose_language(unsure, audio_s=4, previous=None, candidates=("es", "en")
                           ).language == "es"
    sure = [("de", 0.99), ("en", 0.01)]
    assert choose_language(sure, audio_s=3, previous="es").language == "de"  # a real switch
    assert choose_language(sure, audio_s=0.8, previous="es").language == "es"  # too short
