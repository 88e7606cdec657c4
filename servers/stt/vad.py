"""Streaming Silero VAD: the ONNX model that ships inside faster-whisper, run window by window.

One ``InferenceSession`` is shared by every stream (``run`` is thread-safe); each stream
keeps its own LSTM state and the 64-sample context that Silero v6 prepends to a window.
Fed the same audio, the streamed probabilities equal faster-whisper's offline ones.

Except after a long quiet: Silero's LSTM state drifts through minutes of silence or line
noise (a caller listening while the agent talks), and the next words then scored low, so
jfk.wav after 60 s of silence lost "ask not" altogether. Five seconds under the quiet
level start the state afresh, as at the start of a stream, where it scores them well.
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


RESET_AFTER_S = 5.0


class StreamingVad:
    """Speech probability per 512-sample window, with state carried across calls (and
    started afresh after ``RESET_AFTER_S`` of windows under ``quiet_below``)."""

    def __init__(self, session=None, quiet_below: float = 0.35) -> None:  # noqa: ANN001
        self._session = session or load_session()
        self.quiet_below = quiet_below  # the segmenter's silence level (band.py moves it)
        self._reset_after = int(RESET_AFTER_S * SAMPLE_RATE / WINDOW)
        self._quiet = 0  # windows in a row under quiet_below
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._fresh_state()

    def _fresh_state(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)

    def probabilities(self, windows: np.ndarray) -> np.ndarray:
        """``windows``: float32 of shape (n, 512). One model call for all of them, and
        one more for those after a quiet long enough to start the state afresh."""
        parts = []
        while len(windows):
            probs = self._scored(windows)
            for i, p in enumerate(probs):
                self._quiet = self._quiet + 1 if p < self.quiet_below else 0
                if self._quiet >= self._reset_after:
                    # The state after this window is dropped: what follows is scored again
                    # from a fresh one (a long push of audio is no exception).
                    self._quiet = 0
                    self._fresh_state()
                    self._context = windows[i, -CONTEXT:].copy()
                    probs, windows = probs[:i + 1], windows[i + 1:]
                    break
            else:
                windows = windows[:0]
            parts.append(probs)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)

    def _scored(self, windows: np.ndarray) -> np.ndarray:
        # Each row gets the last 64 samples of the row before it (the previous call's last
        # row for the first one), exactly as faster-whisper batches its offline VAD.
        contexts = np.concatenate([self._context[None], windows[:-1, -CONTEXT:]], axis=0)
        batch = np.concatenate([contexts, windows], axis=1).astype(np.float32, copy=False)
        out, self._h, self._c = self._session.run(
            None, {"input": batch, "h": self._h, "c": self._c})
        self._context = windows[-1, -CONTEXT:].copy()
        return np.asarray(out, dtype=np.float32).reshape(-1)
