"""A server that cannot serve says so in one line and exits non-zero (no half-ready process)."""

from __future__ import annotations

import pytest

from tests.support.servers import refused_port, start_server


def _exit_of(env: dict[str, str]) -> tuple[int, str]:
    """The server's exit code and log; ``{port}`` in a setting is a port that refuses."""
    with refused_port() as port:
        env = {k: v.replace("{port}", str(port)) for k, v in env.items()}
        server = start_server("servers.llm", env=env, wait_ready=False)
        code = server.proc.wait(120)
    return code, server.logs()


def test_missing_model_exits_non_zero(tmp_path) -> None:
    code, logs = _exit_of({"RYMI_LLM_MODELS_DIR": str(tmp_path),
                           "RYMI_LLM_MODEL": "smollm2-135m-instruct"})
    assert code != 0
    assert "llm: cannot start" in logs and "not prepared" in logs
    assert "listening on" not in logs  # (it was said after "startup failed, exiting")


def test_unreachable_upstream_exits_non_zero() -> None:
    code, logs = _exit_of({"RYMI_LLM_BACKEND": "upstream",
                           "RYMI_LLM_UPSTREAM_URL": "http://127.0.0.1:{port}/v1"})
    assert code != 0 and "unreachable" in logs


def test_a_key_in_the_upstream_urls_query_is_never_printed() -> None:
    """Some APIs take their key in the query (Google's ``?key=``); the start-up lines
    printed the whole URL, so the key went into the log."""
    code, logs = _exit_of({"RYMI_LLM_BACKEND": "upstream", "RYMI_LLM_UPSTREAM_URL":
                           "http://127.0.0.1:{port}/v1?key=s3cret-q&api-version=1"})
    assert code != 0 and "unreachable" in logs, logs
    assert "s3cret-q" not in logs and "?key=...&api-version=..." in logs, logs


def test_a_proxy_password_is_never_printed() -> None:
    """The refusal of an https:// proxy quoted its URL, user:password and all."""
    from servers.llm.backends.connect import Proxy

    with pytest.raises(ValueError) as refused:
        Proxy.parse("https://ops:pr0xy-pw@proxy.internal:3128")
    assert "pr0xy-pw" not in str(refused.value) and "ops:...@proxy.internal" in str(
        refused.value)


def test_upstream_backend_needs_a_url() -> None:
    code, logs = _exit_of({"RYMI_LLM_BACKEND": "upstream"})
    # A rule over several settings is said by its message (it read "RYMI_LLM_: Value
    # error, backend=upstream ...", a variable that does not exist), the settings in it
    # named as they are set (it said "backend=upstream needs upstream_url").
    assert code == 2 and \
        "bad setting: RYMI_LLM_BACKEND=upstream needs RYMI_LLM_UPSTREAM_URL\n" in logs, logs


def test_upstream_without_the_check_needs_the_upstream_models_name() -> None:
    """Nothing else names the upstream's model then: each caller's typed name went
    upstream as it was (a 404 from vLLM or OpenAI on every call)."""
    code, logs = _exit_of({"RYMI_LLM_BACKEND": "upstream", "RYMI_LLM_UPSTREAM_CHECK": "false",
                           "RYMI_LLM_UPSTREAM_URL": "http://127.0.0.1:{port}/v1"})
    assert code == 2 and "RYMI_LLM_UPSTREAM_CHECK=false needs RYMI_LLM_UPSTREAM_MODEL" in logs


def test_credentials_in_the_upstream_url_are_refused_and_never_printed() -> None:
    """A user:password@ in the URL was dropped (the upstream then refused us) and logged
    with the URL at start-up: a secret in the log. Refused as a bad setting instead."""
    code, logs = _exit_of({"RYMI_LLM_BACKEND": "upstream", "RYMI_LLM_UPSTREAM_URL":
                           "http://user:s3cret-pw@127.0.0.1:{port}/v1"})
    assert code == 2 and "must not carry credentials" in logs and "s3cret-pw" not in logs


