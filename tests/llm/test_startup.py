"""A server that cannot serve says so in one line and exits non-zero (no half-ready process)."""

from __future__ import annotations

import pytest

from tests.support.servers import free_port, start_server


def _exit_of(env: dict[str, str]) -> tuple[int, str]:
    server = start_server("servers.llm", env=env, wait_ready=False)
    code = server.proc.wait(120)
    return code, server.logs()


def test_missing_model_exits_non_zero(tmp_path) -> None:
    code, logs = _exit_of({"RYMI_LLM_MODELS_DIR": str(tmp_path),
                           "RYMI_LLM_MODEL": "smollm2-135m-instruct"})
    assert code != 0
    assert "llm: cannot start" in logs and "not prepared" in logs


def test_unreachable_upstream_exits_non_zero() -> None:
    code, logs = _exit_of({"RYMI_LLM_BACKEND": "upstream",
                           "RYMI_LLM_UPSTREAM_URL": f"http://127.0.0.1:{free_port()}/v1"})
    assert code != 0 and "unreachable" in logs


def test_a_key_in_the_upstream_urls_query_is_never_printed() -> None:
    """Some APIs take their key in the query (Google's ``?key=``); the start-up lines
    printed the whole URL, so the key went into the log."""
    code, logs = _exit_of({"RYMI_LLM_BACKEND": "upstream", "RYMI_LLM_UPSTREAM_URL":
                           f"http://127.0.0.1:{free_port()}/v1?key=s3cret-q&api-version=1"})
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
    # error, backend=upstream ...", a variable that does not exist).
    assert code == 2 and "bad setting: backend=upstream needs upstream_url" in logs, logs


def test_upstream_without_the_check_needs_the_upstream_models_name() -> None:
    """Nothing else names the upstream's model then: each caller's typed name went
    upstream as it was (a 404 from vLLM or OpenAI on every call)."""
    code, logs = _exit_of({"RYMI_LLM_BACKEND": "upstream", "RYMI_LLM_UPSTREAM_CHECK": "false",
                           "RYMI_LLM_UPSTREAM_URL": f"http://127.0.0.1:{free_port()}/v1"})
    assert code == 2 and "upstream_model" in logs


def test_credentials_in_the_upstream_url_are_refused_and_never_printed() -> None:
    """A user:password@ in the URL was dropped (the upstream then refused us) and logged
    with the URL at start-up: a secret in the log. Refused as a bad setting instead."""
    code, logs = _exit_of({"RYMI_LLM_BACKEND": "upstream", "RYMI_LLM_UPSTREAM_URL":
                           f"http://user:s3cret-pw@127.0.0.1:{free_port()}/v1"})
    assert code == 2 and "must not carry credentials" in logs and "s3cret-pw" not in logs


def test_an_upstream_token_is_one_line_its_trailing_newline_dropped(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A key from a file (or a secret made --from-file) ends in a newline: sent as it was,
    it ended the request's head early and every call failed while /readyz said ready."""
    from servers.llm.config import LlmSettings

    monkeypatch.setenv("RYMI_LLM_UPSTREAM_TOKEN", "sk-up-77\n")
    assert LlmSettings().upstream_token.get_secret_value() == "sk-up-77"
    code, logs = _exit_of({"RYMI_LLM_BACKEND": "upstream", "RYMI_LLM_UPSTREAM_TOKEN":
                           "sk-up-88\nX-Injected: 1", "RYMI_LLM_UPSTREAM_URL":
                           f"http://127.0.0.1:{free_port()}/v1"})
    assert code == 2 and "RYMI_LLM_UPSTREAM_TOKEN: must be one line" in logs, logs
    assert "sk-up-88" not in logs
