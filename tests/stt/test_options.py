"""URL options: parsed and checked before the upgrade (unit), and honoured (real server)."""

from __future__ import annotations

import json

import pytest
import websockets

from servers.stt.config import SttSettings
from servers.stt.options import OptionError, parse_options
from tests.stt.conftest import BASE, MODELS

from .client import load_pcm, transcribe


def parse(query: str):
    return parse_options(query, SttSettings(), MODELS)


def test_defaults_come_from_settings():
    opts = parse("")
    assert (opts.language, opts.language_code, opts.endpointing_ms, opts.interim) == (
        "en", "en-US", 500, True)
    assert opts.model == "whisper-tiny.en" and opts.keyterms == ()


def test_a_url_threshold_keeps_the_operators_silence_gap():
    """An operator's vad_neg_threshold is a gap below vad_threshold; a URL's vad_threshold
    moves both (it fell back to threshold - 0.15, the operator's gap lost)."""
    s = SttSettings(vad_threshold=0.5, vad_neg_threshold=0.45)
    assert s.neg_threshold_for(0.5) == 0.45
    assert s.neg_threshold_for(0.7) == pytest.approx(0.65)
    assert s.neg_threshold_for(0.03) == 0.01  # never at or under 0: all would be speech
    assert SttSettings().neg_threshold_for(0.7) is None  # the segmenter's default


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
    ("endpointing_ms=" + "9" * 5000, "endpointing_ms", "100"),  # was a plain-text 500
])
async def test_bad_option_refused_on_the_handshake_with_400(url, auth, query, param, accepted,
                                                            stt_server):
    rid = f"stt-bad-option-{param}-{len(query)}"
    with pytest.raises(websockets.InvalidStatus) as err:
        async with websockets.connect(f"{url}?{query}",
                                      additional_headers={**auth, "X-Request-ID": rid}):
            pass
    assert err.value.response.status_code == 400
    body = json.loads(err.value.response.body)["error"]
    assert body["param"] == param and accepted in body["message"]
    assert body["type"] == "invalid_request_error"
    # The record says why, as every HTTP refusal's does (it had a status alone).
    record = stt_server.wait_usage(rid)
    assert (record["status"], record["error"]) == (400, "invalid_parameter"), record


async def test_options_are_honoured(url, auth):
    pcm = load_pcm("two_utterances_librivox_ss_870_librivox_ss_880.wav")
    # A 3 s endpoint spans the pause between the two sentences: one utterance.
    got = await transcribe(f"{url}?endpointing_ms=3000&language=en-GB&interim=false", pcm,
                           speed=0, tail_s=3.5, headers=auth)
    assert got.kinds().count("final") == 1
    assert got.finals()[0]["language_code"] == "en-GB"
    assert "interim" not in got.kinds()
    assert "young man" in got.text().lower()




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


def test_only_a_sure_detection_settles_the_language():
    from servers.stt.languages import choose_language
    # base on the 2.9 s Spanish clip as the server cuts it: unsure, and wrong.
    unsure = [("hi", 0.23), ("el", 0.23), ("es", 0.13)]
    first = choose_language(unsure, audio_s=2.9, previous=None)
    assert (first.language, first.sure) == ("hi", False)  # its own guess, kept for nothing
    assert choose_language(unsure, audio_s=2.9, previous="es").language == "es"
    # The surest wrong answer measured (the same clip, cut 100 ms shorter): still unsure.
    misheard = choose_language([("el", 0.77), ("es", 0.14)], audio_s=2.8, previous="es")
    assert (misheard.language, misheard.sure) == ("es", False)
    listed = choose_language(unsure, audio_s=2.9, previous=None, candidates=("es", "en"))
    assert (listed.language, listed.sure) == ("es", True)  # sure among the candidates
    sure = [("de", 0.99), ("en", 0.01)]
    switch = choose_language(sure, audio_s=3, previous="es")
    assert (switch.language, switch.sure) == ("de", True)  # a real switch
    assert not choose_language(sure, audio_s=0.8, previous="es").sure  # too short
    assert choose_language(sure, audio_s=0.8, previous="es").language == "es"


ALIASES = [  # what a URL may say -> (Whisper code decoded in, language_code reported)
    ("nb", "no", "nb"), ("nb-NO", "no", "nb-NO"), ("nn", "no", "nn"), ("no", "no", "no"),
    ("fil", "tl", "fil"), ("iw", "he", "iw"), ("in", "id", "in"), ("ji", "yi", "ji"),
    ("jv", "jw", "jv"), ("zh-Hans", "zh", "zh-Hans"), ("zh-hant", "zh", "zh-Hant"),
    ("cmn", "zh", "cmn"), ("zh-CN", "zh", "zh-CN"), ("zh-TW", "zh", "zh-TW"),
    ("en_US", "en", "en-US"), ("es_es", "es", "es-ES"),
]


@pytest.mark.parametrize("tag,code,reported", ALIASES)
def test_language_aliases(tag, code, reported):
    opts = parse_options(f"model=base&language={tag}", SttSettings(), BASE)
    assert (opts.language, opts.language_code) == (code, reported)


