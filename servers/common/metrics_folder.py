"""The folder where a multi-worker server's processes keep their metrics (Prometheus'
multiprocess mode): made by the supervisor, kept while it runs, removed when it ends.

It is named by the supervisor's pid; a supervisor killed outright leaves its folder, and
the next one to start removes it. It lives in the temporary directory, where a cleaner
may find it: systemd-tmpfiles' age-based cleaning skips a folder under a BSD lock, so
the supervisor holds a shared one for its lifetime.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import stat
import tempfile
from pathlib import Path

from .folders import private_folder

log = logging.getLogger("rymi.server")

PREFIX = "rymi-metrics-"  # then the supervisor's pid: tempdir/rymi-metrics-<pid>-*


def make() -> tuple[str, int]:
    """-> (the folder, a descriptor holding its lock: close it after removing it)."""
    clear_orphans()
    folder = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-")
    held = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(held, fcntl.LOCK_SH)
    return folder, held


def keep(folder: str) -> None:
    """A folder someone removed anyway: the next worker to count a new kind of metric
    failed its request (FileNotFoundError) and /metrics answered empty, saying nothing.
    Made again, and said: what the workers counted is lost until they restart."""
    try:
        if stat.S_ISDIR(os.lstat(folder).st_mode):
            return  # (the hot case: every tenth of a second)
    except FileNotFoundError:
        pass
    if folder in _said:
        return
    _said.add(folder)
    if not private_folder(folder):  # another user's by now (a name that can be guessed)
        log.error("the metrics folder %s was removed, and what is there now is not this "
                  "user's alone: /metrics is incomplete until the server restarts", folder)
        return
    _said.discard(folder)  # made again: a later removal is said again
    log.error("the metrics folder %s was removed (a temporary-files cleaner?); made again, "
              "but /metrics lacks what was counted until the server restarts", folder)


_said: set[str] = set()


def clear_orphans() -> None:
    """The folders of supervisors that are gone (SIGKILLed, OOM-killed: they had no
    chance to remove theirs): one was left for good per kill."""
    for folder in Path(tempfile.gettempdir()).glob(f"{PREFIX}*-*"):
        pid = folder.name.removeprefix(PREFIX).partition("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: alive
        return True
    return True
