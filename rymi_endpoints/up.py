"""``rymi-endpoints up``: start the three servers, print their URLs, stop them together.

Each server runs in its own process (one loaded model per process). Ctrl-C, SIGTERM or
a closed terminal drains all three (they finish what is in flight) and exits when they
have; one that dies stops the others, so a half-working bundle never passes for up.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from servers.common.config import reachable_host, setting_from_env
from servers.common.workers import die_with_parent

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


def available(names: list[str]) -> list[str]:
    out = []
    for n in names:
        if importlib.util.find_spec(f"{SERVERS[n][0]}.__main__") is None:
            print(f"  {n}: not part of this build yet, skipped", file=sys.stderr)
        else:
            out.append(n)
    return out


def url_of(child: Child, host: str) -> str:
    tls = bool(setting_from_env(child.name, "tls_cert"))
    scheme = {("ws", True): "wss", ("ws", False): "ws",
              ("http", True): "https", ("http", False): "http"}[(child.kind, tls)]
    return f"{scheme}://{host}:{child.port}{child.path}"


def port_of(name: str, default: int) -> int:
    """The port the server will take: its RYMI_<NAME>_PORT, a blank one meaning unset."""
    raw = os.environ.get(f"RYMI_{name.upper()}_PORT", "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"RYMI_{name.upper()}_PORT={raw!r} is not a port")
    return int(raw)


def in_use(host: str, port: int) -> bool:
    """Whether something listens there already. Checked before starting: a server binds
    only once its model is loaded, and meanwhile another process answering /readyz on
    that port would pass for it."""
    family, kind, proto, _, addr = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    with socket.socket(family, kind, proto) as sock:
        # As uvicorn binds: the TIME_WAIT a closed connection of the last run leaves on
        # the port is no listener (without it, a restart read "port in use" for 60 s).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(addr)
        except OSError:
            return True
    return False


def wait_ready(children: list[Child], timeout: float, stopping: Callable[[], bool]) -> bool:
    pending = [c.name for c in children]
    deadline = time.monotonic() + timeout
    while pending and not stopping():
        if time.monotonic() > deadline:
            print(f"  not ready after {timeout:g} s: {', '.join(pending)}", file=sys.stderr)
            return False
        for c in children:
            if c.proc.poll() is not None:  # any of them, ready or not
                print(f"  {c.name}: exited with {c.proc.returncode} (see its log above)",
                      file=sys.stderr)
                return False
            if c.name not in pending:
                continue
            scheme = "https" if setting_from_env(c.name, "tls_cert") else "http"
            try:
                r = httpx.get(f"{scheme}://{reachable_host(c.name)}:{c.port}/readyz", timeout=1,
                              verify=False)
                if r.status_code == 200:
                    pending.remove(c.name)
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
    specs = {n: SERVERS[n] for n in names} | ({"demo": DEMO} if demo else {})
    try:  # every check before the first start: nothing is left half started
        ports = {n: port_of(n, spec[1]) for n, spec in specs.items()}
    except ValueError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 2
    busy = [f"{n} ({ports[n]})" for n in specs
            if in_use(setting_from_env(n, "host") or "127.0.0.1", ports[n])]
    if busy:
        print(f"cannot start: port in use for {', '.join(busy)}: another instance running? "
              "(set RYMI_<NAME>_PORT)", file=sys.stderr)
        return 2

    children: list[Child] = []
    stopping = False

    def stop(signum: int = signal.SIGTERM, frame: object = None) -> None:
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

    # Before any start: a Ctrl-C, a SIGTERM or a closed terminal (SIGHUP) mid-start
    # still stops what was started.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)
    for n, (module, _, path, kind) in specs.items():
        if stopping:
            break
        env = {**os.environ, f"RYMI_{n.upper()}_PORT": str(ports[n])}
        # A session of its own: Ctrl-C reaches only us, and we send each server exactly
        # one SIGTERM (a second signal would skip the drain). If we die without sending
        # it (SIGKILL), the kernel sends it: no server is left holding its port.
        proc = subprocess.Popen([sys.executable, "-m", module], env=env,
                                start_new_session=True, preexec_fn=die_with_parent)
        children.append(Child(n, proc, ports[n], path, kind))

    print(f"starting {', '.join(names)} (models load and warm up first)...", file=sys.stderr)
    ok = not stopping and wait_ready(children, ready_timeout, lambda: stopping)
    if ok and not stopping:
        _banner(children)
    elif not stopping:
        stop()
    while any(c.proc.poll() is None for c in children):
        gone = [c for c in children if c.proc.returncode is not None]
        if gone and not stopping:  # one died while the others serve: stop them, loudly
            print(f"  {gone[0].name}: exited with {gone[0].proc.returncode}; stopping the "
                  "others", file=sys.stderr)
            ok = False
            stop()
        time.sleep(0.3)
    return 0 if ok and all(c.proc.returncode == 0 for c in children) else 1


def _banner(children: list[Child]) -> None:
    host = os.environ.get("RYMI_PUBLIC_HOST", "localhost")
    print("\nRymi endpoints are up:")
    open_servers = []
    for c in children:
        locked = setting_from_env(c.name, "tokens") or setting_from_env(c.name, "token_file")
        auth = "bearer auth ON" if locked else "NO AUTH (open)"
        if c.name == "demo":
            auth = "browser console (forwards the token you type)"
        elif not locked:
            open_servers.append(c.name)
        print(f"  {c.name.upper():4} {url_of(c, host):45} {auth}")
    demo_host = setting_from_env("demo", "host") or "127.0.0.1"
    if open_servers and any(c.name == "demo" for c in children) and \
            demo_host not in ("127.0.0.1", "localhost", "::1"):
        print(f"WARNING: the demo console listens on {demo_host} and relays to "
              f"{', '.join(open_servers)} with no token: anyone who reaches it can use "
              "them. Set RYMI_TOKENS (and type the token in the page).", flush=True)
    print("Ctrl-C stops all of them.\n", flush=True)
