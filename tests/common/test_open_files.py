"""A load that fails at the open-files limit says so (servers/common/open_files.py):
CTranslate2 reports EMFILE as "Cannot load the vocabulary", which points at the model."""

from __future__ import annotations

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


@pytest.mark.parametrize(("held", "said"), [(0, False), (200, True)])
def test_a_failure_at_the_open_files_limit_names_it(held: int, said: bool) -> None:
    out = subprocess.run([sys.executable, "-c", CHILD, str(held)], cwd=REPO, text=True,
                         capture_output=True, timeout=60, check=True).stdout.strip()
    if said:  # every descriptor taken (200 asked, 64 allowed)
        assert "of the open files limit (ulimit -n) 64" in out, out
    else:
        assert out == "''", out
