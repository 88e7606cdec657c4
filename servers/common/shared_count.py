"""One admission count for all the worker processes of a server (``workers.py``).

``max_inflight`` is a limit of the server, not of a process: counted per worker, a burst
that the kernel happens to spread unevenly was refused by a full worker while another
had room (seen: 4 of 32 requests refused with 8 workers and a limit of 64). The count is
8 bytes of a file the supervisor made and every worker maps; a change takes an
``fcntl`` lock on it (two system calls, a few microseconds). A worker that dies leaves
its requests counted, but a dead worker stops the whole server (``workers.supervise``).
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
import tempfile

ENV = "RYMI_ADMISSION_FD"
_FMT = "q"


def create() -> int:
    """(In the supervisor.) An inheritable fd of a zeroed count, for the workers."""
    fd, path = tempfile.mkstemp(prefix="rymi-admission-")
    os.unlink(path)  # lives as long as a process holds it
    os.write(fd, struct.pack(_FMT, 0))
    os.set_inheritable(fd, True)
    return fd


class SharedCount:
    """The count, mapped in this process; each change is made under the file's lock."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._map = mmap.mmap(fd, struct.calcsize(_FMT))

    def add_below(self, limit: int) -> bool:
        """Count one more if the count is below ``limit``; False (and no change) if not."""
        fcntl.lockf(self._fd, fcntl.LOCK_EX)
        try:
            (n,) = struct.unpack_from(_FMT, self._map)
            if n >= limit:
                return False
            struct.pack_into(_FMT, self._map, 0, n + 1)
            return True
        finally:
            fcntl.lockf(self._fd, fcntl.LOCK_UN)

    def sub(self) -> None:
        fcntl.lockf(self._fd, fcntl.LOCK_EX)
        try:
            (n,) = struct.unpack_from(_FMT, self._map)
            struct.pack_into(_FMT, self._map, 0, n - 1)
        finally:
            fcntl.lockf(self._fd, fcntl.LOCK_UN)


def inherited() -> SharedCount | None:
    """In a worker: the server-wide count; None in a single server."""
    fd = os.environ.get(ENV)
    return SharedCount(int(fd)) if fd else None
