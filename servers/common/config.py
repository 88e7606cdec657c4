"""Settings from environment variables and flags, validated once at start.

Every setting has one name: the field ``port`` of the TTS server is the flag
``--port`` and the environment variable ``RYMI_TTS_PORT``. Flags win over the
environment, which wins over the defaults written here (the README's table is
generated from these classes: ``rymi-endpoints settings``).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)


def default_models_dir() -> Path:
    try:
        home = Path.home()
    except RuntimeError:  # no HOME and no passwd entry (a container's bare uid): the
        # default models ship in packages, so this folder may never be read at all
        home = Path(tempfile.gettempdir())
    return home / ".cache" / "rymi-endpoints" / "models"


class _BlankIsUnset(EnvSettingsSource):
    """The environment without its blank variables: "" or only whitespace (compose's
    `${X:-}`, a Secret made from a file holding a newline) is unset, so the shared value
    or the default applies. Read as a value, a blank was the cwd for a path, every
    interface for the host, an open server where the shared RYMI_TOKENS locks the
    others."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {k: v for k, v in super()._load_env_vars().items() if v is None or v.strip()}


class ServerSettings(BaseSettings):
    """Settings every server has. Subclasses set ``env_prefix`` (``RYMI_TTS_``...)."""

    model_config = SettingsConfigDict(env_prefix="RYMI_", extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _BlankIsUnset(settings_cls), dotenv_settings, file_secret_settings

    host: str = Field("127.0.0.1", description="Address to listen on (0.0.0.0 in containers; "
                      "`::`: every IPv6 and IPv4 address; a name: each address it resolves to).")
    port: int = Field(8000, ge=0, le=65535, description="TCP port.")
    tokens: str = Field(
        "",
        description="Accepted bearer tokens, comma-separated (several allow rotation). "
        "Empty and no token file: the server is open.",
    )
    token_file: Path | None = Field(None, description="File with one accepted token per line "
                                    "(read at start; `#` starts a comment line).")
    tls_cert: Path | None = Field(None, description="PEM certificate: serve https/wss directly.")
    tls_key: Path | None = Field(None, description="PEM private key for tls_cert.")
    metrics_auth: bool = Field(False, description="Require the bearer token on /metrics too.")
    drain_timeout_s: float = Field(
        20.0, gt=0, description="On SIGTERM, how long in-flight work may run before exit."
    )
    drain_delay_s: float = Field(
        0.0, ge=0, description="After SIGTERM, how long /readyz says 503 while new work is "
        "still taken, before the drain: behind a proxy that health-checks /readyz (two "
        "instances on VMs, compose replicas), set it past the proxy's check interval "
        "times its fall count, so a rolling restart refuses no call. Kubernetes: the "
        "preStop pause does this (deploy/k8s).",
    )
    max_inflight: int = Field(
        64, ge=1, description="Concurrent requests/sessions; over it: 503 + Retry-After."
    )
    send_timeout_s: float = Field(
        30.0, gt=0, description="A client that takes none of a streamed response (or of "
        "WebSocket events) for this long is cut off, and the work it started is cancelled: "
        "a stalled reader never makes the server buffer or work without bound.",
    )
    body_timeout_s: float = Field(
        30.0, gt=0, description="A request head, or a body, not fully received within "
        "this long is refused with 408 (a slow sender never holds a connection or a "
        "request slot for ever).",
    )
    models_dir: Path = Field(
        default_factory=default_models_dir, description="Where prepared models live."
    )
    log_level: str = Field("info", description="debug, info, warning or error.")
    keepalive_s: float = Field(
        75.0, gt=0, description="How long an idle HTTP keep-alive connection stays open. "
        "Longer than the idle timeout of the load balancer in front (60 s on AWS ALB), so "
        "the balancer closes first (no 502 from a request sent on a closing connection), "
        "and a caller's next turn reuses the connection instead of paying a new TCP and TLS "
        "handshake (uvicorn's default, 5 s, is shorter than the pause between turns).",
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1", description="Proxies whose X-Forwarded-For / X-Forwarded-Proto are "
        "trusted (comma-separated addresses or networks, `*` for any): the usage record's "
        "client_ip is then the caller's, not the proxy's. Set it where only your proxy can "
        "reach the server (compose, Kubernetes).",
    )

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        v = v.strip().lower()  # "INFO" and " info" as deployment files write them
        if v not in {"debug", "info", "warning", "error"}:
            raise ValueError("must be one of debug, info, warning, error")
        return v

    @field_validator("token_file", "tls_cert", "tls_key", mode="before")
    @classmethod
    def _blank_is_unset(cls, v: Any) -> Any:
        # `RYMI_TLS_CERT=` (a compose file's empty value) means "not set", not the cwd.
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("tls_cert", "tls_key")
    @classmethod
    def _tls_file(cls, v: Path | None) -> Path | None:
        if v is not None and not Path(v).is_file():
            raise ValueError(f"no such file: {v}")
        return v

    @model_validator(mode="after")
    def _tls_pair(self) -> ServerSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key must be given together")
        return self

    @field_validator("token_file")
    @classmethod
    def _token_file(cls, v: Path | None) -> Path | None:
        # Read once here, so a missing, unreadable or empty file stops start-up with one
        # line: a token file that was meant to lock the server must never leave it open.
        if v is not None and not _tokens_in_file(v):
            raise ValueError(f"no token in {v} (one token per line)")
        return v

    def token_list(self) -> list[str]:
        found = [t.strip() for t in self.tokens.split(",") if t.strip()]
        if self.token_file is not None:
            found += _tokens_in_file(self.token_file)
        return found

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"


def _tokens_in_file(path: Path) -> list[str]:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # -sig: Notepad's BOM goes
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    lines = (line.strip() for line in text.splitlines())
    return [t for t in lines if t and not t.startswith("#")]


S = TypeVar("S", bound=ServerSettings)

# Secrets are read from the environment or a file only, never from flags: a command
# line is visible to every user of the machine (ps, /proc/*/cmdline).
SECRET_FIELDS = frozenset({"tokens", "upstream_token"})


def _flag_type(annotation: Any) -> Any:
    if get_origin(annotation) is not None:  # Optional[X] and friends
        args = [a for a in get_args(annotation) if a is not type(None)]
        annotation = args[0] if args else str
    return annotation


def build_parser(cls: type[ServerSettings], prog: str) -> argparse.ArgumentParser:
    prefix = cls.model_config.get("env_prefix", "")
    parser = argparse.ArgumentParser(prog=prog, description=cls.__doc__)
    for name, field in cls.model_fields.items():
        if name in SECRET_FIELDS:
            continue
        kind = _flag_type(field.annotation)
        env = f"{prefix}{name}".upper()
        help_text = f"{field.description or ''} (env {env})"
        if kind is bool:
            parser.add_argument(
                f"--{name.replace('_', '-')}", dest=name, default=None,
                action=argparse.BooleanOptionalAction, help=help_text,
            )
        else:
            parser.add_argument(f"--{name.replace('_', '-')}", dest=name, default=None,
                                help=help_text)
    return parser


# Settings that one deployment usually shares across the three servers: ``RYMI_TOKENS``
# applies to every server unless ``RYMI_TTS_TOKENS`` (say) is set.
SHARED_FIELDS = ("tokens", "token_file", "tls_cert", "tls_key", "models_dir", "log_level",
                 "metrics_auth", "drain_timeout_s", "drain_delay_s", "send_timeout_s",
                 "body_timeout_s", "forwarded_allow_ips", "keepalive_s")


def _env(name: str) -> str | None:
    """An environment variable as the settings read it: blank is unset."""
    value = os.environ.get(name)
    return value if value and value.strip() else None


def setting_from_env(server: str, field: str) -> str | None:
    """A setting as ``load_settings`` reads it for a server: its own RYMI_<SERVER>_<FIELD>
    when set, else the shared RYMI_<FIELD>. For launchers that must agree with the
    servers they start (``up``, the demo's URLs)."""
    return _env(f"RYMI_{server.upper()}_{field.upper()}") or _env(f"RYMI_{field.upper()}")


def reachable_host(server: str) -> str:
    """Where a launcher on this machine reaches ``server`` (for a URL): the loopback for
    a wildcard bind, else the one address it binds (it answers nowhere else)."""
    host = setting_from_env(server, "host") or "127.0.0.1"
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if ":" in host:  # IPv6: "::" is every address, and a literal goes in brackets
        return "[::1]" if host == "::" else f"[{host}]"
    return host


def load_settings(cls: type[S], argv: list[str] | None = None, prog: str = "server") -> S:
    """Parse flags over the environment; on a bad value print one line and exit 2."""
    parser = build_parser(cls, prog)
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if v is not None}
    for name, value in overrides.items():
        if isinstance(value, str) and not value.strip():
            parser.error(f"--{name.replace('_', '-')} is blank: leave it out for the default")
    prefix = cls.model_config.get("env_prefix", "").upper()
    for name in SHARED_FIELDS:
        shared = _env(f"RYMI_{name.upper()}")
        if name not in overrides and shared is not None and _env(f"{prefix}{name.upper()}") is None:
            overrides[name] = shared
    try:
        return cls(**overrides)
    except ValidationError as exc:
        problems = "; ".join(_named(e, prefix, vars(args), list(cls.model_fields))
                             for e in exc.errors())
        print(f"{prog}: bad setting: {problems}", file=sys.stderr)
        raise SystemExit(2) from None


