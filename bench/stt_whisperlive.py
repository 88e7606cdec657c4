"""The peer: WhisperLive (faster_whisper backend, the same tiny.en folder), its own protocol.

It lives in its own venv under .peers/whisperlive (it pins faster-whisper 1.2.0 and pulls
torch), installed by ``setup_peer`` with only what its server and faster_whisper backend
import (PyAudio, openvino and CUDA wheels are for its client and other backends). Its VAD
wants Silero's v5-style ONNX in ``$HOME/.cache/whisper-live`` and would fetch it with wget:
we give it the copy that the ``silero-vad`` package ships, under a private HOME.

WhisperLive has no finalize, and marks a last segment ``completed`` only after the same text
came back from ten more decodes (never, once its VAD hears only silence): "end of speech ->
final" is timed to the message from which its text no longer changed (its best case).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import websockets

from bench.stt_streams import FRAME, RATE, pct, speech_bounds
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
PEER = ROOT / ".peers" / "whisperlive"
PY = PEER / "venv" / "bin" / "python"
PINS = ["whisper-live==0.10.0", "faster-whisper==1.2.0", "torch==2.13.0", "websockets",
        "numpy<2.5", "onnxruntime", "fastapi", "uvicorn", "scipy", "av", "silero-vad",
        "python-multipart", "requests", "huggingface_hub"]


def ensure_peer() -> None:
    """Make the peer's venv once (``make peers`` and the first ``bench.stt`` call this)."""
    if not (PEER / "home" / ".cache" / "whisper-live" / "silero_vad.onnx").exists():
        setup_peer()


def setup_peer() -> None:
    if not PY.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER / "venv")], check=True)
    pip = [str(PY), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--no-deps", PINS[0]], check=True)
    subprocess.run([*pip, *PINS[1:]], check=True)
    cache = PEER / "home" / ".cache" / "whisper-live"
    cache.mkdir(parents=True, exist_ok=True)
    found = subprocess.run([str(PY), "-c", "import silero_vad, os; print(os.path.join("
                            "os.path.dirname(silero_vad.__file__), 'data', 'silero_vad.onnx'))"],
                           check=True, capture_output=True, text=True).stdout.strip()
    shutil.copy(found, cache / "silero_vad.onnx")


def start_peer(model_path: Path, max_clients: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    code = ("from whisper_live.server import TranscriptionServer; "
            f"TranscriptionServer().run('127.0.0.1', {port}, backend='faster_whisper', "
            f"faster_whisper_custom_model_path={str(model_path)!r}, single_model=True, "
            f"max_clients={max_clients}, max_connection_time=3600)")
    log = open(PEER / "server.log", "w")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen([str(PY), "-c", code], stdout=log, stderr=subprocess.STDOUT,
                            env={"HOME": str(PEER / "home"), "PATH": "/usr/bin:/bin",
                                 "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with __import__("socket").create_connection(("127.0.0.1", port), 0.5):
                return proc, port
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("WhisperLive exited: "
                                   + (PEER / "server.log").read_text()[-2000:]) from None
            time.sleep(0.3)
    proc.kill()
    raise TimeoutError("WhisperLive did not listen in 120 s")


async def peer_stream(port: int, model_path: Path, pcm: bytes, tail_s: float = 3.0) -> dict:
    start_s, end_s = speech_bounds(pcm)
    out: dict = {"final": None, "first_partial": None, "text": "", "error": None}
    audio = np.frombuffer(pcm + bytes(2 * int(tail_s * RATE)), "<i2").astype(np.float32) / 32768
    messages: list[tuple[float, dict]] = []
    try:
        async with websockets.connect(f"ws://127.0.0.1:{port}", max_size=2**24) as ws:
            await ws.send(json.dumps({"uid": uuid.uuid4().hex, "language": "en",
                                      "task": "transcribe", "model": str(model_path),
                                      "use_vad": True, "send_last_n_segments": 10}))
            ready = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if ready.get("message") != "SERVER_READY":
                out["error"] = f"not ready: {ready}"
                return out
            t0 = time.monotonic()

            async def read() -> None:
                async for m in ws:
                    messages.append((time.monotonic() - t0, json.loads(m)))

            reader = asyncio.create_task(read())
            step = FRAME // 2
            for i in range(0, len(audio), step):
                delay = t0 + i / RATE - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                await ws.send(audio[i:i + step].tobytes())
            await ws.send(b"END_OF_AUDIO")
            await asyncio.sleep(0.5)
            reader.cancel()
    except (OSError, websockets.WebSocketException, TimeoutError) as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
        return out
    texts = [(t, " ".join(seg["text"].strip() for seg in m.get("segments") or []).strip())
             for t, m in messages if m.get("segments")]
    for t, text in texts:
        if text and out["first_partial"] is None:
            out["first_partial"] = t - start_s
    if texts:
        # It completes a last segment only after the same text repeats ten more decodes,
        # and decodes nothing once its VAD hears silence: time when the text settled.
        settled = texts[-1][1]
        t_settled = next(t for t, text in texts if text == settled and t >= start_s)
        out["final"] = max(0.0, t_settled - end_s) if settled else None
        out["text"] = settled
    if out["final"] is None and out["error"] is None:
        out["error"] = "no transcript"
    return out


def run_peer(clips: dict[str, bytes], levels: list[int], refs: dict[str, str],
             quick: bool = False) -> dict:
    from bench.stt import wer
    from rymi_endpoints.models.catalog import resolve
    from servers.stt.config import SttSettings

    try:
        ensure_peer()
        settings = SttSettings()
        model = resolve(settings.model, settings.models_dir)
        proc, port = start_peer(model, max_clients=max(levels) + 2)
    except (OSError, RuntimeError, TimeoutError, subprocess.CalledProcessError) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    try:
        print("WhisperLive single stream...", flush=True)
        single = [asyncio.run(peer_stream(port, model, pcm)) for pcm in clips.values()]
        finals = [r["final"] for r in single if r["final"] is not None]
        report = {
            "final_p50": pct(finals, 50), "final_p95": pct(finals, 95),
            "first_partial_p50": pct([r["first_partial"] for r in single
                                      if r["first_partial"] is not None], 50),
            "wer": wer(refs, {n: r["text"] for n, r in zip(clips, single, strict=True)}),
            "errors": [r["error"] for r in single if r["error"]], "sweep": []}
        names = list(clips)
        for n in levels:
            print(f"WhisperLive sweep: {n} streams...", flush=True)

            async def level(n: int = n) -> list[dict]:
                async def one(k: int) -> list[dict]:
                    return [await peer_stream(port, model, clips[names[(k + j) % len(names)]],
                                              tail_s=2.0) for j in range(2 if quick else 3)]
                return [r for rs in await asyncio.gather(*(one(k) for k in range(n)))
                        for r in rs]

            got = asyncio.run(level())
            lat = [r["final"] for r in got if r["final"] is not None]
            report["sweep"].append({"streams": n, "p50": pct(lat, 50), "p95": pct(lat, 95),
                                    "errors": sum(1 for r in got if r["error"])})
        return report
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
