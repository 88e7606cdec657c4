"""``python -m servers.llm`` / ``rymi-llm``: the OpenAI-compatible LLM server."""

from __future__ import annotations

import sys

from servers.common.config import load_settings
from servers.common.serve import serve

from .app import create_app
from .config import LlmSettings


def main(argv: list[str] | None = None) -> int:
    settings = load_settings(LlmSettings, argv, prog="rymi-llm")
    return serve(create_app(settings), settings, "llm")


# vLLM spawns worker processes that re-import __main__: start the server only here.
if __name__ == "__main__":
    sys.exit(main())
