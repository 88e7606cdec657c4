"""PCM16 framing: format names, bytes <-> samples with split-sample carry, streaming resampling.

Rymi speaks signed 16-bit little-endian mono PCM everywhere. Frames arrive in any size
(a sample may be split across two WebSocket frames), and TTS output is resampled from a
voice's native rate to the rate the caller asked for, continuously across chunks.
"""

from __future__ import annotations

import numpy as np
import soxr

# The rates the contract serves for `pcm_<rate>`.
SUPPORTED_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
DEFAULT_FORMAT = "pcm_24000"
SUPPORTED_FORMATS = tuple(f"pcm_{r}" for r in SUPPORTED_RATES)


class UnsupportedFormat(ValueError):
    pass


def parse_pcm_format(name: str) -> int:
    """``"pcm_24000"`` -> 24000; anything outside the contract's set raises."""
    # The exact names only: parsing the digits (str.isdigit(), int()) also took
    # "pcm_024000" and full-width "pcm_２４０００", and raised ValueError on "pcm_²".
    if name not in SUPPORTED_FORMATS:
        raise UnsupportedFormat(
            f"unsupported format {name!r}; supported: {', '.join(SUPPORTED_FORMATS)}"
        )
    return int(name.removeprefix("pcm_"))


class Pcm16Reassembler:
    """Turns byte frames of any length into whole int16 samples, carrying an odd byte."""

    def __init__(self) -> None:
        self._carry = b""
        self.bytes_in = 0

    def push(self, data: bytes) -> np.ndarray:
        self.bytes_in += len(data)
        if self._carry:
            data = self._carry + data
        whole = len(data) - (len(data) & 1)
        self._carry = data[whole:]
        return np.frombuffer(data[:whole], dtype="<i2").astype(np.int16, copy=False)

    @property
    def pending(self) -> int:
        """Bytes held back (0 or 1)."""
        return len(self._carry)


def int16_to_float(samples: np.ndarray) -> np.ndarray:
    return samples.astype(np.float32) / 32768.0


def float_to_int16(samples: np.ndarray) -> np.ndarray:
    # Rounded, not truncated: truncation moves every sample towards zero (a bias of up to
    # one step that turns the quietest signal into crossover distortion).
    return np.rint(np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)


class StreamingResampler:
    """soxr's ResampleStream behind int16 in / int16 out; state kept across chunks.

    ``process`` may return fewer samples than the ratio suggests (the filter's delay);
    ``flush`` returns the rest once the input is over. With equal rates it passes
    samples through untouched.
    """

    def __init__(self, in_rate: int, out_rate: int, quality: str = "HQ") -> None:
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._stream = (
            None if in_rate == out_rate
            else soxr.ResampleStream(in_rate, out_rate, 1, dtype="float32", quality=quality)
        )

    def process(self, samples: np.ndarray) -> np.ndarray:
        if self._stream is None:
            return samples.astype(np.int16, copy=False)
        out = self._stream.resample_chunk(int16_to_float(samples), last=False)
        return float_to_int16(out)

    def flush(self) -> np.ndarray:
        if self._stream is None:
            return np.zeros(0, dtype=np.int16)
        out = self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        return float_to_int16(out)


def pcm_bytes(samples: np.ndarray) -> bytes:
    return samples.astype("<i2", copy=False).tobytes()
