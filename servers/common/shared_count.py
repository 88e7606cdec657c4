"""One admission count for all the worker processes of a server (``workers.py``).

``max_inflight`` is a limit of the server, not of a process: counted per worker, a burst
that the kernel happens to spread unevenly was refused by a full worker while another
had room (seen: 4 of 32 requests refused with 8 workers and a limit of 64). The count is
a file the supervisor made and every worker maps, one 8-byte slot per worker: a worker
counts into its own slot, and admission compares the sum of all slots with the limit.
Every change is made under the file's ``fcntl`` lock (two system calls, a few
microseconds; the kernel drops the lock of a process that dies holding it). A slot per
worker is what lets the supervisor take back what a dead worker had counted in: its
slot is zeroed before its replacement starts, so a crash does not shrink the server's
capacity for good.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
import tempfile

FD_ENV = "RYMI_ADMISSION_FD"
SLOT_ENV = "RYMI_ADMISSION_SLOT"
_SLOT = struct.Struct("q")


def create(slots: int) -> int:
    """(In the supervisor.) An inheritable fd of ``slots`` zeroed counts, for the workers."""
    fd, path = tempfile.mkstemp(prefix="rymi-admission-")
    os.unlink(path)  # lives as long as a process holds it
    os.write(fd, bytes(_SLOT.size * slots))
    os.set_inheritable(fd, True)
    return fd


def clear(fd: int, slot: int) -> int:
    """(In the supervisor, for a dead worker.) Zero ``slot``; returns what it held."""
    fcntl.lockf(fd, fcntl.LOCK_EX)
    try:
        with mmap.mmap(fd, os.fstat(fd).st_size) as view:
            (held,) = _SLOT.unpack_from(view, slot * _SLOT.size)
            _SLOT.pack_into(view, slot * _SLOT.size, 0)
    finally:
        fcntl.lockf(fd, fcntl.LOCK_UN)
    return held


class SharedCount:
    """The count, mapped in this process, which counts into ``slot``."""

    def __init__(self, fd: int, slot: int) -> None:
        self._fd = fd
        size = os.fstat(fd).st_size
        self._map = mmap.mmap(fd, size)
        self._all = struct.Struct(f"{size // _SLOT.size}q")
        self._offset = slot * _SLOT.size
        if not 0 <= slot < self._all.size // _SLOT.size:
            raise ValueError(f"admission slot {slot} out of range")

    def add_below(self, limit: int) -> bool:
        """Count one more if the server's count is below ``limit``; False (and no
        change) if not."""
        fcntl.lockf(self._fd, fcntl.LOCK_EX)
        try:
            if sum(self._all.unpack_from(self._map)) >= limit:
                return False
            (mine,) = _SLOT.unpack_from(self._map, self._offset)
            _SLOT.pack_into(self._map, self._offset, mine + 1)
            return True
        finally:
            fcntl.lockf(self._fd, fcntl.LOCK_UN)

    def sub(self) -> None:
        fcntl.lockf(self._fd, fcntl.LOCK_EX)
        try:
            (mine,) = _SLOT.unpack_from(self._map, self._offset)
            _SLOT.pack_into(self._map, self._offset, mine - 1)
        finally:
            fcntl.lockf(self._fd, fcntl.LOCK_UN)


def inherited() -> SharedCount | None:
    """In a worker: the server-wide count; None in a single server."""
    fd = os.environ.get(FD_ENV)
    return SharedCount(int(fd), int(os.environ[SLOT_ENV])) if fd else None
