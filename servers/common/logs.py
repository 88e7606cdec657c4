"""JSON log lines on stderr: one object per line, easy to ship and to grep in tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .errors import StreamAborted

# The request whose work is running: set per request by the lifecycle middleware, so
# every line logged for it (an upstream's failure, an engine's error) carries the id
# that the caller and its usage record have; asyncio tasks inherit it.
REQUEST_ID: ContextVar[str | None] = ContextVar("rymi_request_id", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        if record.name == "rymi.usage":  # already a JSON object: keep it one object
            return msg
        out = {"ts": round(time.time(), 3), "level": record.levelname.lower(),
               "logger": record.name, "msg": msg}
        if (rid := REQUEST_ID.get()) is not None:
            out["request_id"] = rid
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class _SafeStream(logging.StreamHandler):
    """A full disk or closed pipe for logs must not stop serving: the line is dropped,
    but counted (``rymi_log_lines_dropped_total``, usage records apart) and said once
    the stream takes lines again. That line starts on a line of its own: the write that
    failed may have left half a line, which glued the next record onto it (a shipper
    then refused both)."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.dropped: dict[str, int] = {}
        self.why = ""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if self.dropped:
                self._said_dropped()
            self.stream.write(self.format(record) + self.terminator)
            self.flush()
        except RecursionError:
            raise
        except Exception as exc:  # noqa: BLE001 (any failure to write is a dropped line)
            kind = "usage" if record.name == "rymi.usage" else "log"
            self.dropped[kind] = self.dropped.get(kind, 0) + 1
            self.why = getattr(exc, "strerror", None) or type(exc).__name__
            from . import metrics  # (here: metrics imports nothing of logging's)

            with contextlib.suppress(Exception):  # (a log call must never raise)
                metrics.LOG_LINES_DROPPED.labels(kind).inc()

    def _said_dropped(self) -> None:
        usage, other = self.dropped.get("usage", 0), self.dropped.get("log", 0)
        line = {"ts": round(time.time(), 3), "level": "error", "logger": "rymi.server",
                "msg": f"{usage + other} log lines dropped ({usage} usage records), the "
                       f"log stream failing: {self.why}"}
        self.stream.write("\n" + json.dumps(line) + self.terminator)
        self.flush()
        self.dropped, self.why = {}, ""


class _FalseErrors(logging.Filter):
    """uvicorn's ERROR lines for what the server meant, dropped: logged, they train
    operators to skip real ones.

    - The requests left at the drain bound are cancelled, each logged as "Exception in
      ASGI application" with a CancelledError traceback: a cut said once ("drain bound
      reached"), each request's record saying cut_at_shutdown.
    - A refused WebSocket handshake (401, 400, 404, 503 at capacity: a real HTTP answer,
      the ASGI "websocket.http.response" extension) is logged by uvicorn's
      websockets-sansio protocol as "returned without completing handshake": one false
      ERROR per refusal, a flood at capacity.
    - Those requests, cut, are also "Cancel N running task(s), timeout graceful shutdown
      exceeded": the same cut again, as an ERROR.
    - A response cut on purpose after its headers (``StreamAborted``: a synthesis that
      failed mid-stream), its cause logged once where it was raised.
    - A text frame that is not UTF-8 is closed 1007, as RFC 6455 has it, and logged with a
      traceback each time: the client's mistake, a warning with no traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        message = record.getMessage()
        if message == "Invalid UTF-8 sequence received from client.":
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
            return True
        if isinstance(exc, asyncio.CancelledError | StreamAborted):
            return not message.startswith("Exception in ASGI application")
        if message.endswith("running task(s), timeout graceful shutdown exceeded"):
            return False  # the drain's own cut, said once as "drain bound reached"
        return message != "ASGI callable returned without completing handshake."


class _AccessLines(logging.Filter):
    """Per-connection INFO lines the usage records already say (one record a call):
    uvicorn's '"WebSocket /stt" [accepted]' and '... 503', and the websockets library's
    "connection open", "connection rejected", "connection closed". With them a refused
    handshake was three lines, a call four."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO:
            return True
        msg = str(record.msg)
        return not (msg.startswith('%s - "WebSocket %s"') or msg in (
            "connection open", "connection closed") or msg.startswith("connection rejected"))


def configure_logging(level: str = "info") -> None:
    handler = _SafeStream(sys.stderr)
    handler.setFormatter(JsonFormatter())
    if level.lower() != "debug":  # (debug: every line, as the libraries write them)
        handler.addFilter(_AccessLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    error_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _FalseErrors) for f in error_log.filters):
        error_log.addFilter(_FalseErrors())
    logging.getLogger("uvicorn.access").setLevel("WARNING")  # usage records replace it
    # "Processing audio with duration 00:01.200" for every decode, interims too: two
    # lines a second of speech a caller. What a decode did is in the metrics.
    logging.getLogger("faster_whisper").setLevel("DEBUG" if level.lower() == "debug"
                                                 else "WARNING")


def fatal(message: str) -> None:
    """The line a server ends with when it cannot start or has to stop: JSON as every
    other. (Printed as plain text, the one line that said why it stopped was the one a
    log pipeline reading JSON could not parse.)"""
    logging.getLogger("rymi.server").error(message)


def shown_url(url: str) -> str:
    """A URL as a log line or an error may show it: no password and no query values,
    since a proxy's user:password and some APIs' keys (Google's ``?key=``) ride there."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = f"{parts.username}:...@{netloc.rpartition('@')[2]}"
    query = parts.query and ("&".join(f"{name}=..." for name, _ in
                                      parse_qsl(parts.query, True)) or "...")
    return parts._replace(netloc=netloc, query=query).geturl()
