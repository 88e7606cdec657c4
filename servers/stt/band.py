"""Whether a stream is telephone audio: nothing above 4 kHz in any window with sound.

A phone call reaches Rymi at 8 kHz (G.711) and is sent on at 16 kHz, so its upper half
band is empty. Silero scores such speech far lower than the same speech recorded wide
(one clip peaks at 0.28 through the band, 0.99 as recorded), and the scores of most
sit around 0.5. ``python -m bench.stt_phone``, the 17 speech clips as phone calls: at
a threshold of 0.5, 3 gave no words at all (a caller the agent never heard) and WER was
32.3%; at 0.35, 1 and 19.6%. White and pink noise, hum and chords through the same band
peak at 0.05 or less, so the lower threshold costs no false starts there.

A window whose energy is mostly under 300 Hz (hum, rumble) is no evidence of the band.
The verdict is per stream and one way: a single window with sound up there makes it
wide for good (a click, or wideband audio after a quiet start), and the session's
thresholds are the configured ones again.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    from .segmenter import UtteranceSegmenter
    from .vad import StreamingVad

Band = Literal["unknown", "narrow", "wide"]

WINDOW = 512  # samples at 16 kHz, as the VAD's windows
_HIGH_BIN = 128  # 4 kHz in a 512-point spectrum at 16 kHz (31.25 Hz a bin)
# Windows quieter than this say nothing: silence, a muted line, and the 16-bit rounding
# noise (white, about -100 dBFS) which fills the upper band of any int16 stream.
_SOUND_DBFS = -45.0
# Above 4 kHz, as a share of such a window's energy. The clips as recorded: -9.5 dB or
# more in each one's top window; through the phone band, as int16: -45.6 dB at most.
_WIDE_DB = -30.0
_HANN = np.hanning(WINDOW).astype(np.float32)
# Under 300 Hz (bins 0-9): where a phone line carries little and mains hum and rumble
# carry all. A window with most of its energy there says nothing of the band: a loud hum
# alone (peaking at 0.31, wideband) was taken for a phone call and scored at 0.35.
_LOW_BIN = 10
_LOW_SHARE = 0.5


class BandWatch:
    def __init__(self) -> None:
        self.band: Band = "unknown"
        self._tail = np.zeros(0, np.float32)  # the samples short of a window, kept

    def observe(self, windows: np.ndarray) -> Band:
        """``windows``: float32 of shape (n, 512), the VAD's. Returns the verdict so far."""
        if self.band == "wide" or not len(windows):
            return self.band
        power = np.mean(windows.astype(np.float64) ** 2, axis=1)
        loud = windows[power > 10 ** (_SOUND_DBFS / 10)]
        if not len(loud):
            return self.band
        spectrum = np.abs(np.fft.rfft(loud * _HANN, axis=1)) ** 2
        total = spectrum.sum(axis=1) + 1e-20
        if (spectrum[:, _HIGH_BIN:].sum(axis=1) / total).max() > 10 ** (_WIDE_DB / 10):
            self.band = "wide"
        elif (spectrum[:, :_LOW_BIN].sum(axis=1) / total < _LOW_SHARE).any():
            self.band = "narrow"
        return self.band

    def observe_frame(self, samples: np.ndarray) -> Band:
        """A frame's float32 samples, as the server gets them, of any size: what falls
        short of a window waits for the next frame. (Frames under a window, as a phone
        call's 20 ms ones, were never looked at: such a call stayed "unknown" and was
        scored at the wideband threshold.)"""
        if self.band == "wide":
            return self.band
        if len(self._tail):
            samples = np.concatenate((self._tail, samples))
        n = len(samples) // WINDOW
        self._tail = samples[n * WINDOW:].copy()
        return self.observe(samples[:n * WINDOW].reshape(n, WINDOW))


class NarrowbandThresholds:
    """Gives a segmenter (and its VAD's quiet level) ``threshold``/``neg`` while its
    stream is narrowband, and its configured thresholds otherwise. Called with each
    frame's samples before the segmenter scores them (on the VAD's thread)."""

    def __init__(self, segmenter: UtteranceSegmenter, vad: StreamingVad, threshold: float,
                 neg: float | None) -> None:
        self.segmenter, self.vad, self.watch = segmenter, vad, BandWatch()
        self._wide = segmenter.cfg
        self._narrow = replace(segmenter.cfg, threshold=threshold, neg_threshold=neg)

    def before(self, samples: np.ndarray) -> None:
        band = self.watch.observe_frame(samples)
        cfg = self._narrow if band == "narrow" else self._wide
        # The VAD's quiet (its state starts afresh after 5 s of it) is the segmenter's
        # silence: narrowband speech under the wide one would have reset it mid-sentence.
        self.segmenter.cfg, self.vad.quiet_below = cfg, cfg.neg