def test_an_upstream_token_is_one_line_its_trailing_newline_dropped(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A key from a file (or a secret made --from-file) ends in a newline: sent as it was,
    it ended the request's head early and every call failed while /readyz said ready."""
    from servers.llm.config import LlmSettings

    monkeypatch.setenv("RYMI_LLM_UPSTREAM_TOKEN", "sk-up-77\n")
    assert LlmSettings().upstream_token.get_secret_value() == "sk-up-77"
    code, logs = _exit_of({"RYMI_LLM_BACKEND": "upstream", "RYMI_LLM_UPSTREAM_TOKEN":
                           "sk-up-88\nX-Injected: 1", "RYMI_LLM_UPSTREAM_URL":
                           "http://127.0.0.1:{port}/v1"})
    assert code == 2 and "RYMI_LLM_UPSTREAM_TOKEN: must be one line" in logs, logs
    assert "sk-up-88" not in logs


@pytest.mark.parametrize("settings, named", [
    ({"dtype": "fp16"}, "dtype"),
    ({"kv_cache_gb": 1.5}, "whole number of GiB"),
])
def test_a_value_vllm_would_refuse_is_refused_by_name(settings: dict, named: str) -> None:
    """vLLM's own refusal named its fields, in many lines (dtype), or failed on int()
    of 0.5 inside its CPU cache set-up (kv_cache_gb, documented as a float)."""
    from pydantic import ValidationError

    from servers.llm.config import LlmSettings

    with pytest.raises(ValidationError, match=named):
        LlmSettings(**settings)


def test_what_only_the_model_or_device_refuses_is_named_before_the_engine(
        prepared_model) -> None:  # type: ignore[no-untyped-def]
    from rymi_endpoints.models.catalog import ModelNotReady, resolve
    from servers.llm.backends.vllm_engine import VllmBackend
    from servers.llm.config import LlmSettings

    def check(**settings: object) -> None:
        VllmBackend(LlmSettings(**settings))._check_against(prepared_model, on_cpu=True)

    check(block_size=64, max_model_len=8192)  # fine: no error
    with pytest.raises(ValueError, match=r"block_size=16 \(RYMI_LLM_BLOCK_SIZE\)"):
        check(block_size=16)
    with pytest.raises(ValueError, match=r"max_model_len=100000 .* \(8192 tokens\)"):
        check(max_model_len=100000)
    with pytest.raises(ModelNotReady, match="'whisper-base' is a model for the stt server"):
        resolve("whisper-base", prepared_model.parent, server="llm")


def test_a_block_size_vllm_cpu_cannot_take_stops_the_start_in_one_line(
        prepared_model) -> None:  # type: ignore[no-untyped-def]
    """It was a 30 s engine build, 313 lines and four tracebacks, ending in "Engine core
    initialization failed", naming neither the block size nor the setting."""
    code, logs = _exit_of({"RYMI_LLM_BLOCK_SIZE": "16",
                           "RYMI_LLM_MODELS_DIR": str(prepared_model.parent)})
    assert code == 3 and "llm: cannot start: ValueError: block_size=16" in logs
    assert "Traceback" not in logs


def test_an_upstream_that_echoes_our_key_at_start_up_never_gets_it_logged() -> None:
    """OpenAI-shaped APIs refuse a key by quoting it ("Incorrect API key provided: ..."),
    JSON may escape its characters; the start-up check's 401 went into the log whole."""
    import http.server
    import threading

    class Refusing(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            key = self.headers.get("Authorization", "").removeprefix("Bearer ")
            said = key.replace("-", "\\u002d")
            body = (f'{{"error": {{"message": "Incorrect API key provided: {said}", '
                    '"code": "invalid_api_key"}}').encode()
            self.send_response(401)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    try:
        code, logs = _exit_of({"RYMI_LLM_BACKEND": "upstream", "RYMI_LLM_UPSTREAM_TOKEN":
                               "sk-up-secret-42", "RYMI_LLM_UPSTREAM_URL":
                               f"http://127.0.0.1:{upstream.server_port}/v1"})
    finally:
        upstream.shutdown()
    assert code == 3 and "answered 401" in logs, logs
    assert "secret" not in logs and "[the upstream token]" in logs, logs
