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
import time
from collections.abc import Callable
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
    log = PEERS / f"{name}.log"  # beside the peers' venvs, kept for reading, overwritten
    with log.open("wb") as out:  # (the child has its own copy of the descriptor)
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    return Peer(name, proc, port, log)


def _wait_up(peer: Peer, is_up: Callable[[], bool], timeout_s: float = 120) -> Peer:
    """Wait until ``is_up()``; a peer that exits or does not come up is stopped (never
    left running behind the benchmark) and raised about."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if peer.proc.poll() is not None:
            raise RuntimeError(f"{peer.name} exited:\n{peer.log.read_text()[-2000:]}")
        try:
            if is_up():
                return peer
        except (OSError, httpx.HTTPError):
            pass
        time.sleep(0.2)
    peer.stop()
    raise TimeoutError(f"{peer.name} did not start in {timeout_s:.0f} s (log: {peer.log})")


def start_piper_http(voice: Path) -> Peer | None:
    exe = _python("piper-http")
    if exe is None:
        return None
    port = free_port()
    peer = _launch("piper.http_server", [str(exe), "-m", "piper.http_server", "-m", str(voice),
                                         "--port", str(port), "--host", "127.0.0.1"], port)
    return _wait_up(peer, lambda: httpx.get(f"http://127.0.0.1:{port}/voices",
                                            timeout=2).status_code == 200)


def start_wyoming_piper(voice: Path) -> Peer | None:
    exe = _python("wyoming-piper")
    if exe is None:
        return None
    port = free_port()
    peer = _launch("wyoming-piper", [
        str(exe), "-m", "wyoming_piper", "--voice", voice.stem, "--data-dir", str(voice.parent),
        "--uri", f"tcp://127.0.0.1:{port}"], port)

    def listening() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    return _wait_up(peer, listening)


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
