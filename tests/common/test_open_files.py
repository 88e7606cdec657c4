"""A load that fails at (or near) the open-files limit says so (open_files.py):
CTranslate2 reports EMFILE as "Cannot load the vocabulary", which points at the model."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.support.servers import REPO

# In a child, so the limit and the open files are its own: the limit lowered to 64,
# then ``held`` files opened before the note is asked for.
CHILD = """
import os, resource, sys
from servers.common.open_files import near_limit_note
resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
held = []
for _ in range(int(sys.argv[1])):
    try:
        held.append(os.open(os.devnull, os.O_RDONLY))
    except OSError:
        break
print(repr(near_limit_note()))
"""

# The same, with files opened until exactly ``in_use`` are (as the note counts them).
CHILD_AT = CHILD.replace("""for _ in range(int(sys.argv[1])):
    try:
        held.append(os.open(os.devnull, os.O_RDONLY))
    except OSError:
        break""", """while len(os.listdir("/proc/self/fd")) - 1 < int(sys.argv[1]):
    held.append(os.open(os.devnull, os.O_RDONLY))""")


@pytest.mark.parametrize(("held", "said"), [(0, False), (200, True)])
def test_a_failure_at_the_open_files_limit_names_it(held: int, said: bool) -> None:
    out = subprocess.run([sys.executable, "-c", CHILD, str(held)], cwd=REPO, text=True,
                         capture_output=True, timeout=60, check=True).stdout.strip()
    if said:  # every descriptor taken (200 asked, 64 allowed)
        assert "of the open files limit (ulimit -n) 64" in out, out
    else:
        assert out == "''", out


@pytest.mark.parametrize(("in_use", "said"), [(47, False), (48, True)])
def test_the_note_begins_sixteen_files_below_the_limit(in_use: int, said: bool) -> None:
    """Its band's edge (NEAR_LIMIT), which only "far below" and "every one taken" did not
    pin: 48 of 64 open is near enough to be the likelier cause, 47 is not."""
    out = subprocess.run([sys.executable, "-c", CHILD_AT, str(in_use)], cwd=REPO, text=True,
                         capture_output=True, timeout=60, check=True).stdout.strip()
    if said:
        assert out == "' (48 files open of the open files limit (ulimit -n) 64: the " \
                      "likelier cause; raise it)'", out
    else:
        assert out == "''", out


def test_a_start_that_fails_near_the_limit_says_so(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A server's own start-up failure (its model's load) names the limit too: the echo
    server, with 64 files allowed and 45 of them held (48 with stdio), fails its start."""
    from tests.common.test_core_edges import _echo_until

    log = tmp_path / "echo.log"
    hold = ("import os, resource; resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64)); "
            "HELD = [os.open(os.devnull, os.O_RDONLY) for _ in range(45)]")
    proc = _echo_until("startup failed", log, hold, RYMI_ECHO_SERVER_PORT="0",
                       RYMI_ECHO_SERVER_FAIL_STARTUP="true")
    try:
        assert proc.wait(30) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert re.search(r"startup failed, exiting: FileNotFoundError: model file missing: "
                     r"\S+ \(\d+ files open of the open files limit \(ulimit -n\) 64: "
                     r"the likelier cause; raise it\)", text), text[-2000:]
