"""``python -m rymi_endpoints.demo``: serve the demo console and print its URL."""

from __future__ import annotations

import logging
import sys

import uvicorn

from servers.common.config import load_settings
from servers.common.logs import configure_logging
from servers.common.serve import DrainingServer

from .app import create_app
from .config import DemoSettings

log = logging.getLogger("rymi.demo")


def main(argv: list[str] | None = None) -> int:
    settings = load_settings(DemoSettings, argv, prog="rymi-demo")
    configure_logging(settings.log_level)
    app = create_app(settings)
    # Not servers.common.serve.serve(): that one announces the bearer check of a server,
    # and this app has none of its own (the servers check the token the page forwards).
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_config=None, access_log=False,
        ssl_certfile=str(settings.tls_cert) if settings.tls_cert else None,
        ssl_keyfile=str(settings.tls_key) if settings.tls_key else None,
        server_header=False, lifespan="on",
        timeout_graceful_shutdown=max(1, int(settings.drain_timeout_s)))
    server = DrainingServer(config, app.state.server, settings.drain_timeout_s)
    host = "localhost" if settings.host in ("127.0.0.1", "0.0.0.0", "::") else settings.host
    log.info("demo proxies STT %s, TTS %s, LLM %s", settings.stt_url, settings.tts_url,
             settings.llm_url)
    print(f"demo console: {settings.scheme}://{host}:{settings.port}/", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
