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

from servers.common.folders import private_folder


def use_writable_cache_root(environ: dict[str, str] | os._Environ[str] = os.environ) -> None:
    if environ.get("VLLM_CACHE_ROOT"):
        return
    home, xdg = environ.get("HOME"), environ.get("XDG_CACHE_HOME")
    writable = False
    if xdg or home:  # (a blank HOME: vLLM's expanduser made it "/.cache")
        try:
            base = Path(xdg or Path(str(home)) / ".cache")
            base.mkdir(parents=True, exist_ok=True)
            writable = os.access(base, os.W_OK | os.X_OK)
        except OSError:  # a folder that cannot be made
            pass
    if writable:
        return
    # The caches hold compiled code that vLLM loads: a name others can guess is used
    # only if it is this user's alone, else a fresh folder of a name no one can.
    shared = Path(tempfile.gettempdir()) / f"rymi-vllm-cache-{os.getuid()}"
    environ["VLLM_CACHE_ROOT"] = str(shared) if private_folder(shared) else \
        tempfile.mkdtemp(prefix="rymi-vllm-cache-")
