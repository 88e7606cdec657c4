"""vLLM's caches go where this user can write (a home it cannot was a 34-line ERROR)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from servers.llm.backends.vllm_cache import use_writable_cache_root


@pytest.mark.parametrize("home", ["/proc/self", None])  # not writable (even by root); unset
def test_a_home_it_cannot_write_moves_the_cache_to_the_temporary_folder(home: str | None):
    env = {} if home is None else {"HOME": home}
    use_writable_cache_root(env)
    root = Path(env["VLLM_CACHE_ROOT"])
    assert root.name == f"rymi-vllm-cache-{os.getuid()}"
    root.mkdir(parents=True, exist_ok=True)  # (and it can be made)


def test_a_writable_home_and_an_operators_choice_are_left_alone(tmp_path: Path):
    env = {"HOME": str(tmp_path)}
    use_writable_cache_root(env)
    assert "VLLM_CACHE_ROOT" not in env and (tmp_path / ".cache").is_dir()
    env = {"HOME": "/proc/self", "VLLM_CACHE_ROOT": "/srv/cache"}
    use_writable_cache_root(env)
    assert env["VLLM_CACHE_ROOT"] == "/srv/cache"
