"""JSON log lines on stderr: one object per line, easy to ship and to grep in tests."""

from __future__ import annotations

import json
import logging
import sys
import time


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        if record.name == "rymi.usage":  # already a JSON object: keep it one object
            return msg
        out = {"ts": round(time.time(), 3), "level": record.levelname.lower(),
               "logger": record.name, "msg": msg}
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class _SafeStream(logging.StreamHandler):
    """A full disk or closed pipe for logs must not stop serving: drop the line."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802
        pass


def configure_logging(level: str = "info") -> None:
    handler = _SafeStream(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    logging.getLogger("uvicorn.access").setLevel("WARNING")  # usage records replace it
