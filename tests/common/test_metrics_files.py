"""A worker's metric files on a full file system: a metric left uncounted, never a
worker killed by SIGBUS (prometheus_client writes into sparse files it maps).

Each case runs a child process whose multiprocess metrics folder is a tiny tmpfs this
test mounts (root only, as the CI machine runs): the disk is really full."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.servers import REPO

# The child: metrics as a worker makes them, then the disk filled, then metrics that need
# new room (a new file's kind, a file that grows past its first 64 KiB).
CHILD = r"""
import logging, os, sys
logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
from servers.common import metrics  # installs the allocated files
from prometheus_client import Counter, Gauge
folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
calls = Counter("calls", "c", ["n"])
calls.labels("0").inc()
with open(os.path.join(folder, "fill"), "wb", buffering=0) as f:  # every block
    try:
        while True:
            f.write(b"x" * 4096)
    except OSError:
        pass
for i in range(3000):  # past 64 KiB of keys: the file must grow
    calls.labels(str(i)).inc()
peak = Gauge("peak", "g", multiprocess_mode="livemax")  # a new kind: a new file
peak.set(7)
assert calls.labels("2999")._value.get() == 1 and peak._value.get() == 7
sys.stdout.write("served\n")
"""


@pytest.fixture
def full_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    folder = tmp_path / "small"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)],
                   check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_disk_leaves_metrics_uncounted_and_the_worker_alive(full_disk: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(full_disk), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", CHILD], env=env, cwd=REPO, timeout=120,
                          capture_output=True, text=True)
    # Before: -7 (SIGBUS) at the first key past the file's first 64 KiB.
    assert done.returncode == 0 and done.stdout == "served\n", (done.returncode, done.stderr)
    # Said once for each file (the counters' that could not grow, the new kind's), not
    # once for each of the 3,000 calls.
    assert done.stderr.count("no room for") == 2, done.stderr
    assert "TMPDIR" in done.stderr
    # What fitted is still read by the server's collector; the new kind left no empty file.
    from servers.common.metrics import _sized
    assert [Path(f).name.split("_")[0] for f in _sized(str(full_disk))] == ["counter"]
