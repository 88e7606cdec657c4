"""``python -m servers.llm`` / ``rymi-llm``: the OpenAI-compatible LLM server."""

from __future__ import annotations

import sys

from servers.common.config import load_settings
from servers.common.listeners import inherited_sockets, is_worker
from servers.common.logs import configure_logging
from servers.common.serve import exit_now, serve
from servers.common.workers import supervise

from .app import create_app
from .config import LlmSettings


def main(argv: list[str] | None = None) -> int:
    settings = load_settings(LlmSettings, argv, prog="rymi-llm")
    if settings.workers > 1 and not is_worker():
        return supervise("servers.llm", sys.argv[1:] if argv is None else argv,
                         settings.host, settings.port, settings.workers,
                         stop_timeout_s=settings.drain_delay_s + settings.drain_timeout_s + 10,
                         log_level=settings.log_level)
    configure_logging(settings.log_level)  # (before the app's own start-up lines)
    return serve(create_app(settings), settings, "llm", socks=inherited_sockets())


def run() -> None:
    """``rymi-llm`` and ``python -m servers.llm``."""
    exit_now(main())


# vLLM spawns worker processes that re-import __main__: start the server only here.
if __name__ == "__main__":
    run()
