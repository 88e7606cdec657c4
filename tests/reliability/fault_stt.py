"""The STT server with a Whisper engine that fails every decode after the first N, for
fault tests (``RYMI_STT_FAULT_AFTER``: decodes that succeed first, the two warm-ups
included: one per lane), or, with ``RYMI_STT_FAULT_LONGER_THAN_S``, every decode of more
audio than that; ``RYMI_STT_FAULT_DELAY_S``: how long a failing decode runs before it
raises)."""

from __future__ import annotations

import os
import sys
import time

from servers.stt.engine import WhisperEngine
from tests.support.stt_double import serve_stt_with


class FailingEngine(WhisperEngine):
    calls = 0

    def transcribe(self, audio, options):  # noqa: ANN001
        FailingEngine.calls += 1
        longer = os.environ.get("RYMI_STT_FAULT_LONGER_THAN_S")
        if (len(audio) > float(longer) * 16000 if longer else
                FailingEngine.calls > int(os.environ.get("RYMI_STT_FAULT_AFTER", "1"))):
            time.sleep(float(os.environ.get("RYMI_STT_FAULT_DELAY_S", "0")))
            raise RuntimeError("injected decode fault")
        return super().transcribe(audio, options)


def main() -> int:
    return serve_stt_with(FailingEngine, "fault_stt")


if __name__ == "__main__":
    sys.exit(main())
