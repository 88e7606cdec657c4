"""``rymi-endpoints up``: start the three servers, print their URLs, stop them together.

Each server runs in its own process (one loaded model per process). Ctrl-C or SIGTERM
drains all three (they finish what is in flight) and exits when they have.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import httpx

SERVERS = {  # name: (module, default port, path Rymi should be given, scheme kind)
    "stt": ("servers.stt", 8001, "/stt", "ws"),
    "tts": ("servers.tts", 8002, "/tts", "http"),
    "llm": ("servers.llm", 8003, "/v1/chat/completions", "http"),
}
# The browser console for demos: one page that talks to all three through itself.
DEMO = ("rymi_endpoints.demo", 8000, "/", "http")


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    path: str
    kind: str


def _env(name: str, field: str) -> str | None:
    """A setting as the server will read it: its own variable when set (even empty),
    else the shared ``RYMI_<FIELD>`` (servers.common.config.load_settings)."""
    own = f"RYMI_{name.upper()}_{field.upper()}"
    if own in os.environ:
        return os.environ[own]
    return os.environ.get(f"RYMI_{field.upper()}")


def available(names: list[str]) -> list[str]:
    out = []
    for n in names:
        if importlib.util.find_spec(f"{SERVERS[n][0]}.__main__") is None:
            print(f"  {n}: not part of this build yet, skipped", file=sys.stderr)
        else:
            out.append(n)
    return out


def url_of(child: Child, host: str) -> str:
    tls = bool(_env(child.name, "tls_cert"))
    scheme = {("ws", True): "wss", ("ws", False): "ws",
              ("http", True): "https", ("http", False): "http"}[(child.kind, tls)]
    return f"{scheme}://{host}:{child.port}{child.path}"


def wait_ready(children: list[Child], timeout: float) -> bool:
    pending = {c.name for c in children}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for c in children:
            if c.name not in pending:
                continue
            if c.proc.poll() is not None:
                print(f"  {c.name}: exited with {c.proc.returncode} (see its log above)",
                      file=sys.stderr)
                return False
            scheme = "https" if _env(c.name, "tls_cert") else "http"
            try:
                r = httpx.get(f"{scheme}://127.0.0.1:{c.port}/readyz", timeout=1, verify=False)
                if r.status_code == 200:
                    pending.discard(c.name)
                    print(f"  {c.name}: ready", file=sys.stderr)
            except httpx.HTTPError:
                pass
        time.sleep(0.3)
    return not pending


def run_up(names: list[str], ready_timeout: float = 300, demo: bool = True) -> int:
    names = available(names)
    if not names:
        print("nothing to start", file=sys.stderr)
        return 1
    children = []
    specs = {n: SERVERS[n] for n in names} | ({"demo": DEMO} if demo else {})
    for n, (module, default_port, path, kind) in specs.items():
        port = int(os.environ.get(f"RYMI_{n.upper()}_PORT", default_port))
        env = {**os.environ, f"RYMI_{n.upper()}_PORT": str(port)}
        # A session of its own: Ctrl-C reaches only us, and we send each server exactly
        # one SIGTERM (a second signal would skip the drain).
        proc = subprocess.Popen([sys.executable, "-m", module], env=env,
                                start_new_session=True)
        children.append(Child(n, proc, port, path, kind))

    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        if stopping:  # second Ctrl-C: no more waiting
            for c in children:
                c.proc.kill()
            return
        stopping = True
        print("\nstopping: draining in-flight work...", file=sys.stderr)
        for c in children:
            if c.proc.poll() is None:
                c.proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(f"starting {', '.join(names)} (models load and warm up first)...", file=sys.stderr)
    ok = wait_ready(children, ready_timeout)
    if ok and not stopping:
        host = os.environ.get("RYMI_PUBLIC_HOST", "localhost")
        print("\nRymi endpoints are up:")
        for c in children:
            auth = "bearer auth ON" if (_env(c.name, "tokens") or _env(c.name, "token_file")) \
                else "NO AUTH (open)"
            if c.name == "demo":
                auth = "browser console (forwards the token you type)"
            print(f"  {c.name.upper():4} {url_of(c, host):45} {auth}")
        print("Ctrl-C stops all of them.\n", flush=True)
    elif not stopping:
        stop(signal.SIGTERM, None)
    codes = [c.proc.wait() for c in children]
    return 0 if ok and all(code == 0 for code in codes) else 1
