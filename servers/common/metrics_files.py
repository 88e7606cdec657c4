"""A worker's metric files with their disk space taken before they are written.

In Prometheus' multiprocess mode each worker keeps its values in files it maps into
memory, made sparse (``truncate``). On a full file system (a small tmpfs ``/tmp``), a
write into such a file's hole is a SIGBUS: the worker died with the call it was
serving, every replacement died the same way, and the supervisor stopped the server.
Here the space is allocated first (``posix_fallocate``), so a full disk is an OSError at
a known place: said once in the log, the metric left uncounted, the call served.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
from typing import Any

from prometheus_client import values
from prometheus_client.mmap_dict import _INITIAL_MMAP_SIZE, MmapedDict

log = logging.getLogger("rymi.server")


class AllocatedMmapedDict(MmapedDict):
    def __init__(self, filename: str, read_mode: bool = False) -> None:
        self._memory = False
        if not read_mode:
            try:
                with open(filename, "a+b") as f:
                    if os.fstat(f.fileno()).st_size == 0:
                        _allocate(f.fileno(), _INITIAL_MMAP_SIZE, filename)
            except OSError:
                self._in_memory(filename)
                return
        super().__init__(filename, read_mode)

    def _in_memory(self, filename: str) -> None:
        """No room for the file: this process's values of its kind are kept in memory
        (its metrics work, uncounted in /metrics) rather than failing every call."""
        with contextlib.suppress(OSError):
            if os.path.getsize(filename) == 0:
                os.unlink(filename)
        self._memory, self._fname = True, filename
        self._f = open(os.devnull, "rb")  # (what close() closes)
        self._capacity, self._used, self._positions = _INITIAL_MMAP_SIZE, 8, {}
        self._m = mmap.mmap(-1, self._capacity)

    def _init_value(self, key: str) -> None:
        # The size prometheus_client's own _init_value gives the entry (pinned version).
        encoded = len(key.encode("utf-8"))
        entry = 4 + encoded + (8 - (encoded + 4) % 8) + 16
        capacity = self._capacity
        while self._used + entry > capacity:
            capacity *= 2
        if capacity > self._capacity and self._memory:
            grown = mmap.mmap(-1, capacity)
            grown[:self._used] = self._m[:self._used]
            self._m, self._capacity = grown, capacity
        elif capacity > self._capacity:  # it grows: the space first, then its truncate
            _allocate(self._f.fileno(), capacity, self._fname)
        super()._init_value(key)

    def read_value(self, key: str) -> Any:
        try:
            return super().read_value(key)
        except OSError:
            return 0.0, 0.0  # (said by _allocate) a value not counted in /metrics

    def write_value(self, key: str, value: float, timestamp: float) -> None:
        try:
            super().write_value(key, value, timestamp)
        except OSError:
            pass


def _allocate(fd: int, size: int, filename: str) -> None:
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as exc:
        if filename not in _said:
            _said.add(filename)
            log.error("metrics: no room for %d bytes in %s (%s): a new metric is not "
                      "counted in /metrics; the file system of the metrics folder (the "
                      "temporary directory, TMPDIR) is full", size, filename, exc.strerror)
        raise


_said: set[str] = set()


def install() -> None:
    """Make prometheus_client's multiprocess values use these files (before any metric
    of this process is made: their files are made with them)."""
    values.MmapedDict = AllocatedMmapedDict  # type: ignore[misc]
