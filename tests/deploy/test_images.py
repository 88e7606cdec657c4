"""What the images would hold, read from the Dockerfiles (no Docker daemon here to build
them): one server per container with a health check that probes it, the one KV-cache
knob, a GPU runtime that can compile Triton's stubs, and a build context without secrets."""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys

import pytest

from tests.support.servers import REPO, refused_port

DEPLOY = REPO / "deploy"
SERVERS = {"rymi-stt", "rymi-tts", "rymi-llm"}


def instructions(name: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = (DEPLOY / name).read_text()
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    joined = "\n".join(lines).replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def final_stage(name: str) -> list[tuple[str, str]]:
    steps = instructions(name)
    last = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last:]


@pytest.mark.parametrize("name", ["Dockerfile.cpu", "Dockerfile.gpu"])
def test_image_runs_one_server_and_its_health_check_probes_it(name):
    steps = final_stage(name)
    cmd = [json.loads(args) for word, args in steps if word == "CMD"]
    assert len(cmd) == 1 and len(cmd[0]) == 1 and cmd[0][0] in SERVERS, cmd
    health = [args for word, args in steps if word == "HEALTHCHECK"]
    assert len(health) == 1 and "/opt/rymi/healthcheck.py" in health[0]
    assert any(word == "COPY" and args.startswith("deploy/healthcheck.py /opt/rymi/")
               for word, args in steps)
    # RYMI_LLM_KV_CACHE_GB is the knob; VLLM_CPU_KVCACHE_SPACE is derived from it
    assert not any("VLLM_CPU_KVCACHE_SPACE" in args for _, args in instructions(name))
    assert ("USER", "10001") in steps


def test_gpu_image_keeps_a_compiler_and_python_headers_for_triton():
    text = (DEPLOY / "Dockerfile.gpu").read_text()
    assert "python3.12 -m venv" in text  # the headers must match this interpreter
    base = instructions("Dockerfile.gpu")
    # the final stage is FROM base, where the packages are installed
    assert [args for word, args in final_stage("Dockerfile.gpu") if word == "FROM"] == ["base"]
    first_stage = base[:next(i for i, (w, a) in enumerate(base[1:], 1) if w == "FROM")]
    installed = " ".join(args for word, args in first_stage if word == "RUN")
    for package in ("gcc", "libc6-dev", "python3.12-dev"):
        assert f" {package} " in f" {installed} ", package
    pip = " ".join(args for word, args in base if word == "RUN" and "pip install" in args)
    assert "-c constraints-gpu.txt" in pip  # used where the repository has one


def _ignored(patterns: list[str], path: str) -> bool:
    """Docker's rule, near enough: a pattern that matches the path or a folder above it
    excludes it (the last matching pattern wins); `**/` also matches no folder at all."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    hit = False
    for pat in patterns:
        negate = pat.startswith("!")
        pat = pat.removeprefix("!")
        forms = {pat, pat.removeprefix("**/")}
        if any(fnmatch.fnmatchcase(p, f) for p in prefixes for f in forms):
            hit = not negate
    return hit


def test_dockerignore_keeps_secrets_and_local_state_out_but_not_the_sources():
    lines = (REPO / ".dockerignore").read_text().splitlines()
    patterns = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
    for path in (".venv/bin/python", ".models/x", ".certs/ca.pem", ".peers/x", "results/a",
                 ".git/HEAD", "deploy/tokens.txt", "tokens.txt",
                 "servers/__pycache__/app.cpython-311.pyc"):
        assert _ignored(patterns, path), path
    for name in ("Dockerfile.cpu", "Dockerfile.gpu"):
        for word, args in instructions(name):
            if word == "COPY" and "--from" not in args:
                for src in args.split()[:-1]:
                    assert not _ignored(patterns, src.replace("*", "")), (name, src)


def _probe(env: dict[str, str]) -> int:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RYMI_")}
    return subprocess.run([sys.executable, str(DEPLOY / "healthcheck.py"), "/healthz"],
                          env={**clean, **env}, timeout=30).returncode


def test_health_check_script_finds_the_running_server(tts_server):
    port = str(tts_server.port)
    assert _probe({"RYMI_PROBE_PORT": port}) == 0
    # no RYMI_PROBE_PORT: the server's own port setting is tried (here the TTS one)
    with refused_port() as stt, refused_port() as llm:
        assert _probe({"RYMI_TTS_PORT": port, "RYMI_STT_PORT": str(stt),
                       "RYMI_LLM_PORT": str(llm)}) == 0
        assert _probe({"RYMI_PROBE_PORT": str(stt)}) == 1


def test_health_check_script_finds_a_server_on_ipv6_loopback_alone():
    """Bound to ::1 only, a server answering was reported down (127.0.0.1 alone)."""
    import time

    import httpx

    from tests.support.servers import start_server

    server = start_server("tests.common.echo_server", wait_ready=False,
                          env={"RYMI_ECHO_SERVER_HOST": "::1"})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://[::1]:{server.port}/healthz", timeout=2).is_success:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, server.logs()[-2000:]
            time.sleep(0.1)
        assert _probe({"RYMI_PROBE_PORT": str(server.port)}) == 0
    finally:
        server.stop()
