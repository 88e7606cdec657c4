"""Production models from a model hub, against a stand-in hub on loopback that speaks the
three calls the models step makes (revision, paths-info, resolve): one commit for every
file, each file verified, and clear errors for a bad digest, a missing file, no network."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from rymi_endpoints.models import prepare as prep
from rymi_endpoints.models.catalog import ModelEntry
from rymi_endpoints.models.fetch import ChecksumMismatch, FetchFailed
from rymi_endpoints.models.prepare import MANIFEST, SOURCE, prepare, verify_folder

COMMIT = "0123456789abcdef0123456789abcdef01234567"
FILES = {"voices/en/voice.onnx": b"onnx weights " * 4000, "voices/en/voice.onnx.json": b"{}"}


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


class Hub:
    def __init__(self) -> None:
        self.files = dict(FILES)
        self.served: dict[str, bytes] = dict(FILES)  # what downloads actually return
        self.requests: list[str] = []


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch):
    state = Hub()

    class Handler(BaseHTTPRequestHandler):
        def _json(self, obj) -> None:  # noqa: ANN001
            body = json.dumps(obj).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802
            state.requests.append(f"GET {self.path}")
            if self.path == "/api/models/acme/voices/revision/main":
                return self._json({"sha": COMMIT})
            prefix = f"/acme/voices/resolve/{COMMIT}/"
            rel = self.path[len(prefix):] if self.path.startswith(prefix) else None
            if rel not in state.served:
                return self.send_error(404)
            data = state.served[rel]
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):  # noqa: N802
            state.requests.append(f"POST {self.path}")
            if self.path != f"/api/models/acme/voices/paths-info/{COMMIT}":
                return self.send_error(404)
            form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
            out = []
            for rel in form.get("paths", []):
                if rel in state.files:
                    data = state.files[rel]
                    item = {"type": "file", "path": rel, "size": len(data),
                            "oid": _git_blob_sha1(data)}
                    if rel.endswith(".onnx"):  # the big one is in LFS
                        item["lfs"] = {"oid": hashlib.sha256(data).hexdigest(),
                                       "size": len(data)}
                    out.append(item)
            self._json(out)

        def log_message(self, *args):  # noqa: ANN002
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setattr(prep, "HF_ENDPOINT", f"http://127.0.0.1:{httpd.server_address[1]}")
    yield state
    httpd.shutdown()


def entry(files: tuple[str, ...] = tuple(FILES)) -> ModelEntry:
    return ModelEntry(name="acme-voice", server="tts", source="hf", repo="acme/voices",
                      revision="main", files=files)


def test_every_file_comes_from_one_commit_and_is_verified(hub: Hub, tmp_path: Path):
    target = prepare(entry(), tmp_path, show_progress=False)
    assert (target / "voice.onnx").read_bytes() == FILES["voices/en/voice.onnx"]
    assert (target / "voice.onnx.json").read_bytes() == b"{}"
    source = json.loads((target / SOURCE).read_text())
    assert source["commit"] == COMMIT and source["revision"] == "main"
    assert source["files"]["voices/en/voice.onnx"].startswith("sha256:")
    assert source["files"]["voices/en/voice.onnx.json"].startswith("git-sha1:")
    downloads = [r for r in hub.requests if "/resolve/" in r]
    assert len(downloads) == 2 and all(COMMIT in r for r in downloads)  # never "main"
    verify_folder(target)
    assert (target / MANIFEST).exists()
    hub.requests.clear()
    prepare(entry(), tmp_path, show_progress=False)  # idempotent: the hub is not asked
    assert hub.requests == []


def test_a_file_that_does_not_match_its_digest_is_discarded(hub: Hub, tmp_path: Path):
    hub.served["voices/en/voice.onnx"] = b"tampered"
    with pytest.raises(ChecksumMismatch, match="expected"):
        prepare(entry(), tmp_path, show_progress=False)
    assert not (tmp_path / "acme-voice").exists()  # nothing half-made is left in place


def test_a_file_the_repository_lacks_is_named(hub: Hub, tmp_path: Path):
    with pytest.raises(FetchFailed, match="voices/en/missing.onnx not found in acme/voices"):
        prepare(entry(("voices/en/missing.onnx",)), tmp_path, show_progress=False)


def test_no_hub_is_a_plain_sentence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    from tests.support.servers import refused_port
    with refused_port() as port, pytest.raises(FetchFailed, match="offline"):
        monkeypatch.setattr(prep, "HF_ENDPOINT", f"http://127.0.0.1:{port}")
        prepare(entry(), tmp_path, show_progress=False)
