"""vLLM's caches go where this user can write (a home it cannot was a 34-line ERROR),
and never to a guessable folder someone else made (they hold code vLLM loads)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from servers.llm.backends.vllm_cache import use_writable_cache_root

SHARED = Path(tempfile.gettempdir()) / f"rymi-vllm-cache-{os.getuid()}"


@pytest.mark.parametrize("home", ["/proc/self", "", None])  # not writable; blank; unset
def test_a_home_it_cannot_write_moves_the_cache_to_the_temporary_folder(home: str | None):
    env = {} if home is None else {"HOME": home}
    root_cache = Path("/.cache").exists()
    use_writable_cache_root(env)
    assert env["VLLM_CACHE_ROOT"] == str(SHARED) and SHARED.is_dir()
    assert Path("/.cache").exists() == root_cache  # (no HOME: nothing made at the root)


def test_a_writable_home_and_an_operators_choice_are_left_alone(tmp_path: Path):
    env = {"HOME": str(tmp_path)}
    use_writable_cache_root(env)
    assert "VLLM_CACHE_ROOT" not in env and (tmp_path / ".cache").is_dir()
    env = {"HOME": "/proc/self", "VLLM_CACHE_ROOT": "/srv/cache"}
    use_writable_cache_root(env)
    assert env["VLLM_CACHE_ROOT"] == "/srv/cache"


def test_a_guessable_folder_not_ours_alone_is_not_used(tmp_path: Path):
    shutil.rmtree(SHARED, ignore_errors=True)
    SHARED.symlink_to(tmp_path)  # as another user could have made it first
    try:
        env = {"HOME": "/proc/self"}
        use_writable_cache_root(env)
        root = Path(env["VLLM_CACHE_ROOT"])
        assert root != SHARED and root.is_dir() and not root.is_symlink()
        assert root.stat().st_mode & 0o077 == 0  # (mkdtemp: 0700, a name no one guesses)
        root.rmdir()
    finally:
        SHARED.unlink()
