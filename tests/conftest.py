"""Suite-wide fixtures: where models live, test audio, dev certificates."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"


@pytest.fixture(scope="session")
def models_dir() -> Path:
    path = Path(os.environ.get("RYMI_MODELS_DIR") or REPO / ".models")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def audio_dir() -> Path:
    return DATA / "audio"


@pytest.fixture(scope="session")
def dev_certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same CA + server certificate that `make cert` makes, in a temp folder."""
    from rymi_endpoints.certs import make_dev_certs
    return make_dev_certs(tmp_path_factory.mktemp("certs"))
