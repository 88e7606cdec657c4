"""Deployment files are valid: Kubernetes schemas (each file and each rendered overlay),
compose structure, drain timing, hadolint, and the Caddyfile in each TLS mode."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from servers.common.config import ServerSettings
from servers.llm.config import LlmSettings
from tests.deploy import kustomize
from tests.support.servers import REPO

DEPLOY = REPO / "deploy"
BIN = Path(sys.executable).parent
OVERLAYS = ["base", "gpu"]
# What a grace period must hold beyond preStop + drain: the drain's own cut-off second,
# process exit, and the kubelet's/docker's signalling.
MARGIN_S = 5
DRAIN_DEFAULT_S = ServerSettings.model_fields["drain_timeout_s"].default


def _tool(name: str) -> str:
    path = shutil.which(name, path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if path is None:
        pytest.fail(f"{name} is not installed (it is in the [dev] extra)")
    return path


def k8s_files() -> list[Path]:
    return sorted((DEPLOY / "k8s").rglob("*.yaml"))


@pytest.mark.parametrize("path", [p for p in k8s_files() if p.name != "kustomization.yaml"],
                         ids=lambda p: str(p.relative_to(DEPLOY)))
def test_manifest_validates_against_kubernetes_schema(path):
    proc = subprocess.run([_tool("kubernetes-validate"), "--strict", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_kustomizations_name_existing_files():
    for kfile in (DEPLOY / "k8s").rglob("kustomization.yaml"):
        spec = yaml.safe_load(kfile.read_text())
        for res in spec.get("resources", []):
            assert (kfile.parent / res).exists(), f"{kfile}: {res} missing"


def rendered(overlay: str) -> list[dict]:
    return kustomize.render(DEPLOY / "k8s" / overlay)


def deployments(overlay: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in rendered(overlay) if d["kind"] == "Deployment"}


def _env(container: dict) -> dict[str, str | None]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def _by_name(docs: list[dict]) -> dict[tuple[str, str], dict]:
    # through JSON, so YAML spellings (1 vs "1" keys aside) compare as kubectl's output
    return {(d["kind"], d["metadata"]["name"]): json.loads(json.dumps(d)) for d in docs}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rendered_overlay_validates_against_kubernetes_schema(overlay):
    """What `kubectl apply -k` would send, patches applied, not only each file."""
    docs = rendered(overlay)
    assert {d["kind"] for d in docs} == {"Deployment", "Service"} and len(docs) == 6
    for doc in docs:
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)
    for d in docs:
        assert d["metadata"]["labels"]["app.kubernetes.io/part-of"] == "rymi-endpoints"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_python_render_matches_kustomize_where_installed(overlay):
    """The helper above stands in for kustomize; where a binary exists, they agree."""
    kubectl = shutil.which("kubectl")
    binary = shutil.which("kustomize")
    if binary:
        cmd = [binary, "build", str(DEPLOY / "k8s" / overlay)]
    elif kubectl:
        cmd = [kubectl, "kustomize", str(DEPLOY / "k8s" / overlay)]
    else:
        pytest.skip("no kustomize or kubectl: the Python render is the only check")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    theirs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    assert _by_name(rendered(overlay)) == _by_name(theirs)


def test_gpu_overlay_puts_stt_and_llm_on_a_gpu_with_room_for_its_models():
    base, gpu = deployments("base"), deployments("gpu")
    gib = {"Mi": 1 / 1024, "Gi": 1}

    def memory(d: dict, kind: str) -> float:
        value = d["spec"]["template"]["spec"]["containers"][0]["resources"][kind]["memory"]
        return float(value[:-2]) * gib[value[-2:]]

    for name in ("rymi-stt", "rymi-llm"):
        c = gpu[name]["spec"]["template"]["spec"]["containers"][0]
        assert c["resources"]["limits"]["nvidia.com/gpu"] == 1
        assert c["image"] == "rymi-endpoints:gpu"
        for kind in ("requests", "limits"):
            assert memory(gpu[name], kind) > memory(base[name], kind)
    stt_env = _env(gpu["rymi-stt"]["spec"]["template"]["spec"]["containers"][0])
    assert stt_env["RYMI_STT_DEVICE"] == "cuda" and stt_env["RYMI_STT_COMPUTE_TYPE"] == "float16"
    assert memory(gpu["rymi-llm"], "limits") >= 16  # 7-8B bf16 weights pass through RAM
    tts = gpu["rymi-tts"]["spec"]["template"]["spec"]["containers"][0]
    assert "nvidia.com/gpu" not in tts["resources"].get("limits", {})


def _prestop_sleep_s(container: dict) -> float:
    command = " ".join(container["lifecycle"]["preStop"]["exec"]["command"])
    found = re.search(r"sleep\(?\s*(\d+(?:\.\d+)?)", command)
    assert found, f"no sleep in preStop: {command}"
    return float(found.group(1))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_deployments_drain_and_probe(overlay):
    for name, doc in deployments(overlay).items():
        pod = doc["spec"]["template"]["spec"]
        c = pod["containers"][0]
        env = _env(c)
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        # The whole shutdown fits the drain bound, after the preStop pause.
        drain = float(env.get("RYMI_DRAIN_TIMEOUT_S") or DRAIN_DEFAULT_S)
        grace = pod["terminationGracePeriodSeconds"]
        assert grace >= _prestop_sleep_s(c) + drain + MARGIN_S, name
        assert env["RYMI_TOKEN_FILE"].startswith("/var/run/rymi/")
        assert env["RYMI_FORWARDED_ALLOW_IPS"] == "*"  # only the proxy reaches a Service
        assert "VLLM_CPU_KVCACHE_SPACE" not in env  # derived from RYMI_LLM_KV_CACHE_GB
        assert c["resources"]["requests"]["cpu"]
    llm = _env(deployments(overlay)["rymi-llm"]["spec"]["template"]["spec"]["containers"][0])
    assert float(llm["RYMI_LLM_KV_CACHE_GB"]) == LlmSettings.model_fields["kv_cache_gb"].default


def _duration_s(text: str) -> float:
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", text)
    assert parts and "".join(n + u for n, u in parts) == text, text
    return sum(float(n) * units[u] for n, u in parts)


def test_compose_file_is_consistent():
    spec = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = spec["services"]
    assert {"stt", "tts", "llm", "caddy", "models"} <= services.keys()
    ports = {"stt": "8001", "tts": "8002", "llm": "8003"}
    for name, port in ports.items():
        svc = services[name]
        env = svc["environment"]
        assert svc["command"] == [f"rymi-{name}"]
        # compose has no preStop: the grace period holds the whole drain and a margin
        drain = float(env.get("RYMI_DRAIN_TIMEOUT_S") or DRAIN_DEFAULT_S)
        assert _duration_s(svc["stop_grace_period"]) >= drain + MARGIN_S
        assert env["RYMI_FORWARDED_ALLOW_IPS"] == "*"
        assert "VLLM_CPU_KVCACHE_SPACE" not in env
        assert "ports" not in svc  # only Caddy is reachable: what makes "*" safe
        assert f"127.0.0.1:{port}/readyz" in " ".join(svc["healthcheck"]["test"])
        assert svc["environment"]["RYMI_TOKEN_FILE"] == "/run/secrets/rymi_tokens"
        assert services["caddy"]["environment"][f"RYMI_{name.upper()}_UPSTREAM"] == \
            f"{name}:{port}"
    assert float(services["llm"]["environment"]["RYMI_LLM_KV_CACHE_GB"]) == \
        LlmSettings.model_fields["kv_cache_gb"].default
    caddy = services["caddy"]
    assert caddy["environment"]["RYMI_TLS_MODE"] == "${RYMI_TLS_MODE:-internal}"
    # https/wss on RYMI_HTTPS_PORT, the one the Caddyfile listens on; 80 for ACME's HTTP-01
    https = "${RYMI_HTTPS_PORT:-443}"
    assert caddy["environment"]["RYMI_HTTPS_PORT"] == https
    assert sorted(caddy["ports"]) == sorted([f"{https}:{https}", "${RYMI_HTTP_PORT:-80}:80"])
    # files mode: the certificate and key the Caddyfile reads are in a mounted folder
    mounts = {v.split(":")[-2]: v for v in caddy["volumes"] if v.count(":") >= 2}
    for key in ("RYMI_CADDY_CERT", "RYMI_CADDY_KEY"):
        folder = caddy["environment"][key].rsplit("/", 1)[0]
        assert folder in mounts and mounts[folder].endswith(":ro"), (key, mounts)
    assert _duration_s(caddy["stop_grace_period"]) >= DRAIN_DEFAULT_S
    docker = shutil.which("docker")
    has_compose = docker and subprocess.run([docker, "compose", "version"],
                                            capture_output=True).returncode == 0
    if has_compose:  # `compose config` parses the file fully, no daemon needed
        proc = subprocess.run([docker, "compose", "-f", str(DEPLOY / "compose.yaml"),
                               "config", "--quiet"], capture_output=True, text=True)
        assert proc.returncode == 0 or "tokens.txt" in proc.stderr, proc.stderr


@pytest.mark.parametrize("name", ["Dockerfile.cpu", "Dockerfile.gpu"])
def test_dockerfiles_pass_hadolint(name):
    proc = subprocess.run([_tool("hadolint"), "--no-color", str(DEPLOY / name)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _caddy_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RYMI_")}
    return {**env, "RYMI_CADDY_ADMIN": "off", "XDG_DATA_HOME": str(tmp_path),
            "XDG_CONFIG_HOME": str(tmp_path), "HOME": str(tmp_path), **settings}


def test_caddyfile_validates(tmp_path):
    proc = subprocess.run([_tool("caddy"), "validate", "--config", str(DEPLOY / "Caddyfile"),
                           "--adapter", "caddyfile"], capture_output=True, text=True,
                          env=_caddy_env(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]


def _adapt(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_tool("caddy"), "adapt", "--config", str(DEPLOY / "Caddyfile"),
                           "--adapter", "caddyfile"], capture_output=True, text=True,
                          env=_caddy_env(tmp_path, **settings))


def _issuers(config: dict) -> list[str]:
    policies = config["apps"].get("tls", {}).get("automation", {}).get("policies", [])
    return [i["module"] for p in policies for i in p.get("issuers", [])]


def test_caddy_tls_modes_pick_the_issuer(tmp_path):
    """internal (the default): Caddy's own CA, even for a public name. acme: no internal
    issuer is configured, so Caddy's automatic HTTPS gets a public certificate."""
    for settings in ({}, {"RYMI_TLS_MODE": "internal", "RYMI_DOMAIN": "voice.example.com"}):
        proc = _adapt(tmp_path, **settings)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert _issuers(json.loads(proc.stdout)) == ["internal"], settings
    proc = _adapt(tmp_path, RYMI_TLS_MODE="acme", RYMI_DOMAIN="voice.example.com")
    assert proc.returncode == 0, proc.stderr[-2000:]
    config = json.loads(proc.stdout)
    assert "internal" not in _issuers(config) and '"internal"' not in proc.stdout
    server = config["apps"]["http"]["servers"]["srv0"]
    assert server["listen"] == [":443"]
    assert server["routes"][0]["match"][0]["host"] == ["voice.example.com"]
    # redirects off (Rymi calls https only), automatic certificates left on
    assert server["automatic_https"] == {"disable_redirects": True}


