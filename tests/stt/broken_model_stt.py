"""The STT server where the base model fails to load (fault
injection: a broken model folder asked for with ``?model=``)."""

from __future__ import annotations

import sys

from servers.stt.engine import WhisperEngine
from tests.support.stt_double import serve_stt_with


class BrokenOthersEngine(WhisperEngine):
    def __init__(self, model_path, **kwargs):  # type: ignore[no-untyped-def]
        if "base" in str(model_path):
            raise RuntimeError("injected load failure: model.bin is truncated")
        super().__init__(model_path, **kwargs)


def main() -> int:
    return serve_stt_with(BrokenOthersEngine, "broken_model_stt")


if __name__ == "__main__":
    sys.exit(main())
