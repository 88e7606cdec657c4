"""A folder of this user's alone, at a name others can guess (in the temporary directory).

Anyone may create ``/tmp/<name>`` first: a folder of theirs, or a link to one, where this
server would then write (its metrics) or read back what it finds (vLLM's compile caches:
code). Such a path is used only if it is a real folder, this user's, that no one else
can write to.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def private_folder(path: Path | str) -> bool:
    """Make ``path`` (0700) if it is not there; True if it is safe to use."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
    except OSError:
        return False
    return (stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid()
            and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH))
