"""Suite-wide fixtures: where models live, test audio, dev certificates."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"


@pytest.fixture(scope="session", autouse=True)
def _no_server_left_behind():
    """Every server a test started is stopped when the session ends: one whose test
    failed before its own stop (an assertion with no finally) outlived the suite, a
    worker supervisor with its workers, found running half an hour later."""
    yield
    from tests.support.servers import STARTED
    for server in STARTED:
        if server.proc.poll() is None:
            server.stop(10)  # SIGTERM, then SIGKILL at the bound


@pytest.fixture(scope="session")
def models_dir() -> Path:
    path = Path(os.environ.get("RYMI_MODELS_DIR") or REPO / ".models")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def audio_dir() -> Path:
    return DATA / "audio"


@pytest.fixture(scope="session")
def dev_certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same CA + server certificate that `make cert` makes, in a temp folder."""
    from rymi_endpoints.certs import make_dev_certs
    return make_dev_certs(tmp_path_factory.mktemp("certs"))


# The three production servers, one of each per test session (a model loads once),
# shared by every test folder: server tests, checker, deploy, demo, load.
STT_TOKEN = "stt-test-token-4b1d"
LLM_TOKEN = "llm-test-token-3f9a"
LLM_MODEL = "smollm2-135m-instruct"


def _clean_env(prefix: str) -> dict[str, str]:
    """Settings from the developer's shell must not change what the tests start: the
    server's own variables and the shared ``RYMI_<FIELD>`` ones (TLS, metrics auth,
    timeouts...), all but where the prepared models are."""
    from servers.common.config import SHARED_FIELDS
    shared = tuple(f"RYMI_{name.upper()}" for name in SHARED_FIELDS if name != "models_dir")
    return {k: "" for k in os.environ if k.startswith(prefix) or k in shared}


@pytest.fixture(scope="session")
def stt_server(models_dir: Path):
    """Real tiny.en (and multilingual base on first use, `?model=base`), behind a token."""
    from rymi_endpoints.models import load_catalog
    from rymi_endpoints.models.prepare import prepare
    from tests.support.servers import start_server
    prepare(load_catalog()["whisper-base"], models_dir, show_progress=False)
    server = start_server("servers.stt", env={**_clean_env("RYMI_STT_"),
                                              "RYMI_STT_MODELS_DIR": str(models_dir),
                                              "RYMI_STT_TOKENS": STT_TOKEN})
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tts_server():
    """Real piper joe voice, open (no token): the laptop-demo configuration."""
    from tests.support.servers import start_server
    server = start_server("servers.tts", env={**_clean_env("RYMI_TTS_"), "RYMI_TTS_TOKENS": ""})
    yield server
    server.stop()


@pytest.fixture(scope="session")
def prepared_llm(models_dir: Path) -> Path:
    """The SmolLM2 folder, prepared by the models step on first use (about 35 s)."""
    from rymi_endpoints.models import load_catalog
    from rymi_endpoints.models.prepare import prepare
    return prepare(load_catalog()[LLM_MODEL], models_dir, show_progress=False)


@pytest.fixture(scope="session")
def llm_server(prepared_llm: Path, models_dir: Path):
    """In-process vLLM on SmolLM2 (starts once: 25-90 s); bearer auth; small limits so
    413s are cheap to reach; vLLM's hermes tool-call parser."""
    from tests.support.servers import start_server
    server = start_server("servers.llm", env={
        **_clean_env("RYMI_LLM_"),
        "RYMI_LLM_MODELS_DIR": str(models_dir),
        "RYMI_LLM_TOKENS": LLM_TOKEN,
        "RYMI_LLM_MAX_BODY_BYTES": "65536",
        "RYMI_LLM_MAX_MESSAGES": "16",
        "RYMI_LLM_MAX_MODEL_LEN": "1024",
        # vLLM's hermes parser reads tool calls out of the text (tests/llm/test_tool_calls.py);
        # it runs only on a request that offers tools, so every other test is as before.
        "RYMI_LLM_TOOL_CALL_PARSER": "hermes",
        "VLLM_CPU_KVCACHE_SPACE": "1",
    }, ready_timeout=400)
    yield server
    server.stop(60)


# Every part of the bundle has tests; a full run (`make test`, as CI runs it) that
# collects none from one of these folders has lost them (a renamed file, a broken
# import caught too broadly): refuse to report success for what did not run.
SUITE_FOLDERS = frozenset({"common", "stt", "tts", "llm", "check", "deploy", "demo",
                           "reliability", "soak", "bench"})


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    full_run = (config.args_source == pytest.Config.ArgsSource.TESTPATHS
                and not config.option.keyword and config.option.markexpr == "not soak")
    if not full_run:
        return
    tests = REPO / "tests"
    found = {item.path.relative_to(tests).parts[0] for item in session.items
             if item.path.is_relative_to(tests)}
    missing = sorted(SUITE_FOLDERS - found)
    if missing:
        raise pytest.UsageError(f"the full suite collected no test from tests/{missing}")
