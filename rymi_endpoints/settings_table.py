"""The README's settings table, generated from the settings classes (one source of truth)."""

from __future__ import annotations

import importlib

from servers.common.config import SECRET_FIELDS, SHARED_FIELDS, ServerSettings

SERVER_CONFIGS = {"stt": "servers.stt.config", "tts": "servers.tts.config",
                  "llm": "servers.llm.config", "demo": "rymi_endpoints.demo.config"}


def _settings_classes() -> dict[str, type[ServerSettings]]:
    out = {}
    for name, module in SERVER_CONFIGS.items():
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError:
            continue
        for obj in vars(mod).values():
            if isinstance(obj, type) and issubclass(obj, ServerSettings) and \
                    obj is not ServerSettings:
                out[name] = obj
    return out


def _default(field) -> str:
    if field.default_factory is not None:
        return "(see description)"
    value = field.default
    return "" if value is None else f"`{value}`"


def _flag(name: str) -> str:
    return "(env only: a secret)" if name in SECRET_FIELDS else f"`--{name.replace('_', '-')}`"


def markdown_table() -> str:
    rows = ["| server | environment variable | flag | default | what it does |",
            "|---|---|---|---|---|"]
    for name, field in ServerSettings.model_fields.items():
        env = f"RYMI_{{STT,TTS,LLM,DEMO}}_{name.upper()}"
        if name in SHARED_FIELDS:
            env += f" or RYMI_{name.upper()}"
        rows.append(f"| all | `{env}` | {_flag(name)} | {_default(field)} "
                    f"| {field.description or ''} |")
    for server, cls in _settings_classes().items():
        prefix = cls.model_config.get("env_prefix", "")
        for name, field in cls.model_fields.items():
            base = ServerSettings.model_fields.get(name)
            if base is not None and base.default == field.default:
                continue
            rows.append(f"| {server} | `{prefix}{name.upper()}` | {_flag(name)} "
                        f"| {_default(field)} | {field.description or ''} |")
    return "\n".join(rows)


START, END = "<!-- settings:start -->", "<!-- settings:end -->"


def readme_with_table(readme: str) -> str:
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{markdown_table()}\n{END}{tail}"
