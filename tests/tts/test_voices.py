"""Choosing a voice and a style: instructions, languages and the voices folder."""

from __future__ import annotations

import pytest

from servers.tts.instructions import style_for


def test_instructions_map_pace_and_style_and_ignore_the_rest() -> None:
    assert style_for("please speak slowly").length > 1.0
    assert style_for("quickly!").length < 1.0
    calm = style_for("calm and reassuring")
    lively = style_for("expressive")
    assert calm.noise < 1.0 < lively.noise
    assert style_for("like a pirate, in Klingon") == style_for(None)
    assert style_for(None, speed=2.0).length == pytest.approx(0.5)
    # A word negated is not asked for ("not too fast" sped speech up).
    assert style_for("not too fast, please") == style_for(None)
    assert style_for("don't be monotone; speak slowly") == style_for("speak slowly")
    # ...in its own clause only: these lost their pace to a negation before it.
    for asked in ("No jargon. Speak slowly.", "Don't rush, speak slowly.",
                  "Never sound robotic; speak slowly and warmly.", "No, speak slowly",
                  "Not monotone but slowly"):
        assert style_for(asked).length == style_for("slowly").length, asked
    assert style_for("Speak clearly. Don't speak slowly.") == style_for(None)
    # A pace asked for outright wins over one a mood implies, wherever it stands; the
    # mood keeps its variation.
    assert style_for("excited, fast").length == style_for("fast").length
    assert style_for("excited, fast").noise == style_for("excited").noise
    assert style_for("slowly, not quickly").length == style_for("slowly").length
    assert style_for("excited").length < 1.0


