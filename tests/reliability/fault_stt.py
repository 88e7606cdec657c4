"""The STT server with a Whisper engine that fails every decode after the first N, for
fault tests (``RYMI_STT_FAULT_AFTER``: decodes that succeed first, the two warm-ups
included: one per lane)."""

from __future__ import annotations

import os
import sys

import servers.stt.models as stt_models
from servers.stt.engine import WhisperEngine


class FailingEngine(WhisperEngine):
    calls = 0

    def transcribe(self, audio, options):  # noqa: ANN001
        FailingEngine.calls += 1
        if FailingEngine.calls > int(os.environ.get("RYMI_STT_FAULT_AFTER", "1")):
            raise RuntimeError("injected decode fault")
        return super().transcribe(audio, options)


def main() -> int:
    # start_server names the port after this module (RYMI_FAULT_STT_PORT).
    for key in ("PORT", "HOST"):
        if f"RYMI_FAULT_STT_{key}" in os.environ:
            os.environ[f"RYMI_STT_{key}"] = os.environ[f"RYMI_FAULT_STT_{key}"]
    stt_models.WhisperEngine = FailingEngine  # what the model registry builds
    from servers.stt.__main__ import main as stt_main
    return stt_main()


if __name__ == "__main__":
    sys.exit(main())
