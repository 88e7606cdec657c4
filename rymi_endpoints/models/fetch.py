"""Download a file with a progress bar and verify it before it is put in place.

Nothing is ever used unverified: bytes go to ``<dest>.part``, are hashed while they
stream, and only a matching file is renamed to ``dest``. A mismatch deletes the part
file and raises with both digests; no network raises with a plain sentence.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


class ChecksumMismatch(RuntimeError):
    pass


class FetchFailed(RuntimeError):
    pass


def new_hasher(algorithm: str, size: int | None):
    """sha256, or git's blob sha1 (what a hub reports for files kept outside LFS)."""
    if algorithm == "sha256":
        return hashlib.sha256()
    if algorithm == "git-sha1":
        if size is None:
            raise ValueError("git-sha1 needs the file size")
        h = hashlib.sha1()
        h.update(f"blob {size}\0".encode())
        return h
    raise ValueError(f"unknown checksum algorithm {algorithm!r}")


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    h = new_hasher(algorithm, path.stat().st_size)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download(url: str, dest: Path, digest: str, *, algorithm: str = "sha256",
             size: int | None = None, headers: dict[str, str] | None = None,
             timeout: float = 30.0, show_progress: bool = True) -> Path:
    if dest.exists() and file_digest(dest, algorithm) == digest:
        return dest  # already here and intact: idempotent
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        with httpx.stream("GET", url, headers=headers, follow_redirects=True,
                          timeout=timeout) as r:
            if r.status_code != 200:
                raise FetchFailed(f"GET {url} answered HTTP {r.status_code}")
            total = int(r.headers.get("content-length") or size or 0) or None
            hasher = new_hasher(algorithm, size if size is not None else total)
            with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                          TransferSpeedColumn(), TimeRemainingColumn(),
                          disable=not show_progress) as bar, part.open("wb") as out:
                task = bar.add_task(dest.name, total=total)
                for block in r.iter_bytes(1 << 20):
                    hasher.update(block)
                    out.write(block)
                    bar.advance(task, len(block))
    except httpx.HTTPError as exc:
        part.unlink(missing_ok=True)
        raise FetchFailed(f"cannot download {url}: {exc} (offline, or the host is not "
                          f"reachable from this machine?)") from None
    got = hasher.hexdigest()
    if got != digest:
        part.unlink(missing_ok=True)
        raise ChecksumMismatch(f"{dest.name}: {algorithm} is {got}, expected {digest}; "
                               f"the download was discarded")
    part.replace(dest)
    return dest