def test_a_language_gets_its_exact_voice_before_a_cousin(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The default voice speaks another language: en-US asked for gets the en-US voice,
    not the en-GB one listed before it (any English was taken first)."""
    from servers.tts.voices import VoiceCatalog, VoiceInfo

    voices = [VoiceInfo(name, tmp_path / f"{name}.onnx", lang, 22050, name)
              for name, lang in (("es", "es-ES"), ("gb", "en-GB"), ("us", "en-US"))]
    catalog = VoiceCatalog(voices, "es")
    assert catalog.for_language("en-US").id == "us"  # type: ignore[union-attr]
    assert catalog.for_language("en-AU").id == "gb"  # type: ignore[union-attr]
    assert catalog.for_language("es-MX").id == "es"  # type: ignore[union-attr]
    assert catalog.for_language("fr-FR") is None


def test_voice_catalog_scans_a_voices_dir_once_per_file(tmp_path, voice_path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from servers.tts.voices import VoiceCatalog

    extra = tmp_path / "voices" / "en_GB-test-low"
    extra.mkdir(parents=True)
    shutil.copy(voice_path, extra / "en_GB-test-low.onnx")
    config = voice_path.with_name(voice_path.name + ".json").read_text()
    (extra / "en_GB-test-low.onnx.json").write_text(config.replace('"en_US"', '"en_GB"'))
    catalog = VoiceCatalog.discover("piper-en_US-joe-medium", tmp_path / "models", tmp_path)
    assert catalog.ids == ["piper-en_US-joe-medium", "en_GB-test-low"]
    assert catalog.get("en_US-joe-medium").id == "piper-en_US-joe-medium"  # alias
    # The default voice speaks English, whatever the region asked for; a voice of another
    # language is the first exact match, then the first of its primary language.
    assert catalog.for_language("en-GB").id == "piper-en_US-joe-medium"
    assert catalog.for_language("en").id == "piper-en_US-joe-medium"
    assert catalog.for_language("de") is None
    assert catalog.languages == ["en-GB", "en-US"]
    # The operator's en-GB voice stays the voice for the "en-US" Rymi sends (the packaged
    # en-US voice, an exact match, took its place).
    british = VoiceCatalog.discover(str(extra / "en_GB-test-low.onnx"), tmp_path / "models",
                                    tmp_path)
    assert british.for_language("en-US").id == british.default_id == "en_GB-test-low"


def test_an_operators_voice_named_as_a_packaged_file_is_the_one_that_answers(tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    """A voices_dir voice whose file is named as a packaged voice's ("en_US-joe-medium",
    retrained) was listed under that id, and the packaged voice answered to it. The
    operator is told which name is which."""
    import logging

    from servers.tts.voices import VoiceCatalog, VoiceInfo

    packaged = VoiceInfo("piper-joe", tmp_path / "pkg" / "en_US-joe-medium.onnx", "en-US",
                         22050, "joe")
    own = VoiceInfo("en_US-joe-medium", tmp_path / "own" / "en_US-joe-medium.onnx",
                    "en-US", 22050, "joe, retrained")
    with caplog.at_level(logging.WARNING, logger="rymi.tts.voices"):
        catalog = VoiceCatalog([packaged, own], "piper-joe")
    assert "'en_US-joe-medium' is that voice, 'piper-joe' the other" in caplog.text
    assert catalog.ids == ["piper-joe", "en_US-joe-medium"]
    assert catalog.get("en_US-joe-medium") is own
    assert catalog.get("piper-joe") is packaged
    assert catalog.get("nope") is None


def test_a_voices_dir_mistake_is_said(tmp_path, voice_path, caplog) -> None:  # type: ignore[no-untyped-def]
    """A voices_dir that is no folder stops the start (it was skipped: every call for
    the operator's voices a 404); a voice with no config beside it is warned about."""
    import shutil

    from rymi_endpoints.models.catalog import ModelNotReady
    from servers.tts.voices import VoiceCatalog

    with pytest.raises(ModelNotReady, match="is not a folder"):
        VoiceCatalog.discover("piper-en_US-joe-medium", tmp_path / "models", tmp_path / "nope")
    shutil.copy(voice_path, tmp_path / "en_GB-alan-medium.onnx")  # its .onnx.json missing
    with caplog.at_level("WARNING", logger="rymi.tts.voices"):
        catalog = VoiceCatalog.discover("piper-en_US-joe-medium", tmp_path / "models",
                                        tmp_path)
    assert "en_GB-alan-medium" not in catalog.ids
    assert "no en_GB-alan-medium.onnx.json beside it" in caplog.text


def test_a_voice_piper_cannot_speak_with_is_not_offered(tmp_path, voice_path, caplog) -> None:  # type: ignore[no-untyped-def]
    """A config with sample rate 0, or an espeak voice espeak-ng lacks ("en-gb"), was
    listed and ready, then a 500 on every request for the voice."""
    import json
    import shutil

    from rymi_endpoints.models.catalog import ModelNotReady
    from servers.tts.voices import VoiceCatalog

    config = json.loads(voice_path.with_name(voice_path.name + ".json").read_text())
    for name, change in (("zero-rate", {"audio": {**config["audio"], "sample_rate": 0}}),
                         ("no-espeak", {"espeak": {"voice": "en-gb"}})):
        shutil.copy(voice_path, tmp_path / f"{name}.onnx")
        (tmp_path / f"{name}.onnx.json").write_text(json.dumps({**config, **change}))
    with caplog.at_level("WARNING", logger="rymi.tts.voices"):
        catalog = VoiceCatalog.discover("piper-en_US-joe-medium", tmp_path / "models",
                                        tmp_path)
    assert catalog.ids == ["piper-en_US-joe-medium"]
    assert "audio.sample_rate 0 in its config is not a sample rate" in caplog.text
    assert "espeak-ng has no voice 'en-gb'" in caplog.text
    # The voices_dir inside models_dir (both walked): each file read, and said, once.
    caplog.clear()
    with caplog.at_level("WARNING", logger="rymi.tts.voices"):
        VoiceCatalog.discover("piper-en_US-joe-medium", tmp_path, tmp_path / ".")
    assert caplog.text.count("zero-rate.onnx") == 1, caplog.text
    with pytest.raises(ModelNotReady, match="no-espeak.onnx: espeak-ng has no voice"):
        VoiceCatalog.discover(str(tmp_path / "no-espeak.onnx"), tmp_path / "models", None)


def test_a_voice_whose_model_file_is_cut_short_is_not_offered(tmp_path, voice_path, caplog) -> None:  # type: ignore[no-untyped-def]
    """A copy or download cut short (or a Git LFS pointer in its place) was listed, and
    every request for the voice was a 500 "Protobuf parsing failed". Each voice's file is
    checked at start: a whole one passes, the rest are said and skipped."""
    import shutil

    from rymi_endpoints.models.catalog import ModelNotReady
    from servers.tts.onnx_file import onnx_problem
    from servers.tts.voices import VoiceCatalog

    data = voice_path.read_bytes()
    assert onnx_problem(voice_path) is None
    files = {"half": data[: len(data) // 2], "short-by-one": data[:-1], "empty": b"",
             "lfs-pointer": b"version https://git-lfs.github.com/spec/v1\noid sha256:0\n",
             "trailing-newline": data + b"\n", "zeros": bytes(4096)}
    for name, content in files.items():
        (tmp_path / f"{name}.onnx").write_bytes(content)
        shutil.copy(voice_path.with_name(voice_path.name + ".json"),
                    tmp_path / f"{name}.onnx.json")
    shutil.copy(voice_path, tmp_path / "whole.onnx")
    shutil.copy(voice_path.with_name(voice_path.name + ".json"), tmp_path / "whole.onnx.json")
    with caplog.at_level("WARNING", logger="rymi.tts.voices"):
        catalog = VoiceCatalog.discover("piper-en_US-joe-medium", tmp_path / "models",
                                        tmp_path)
    assert catalog.ids == ["piper-en_US-joe-medium", "whole"]
    for name in files:
        assert f"skipping voice {tmp_path / name}.onnx: its model file: " in caplog.text
    assert caplog.text.count("it is cut short") == 2 and "it is empty" in caplog.text
    with pytest.raises(ModelNotReady, match="half.onnx: its model file: it is cut short"):
        VoiceCatalog.discover(str(tmp_path / "half.onnx"), tmp_path / "models", None)


def test_the_first_style_word_wins_and_the_pace_stays_in_its_bounds() -> None:
    """As the TTS README says: the first style word found wins ("calm, then cheerful" is
    calm); a slow ``speed`` times a slow word stays within piper's length bound (2.9x
    was a drawl of a few words a minute)."""
    assert style_for("calm, then cheerful").noise == style_for("calm").noise
    assert style_for("cheerful, then calm").noise == style_for("cheerful").noise
    assert style_for("very slowly", speed=0.5).length == pytest.approx(2.5)
    assert style_for("very quickly", speed=4.0).length == pytest.approx(0.4)


def test_a_voice_file_named_in_no_utf8_is_skipped_and_said(tmp_path, voice_path, caplog) -> None:  # type: ignore[no-untyped-def]
    """A voice file whose name is not UTF-8 (Latin-1 "é" from another system) gave an id
    no JSON answer can hold: GET /voices was a 500 for every caller, nothing said."""
    import os
    import shutil

    from servers.tts.voices import VoiceCatalog

    folder = os.fsencode(tmp_path)
    for suffix in (b".onnx", b".onnx.json"):
        shutil.copy(f"{voice_path}{suffix[5:].decode()}",
                    os.path.join(folder, b"en_US-caf\xe9-medium" + suffix))
    shutil.copy(voice_path, tmp_path / "en_US-cafe-medium.onnx")
    shutil.copy(f"{voice_path}.json", tmp_path / "en_US-cafe-medium.onnx.json")
    with caplog.at_level("WARNING", logger="rymi.tts.voices"):
        catalog = VoiceCatalog.discover("piper-en_US-joe-medium", tmp_path / "models",
                                        tmp_path)
    assert "en_US-cafe-medium" in catalog.ids  # its neighbour in UTF-8 is offered
    assert all(voice.encode() for voice in catalog.ids)  # each one JSON can hold
    assert caplog.text.count("is not UTF-8 text") == 1, caplog.text
