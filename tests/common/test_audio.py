"""PCM framing and streaming resampling, on real speech."""

from __future__ import annotations

import wave

import numpy as np
import pytest
import soxr

from servers.common.audio import (
    SUPPORTED_RATES,
    Pcm16Reassembler,
    StreamingResampler,
    UnsupportedFormat,
    float_to_int16,
    int16_to_float,
    parse_pcm_format,
)


def load(path) -> np.ndarray:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy()


@pytest.mark.parametrize("rate", SUPPORTED_RATES)
def test_parse_supported(rate):
    assert parse_pcm_format(f"pcm_{rate}") == rate


@pytest.mark.parametrize("name", ["pcm_12345", "pcm24000", "wav_24000", "pcm_", "", "PCM_24000",
                                  "pcm_-8000", "pcm_24000.0",
                                  # Names outside the listed set that digit parsing took,
                                  # or failed on with a bare ValueError.
                                  "pcm_024000", "pcm_２４０００", "pcm_²4000", "pcm_" + "9" * 5000])
def test_parse_rejects(name):
    with pytest.raises(UnsupportedFormat, match="pcm_24000"):
        parse_pcm_format(name)


def test_odd_frames_reassemble_exactly(audio_dir):
    pcm = load(audio_dir / "jfk.wav").tobytes()
    rng = np.random.default_rng(7)
    r = Pcm16Reassembler()
    out, pos = [], 0
    while pos < len(pcm):
        n = int(rng.integers(0, 999))  # zero-length and odd-sized frames included
        out.append(r.push(pcm[pos:pos + n]))
        pos += n
    assert r.pending == 0
    assert np.concatenate(out).tobytes() == pcm
    assert r.bytes_in == len(pcm)


def test_full_scale_and_beyond_saturate_and_never_wrap():
    """Past full scale (a gain that clips) stays at the top: at 32768 a +1.0 wrapped to
    -32768, a full-scale click at every clipped sample."""
    from servers.common.audio import float_to_int16

    out = float_to_int16(np.array([1.0, 1.5, -1.0, -1.5, 0.5, -0.5], dtype=np.float32))
    assert out.tolist() == [32767, 32767, -32767, -32767, 16384, -16384]


def test_single_bytes_reassemble():
    r = Pcm16Reassembler()
    data = np.array([1, -2, 32767, -32768], dtype="<i2").tobytes()
    got = [r.push(data[i:i + 1]) for i in range(len(data))]
    assert [len(g) for g in got] == [0, 1, 0, 1, 0, 1, 0, 1]
    assert np.concatenate(got).tolist() == [1, -2, 32767, -32768]


@pytest.mark.parametrize("out_rate", [8000, 16000, 24000, 44100, 48000])
def test_streaming_resample_matches_one_shot(audio_dir, out_rate):
    """Random chunk sizes give the one-shot result: the stream keeps its filter state."""
    src = load(audio_dir / "original-rates" / "lj002_0020_22050_pcm16.wav")
    one_shot = float_to_int16(soxr.resample(int16_to_float(src), 22050, out_rate, "HQ"))
    rs = StreamingResampler(22050, out_rate)
    rng = np.random.default_rng(out_rate)
    parts, pos = [], 0
    while pos < len(src):
        n = int(rng.integers(1, 4000))
        parts.append(rs.process(src[pos:pos + n]))
        pos += n
    parts.append(rs.flush())
    streamed = np.concatenate(parts)
    assert abs(len(streamed) - len(one_shot)) <= 2
    n = min(len(streamed), len(one_shot))
    diff = np.abs(streamed[:n].astype(np.int32) - one_shot[:n].astype(np.int32))
    assert diff.max() <= 2  # rounding only: no seams, no clicks


def test_no_discontinuity_at_chunk_seams():
    """A pure tone resampled in chunks has no jump larger than the tone's own slope."""
    t = np.arange(22050) / 22050
    tone = float_to_int16(0.5 * np.sin(2 * np.pi * 440 * t))
    rs = StreamingResampler(22050, 24000)
    out = np.concatenate([rs.process(tone[i:i + 1103]) for i in range(0, len(tone), 1103)]
                         + [rs.flush()])
    steady = out[2000:-2000].astype(np.int32)
    max_step = 0.5 * 32767 * 2 * np.pi * 440 / 24000
    assert np.abs(np.diff(steady)).max() <= max_step * 1.05


def test_equal_rates_pass_through():
    rs = StreamingResampler(16000, 16000)
    x = np.arange(-50, 50, dtype=np.int16)
    assert rs.process(x).tolist() == x.tolist()
    assert len(rs.flush()) == 0