def test_caddy_tls_files_mode_and_a_bad_mode(tmp_path):
    proc = _adapt(tmp_path, RYMI_TLS_MODE="files", RYMI_CADDY_CERT="/c/cert.pem",
                  RYMI_CADDY_KEY="/c/key.pem")
    assert proc.returncode == 0, proc.stderr[-2000:]
    config = json.loads(proc.stdout)
    assert config["apps"]["tls"]["certificates"]["load_files"][0]["certificate"] == \
        "/c/cert.pem"
    assert _issuers(config) == []
    proc = _adapt(tmp_path, RYMI_TLS_MODE="letsencrypt")
    assert proc.returncode != 0 and "tls_letsencrypt" in proc.stderr


def _handlers(node: object, kind: str) -> list[dict]:
    """Every handler of ``kind`` anywhere in an adapted Caddy config."""
    if isinstance(node, dict):
        found = [node] if node.get("handler") == kind else []
        return found + [h for v in node.values() for h in _handlers(v, kind)]
    if isinstance(node, list):
        return [h for v in node for h in _handlers(v, kind)]
    return []


def test_caddy_lets_idle_connections_go_before_our_servers_do(tmp_path):
    """A proxy that reuses a connection the server is closing gets a 502: Caddy's idle
    timeout to each server must be shorter than the servers' keep-alive."""
    from servers.common.config import ServerSettings
    proc = _adapt(tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    proxies = _handlers(json.loads(proc.stdout), "reverse_proxy")
    assert len(proxies) == 3
    ours_s = ServerSettings.model_fields["keepalive_s"].default
    for p in proxies:
        idle_s = p["transport"]["keep_alive"]["idle_timeout"] / 1e9
        assert 0 < idle_s < ours_s, p


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_pod_prepares_every_default_model_of_its_server(overlay):
    """As compose does (``models prepare``, every default): a pod that left whisper-base
    out answered the README's ``?model=base&language=es`` URL with a 400."""
    from rymi_endpoints.models.catalog import load_catalog

    for name, deployment in deployments(overlay).items():
        server = name.removeprefix("rymi-")
        init = deployment["spec"]["template"]["spec"]["initContainers"]
        command = next(c["command"] for c in init if c["name"] == "models")
        assert command[:3] == ["rymi-endpoints", "models", "prepare"], command
        wanted = {m for m, e in load_catalog().items() if e.server == server and e.default}
        assert set(command[3:]) == wanted, (name, command)
