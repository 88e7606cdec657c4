"""Streaming Silero VAD: the ONNX model that ships inside faster-whisper, run window by window.

One ``InferenceSession`` is shared by every stream (``run`` is thread-safe); each stream
keeps its own LSTM state and the 64-sample context that Silero v6 prepends to a window.
Fed the same audio, the streamed probabilities equal faster-whisper's offline ones.
"""

from __future__ import annotations

import os
from functools import cache

import numpy as np

WINDOW = 512  # samples at 16 kHz (32 ms): the window Silero v6 is trained on
CONTEXT = 64
SAMPLE_RATE = 16000


@cache
def load_session(path: str | None = None):  # noqa: ANN201 - onnxruntime type
    import onnxruntime
    from faster_whisper.utils import get_assets_path

    opts = onnxruntime.SessionOptions()
    # One thread: a VAD window costs well under a millisecond, and the decodes need the cores.
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 4
    return onnxruntime.InferenceSession(
        path or os.path.join(get_assets_path(), "silero_vad_v6.onnx"),
        providers=["CPUExecutionProvider"], sess_options=opts,
    )


class StreamingVad:
    """Speech probability per 512-sample window, with state carried across calls."""

    def __init__(self, session=None) -> None:  # noqa: ANN001
        self._session = session or load_session()
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)

    def probabilities(self, windows: np.ndarray) -> np.ndarray:
        """``windows``: float32 of shape (n, 512). One model call for all of them."""
        if len(windows) == 0:
            return np.zeros(0, dtype=np.float32)
        # Each row gets the last 64 samples of the row before it (the previous call's last
        # row for the first one), exactly as faster-whisper batches its offline VAD.
        contexts = np.concatenate([self._context[None], windows[:-1, -CONTEXT:]], axis=0)
        batch = np.concatenate([contexts, windows], axis=1).astype(np.float32, copy=False)
        out, self._h, self._c = self._session.run(
            None, {"input": batch, "h": self._h, "c": self._c})
        self._context = windows[-1, -CONTEXT:].copy()
        return np.asarray(out, dtype=np.float32).reshape(-1)
