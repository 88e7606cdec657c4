"""STT metrics, beside the common ones (requests, in-flight, first byte)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from servers.common.metrics import LATENCY_BUCKETS

FINALIZE_TO_FINAL = Histogram(
    "rymi_stt_finalize_to_final_seconds", "From a finalize message to the final answering it",
    buckets=LATENCY_BUCKETS)
SPEECH_END_TO_UTTERANCE_END = Histogram(
    "rymi_stt_speech_end_to_utterance_end_seconds",
    "From the end of the caller's speech (last speech audio received) to utterance_end",
    buckets=LATENCY_BUCKETS)
DECODE_SECONDS = Histogram("rymi_stt_decode_seconds", "Time of one decode", ["kind"],
                           buckets=LATENCY_BUCKETS)
QUEUE_WAIT_SECONDS = Histogram("rymi_stt_queue_wait_seconds",
                               "Time a decode waited for a worker", ["kind"],
                               buckets=LATENCY_BUCKETS)
REAL_TIME_FACTOR = Histogram("rymi_stt_real_time_factor", "Decode time / audio time",
                             ["kind"], buckets=(0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75,
                                                1.0, 1.5, 2.0, 5.0))
DECODES_SKIPPED = Counter("rymi_stt_decodes_skipped_total",
                          "Decodes cancelled before they ran (stale interims, speculation)",
                          ["kind"])
ACTIVE_SESSIONS = Gauge("rymi_stt_active_sessions", "Open STT sessions")
AUDIO_SECONDS = Counter("rymi_stt_audio_seconds_total",
                        "Audio received, in seconds at 16 kHz (as the usage records count it)")
FINALS = Counter("rymi_stt_finals_total", "Finals sent", ["trigger"])
SESSION_CLOSES = Counter("rymi_stt_session_closes_total", "Sessions ended, by close code",
                         ["code"])
DECODES_RUNNING = Gauge("rymi_stt_decodes_running", "Decodes running on the engine now",
                        ["kind"])
DECODES_QUEUED = Gauge("rymi_stt_decodes_queued",
                       "Decodes waiting for a worker (cancelled ones included until skipped)")
NARROWBAND_SESSIONS = Counter("rymi_stt_narrowband_sessions_total",
                              "Sessions whose audio had nothing above 4 kHz (phone calls), "
                              "scored with narrowband_vad_threshold")
BACKLOG_REFUSED = Counter("rymi_stt_backlog_refused_total",
                          "Sessions closed 1008 because their audio backlog stopped shrinking")
