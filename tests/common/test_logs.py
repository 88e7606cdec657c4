"""The log stream failing (a full disk, a closed pipe): lines dropped, never the server;
counted while it lasts, said when it ends, and no record glued to a torn one."""

from __future__ import annotations

import errno
import io
import json
import logging

from servers.common import metrics
from servers.common.logs import JsonFormatter, _SafeStream


class FullDisk(io.StringIO):
    """Fault injection: while ``full``, a write takes half the line, then fails as a full
    disk does (the next write is refused)."""

    full = False

    def write(self, text: str) -> int:
        if self.full:
            super().write(text[: len(text) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(text)


def record(name: str, msg: str) -> logging.LogRecord:
    return logging.LogRecord(name, logging.INFO, __file__, 1, msg, None, None)


def dropped(kind: str) -> float:
    return metrics.LOG_LINES_DROPPED.labels(kind)._value.get()


def test_lines_dropped_on_a_full_disk_are_counted_said_and_tear_no_record() -> None:
    stream = FullDisk()
    handler = _SafeStream(stream)
    handler.setFormatter(JsonFormatter())
    usage_before, log_before = dropped("usage"), dropped("log")
    handler.handle(record("rymi.usage", json.dumps({"request_id": "before"})))
    stream.full = True
    for i in range(5):
        handler.handle(record("rymi.usage", json.dumps({"request_id": f"lost-{i}"})))
    handler.handle(record("rymi.server", "a line of its own"))
    assert (dropped("usage") - usage_before, dropped("log") - log_before) == (5, 1)
    stream.full = False
    handler.handle(record("rymi.usage", json.dumps({"request_id": "after"})))
    lines = stream.getvalue().split("\n")
    whole = [json.loads(line) for line in lines if line.startswith("{") and line.endswith("}")]
    assert [r.get("request_id") for r in whole] == ["before", None, "after"], lines
    assert whole[1]["msg"].startswith("6 log lines dropped (5 usage records)"), whole[1]
    assert "No space left on device" in whole[1]["msg"]
    assert lines[-1] == ""  # the last line whole; what was torn is on lines of its own
    handler.handle(record("rymi.usage", json.dumps({"request_id": "later"})))
    assert stream.getvalue().count("dropped") == 1  # said once, not again
