"""Faults: engine exceptions mid-stream, upstream refusing/stalling/dying, model files
missing or corrupt at start, and logs written to a full disk."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time

import httpx
import pytest
from websockets import ConnectionClosed, InvalidHandshake
from websockets.asyncio.client import connect

from rymi_endpoints.models.catalog import default_model, resolve
from servers.common.config import default_models_dir
from tests.llm.fault_upstream import FaultUpstream
from tests.stt.client import load_pcm
from tests.support.servers import REPO, RunningServer, free_port

from .conftest import REL_TOKEN, auth, clean_env, metric, start, usage_of, wait_for

# -- engine failures mid-stream ------------------------------------------------------

def test_tts_engine_failure_mid_stream_cuts_the_stream(small_tts: RunningServer) -> None:
    body = {"text": "This part is fine. Then kaboom happens here. Never spoken."}
    with pytest.raises(httpx.RemoteProtocolError):  # no chunked terminator: not short audio
        httpx.post(f"{small_tts.url}/tts", json=body, timeout=60,
                   headers={**auth(), "X-Request-Id": "fault-tts"})
    assert usage_of(small_tts, "fault-tts")["error"] == "synthesis_failed_mid_stream"
    r = httpx.post(f"{small_tts.url}/tts", json={"text": "Still here."}, headers=auth())
    assert r.status_code == 200 and r.content  # the worker survived


@pytest.fixture(scope="module")
def fault_proxy():
    upstream = FaultUpstream(free_port()).start()
    proxy = start("servers.llm", {
        "RYMI_LLM_BACKEND": "upstream", "RYMI_LLM_UPSTREAM_URL": upstream.url,
        "RYMI_LLM_TOKENS": REL_TOKEN, "RYMI_LLM_UPSTREAM_TIMEOUT_S": "1.5"}, ready_timeout=120)
    yield proxy
    proxy.stop()
    upstream.stop()


@pytest.mark.parametrize("fault, expect", [
    ("die", "upstream_disconnected"), ("stall", "upstream_timeout"),
    ("error-event", "oops"), ("no-done", "upstream_incomplete")])
def test_llm_upstream_dying_or_stalling_mid_stream(fault_proxy: RunningServer, fault: str,
                                                   expect: str) -> None:
    body = {"stream": True, "messages": [{"role": "user", "content": f"fault:{fault}"}]}
    rid = f"mid-stream-{fault}"
    with httpx.stream("POST", f"{fault_proxy.url}/v1/chat/completions", json=body,
                      headers={**auth(), "X-Request-ID": rid}, timeout=30) as r:
        lines = [ln for ln in r.iter_lines() if ln]
    assert r.status_code == 200
    assert lines[-1] != "data: [DONE]" and json.loads(lines[-1][6:])["error"]["code"] == expect
    if fault in ("die", "stall"):  # the log line with the detail names the request
        said = [json.loads(ln) for ln in fault_proxy.logs().splitlines()
                if "upstream stream failed" in ln]
        assert any(line.get("request_id") == rid for line in said), said


@pytest.mark.parametrize("fault, status", [("400", 400), ("429", 429), ("500", 502),
                                           ("stall-headers", 504)])
def test_llm_upstream_refusing(fault_proxy: RunningServer, fault: str, status: int) -> None:
    models = []
    for stream in (True, False):
        body = {"stream": stream, "messages": [{"role": "user", "content": f"fault:{fault}"}]}
        rid = f"refused-{fault}-{stream}"
        r = httpx.post(f"{fault_proxy.url}/v1/chat/completions", json=body, timeout=30,
                       headers={**auth(), "X-Request-ID": rid})
        assert r.status_code == status and r.json()["error"]["code"]
        record = fault_proxy.wait_usage(rid)
        assert record["error"] == r.json()["error"]["code"], record
        models.append(record.get("model"))
    assert models[0] and models[0] == models[1]  # a refused stream's record had none


async def test_stt_engine_failure_is_error_event_and_1011() -> None:
    server = await asyncio.to_thread(start, "tests.reliability.fault_stt", {
        "RYMI_STT_TOKENS": REL_TOKEN, "RYMI_STT_FAULT_AFTER": "2", "RYMI_STT_INTERIM": "false"})
    try:
        events = await _one_failing_session(server, "stt-engine-fault")
        assert events[-1]["type"] == "error", events
        assert "engine failed: RuntimeError" in events[-1]["message"]
        assert "injected" not in events[-1]["message"]  # the detail is for the log alone
        assert await asyncio.to_thread(wait_for, lambda: metric(server, "rymi_inflight") == 0)
        assert httpx.get(f"{server.url}/readyz").status_code == 200  # the process goes on
        # What the on-call engineer reads: the cause, tied to the caller's request id.
        record = server.wait_usage("stt-engine-fault")
        assert (record["close_code"], record["error"]) == (1011, "engine_error"), record
        said = [json.loads(line) for line in server.logs().splitlines()
                if "injected decode fault" in line]
        assert any(line.get("request_id") == "stt-engine-fault" for line in said), said
    finally:
        server.stop()


async def _one_failing_session(server: RunningServer, request_id: str,
                               closes: tuple[int, ...] = (1011,)) -> list[dict]:
    events = []
    async with connect(f"{server.ws_url}/stt",
                       additional_headers={**auth(), "X-Request-ID": request_id}) as ws:
        await ws.send(load_pcm("librivox_ss_880.wav")[: 16000 * 2 * 3])
        await ws.send(json.dumps({"type": "finalize"}))
        with contextlib.suppress(ConnectionClosed):
            async for msg in ws:
                events.append(json.loads(msg))
    assert ws.close_code in closes, (ws.close_code, events)
    return events


async def test_an_stt_engine_that_keeps_failing_stops_the_server() -> None:
    """Every decode failing (a model out of memory) closed every call 1011 for minutes
    while /readyz said ready. Five in a row: not ready, and exit 1 for a restart."""
    server = await asyncio.to_thread(start, "tests.reliability.fault_stt", {
        "RYMI_STT_TOKENS": REL_TOKEN, "RYMI_STT_FAULT_AFTER": "2", "RYMI_STT_INTERIM": "false"})
    try:
        await _one_failing_session(server, "stt-broken-0")  # one or two failed decodes
        assert httpx.get(f"{server.url}/readyz").status_code == 200  # a fault, not broken
        for i in range(1, 5):  # five failed decodes at most (a session may have two)
            if server.proc.poll() is not None:
                break
            # Once the fifth has failed the server is stopping, and a call that comes then
            # meets it going: a 503, a connection closed before any answer (CI met this
            # one: InvalidMessage), or, taken just before, the drain's 1013 or a going-away
            # close. Only a server still up must close a call with 1011.
            with contextlib.suppress(OSError, InvalidHandshake):
                await _one_failing_session(server, f"stt-broken-{i}", (1011, 1013, 1012, 1001))
        assert await asyncio.to_thread(server.proc.wait, 30) == 1
        assert "failed 5 decodes in a row (RuntimeError: injected decode fault)" in \
            server.logs()
    finally:
        server.stop()


async def test_stt_engine_failure_still_sends_what_is_known() -> None:
    """The engine fails while answers are waiting behind the failing utterance: the
    final already decoded and the later finalizes' answers still go out, in order; the
    utterance that failed gets an error in its final's place, then the close is 1011."""
    server = await asyncio.to_thread(start, "tests.reliability.fault_stt", {
        "RYMI_STT_TOKENS": REL_TOKEN, "RYMI_STT_FAULT_LONGER_THAN_S": "3",
        "RYMI_STT_FAULT_DELAY_S": "2", "RYMI_STT_INTERIM": "false"})
    speech = load_pcm("librivox_ss_880.wav")
    try:
        events = []
        async with connect(f"{server.ws_url}/stt", additional_headers=auth()) as ws:
            # A (2 s), ended by a second of silence; B (4 s): its final's decode fails.
            await ws.send(speech[: 16000 * 2 * 2] + bytes(16000 * 2))
            await ws.send(speech[: 16000 * 2 * 4])
            for _ in range(4):  # the first is B's; three more wait behind it
                await ws.send(json.dumps({"type": "finalize"}))
            with contextlib.suppress(ConnectionClosed):  # 1011 is a ConnectionClosedError
                async for msg in ws:
                    events.append(json.loads(msg))
        assert ws.close_code == 1011, events
        kinds = [e["type"] for e in events]
        assert kinds == ["speech_started", "final", "utterance_end", "speech_started",
                         "error", *["final", "utterance_end"] * 3, "error"], kinds
        assert events[1]["text"] and "lost" in events[4]["message"]
        assert "engine" in events[-1]["message"]
    finally:
        server.stop()


