"""The TTS server with a fault-injecting engine around the real piper engine, for tests.

The real engine does all the work; the wrapper only adds faults, keyed by words in the
text so a test chooses exactly which piece goes wrong:
- a piece containing "kaboom" raises (the engine failing mid-request); "wordless" raises
  an exception with no message (as a MemoryError() is);
- a piece containing "dawdle" first sleeps ``RYMI_FAULT_TTS_DAWDLE_S`` (a busy worker).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servers.common.config import load_settings
from servers.common.serve import serve
from servers.tts.app import create_app
from servers.tts.config import TtsSettings
from servers.tts.engine import PiperEngine, Style
from servers.tts.voices import VoiceInfo


class FaultTtsSettings(TtsSettings):
    model_config = SettingsConfigDict(env_prefix="RYMI_FAULT_TTS_", extra="ignore")
    dawdle_s: float = Field(3.0, description="How long a 'dawdle' piece blocks its worker.")


class FaultyEngine(PiperEngine):
    def __init__(self, settings: FaultTtsSettings) -> None:
        super().__init__(onnx_threads=settings.onnx_threads,
                         max_loaded=settings.max_loaded_voices, keep=settings.voice)
        self.dawdle_s = settings.dawdle_s

    def synthesize(self, voice: VoiceInfo, text: str, style: Style,
                   withdrawn: Callable[[], bool] = lambda: False) -> np.ndarray:
        if "kaboom" in text.lower():
            raise RuntimeError("injected engine fault")
        if "wordless" in text.lower():
            raise MemoryError()
        if "dawdle" in text.lower():
            time.sleep(self.dawdle_s)
        return super().synthesize(voice, text, style, withdrawn)


def main(argv: list[str] | None = None) -> int:
    settings = load_settings(FaultTtsSettings, argv, prog="fault-tts")
    return serve(create_app(settings, engine=FaultyEngine(settings)), settings, "tts")


if __name__ == "__main__":
    sys.exit(main())
