"""``python -m servers.tts`` / ``rymi-tts``: the Rymi custom-voice endpoint on piper."""

from __future__ import annotations

import sys

from servers.common.config import load_settings
from servers.common.logs import configure_logging
from servers.common.serve import serve

from .app import create_app
from .config import TtsSettings


def main(argv: list[str] | None = None) -> int:
    settings = load_settings(TtsSettings, argv, prog="rymi-tts")
    configure_logging(settings.log_level)  # (the voice catalog's warnings come first)
    return serve(create_app(settings), settings, "tts")


if __name__ == "__main__":
    sys.exit(main())