# -- model files missing or corrupt at start ------------------------------------------

def _start_failing(module: str, env: dict[str, str], timeout: float = 180) -> tuple[int, str]:
    """Start, poll /readyz until the process exits: it must never have been ready."""
    server = start(module, env, wait_ready=False)
    deadline = time.monotonic() + timeout
    while server.proc.poll() is None and time.monotonic() < deadline:
        try:
            assert httpx.get(f"{server.url}/readyz", timeout=2).status_code != 200, \
                "a half-ready server said ready"
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    return server.proc.returncode, server.logs()


@pytest.fixture(scope="module")
def corrupt(tmp_path_factory):
    d = tmp_path_factory.mktemp("corrupt")
    stt = d / "whisper"
    stt.mkdir()
    for name in ("config.json", "model.bin", "tokenizer.json", "vocabulary.txt"):
        (stt / name).write_bytes(b"\x00garbage" * 100)
    voice_src = resolve(default_model("tts").name, default_models_dir())
    onnx = voice_src if voice_src.suffix == ".onnx" else sorted(voice_src.rglob("*.onnx"))[0]
    (d / "bad.onnx").write_bytes(onnx.read_bytes()[:4096])  # truncated weights
    (d / "bad.onnx.json").write_text(onnx.with_name(onnx.name + ".json").read_text())
    llm = d / "llm"
    llm.mkdir()
    (llm / "config.json").write_text("{not json")
    return d