def _named(error: Any, prefix: str, flags: dict[str, Any], fields: list[str]) -> str:
    """One problem, named as the operator set it: the flag, the server's own variable,
    or the shared RYMI_<FIELD> it came from; a rule over several settings by its message,
    with the settings in it named so too. (A shared RYMI_TOKEN_FILE was named
    "RYMI_TTS_TOKEN_FILE", such a rule "RYMI_LLM_:", and its message said "workers > 1
    needs backend=upstream" to an operator who had set RYMI_LLM_WORKERS.)"""
    field = ".".join(str(p) for p in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if not field:  # a rule over several settings: its message names them
        names = "|".join(sorted(map(re.escape, fields), key=len, reverse=True))

        def rename(m: re.Match[str]) -> str:
            # A setting's name: one with an underscore, or one before a comparison
            # ("workers > 1", "backend=upstream"); not the same word in prose ("backend").
            setting = "_" in m[0] or re.match(r"\s*[=<>!]", message[m.end():])
            return _as_set(m[0], prefix, flags) if setting else m[0]

        return re.sub(rf"\b(?:{names})\b", rename, message)
    return f"{_as_set(field, prefix, flags)}: {message}"


def _as_set(field: str, prefix: str, flags: dict[str, Any]) -> str:
    """A setting's name as the operator set it (its own variable where it is unset)."""
    own = f"{prefix}{field}".upper()
    if flags.get(field) is not None:
        return "--" + field.replace("_", "-")
    if _env(own) is None and _env(f"RYMI_{field.upper()}") is not None:
        return f"RYMI_{field.upper()}"
    return own
