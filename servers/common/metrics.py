"""Prometheus metrics every server exports (servers add their own beside these)."""

from __future__ import annotations

import functools
import glob
import os
from collections.abc import Iterable
from typing import TypeVar

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

from . import metrics_files

metrics_files.install()  # before the first metric below: each is made with its file

M = TypeVar("M", bound=MetricWrapperBase)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0,
                   1.5, 2.0, 3.0, 5.0, 10.0, 30.0)

REQUESTS = Counter("rymi_requests_total", "Finished requests and sessions",
                   ["channel", "kind", "status"])
# (multiprocess_mode: how workers.supervise's processes add up; ignored in one process)
INFLIGHT = Gauge("rymi_inflight", "Requests and sessions in progress", ["channel"],
                 multiprocess_mode="livesum")
REJECTED = Counter("rymi_rejected_total", "Refused before any work (capacity, draining)",
                   ["channel", "reason"])
FIRST_BYTE = Histogram("rymi_first_byte_seconds", "Time to the first response byte",
                       ["channel", "kind"], buckets=LATENCY_BUCKETS)
# Up to an hour: a WebSocket session lasts as long as its call (past 30 s, every call
# was one +Inf bucket).
DURATION = Histogram("rymi_duration_seconds", "Total request or (accepted) session time",
                     ["channel", "kind"],
                     buckets=(*LATENCY_BUCKETS, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0))
BYTES = Counter("rymi_bytes_total", "Bytes received and sent, as the usage records count "
                "them (request and response bodies, WebSocket frames)",
                ["channel", "kind", "direction"])
# (counted by each replacement worker as it starts: the sum is how many were replaced)
WORKER_RESTARTS = Counter("rymi_worker_restarts_total",
                          "Worker processes that died and were replaced (RYMI_*_WORKERS)")
# (a full disk or a closed pipe for the logs: the line dropped, the server serving)
LOG_LINES_DROPPED = Counter("rymi_log_lines_dropped_total",
                            "Log lines that could not be written, usage records apart",
                            ["record"])
READY = Gauge("rymi_ready", "1 once the model is loaded and warmed up", ["channel"],
              multiprocess_mode="livemin")


@functools.cache
def child(metric: M, *labels: str) -> M:
    """``metric.labels(*labels)``, looked up once: labels() checks and locks on every
    call (~3 µs), and a request's path passes several of them."""
    return metric.labels(*labels)


class WorkersCollector(MultiProcessCollector):
    """Every worker's metrics (workers.supervise), read from their files in one folder.

    prometheus_client's own collector fails the whole scrape, a 500, on a file it cannot
    read: one a worker has created but not yet sized (0 bytes, between its open and its
    truncate), or one mark_process_dead removed between the listing and the read. A
    worker SIGKILLed inside that first window leaves its 0-byte file for good, and every
    scrape failed from then on (seen in CI). Such files hold no samples: skip them."""

    def collect(self) -> Iterable[Metric]:
        for _ in range(3):
            try:
                return self.merge(_sized(self._path), accumulate=True)
            except FileNotFoundError:  # gone since the listing: list again
                continue
        return self.merge(_sized(self._path), accumulate=True)


def _sized(path: str) -> list[str]:
    """The metric files in ``path`` that hold at least their 8-byte header."""
    files = []
    for name in glob.glob(os.path.join(path, "*.db")):
        try:
            if os.path.getsize(name) >= 8:
                files.append(name)
        except OSError:
            continue
    return files
