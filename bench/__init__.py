"""Benchmarks (``make bench``): latency tables against peers measured in the same run.

Run directly (``python -m bench.stt``) they use the repository's prepared models, as
``make`` does, rather than the per-user cache.
"""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Where every benchmark writes its numbers, whatever directory it is run from.
RESULTS = REPO / "results"

os.environ.setdefault("RYMI_MODELS_DIR", str(REPO / ".models"))
