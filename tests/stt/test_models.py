"""Models a URL names: what a prepared folder serves, loading one on demand beside the
configured one, and the refusals when one cannot be had (real weights, real servers).
The accounting of the loaded models' bound is in test_registry.py."""

from __future__ import annotations

import json

import pytest
import websockets

from servers.stt.config import SttSettings
from servers.stt.options import parse_options
from tests.stt.conftest import BASE, MODELS


def test_english_only_is_read_from_the_folder_not_the_name(models_dir, tmp_path):
    from rymi_endpoints.models.catalog import resolve
    from servers.stt.models import served_model
    tiny = tmp_path / "my-whisper"  # tiny.en under a name without ".en"
    tiny.symlink_to(resolve("whisper-tiny.en", models_dir), target_is_directory=True)
    base = tmp_path / "lookalike.en"  # and multilingual base under one with it
    base.symlink_to(resolve("whisper-base", models_dir), target_is_directory=True)
    assert served_model(str(tiny)).languages == ("en",)
    assert served_model(str(base)).languages == ()
    assert served_model(str(tmp_path / "empty.en")).languages == ("en",)  # no folder: name


async def test_a_loaded_model_never_waits_for_another_ones_load(models_dir, monkeypatch):
    import asyncio
    import time

    from servers.stt import models

    loads, decodes = [], []
    load, decode = models.WhisperEngine.from_settings, models.WhisperEngine.transcribe
    monkeypatch.setattr(models.WhisperEngine, "from_settings", classmethod(
        lambda cls, s, path: loads.append(path.name) or load(s, path)))
    monkeypatch.setattr(models.WhisperEngine, "transcribe", lambda self, audio, o: (
        decodes.append(self.model_path.name) or decode(self, audio, o)))
    registry = models.ModelRegistry(SttSettings(models_dir=models_dir, interim_nice=0,
                                                cpu_threads=1))
    await registry.load_default()  # tiny.en
    base = [asyncio.ensure_future(registry.acquire("whisper-base")) for _ in range(2)]
    await asyncio.sleep(0.05)  # base is loading on a thread
    started = time.monotonic()
    await registry.acquire("whisper-tiny.en")
    waited = time.monotonic() - started
    print(f"\ntiny.en acquired in {waited * 1000:.1f} ms while base loaded")
    # Still loading once tiny.en is had: it waited for no part of that load (a time bound
    # here failed on a loaded machine, not on the code).
    assert not any(b.done() for b in base)
    engines = await asyncio.gather(*base)
    assert engines[0] is engines[1] and loads[1:] == ["whisper-base"]  # one load each
    # The lazily loaded model got one warm-up decode per lane before it served.
    assert decodes == ["whisper-base", "whisper-base"]
    assert registry.loaded["whisper-base"].users == 2


async def test_a_model_that_can_never_be_loaded_is_refused_for_good(models_dir):
    """With max_loaded_models=1 (or a memory budget below the two models) no other model
    ever fits beside the configured one, which is never unloaded. It was "no room while
    the loaded ones are in use", a 503 to retry, forever, with no session open."""
    from servers.stt import models

    for limits in ({"max_loaded_models": 1}, {"models_memory_mb": 100}):
        registry = models.ModelRegistry(SttSettings(models_dir=models_dir, interim_nice=0,
                                                    cpu_threads=1, **limits))
        await registry.load_default()  # tiny.en (~75 MB)
        with pytest.raises(models.ModelNeverFits, match="cannot load another model"):
            await registry.acquire("whisper-base")
        assert list(registry.loaded) == ["whisper-tiny.en"] and not registry._loading


async def test_the_handshake_for_a_model_that_never_fits_is_a_400_not_a_retry(models_dir):
    from tests.stt.conftest import CLEAN
    from tests.support.servers import start_server

    server = start_server("servers.stt", env={**CLEAN, "RYMI_STT_MAX_LOADED_MODELS": "1",
                                              "RYMI_STT_MODELS_DIR": str(models_dir)})
    try:
        with pytest.raises(websockets.InvalidStatus) as err:
            async with websockets.connect(f"{server.ws_url}/stt?model=whisper-base"):
                pass
        response = err.value.response
        body = json.loads(response.body)["error"]
        assert response.status_code == 400 and "retry-after" not in response.headers
        assert (body["code"], body["param"]) == ("model_unavailable", "model")
        assert "max_loaded_models=1" in body["message"]
    finally:
        server.stop()


