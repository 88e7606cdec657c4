"""Settings read as an operator writes them: blank variables, shared values, flags."""

from __future__ import annotations

import os

import pytest

from rymi_endpoints.demo.config import DemoSettings
from servers.common.config import ServerSettings, load_settings, setting_from_env
from servers.llm.config import LlmSettings
from servers.stt.config import SttSettings
from servers.tts.config import TtsSettings

ALL = (SttSettings, TtsSettings, LlmSettings, DemoSettings)


@pytest.fixture(autouse=True)
def _no_rymi_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("RYMI_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_every_blank_variable_is_the_default(cls: type[ServerSettings],
                                             monkeypatch: pytest.MonkeyPatch):
    """A compose file's `RYMI_TTS_PORT: ${TTS_PORT:-}` must start the server on its
    defaults: not refuse it, and never read "" as a value (the cwd for a path, every
    interface for the host, no served model name)."""
    defaults = load_settings(cls, [])
    prefix = cls.model_config["env_prefix"]
    for i, name in enumerate(cls.model_fields):
        monkeypatch.setenv(f"{prefix}{name}".upper(), " " * (i % 2))  # "" and " "
    blank = load_settings(cls, [])
    assert blank.model_dump() == defaults.model_dump()


@pytest.mark.parametrize("blank", ["", " ", "\n"])  # (a Secret made from a file: "\n")
def test_a_blank_own_variable_leaves_the_shared_one_in_force(monkeypatch: pytest.MonkeyPatch,
                                                             blank: str):
    # An own RYMI_TTS_TOKENS left blank must not open the TTS server that the shared
    # RYMI_TOKENS locks with the other two.
    monkeypatch.setenv("RYMI_TOKENS", "shared-secret")
    monkeypatch.setenv("RYMI_TTS_TOKENS", blank)
    monkeypatch.setenv("RYMI_LOG_LEVEL", "debug")
    monkeypatch.setenv("RYMI_TTS_LOG_LEVEL", blank)
    settings = load_settings(TtsSettings, [])
    assert settings.token_list() == ["shared-secret"]
    assert settings.log_level == "debug"
    assert setting_from_env("tts", "tokens") == "shared-secret"  # what `up` and the demo see
    monkeypatch.setenv("RYMI_TTS_TOKENS", "own-secret")
    assert load_settings(TtsSettings, []).token_list() == ["own-secret"]


def test_a_blank_shared_variable_is_unset(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RYMI_MODELS_DIR", "")
    monkeypatch.setenv("RYMI_DRAIN_TIMEOUT_S", "")
    settings = load_settings(SttSettings, [])
    assert settings.models_dir == ServerSettings.model_fields["models_dir"].default_factory()
    assert settings.drain_timeout_s == 20.0


@pytest.mark.parametrize("flag", ["--host", "--models-dir", "--voice"])
def test_a_blank_flag_is_refused_by_name(flag: str, capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as stop:
        load_settings(TtsSettings, [flag, ""], prog="rymi-tts")
    assert stop.value.code == 2
    assert f"{flag} is blank" in capsys.readouterr().err


@pytest.mark.parametrize("written", ["INFO", "Warning", " debug"])
def test_a_log_level_is_taken_in_any_case(monkeypatch: pytest.MonkeyPatch, written: str):
    """Deployment files write LOG_LEVEL=INFO as often as info: refused, the server did
    not start."""
    monkeypatch.setenv("RYMI_TTS_LOG_LEVEL", written)
    assert load_settings(TtsSettings, []).log_level == written.strip().lower()


def test_no_home_is_no_crash_at_start(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A container's bare uid (no HOME, no passwd entry): Path.home() raised, and every
    server stopped at start with a traceback, though its default model ships in a
    package and this folder may never be read."""
    import tempfile
    from pathlib import Path

    from servers.common.config import default_models_dir

    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    assert default_models_dir().is_relative_to(tempfile.gettempdir())
