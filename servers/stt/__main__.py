"""``python -m servers.stt`` / ``rymi-stt``: flags over ``RYMI_STT_*`` settings, then serve."""

from __future__ import annotations

from rymi_endpoints.models.catalog import ModelNotReady
from servers.common.config import load_settings
from servers.common.logs import configure_logging, fatal
from servers.common.serve import CANNOT_START, exit_now, serve

from .app import create_app
from .config import SttSettings

WS_MAX_FACTOR = 8  # frames up to 8x max_frame_bytes reach the session (8 MiB by default)


def main(argv: list[str] | None = None) -> int:
    settings = load_settings(SttSettings, argv, prog="rymi-stt")
    configure_logging(settings.log_level)  # (the catalog's warnings come before serve's)
    # uvicorn closes frames over ws_max_size itself, silently (1009 with no event, the
    # utterance in progress lost); let frames far past our limit through so the session
    # can send its error event and pending final first. Only past that is it uvicorn's.
    try:  # the served models are resolved here: a missing one is one clear line, and
        app = create_app(settings)  # the exit code of every server that cannot start
    except ModelNotReady as exc:
        fatal(f"stt: cannot start: ModelNotReady: {exc}")
        return CANNOT_START
    # No keepalive pings: back-pressure stops reading the socket while decodes catch up
    # (session.py), which leaves the client's pong unread too, so uvicorn cut a held
    # session at the ping timeout (1011, no event, the accepted audio lost). A peer that
    # is gone is found by the session's own limits (idle_timeout_s, send_timeout_s), each
    # with its event and close code.
    # No permessage-deflate: PCM speech deflates to 0.88 of its size (12% of 256 kbit/s,
    # about 100 us a frame for the sender), while a frame of zeros deflates 370-1000x: a
    # client's 2 s of compressed 16 KB control frames queued 35 s of this server's work
    # in the kernel's socket buffers, done even after it left. Each byte read is now a
    # byte of work at most.
    return serve(app, settings, "stt",
                 ws_max_size=max(WS_MAX_FACTOR * settings.max_frame_bytes, 1 << 20),
                 ws_ping_interval=None, ws_ping_timeout=None, ws_per_message_deflate=False)


def run() -> None:
    """``rymi-stt`` and ``python -m servers.stt``. Without joining the decode threads: a
    decode the drain cut off runs on in its executor's thread, which the interpreter
    joined at exit (the process outlived the drain bound by the rest of that decode,
    10-15 s seen). Its caller has been told the final is lost."""
    exit_now(main())


if __name__ == "__main__":
    run()