def test_a_listed_language_is_reported_as_the_url_spelled_it():
    opts = parse_options("model=base&language=nb-NO,en_US", SttSettings(), BASE)
    assert opts.candidates == ("no", "en")
    assert (opts.tag_for("no"), opts.tag_for("en"), opts.tag_for("jw")) == (
        "nb-NO", "en-US", "jv")


@pytest.mark.parametrize("query,param", [
    ("language=", "language"), ("language=%20", "language"), ("model=", "model"),
    ("endpointing_ms=", "endpointing_ms"), ("vad_threshold=", "vad_threshold"),
    ("interim=", "interim"), ("keyterms=", "keyterms"), ("keyterms=Rymi,,Acme", "keyterms"),
    ("model=base&language=es,", "language"),
])
def test_a_blank_value_is_refused_naming_the_option(query, param):
    with pytest.raises(OptionError) as err:
        parse_options(query, SttSettings(), BASE)
    assert err.value.param == param and "accepted" in err.value.message
    assert "empty" in err.value.message


@pytest.mark.parametrize("tag", [a[0] for a in ALIASES])
async def test_alias_accepted_on_the_handshake(url, auth, tag):
    async with websockets.connect(f"{url}?model=base&language={tag}",
                                  additional_headers=auth) as ws:
        await ws.send(json.dumps({"type": "close"}))


@pytest.mark.parametrize("query,param,accepted", [
    ("model=base&language=xq-XQ", "language", "es_ES"),  # bogus: the accepted forms
    ("model=base&language=nb,", "language", "es,en"),
    ("language=", "language", "auto"), ("model=", "model", "tiny.en"),
    # base has no Cantonese token (large-v3 added it): accepted, it decoded empty finals.
    ("model=base&language=yue", "language", "99 languages"),
])
async def test_bogus_or_blank_language_refused_on_the_handshake(url, auth, query, param,
                                                                accepted):
    with pytest.raises(websockets.InvalidStatus) as err:
        async with websockets.connect(f"{url}?{query}", additional_headers=auth):
            pass
    assert err.value.response.status_code == 400
    body = json.loads(err.value.response.body)["error"]
    print(f"\n{query} -> {body['message']}")
    assert body["param"] == param and accepted in body["message"]


@pytest.mark.parametrize("query,field,value", [
    ("endpointing_ms=100", "endpointing_ms", 100),
    ("endpointing_ms=10000", "endpointing_ms", 10000),
    ("vad_threshold=0.05", "vad_threshold", 0.05),
    ("vad_threshold=0.95", "vad_threshold", 0.95),
    ("interim=yes", "interim", True), ("interim=ON", "interim", True),
    ("interim=1", "interim", True), ("interim=no", "interim", False),
    ("interim=Off", "interim", False), ("interim=0", "interim", False),
])
def test_every_value_the_refusal_says_is_accepted_is_taken(query: str, field: str,
                                                           value: object) -> None:
    """The ends of each range the 400 names, and each spelling of a yes or no: an agent
    set to what the server itself said it accepts must not be refused."""
    assert getattr(parse(query), field) == value


def test_keyterms_up_to_the_limit_are_taken_once_each() -> None:
    """max_keyterms terms are allowed (one more is the 400); a term given twice (in one
    value or a repeated ``keyterms``) is one hotword, not two."""
    limit = SttSettings().max_keyterms
    terms = [f"t{i}" for i in range(limit)]
    assert parse("keyterms=" + ",".join(terms)).keyterms == tuple(terms)
    opts = parse("keyterms=Rymi,Acme&keyterms=Rymi")
    assert opts.keyterms == ("Rymi", "Acme") and opts.hotwords == "Rymi, Acme"


@pytest.mark.parametrize("term", ["Ry\tmi", "Ry\nmi", "Rymi\x00", "Ry\u200bmi"])
def test_a_keyterm_with_a_control_character_is_refused(term: str) -> None:
    """A hotword goes into the decoder's prompt: a tab, a newline or a NUL in it (a
    template's stray escape) is refused by name, not fed to Whisper."""
    from urllib.parse import quote

    with pytest.raises(OptionError) as err:
        parse("keyterms=" + quote(term))
    assert err.value.param == "keyterms"


def test_two_tags_for_one_language_report_the_first() -> None:
    """``nb-NO,nn-NO`` both decode as Whisper's ``no``: a final in it reports the first
    tag the URL gave, as the agent listed its main language first."""
    opts = parse_options("model=base&language=nb-NO,nn-NO,en", SttSettings(), BASE)
    assert opts.candidates == ("no", "en")
    assert opts.tag_for("no") == "nb-NO"


def test_an_unsure_first_utterance_keeps_the_first_candidate_unless_clearly_beaten() -> None:
    """``language=es,en`` with an unsure detection: Spanish (the agent's main language)
    unless English is at least twice as likely and fairly likely."""
    from servers.stt.languages import choose_language

    probs = [("en", 0.45), ("es", 0.30), ("fr", 0.25)]  # among es,en: en 0.6, es 0.4
    close = choose_language(probs, audio_s=2.0, previous=None, candidates=("es", "en"))
    assert (close.language, close.detected, close.sure) == ("es", "en", False)
    clear = choose_language([("en", 0.70), ("es", 0.30)], audio_s=0.8, previous=None,
                            candidates=("es", "en"))
    assert (clear.language, clear.sure) == ("en", False)
