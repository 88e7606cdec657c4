"""The STT server with a Whisper engine whose every decode after the warm-ups takes
``RYMI_STT_SLOW_DECODE_S`` longer (fault injection: a server that cannot keep up)."""

from __future__ import annotations

import os
import sys
import time

from servers.stt.engine import WhisperEngine
from tests.support.stt_double import serve_stt_with

WARMUPS = 2  # one per lane


class SlowEngine(WhisperEngine):
    calls = 0

    def transcribe(self, audio, options):  # noqa: ANN001
        SlowEngine.calls += 1
        if SlowEngine.calls > WARMUPS:
            time.sleep(float(os.environ.get("RYMI_STT_SLOW_DECODE_S", "2")))
        return super().transcribe(audio, options)


def main() -> int:
    return serve_stt_with(SlowEngine, "slow_stt")


if __name__ == "__main__":
    sys.exit(main())
