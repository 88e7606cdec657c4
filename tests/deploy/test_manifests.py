"""Deployment files are valid: Kubernetes schemas, compose structure, hadolint, Caddyfile."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.servers import REPO

DEPLOY = REPO / "deploy"
BIN = Path(sys.executable).parent


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


def test_deployments_drain_and_probe():
    for path in (DEPLOY / "k8s" / "base").glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc["kind"] != "Deployment":
                continue
            pod = doc["spec"]["template"]["spec"]
            c = pod["containers"][0]
            env = {e["name"]: e.get("value") for e in c["env"]}
            assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert "preStop" in c["lifecycle"]
            # the grace period must cover the preStop pause plus the whole drain bound
            assert pod["terminationGracePeriodSeconds"] >= float(env["RYMI_DRAIN_TIMEOUT_S"]) + 5
            assert env["RYMI_TOKEN_FILE"].startswith("/var/run/rymi/")
            assert c["resources"]["requests"]["cpu"]


def test_compose_file_is_consistent():
    spec = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = spec["services"]
    assert {"stt", "tts", "llm", "caddy", "models"} <= services.keys()
    ports = {"stt": "8001", "tts": "8002", "llm": "8003"}
    for name, port in ports.items():
        svc = services[name]
        assert svc["command"] == [f"rymi-{name}"]
        assert f"127.0.0.1:{port}/readyz" in " ".join(svc["healthcheck"]["test"])
        assert svc["environment"]["RYMI_TOKEN_FILE"] == "/run/secrets/rymi_tokens"
        assert services["caddy"]["environment"][f"RYMI_{name.upper()}_UPSTREAM"] == \
            f"{name}:{port}"
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


def test_caddyfile_validates(tmp_path):
    env = {**os.environ, "RYMI_CADDY_ADMIN": "off", "XDG_DATA_HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path), "HOME": str(tmp_path)}
    proc = subprocess.run([_tool("caddy"), "validate", "--config", str(DEPLOY / "Caddyfile"),
                           "--adapter", "caddyfile"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
