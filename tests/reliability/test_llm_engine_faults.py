"""Engine failures inside servers.llm's own (in-process) path, through a fault double.

vLLM cannot be made to fail half way through a stream on demand, so the engine is the
double of tests/llm/fault_engine.py; everything above it is the real server: routes,
auth, SSE framing, usage records and metrics, served by uvicorn in a thread (no model).
The contract: a failure after streaming began is one ``data: {"error": ...}`` event and
no ``[DONE]``; before the first byte it is a shaped HTTP error.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.llm.fault_engine import TOKENS_BEFORE_FAULT, FaultEngine, InProcessLlm
from tests.support.servers import start_server

from .conftest import REL_TOKEN, assert_shaped_error, auth, metric, wait_for

URL = "/v1/chat/completions"


@pytest.fixture(scope="module")
def fault_llm() -> Iterator[InProcessLlm]:
    server = InProcessLlm(FaultEngine(), REL_TOKEN).start()
    yield server
    server.stop()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(json.loads(record.getMessage()))


@pytest.fixture
def usage() -> Iterator[_Records]:
    """The usage records the in-thread server writes (logger rymi.usage)."""
    logger, handler = logging.getLogger("rymi.usage"), _Records()
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def _record(usage: _Records, rid: str) -> dict:
    assert wait_for(lambda: any(r["request_id"] == rid for r in usage.records), 10), rid
    return next(r for r in usage.records if r["request_id"] == rid)


def _body(fault: str, stream: bool = True) -> dict:
    return {"model": "any", "stream": stream, "messages": [
        {"role": "user", "content": f"fault:{fault}"}]}


def _stream(server: InProcessLlm, fault: str, rid: str) -> tuple[int, list[str]]:
    with httpx.stream("POST", server.url + URL, json=_body(fault), timeout=30,
                      headers={**auth(), "X-Request-Id": rid}) as r:
        return r.status_code, [ln for ln in r.iter_lines() if ln]


def _errors(server: InProcessLlm, code: str, phase: str) -> float:
    return metric(server, "rymi_llm_errors_total", backend=FaultEngine.name, code=code,
                  phase=phase)


def test_a_stream_held_past_a_second_keeps_one_id_and_one_created(
        fault_llm: InProcessLlm) -> None:
    """``created`` is the completion's, stamped once: every chunk of a stream carries
    the same one (the in-process stream tests cross a second boundary only by chance)."""
    chunks: list[dict] = []
    with httpx.stream("POST", fault_llm.url + URL, json=_body("hold"), timeout=30,
                      headers=auth()) as r:
        for line in r.iter_lines():
            if line.startswith("data: {"):
                chunks.append(json.loads(line[6:]))
            if len(chunks) == 16:  # 1.5 s of 0.1 s tokens: past a second boundary
                break
    assert len(chunks) == 16 and chunks[-1]["created"] - chunks[0]["created"] == 0
    assert len({c["id"] for c in chunks}) == 1 and len({c["created"] for c in chunks}) == 1


@pytest.mark.parametrize("fault", ["raise", "engine-error"])
def test_failure_mid_stream_is_one_error_event_and_no_done(
        fault_llm: InProcessLlm, usage: _Records, fault: str) -> None:
    before = _errors(fault_llm, "engine_error", "mid_stream")
    rid = f"engine-fault-{fault}"
    status, lines = _stream(fault_llm, fault, rid)
    print(f"\n{fault}: {len(lines)} events, last {lines[-1][:120]}")
    assert status == 200 and all(ln.startswith("data: ") for ln in lines), lines
    assert "data: [DONE]" not in lines
    events = [json.loads(ln[6:]) for ln in lines]
    errors = [e for e in events if "error" in e]
    assert len(errors) == 1 and events[-1] is errors[0], events
    assert set(errors[0]) == {"error"} and errors[0]["error"]["code"] == "engine_error"
    assert errors[0]["error"]["type"] == "server_error" and errors[0]["error"]["message"]
    assert "simulated crash" not in lines[-1]  # an internal message is not sent out
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in events[:-1])
    assert text == "t0 t1 t2 "  # what was generated before the failure was sent
    rec = _record(usage, rid)
    assert rec["error"] == "engine_error" and rec["status"] == 200
    assert rec["completion_tokens"] == TOKENS_BEFORE_FAULT
    assert _errors(fault_llm, "engine_error", "mid_stream") == before + 1
    assert wait_for(lambda: fault_llm.engine.active == 0, 5)
    assert metric(fault_llm, "rymi_llm_engine_requests") == 0
    # The server goes on serving: a whole stream, and ready.
    status, lines = _stream(fault_llm, "ok", f"{rid}-after")
    assert status == 200 and lines[-1] == "data: [DONE]", lines[-3:]
    assert httpx.get(f"{fault_llm.url}/readyz").status_code == 200


def test_failure_before_the_first_token_is_a_shaped_500(fault_llm: InProcessLlm,
                                                        usage: _Records) -> None:
    before = _errors(fault_llm, "engine_error", "before_stream")
    for stream in (True, False):
        r = httpx.post(fault_llm.url + URL, json=_body("first", stream), timeout=30,
                       headers={**auth(), "X-Request-Id": f"engine-first-{stream}"})
        assert r.status_code == 500 and r.headers["content-type"].startswith(
            "application/json"), r.text
        assert_shaped_error(r)
        record = _record(usage, f"engine-first-{stream}")
        # The record says why and on which model, as the proxy's and a mid-stream one do.
        assert (record["status"], record.get("error"), record.get("model")) == (
            500, "engine_error", FaultEngine.served_name)
    assert _errors(fault_llm, "engine_error", "before_stream") == before + 2


def test_unmapped_failure_in_a_whole_answer_is_a_shaped_500(fault_llm: InProcessLlm,
                                                            usage: _Records) -> None:
    """stream=false: nothing is sent until the end, so a failure half way is an HTTP error."""
    r = httpx.post(fault_llm.url + URL, json=_body("raise", stream=False), timeout=30,
                   headers={**auth(), "X-Request-Id": "engine-whole-raise"})
    assert r.status_code == 500 and r.json()["error"]["code"] == "engine_error", r.text
    assert _record(usage, "engine-whole-raise")["error"] == "engine_error"
    assert wait_for(lambda: fault_llm.engine.active == 0, 5)
    r = httpx.post(fault_llm.url + URL, json=_body("ok", stream=False), timeout=30,
                   headers=auth())
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "t0 t1 t2 "


def test_a_dead_engine_stops_the_server_with_exit_1() -> None:
    """vLLM's engine process gone for good: the request gets a shaped 500, and the server
    stops saying ready and exits 1 (not 3, start-up's code: it had started), for the
    orchestrator to restart it rather than route calls to a process that cannot answer."""
    server = start_server("tests.llm.fault_engine", env={"RYMI_LLM_TOKENS": ""})
    body = {"model": "x", "stream": True, "messages": [{"role": "user", "content": "fault:dead"}]}
    r = httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=30)
    assert r.status_code == 500 and r.json()["error"]["code"] == "engine_dead"
    assert server.proc.wait(30) == 1
    assert "llm: stopped: the vLLM engine died" in server.logs()


def test_an_engine_that_dies_while_idle_stops_the_server(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Its process OOM-killed between calls: /readyz said 200 until the next caller got
    the 500. The server notices by itself: not ready, and exit 1, with no call made."""
    dead = tmp_path / "engine-dead"
    server = start_server("tests.llm.fault_engine", env={
        "RYMI_LLM_TOKENS": "", "RYMI_FAULT_ENGINE_DEAD_FILE": str(dead)})
    assert httpx.get(f"{server.url}/readyz", timeout=5).status_code == 200
    dead.touch()
    assert server.proc.wait(30) == 1
    assert "vLLM engine died" in server.logs()


def test_streams_cut_at_the_drain_bound_say_so() -> None:
    """SIGTERM with a 1 s drain bound and two answers that outlast it: the one streaming
    ends with one error event (``shutting_down``) and no ``[DONE]``, the one still in its
    prefill gets the shaped 503 a new request gets while draining, not a bare cut or
    uvicorn's plain-text 500; both usage records say what happened."""
    server = start_server("tests.llm.fault_engine", env={
        "RYMI_LLM_TOKENS": "", "RYMI_LLM_DRAIN_TIMEOUT_S": "1"})
    got: dict[str, tuple[int, list[str], str]] = {}

    def call(fault: str) -> None:
        body = {"model": "x", "stream": True,
                "messages": [{"role": "user", "content": f"fault:{fault}"}]}
        with httpx.stream("POST", f"{server.url}{URL}", json=body, timeout=30,
                          headers={"X-Request-Id": f"cut-{fault}"}) as r:
            lines: list[str] = []
            try:
                lines.extend(ln for ln in r.iter_lines() if ln)
            except httpx.HTTPError:  # the cut itself: no chunked terminator
                pass
            got[fault] = (r.status_code, lines, r.headers.get("retry-after", ""))

    threads = [threading.Thread(target=call, args=(f,)) for f in ("hold", "hold-first")]
    for t in threads:
        t.start()
    try:
        assert wait_for(lambda: metric(server, "rymi_inflight") == 2, 20)
        time.sleep(0.3)  # the held stream has sent some tokens
        server.signal()
        for t in threads:
            t.join(20)
        assert server.proc.wait(20) == 0, server.logs()[-3000:]
    finally:
        server.stop()
    status, lines, _ = got["hold"]
    assert status == 200 and lines[0].startswith("data: {") and "[DONE]" not in lines[-1]
    error = json.loads(lines[-1].removeprefix("data: "))["error"]
    assert error["code"] == "shutting_down" and error["type"] == "server_error"
    assert sum('"error"' in ln for ln in lines) == 1
    status, lines, retry_after = got["hold-first"]
    assert status == 503 and retry_after, lines
    assert json.loads("".join(lines))["error"]["code"] == "draining"
    records = {u["request_id"]: u for u in server.usage_records()}
    held, first = records["cut-hold"], records["cut-hold-first"]
    assert held["error"] == "shutting_down" and "client_disconnected" not in held, held
    assert first["status"] == 503, first


@pytest.mark.parametrize(("drained_s", "within_s"),
                         [(None, None), (2.0, 5.0), (12.0, 3.0), (40.0, 1.0)])
async def test_the_engines_teardown_gets_what_is_left_of_the_drain_bound(
        drained_s: float | None, within_s: float | None) -> None:
    """vLLM's teardown took its default 5 s after a drain that reached its bound, so the
    stop overran the bound an orchestrator's grace period is sized for: the engine is
    given what is left of it (a second at least, vLLM's own 5 s at most), and its
    default when not draining."""
    from servers.llm.app import create_app
    from servers.llm.config import LlmSettings

    engine = FaultEngine()
    app = create_app(LlmSettings(tokens="", token_file=None, warmup=False,  # type: ignore[arg-type]
                                 drain_timeout_s=15), backend=engine)
    async with app.router.lifespan_context(app):
        if drained_s is not None:
            app.state.server.drain()
            app.state.server.drain_since -= drained_s
    assert engine.closed_within == [pytest.approx(within_s, abs=0.5)], engine.closed_within


async def test_a_stuck_engine_is_said_and_its_recovery_too(caplog) -> None:  # type: ignore[no-untyped-def]
    """An engine process stopped (SIGSTOP) or hung: callers waited with no limit and
    nothing said so. Requests running and no output for stall_s: an error line and
    rymi_llm_engine_stalled 1; back to 0 once it moves, or once none is running (here:
    its caller left), which is said as such: "progress again" was a false all-clear."""
    import asyncio

    from servers.llm import completions, metrics
    from servers.llm.schema import ChatRequest

    engine = FaultEngine()
    req = ChatRequest(messages=[{"role": "user", "content": "fault:hold-first"}])
    watcher = asyncio.ensure_future(completions.watch_engine(
        object(), engine, every_s=0.05, stall_s=0.3))  # type: ignore[arg-type]
    caplog.set_level(logging.WARNING, logger="rymi.llm")
    stuck = engine.generate(req, "stuck-1")
    first = asyncio.ensure_future(stuck.__anext__())  # a 30 s "prefill": no output
    try:
        await asyncio.sleep(0.6)
        assert metrics.ENGINE_STALLED._value.get() == 1
        # (the seconds as the tick that saw it rounds them: 0, or 1 on a loaded machine)
        assert re.search(r"no output for [01] s with 1 request\(s\) running",
                         caplog.text), caplog.text
        first.cancel()
        await asyncio.sleep(0.2)
        assert metrics.ENGINE_STALLED._value.get() == 0
        assert "the stalled requests ended (their callers left) with no output made: " \
            "the engine may still be stuck" in caplog.text
        assert "making progress again" not in caplog.text
    finally:
        first.cancel()
        watcher.cancel()
