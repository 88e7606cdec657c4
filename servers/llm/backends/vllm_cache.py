"""Where vLLM keeps its caches when the home folder cannot take them.

vLLM writes under ``~/.cache/vllm`` (its model-info cache, compile caches). With HOME
unset, read-only or someone else's (OpenShift's random uid, ``readOnlyRootFilesystem``,
a service user with the home ``/nonexistent``) each start logged a 34-line ERROR
traceback ("Error saving model info cache"), though the server then served normally: an
error that trains operators to skip real ones. Then a folder of this user's in the
temporary directory is used instead (``VLLM_CACHE_ROOT``, which an operator's own value
overrides).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def use_writable_cache_root(environ: dict[str, str] | os._Environ[str] = os.environ) -> None:
    if environ.get("VLLM_CACHE_ROOT"):
        return
    try:
        base = Path(environ.get("XDG_CACHE_HOME") or Path(environ["HOME"]) / ".cache")
        base.mkdir(parents=True, exist_ok=True)
        writable = os.access(base, os.W_OK | os.X_OK)
    except (KeyError, OSError):  # no HOME, or a folder that cannot be made
        writable = False
    if not writable:
        environ["VLLM_CACHE_ROOT"] = str(Path(tempfile.gettempdir()) /
                                         f"rymi-vllm-cache-{os.getuid()}")