def test_a_model_not_prepared_is_one_line_and_the_cannot_start_code(tmp_path):
    """The exit code every server gives when it cannot start (a supervisor does not
    restart it), as TTS and the LLM do; STT's was 1, a crash's."""
    import os
    import subprocess
    import sys

    from servers.common.serve import CANNOT_START
    from tests.stt.conftest import CLEAN
    from tests.support.servers import REPO

    proc = subprocess.run(
        [sys.executable, "-m", "servers.stt"], cwd=REPO, capture_output=True, text=True,
        timeout=120, env={**os.environ, **CLEAN, "RYMI_STT_MODEL": "whisper-base",
                          "RYMI_STT_MODELS_DIR": str(tmp_path), "RYMI_MODELS_DIR": ""})
    assert proc.returncode == CANNOT_START, proc.stderr[-2000:]
    # The line that says why, as JSON as every other (it was plain text).
    last = json.loads(proc.stderr.splitlines()[-1])
    assert last["level"] == "error" and last["msg"].startswith("stt: cannot start: ModelNotReady")


def test_a_model_folder_without_its_tokenizer_is_refused_without_a_hub(tmp_path,
                                                                      models_dir) -> None:
    """faster-whisper fetches a missing tokenizer.json from the Hugging Face hub (a
    folder converted without --copy_files): a download at run time, or minutes of
    retries behind a firewall. A hub here that counts what it is asked gets nothing."""
    import http.server
    import os
    import subprocess
    import sys
    import threading

    from rymi_endpoints.models.catalog import resolve
    from servers.common.serve import CANNOT_START
    from tests.stt.conftest import CLEAN
    from tests.support.servers import REPO

    asked: list[str] = []

    class Hub(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            asked.append(self.path)
            self.send_error(404)
        do_HEAD = do_GET  # noqa: N815

    hub = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    folder = tmp_path / "tiny-no-tokenizer"
    folder.mkdir()
    for f in resolve("whisper-tiny.en", models_dir).iterdir():
        if f.name != "tokenizer.json":
            (folder / f.name).symlink_to(f)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "servers.stt"], cwd=REPO, capture_output=True, text=True,
            timeout=120, env={**os.environ, **CLEAN, "RYMI_STT_MODEL": str(folder),
                              "HF_ENDPOINT": f"http://127.0.0.1:{hub.server_port}"})
    finally:
        hub.shutdown()
    assert proc.returncode == CANNOT_START, proc.stderr[-2000:]
    assert "has no tokenizer.json" in proc.stderr and asked == []


