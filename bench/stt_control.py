"""What one client's text frames cost every other caller of the STT server, against the
same server with no such client, in the same run.

    python -m bench.stt_control [--seconds 6]

Text frames are control messages, handled on the event loop: each one's time there
delays every other session's events (and health checks). A flooding client sends one
shape as fast as the server reads it, for ``--seconds``, while a probe thread asks
``/health/live`` every 10 ms (a request the loop answers at once: its latency is the
loop's). Shapes: 1 MB of ``[0,0,...]`` (answered unparsed: past the 16,384-byte bound),
the same at the bound (parsed), and the contract's own ``keepalive``. "x quiet" is the
probe's p50 over its p50 with no flooding client. Milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import threading
import time

import httpx
import websockets

from bench import RESULTS
from tests.support.servers import RunningServer, metric, start_server


def zeros(size: int) -> str:
    return "[" + ",".join(["0"] * ((size - 1) // 2)) + "]"


SHAPES = {
    "none (quiet)": None,
    "1 MB [0,0,...] (unparsed)": zeros(1 << 20),
    "16 KB [0,0,...] (parsed)": zeros(16_384),
    "keepalive": json.dumps({"type": "keepalive"}),
}


async def flood(url: str, frame: str, seconds: float) -> int:
    sent = 0
    async with websockets.connect(url + "/stt", max_size=2**22) as ws:
        async def drain() -> None:  # the error events: read, so the server keeps reading
            async for _ in ws:
                pass
        reader = asyncio.create_task(drain())
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            await ws.send(frame)
            sent += 1
            # As fast as the server reads, no faster: the library's send took 780 MB in
            # 2 s into its own buffer, which the server then read for 35 s, into the next
            # shape's measurement.
            while ws.transport.get_write_buffer_size() > 1 << 20:
                await asyncio.sleep(0.001)
            await asyncio.sleep(0)  # (a send that never waits would starve this loop)
        reader.cancel()
    return sent


def flood_process(url: str, frame: str, seconds: float, counts: multiprocessing.Queue) -> None:
    """One flooding client in a process of its own: in the probe's, its loop took the
    GIL from the probe and the probe measured that, not the server."""
    counts.put(asyncio.run(flood(url, frame, seconds)))


def probe(server: RunningServer, stop: threading.Event, out: list[float]) -> None:
    with httpx.Client(base_url=server.url) as client:
        while not stop.is_set():
            start = time.perf_counter()
            client.get("/health/live")
            out.append((time.perf_counter() - start) * 1000)
            time.sleep(0.01)


def measure(server: RunningServer, frame: str | None, clients: int, seconds: float) -> dict:
    stop, latencies = threading.Event(), []
    thread = threading.Thread(target=probe, args=(server, stop, latencies))
    counts: multiprocessing.Queue = multiprocessing.Queue()
    floods = [multiprocessing.Process(target=flood_process,
                                      args=(server.ws_url, frame, seconds, counts))
              for _ in range(clients if frame is not None else 0)]
    for p in floods:
        p.start()
    thread.start()
    time.sleep(seconds)
    stop.set()
    thread.join()
    sent = [counts.get(timeout=60) for _ in floods]
    for p in floods:
        p.join(30)
    while metric(server, "rymi_stt_active_sessions") > 0:  # the floods' sessions gone
        time.sleep(0.05)
    latencies.sort()
    return {"frames": sum(sent), "p50": statistics.median(latencies),
            "p95": latencies[int(0.95 * (len(latencies) - 1))], "max": latencies[-1]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench.stt_control", description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--clients", default="1", help="flooding clients per shape, comma-separated "
                    "(each is a process of its own: more than the cores measure the machine)")
    args = ap.parse_args(argv)
    server = start_server("servers.stt", env={"RYMI_STT_TOKENS": "", "RYMI_TOKENS": ""})
    rows = []
    try:
        for name, frame in SHAPES.items():
            for clients in ([0] if frame is None else map(int, args.clients.split(","))):
                rows.append({"shape": name, "clients": clients,
                             **measure(server, frame, clients, args.seconds)})
    finally:
        server.stop()
    quiet = rows[0]["p50"]
    print(f"\nSTT: a /health/live probe beside clients flooding text frames "
          f"({args.seconds:g} s each)")
    print(f"{'shape':28s} {'clients':>7s} {'frames':>7s} {'p50':>7s} {'p95':>7s} "
          f"{'max':>7s} {'x quiet':>8s}")
    for r in rows:
        print(f"{r['shape']:28s} {r['clients']:7d} {r['frames']:7d} {r['p50']:7.1f} "
              f"{r['p95']:7.1f} {r['max']:7.1f} {r['p50'] / quiet:8.2f}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "stt_control.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":  # (the flooding processes import this module)
    sys.exit(main())
