"""The full run refuses to pass when a part of the bundle lost its tests (tests/conftest.py)."""

from __future__ import annotations

import subprocess
import sys

from tests.support.servers import REPO


def _collect(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                           "-p", "no:cacheprovider", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def test_a_full_run_missing_a_folder_is_an_error():
    proc = _collect("--ignore=tests/bench")
    assert proc.returncode == 4  # pytest's usage error, never 0 or 5
    assert "collected no test from tests/['bench']" in proc.stdout + proc.stderr


def test_the_full_suite_collects_every_folder():
    proc = _collect()
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