@pytest.mark.parametrize("settings, named", [
    ({"device": "gpu"}, "device"),
    ({"compute_type": "int4"}, "compute_type"),
    ({"model": ""}, "model"),
    ({"min_speech_ms": 5000, "max_utterance_s": 2}, "min_speech_ms must be shorter"),
])
def test_a_setting_the_engine_would_refuse_is_refused_by_name(settings: dict,
                                                              named: str) -> None:
    """A device or compute type typo was found by the model load, in CTranslate2's words
    and after a load; min_speech_ms past max_utterance_s lost words, silently."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=named):
        SttSettings(**settings)


def test_the_configured_model_set_by_its_path_is_its_catalog_name_too(models_dir) -> None:
    """Set by its prepared folder's path, ``?model=base`` loaded the same weights again
    (and took a max_loaded_models place)."""
    from rymi_endpoints.models import load_catalog
    from rymi_endpoints.models.prepare import prepare
    from servers.stt import models

    prepare(load_catalog()["whisper-base"], models_dir, show_progress=False)
    path = str(models_dir / "whisper-base")
    registry = models.ModelRegistry(SttSettings(model=path, models_dir=models_dir))
    assert "whisper-base" not in registry.served
    settings = SttSettings(model=path, models_dir=models_dir)
    assert parse_options("model=base", settings, registry.models).model == path
    assert parse_options("model=whisper-base&language=de", settings,
                         registry.models).language_code == "de"


async def test_a_memory_budget_below_the_configured_model_says_so(models_dir) -> None:
    from servers.stt import models

    registry = models.ModelRegistry(SttSettings(models_dir=models_dir, interim_nice=0,
                                                cpu_threads=1, models_memory_mb=10))
    with pytest.raises(models.ModelNeverFits, match="models_memory_mb=10 is below the "
                       "configured model 'whisper-tiny.en' "):
        await registry.load_default()


@pytest.mark.parametrize("tokens,cantonese", [(51864, False), (51865, False), (51866, True)])
def test_cantonese_only_where_the_vocabulary_has_its_token(tmp_path, tokens, cantonese):
    from servers.stt.models import served_model
    (tmp_path / "vocabulary.txt").write_text("t\n" * tokens, encoding="utf-8")
    model = served_model(str(tmp_path), tmp_path)
    assert model.speaks("yue") is cantonese
    assert model.speaks("es") is (tokens > 51864)  # English-only below 51865


class _Registry:
    """A registry double: ``base`` is prepared only after the server started (found by
    the rescan a handshake naming it triggers), and every model is busy."""

    def __init__(self) -> None:
        self.models = dict(MODELS)
        self.rescans = 0

    def rescan(self) -> bool:
        self.rescans += 1
        self.models = dict(BASE)
        return True

    async def acquire(self, name: str) -> None:
        from servers.stt.models import ModelCapacity
        raise ModelCapacity(f"model {name} is busy")


async def _handshake(registry: _Registry, query: str) -> tuple[int, dict[bytes, bytes], dict]:
    from servers.stt.app import SttEndpoint

    sent: list[dict] = []
    scope = {"type": "websocket", "query_string": query.encode(), "headers": [],
             "extensions": {"websocket.http.response": {}}}

    async def receive() -> dict:
        return {"type": "websocket.connect"}

    async def send(message: dict) -> None:
        sent.append(message)

    endpoint = SttEndpoint({"ctx": None, "settings": SttSettings(), "registry": registry})
    await endpoint(scope, receive, send)
    start, body = sent
    return start["status"], dict(start["headers"]), json.loads(body["body"])


async def test_a_model_prepared_after_start_is_found_and_a_busy_one_is_a_503_to_retry() -> None:
    """``?model=base`` for a model prepared since the server started: looked for again
    before the 400 (it was "not served here" until a restart); every slot for it busy
    is a 503 with Retry-After, which Rymi retries, not a 400, which it does not."""
    registry = _Registry()
    status, headers, body = await _handshake(registry, "model=base")
    assert registry.rescans == 1
    assert (status, body["error"]["code"]) == (503, "over_capacity"), body
    assert headers.get(b"retry-after") == b"1"
    status, _, body = await _handshake(_Registry(), "language=xx")  # no rescan for that
    assert (status, body["error"]["param"]) == (400, "language")


async def test_a_damaged_model_is_said_once_in_json_not_on_each_bad_handshake(
        tmp_path, models_dir) -> None:
    """A prepared whisper-base that lost its tokenizer.json: said at start (as plain
    text then: before the logging was set up) and again at every ``?model=`` the server
    did not know (a caller's own typo rescans), each with that caller's request id."""
    from rymi_endpoints.models.catalog import resolve
    from tests.stt.conftest import CLEAN
    from tests.support.servers import start_server

    folder = tmp_path / "whisper-base"
    folder.mkdir()
    for f in resolve("whisper-base", models_dir).iterdir():
        if f.name != "tokenizer.json":
            (folder / f.name).symlink_to(f)
    server = start_server("servers.stt", env={**CLEAN, "RYMI_STT_TOKENS": "",
                                              "RYMI_STT_MODELS_DIR": str(tmp_path)})
    try:
        for i in range(2):
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with websockets.connect(f"{server.ws_url}/stt?model=nonexistent",
                                              additional_headers={"X-Request-ID": f"typo-{i}"}):
                    pass
            assert refused.value.response.status_code == 400
    finally:
        server.stop()
    lines = server.logs().splitlines()
    said = [ln for ln in lines if "not serving whisper-base" in ln]
    assert len(said) == 1 and "lacks tokenizer.json" in said[0], said
    for line in lines:  # every line JSON, the start-up's too
        json.loads(line)
