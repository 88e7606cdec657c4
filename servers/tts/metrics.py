"""TTS metrics, beside the common request/latency ones (servers.common.metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from servers.common.metrics import LATENCY_BUCKETS

TTFA = Histogram("rymi_tts_time_to_first_audio_seconds",
                 "From request received to the first audio bytes ready to send",
                 buckets=LATENCY_BUCKETS)
RTF = Histogram("rymi_tts_real_time_factor", "Synthesis time / audio duration, per request",
                buckets=(0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0))
STREAMS = Gauge("rymi_tts_streams", "Synthesis streams in progress")
QUEUE = Gauge("rymi_tts_queue_depth", "Pieces waiting for an inference worker")
RUNNING = Gauge("rymi_tts_pieces_running", "Pieces an inference worker is synthesising now")
PIECES = Counter("rymi_tts_pieces_total", "Text pieces handled by the workers", ["outcome"])
ERRORS = Counter("rymi_tts_errors_total", "Requests that ended in an error", ["code"])
AUDIO_SECONDS = Counter("rymi_tts_audio_seconds_total", "Seconds of audio sent")
CHARACTERS = Counter("rymi_tts_characters_total", "Characters of text synthesised")
