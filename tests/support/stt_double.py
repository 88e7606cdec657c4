"""Run the real STT server with a fault-injecting Whisper engine in place of the real one
(``python -m tests.stt.slow_stt`` and friends): what the model registry builds is swapped,
everything else is the production server."""

from __future__ import annotations

import os

from servers.stt.engine import WhisperEngine


def serve_stt_with(engine: type[WhisperEngine], module: str) -> int:
    """Serve, then exit as the real server does (``servers.stt.__main__.run``)."""
    # start_server names the port after the module (RYMI_<MODULE>_PORT): hand it on.
    for key in ("PORT", "HOST"):
        if f"RYMI_{module.upper()}_{key}" in os.environ:
            os.environ[f"RYMI_STT_{key}"] = os.environ[f"RYMI_{module.upper()}_{key}"]
    import servers.stt.models as stt_models
    stt_models.WhisperEngine = engine
    from servers.common.serve import exit_now
    from servers.stt.__main__ import main as stt_main
    exit_now(stt_main())
    return 1  # not reached
