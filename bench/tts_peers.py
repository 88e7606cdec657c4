"""Start the peers the TTS benchmark compares against, on the same joe voice file.

Each peer lives in its own virtual environment under ``.peers/<name>``, made by ``make
peers`` (which ``make bench-tts`` runs). A missing peer is reported and skipped, never
faked.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.servers import free_port  # noqa: F401  (one helper for both)

REPO = Path(__file__).resolve().parents[1]
PEERS = REPO / ".peers"


@dataclass
class Peer:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _python(venv: str) -> Path | None:
    exe = PEERS / venv / "bin" / "python"
    return exe if exe.exists() else None


def _launch(name: str, cmd: list[str], port: int) -> Peer:
    log = Path(tempfile.NamedTemporaryFile(prefix=f"{name}-", suffix=".log", delete=False).name)
    proc = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=REPO)
    return Peer(name, proc, port, log)


def start_piper_http(voice: Path) -> Peer | None:
    exe = _python("piper-http")
    if exe is None:
        return None
    port = free_port()
    peer = _launch("piper.http_server", [str(exe), "-m", "piper.http_server", "-m", str(voice),
                                         "--port", str(port), "--host", "127.0.0.1"], port)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if peer.proc.poll() is not None:
            raise RuntimeError(f"piper.http_server exited:\n{peer.log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/voices", timeout=2).status_code == 200:
                return peer
        except httpx.HTTPError:
            time.sleep(0.2)
    raise TimeoutError("piper.http_server did not start")


def start_wyoming_piper(voice: Path) -> Peer | None:
    exe = _python("wyoming-piper")
    if exe is None:
        return None
    port = free_port()
    peer = _launch("wyoming-piper", [
        str(exe), "-m", "wyoming_piper", "--voice", voice.stem, "--data-dir", str(voice.parent),
        "--uri", f"tcp://127.0.0.1:{port}"], port)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if peer.proc.poll() is not None:
            raise RuntimeError(f"wyoming-piper exited:\n{peer.log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return peer
        except OSError:
            time.sleep(0.2)
    raise TimeoutError("wyoming-piper did not start")


async def wyoming_event(writer: asyncio.StreamWriter, kind: str, data: dict) -> None:
    body = json.dumps(data).encode()
    header = {"type": kind, "version": "1.5.0", "data_length": len(body)}
    writer.write(json.dumps(header).encode() + b"\n" + body)
    await writer.drain()


async def read_wyoming_event(reader: asyncio.StreamReader) -> tuple[str, dict, bytes]:
    header = json.loads(await reader.readline())
    data = header.get("data") or {}
    if header.get("data_length"):
        data.update(json.loads(await reader.readexactly(header["data_length"])))
    payload = b""
    if header.get("payload_length"):
        payload = await reader.readexactly(header["payload_length"])
    return header["type"], data, payload
