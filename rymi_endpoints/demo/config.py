"""Settings of the demo console (env ``RYMI_DEMO_*`` or the same-named flags).

The three server URLs default to what ``rymi-endpoints up`` starts on this machine: the
same ports (``RYMI_STT_PORT``...) and, when a certificate is configured for a server (its
own ``RYMI_STT_TLS_CERT`` or the shared ``RYMI_TLS_CERT``), https/wss instead of http/ws.
So ``make cert`` + ``make run`` needs no demo-specific setting at all.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from servers.common.config import ServerSettings, reachable_host, setting_from_env

# name: (default port, scheme without TLS, scheme with TLS), as in rymi_endpoints/up.py
UPSTREAMS = {"stt": (8001, "ws", "wss"), "tts": (8002, "http", "https"),
             "llm": (8003, "http", "https")}


def default_url(server: str) -> str:
    port_default, plain, secure = UPSTREAMS[server]
    port = os.environ.get(f"RYMI_{server.upper()}_PORT") or str(port_default)
    scheme = secure if setting_from_env(server, "tls_cert") else plain
    return f"{scheme}://{reachable_host(server)}:{port}"


class DemoSettings(ServerSettings):
    """Browser demo console: a page that talks to the STT, TTS and LLM servers through a
    same-origin proxy (one certificate, no CORS)."""

    model_config = SettingsConfigDict(env_prefix="RYMI_DEMO_", extra="ignore")

    port: int = Field(8000, ge=0, le=65535, description="TCP port.")
    stt_url: str = Field("", description="STT server base URL (ws:// or wss://; http(s):// "
                         "taken as ws(s)://); the proxy adds /stt. Default: this machine's "
                         "STT port.")
    tts_url: str = Field("", description="TTS server base URL (http:// or https://); the "
                         "proxy adds /tts and /tts/voices. Default: this machine's TTS port.")
    llm_url: str = Field("", description="LLM server base URL (http:// or https://); the "
                         "proxy adds /v1/.... Default: this machine's LLM port.")
    upstream_ca: Path | None = Field(
        None, description="CA file trusted for https/wss server URLs. Default: ca.pem beside "
        "tls_cert when it exists (what `make cert` writes), else the system store.")
    upstream_timeout_s: float = Field(120.0, gt=0, description="Longest wait for a server's "
                                      "next byte before the proxy gives up.")

    @model_validator(mode="after")
    def _defaults(self) -> DemoSettings:
        # Derived here (not as field defaults) so the environment of the moment decides.
        for name in UPSTREAMS:
            url = getattr(self, f"{name}_url").rstrip("/")
            if name == "stt":  # "all three the same https://host" (README): wss for STT
                url = re.sub(r"^http(s?)://", r"ws\1://", url)
            object.__setattr__(self, f"{name}_url", url or default_url(name))
        if self.upstream_ca is None and self.tls_cert is not None:
            beside = Path(self.tls_cert).with_name("ca.pem")
            if beside.is_file():
                object.__setattr__(self, "upstream_ca", beside)
        return self