@pytest.mark.parametrize("case", ["stt-missing", "stt-corrupt", "tts-missing", "tts-corrupt",
                                  "llm-missing", "llm-corrupt"])
def test_model_missing_or_corrupt_at_start(case: str, corrupt) -> None:
    server, kind = case.split("-")
    missing = str(corrupt / "nowhere")
    env = {
        "stt-missing": {"RYMI_STT_MODEL": missing},
        "stt-corrupt": {"RYMI_STT_MODEL": str(corrupt / "whisper")},
        "tts-missing": {"RYMI_TTS_VOICE": missing + ".onnx"},
        "tts-corrupt": {"RYMI_TTS_VOICE": str(corrupt / "bad.onnx")},
        "llm-missing": {"RYMI_LLM_MODEL": missing},
        "llm-corrupt": {"RYMI_LLM_MODEL": str(corrupt / "llm")},
    }[case]
    code, logs = _start_failing(f"servers.{server}", env)
    line = [ln for ln in logs.splitlines() if "cannot start" in ln or "startup failed" in ln]
    print(f"\n{case}: exit {code}: {line[-1][:200] if line else logs[-300:]}")
    assert code != 0 and line, logs[-2000:]


# -- logs to a full disk ----------------------------------------------------------------

@pytest.mark.parametrize("module", ["servers.tts", "servers.stt", "servers.llm"])
def test_logs_to_a_full_disk_do_not_stop_serving(module: str) -> None:
    """The LLM runs the proxy backend in front of the fault upstream: its logging (usage
    records, upstream errors) is the same server code as the in-process backend's."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    port = free_port()
    prefix = "RYMI_" + module.rsplit(".", 1)[-1].upper() + "_"
    env = {**os.environ, **clean_env(prefix), f"{prefix}PORT": str(port),
           f"{prefix}TOKENS": REL_TOKEN, "PYTHONUNBUFFERED": "1"}
    upstream = FaultUpstream(free_port()).start() if module == "servers.llm" else None
    if upstream is not None:
        env.update({f"{prefix}BACKEND": "upstream", f"{prefix}UPSTREAM_URL": upstream.url})
    with open("/dev/full", "w") as full:
        proc = subprocess.Popen([sys.executable, "-m", module], cwd=REPO, env=env,
                                stdout=full, stderr=full)
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: _ready(url), 180), "never ready with logs on a full disk"
        if module == "servers.tts":
            r = httpx.post(f"{url}/tts", json={"text": "Disk full, still talking."},
                           headers=auth(), timeout=60)
            assert r.status_code == 200 and len(r.content) > 1000
            r = httpx.post(f"{url}/tts", json={"text": ""}, headers=auth())
            assert r.status_code == 422  # error paths log too
        elif module == "servers.llm":
            _llm_on_a_full_disk(f"{url}/v1/chat/completions")
        else:
            async def session():
                async with connect(f"ws://127.0.0.1:{port}/stt", additional_headers=auth()) as ws:
                    await ws.send(load_pcm("librivox_ss_880.wav")[: 16000 * 2 * 2])
                    await ws.send(json.dumps({"type": "finalize"}))
                    while json.loads(await ws.recv())["type"] != "final":
                        pass
                    await ws.send(json.dumps({"type": "close"}))
            asyncio.run(asyncio.wait_for(session(), 60))
        assert proc.poll() is None
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
        if upstream is not None:
            upstream.stop()


def _llm_on_a_full_disk(url: str) -> None:
    def stream(fault: str) -> list[str]:
        body = {"stream": True, "messages": [{"role": "user", "content": f"fault:{fault}"}]}
        with httpx.stream("POST", url, json=body, headers=auth(), timeout=30) as r:
            assert r.status_code == 200
            return [ln for ln in r.iter_lines() if ln]

    assert stream("ok")[-1] == "data: [DONE]"
    assert json.loads(stream("die")[-1][6:])["error"]["code"] == "upstream_disconnected"
    r = httpx.post(url, content=b"{nope", headers={**auth(), "Content-Type": "application/json"})
    assert r.status_code == 400  # error paths log too
    assert stream("ok")[-1] == "data: [DONE]"  # and it goes on


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
