"""The STT server with a Whisper engine whose every decode after the warm-ups takes
``RYMI_STT_SLOW_DECODE_S`` longer (fault injection: a server that cannot keep up)."""

from __future__ import annotations

import os
import sys
import time

import servers.stt.models as stt_models
from servers.stt.engine import WhisperEngine

WARMUPS = 2  # one per lane


class SlowEngine(WhisperEngine):
    calls = 0

    def transcribe(self, audio, options):  # noqa: ANN001
        SlowEngine.calls += 1
        if SlowEngine.calls > WARMUPS:
            time.sleep(float(os.environ.get("RYMI_STT_SLOW_DECODE_S", "2")))
        return super().transcribe(audio, options)


def main() -> int:
    # start_server names the port after this module (RYMI_SLOW_STT_PORT).
    for key in ("PORT", "HOST"):
        if f"RYMI_SLOW_STT_{key}" in os.environ:
            os.environ[f"RYMI_STT_{key}"] = os.environ[f"RYMI_SLOW_STT_{key}"]
    stt_models.WhisperEngine = SlowEngine  # what the model registry builds
    from servers.stt.__main__ import main as stt_main
    return stt_main()


if __name__ == "__main__":
    sys.exit(main())
