"""Real peer servers (piper.http_server, WhisperLive, LiteLLM...) in venvs of their own.

Peers are installed from PyPI into ``.peers/<name>`` (gitignored) once, pinned, and never
into the project's own environment: their dependency pins clash with ours.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from .servers import REPO

PEERS = REPO / ".peers"


def peer_python(name: str, requirements: list[str], pip_args: list[str] | None = None) -> Path:
    """Create or reuse ``.peers/<name>`` with exactly these requirements; its python."""
    venv = PEERS / name
    python = venv / "bin" / "python"
    want = hashlib.sha256("\n".join([*requirements, *(pip_args or [])]).encode()).hexdigest()
    stamp = venv / ".installed"
    if python.exists() and stamp.exists() and stamp.read_text() == want:
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    *(pip_args or []), *requirements], check=True)
    stamp.write_text(want)
    return python
