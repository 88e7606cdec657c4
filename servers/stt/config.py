"""STT server settings: ``RYMI_STT_<NAME>`` or ``--name`` (the README table is generated here)."""

from __future__ import annotations

import sys
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from servers.common.config import ServerSettings
from servers.common.cpus import usable_cpus


class SttSettings(ServerSettings):
    """Rymi custom-transcriber server: PCM16 16 kHz over WebSocket in, JSON events out."""

    model_config = SettingsConfigDict(env_prefix="RYMI_STT_", extra="ignore")

    port: int = Field(8001, ge=0, le=65535, description="TCP port.")
    model: str = Field("whisper-tiny.en", min_length=1, description="Catalog name or path "
                       "of a CTranslate2 Whisper model.")
    device: Literal["cpu", "cuda", "auto"] = Field("cpu", description="cpu, cuda or auto.")
    # CTranslate2's compute types: a typo was found only by the model load, in its words.
    compute_type: Literal["int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16",
                          "float16", "bfloat16", "float32", "default", "auto"] = Field(
        "int8", description="CTranslate2 compute type (int8, int8_float16, float16, "
        "float32, ...).")
    cpu_threads: int = Field(0, ge=0, description="Threads per final decode; 0 = every core "
                             "(up to 8) when interims have their own lane (interim_nice), else "
                             "CPU cores divided by decode_workers.")
    decode_workers: int = Field(2, ge=1, le=64, description="Decodes that may run at once "
                                "(one model shared by all sessions). With 2 or more, one is kept "
                                "free of interims so finals never wait behind them. With an "
                                "interim lane: the interims that may run at once.")
    interim_nice: int = Field(10, ge=0, le=19, description="On a Linux CPU, interims decode "
                              "on their own copy of the model in threads this much nicer than "
                              "the server (lower priority), so "
                              "finals (on every core), the LLM and TTS take the CPU first; "
                              "costs a second copy of the weights in memory. 0 = no interim "
                              "lane: interims and finals share one model.")
    encoder_window_s: float = Field(30.0, ge=1, le=30, description="Audio window Whisper's "
                                    "encoder sees per decode (never less than the utterance "
                                    "+ 1 s). 30 = Whisper's own, most accurate; 10 makes a "
                                    "CPU decode about 3x faster at some accuracy (README).")
    interim_window_s: float = Field(10.0, ge=1, le=30, description="Audio window the "
                                    "encoder sees per interim decode (never less than the "
                                    "utterance + 1 s, never more than encoder_window_s): "
                                    "an interim is a hypothesis its final replaces, so it "
                                    "trades the last word's spelling for arriving sooner "
                                    "and leaving the CPU to finals. 30 = as finals.")
    beam_size: int = Field(5, ge=1, le=10, description="Beam size of final decodes (interims "
                           "always use 1). 5 is offline faster-whisper's; 1 saves a little "
                           "decoder time per final at some accuracy.")
    endpointing_ms: int = Field(500, ge=100, le=10000, description="Silence after speech before "
                                "the server sends final + utterance_end by itself.")
    speculative_ms: int = Field(96, ge=32, le=5000, description="Silence after which the "
                                "final's decode starts speculatively (reused if no speech "
                                "follows).")
    vad_threshold: float = Field(0.5, gt=0, lt=1, description="Silero speech probability that "
                                 "starts or continues speech.")
    vad_neg_threshold: float | None = Field(None, gt=0, lt=1, description="Probability below "
                                            "which a window is silence (default threshold - "
                                            "0.15); a URL's vad_threshold keeps the gap.")
    narrowband_vad_threshold: float = Field(0.35, ge=0, lt=1, description="vad_threshold "
                                            "for a stream with nothing above 4 kHz (a phone "
                                            "call, 8 kHz upsampled), which Silero scores "
                                            "lower; 0 = vad_threshold. A URL's vad_threshold "
                                            "is kept as given.")
    min_speech_ms: int = Field(250, ge=32, le=5000, description="Voice activity needed before "
                               "speech_started (shorter blips are noise).")
    speech_pad_ms: int = Field(400, ge=0, le=2000, description="Audio kept before the onset "
                               "of speech for decoding, as faster-whisper's own VAD pads (after "
                               "its end: up to speculative_ms).")
    max_utterance_s: float = Field(28.0, gt=1, le=30, description="An utterance longer than "
                                   "this is finalised and a new one begins (Whisper sees 30 s).")
    interim: bool = Field(True, description="Send interim hypotheses while the caller speaks.")
    interim_step_ms: int = Field(300, ge=50, le=10000, description="Minimum new audio between "
                                 "two interim decodes of one utterance.")
    max_frame_bytes: int = Field(1_048_576, ge=2, description="Largest frame accepted; "
                                 "larger: error event and close 1009 (past 8x this, the "
                                 "WebSocket layer itself closes 1009, with no event).")
    max_session_s: float = Field(3600.0, gt=0, description="Longest session; then error event "
                                 "and close 1008.")
    idle_timeout_s: float = Field(30.0, gt=0, description="No frame for this long: error event "
                                  "and close 1008 (send keepalive to hold a silent session).")
    max_sessions: int = Field(0, ge=0, description="Concurrent sessions; the next handshake "
                              "gets 503 + Retry-After. 0 = sized from the hardware: 2 per CPU "
                              "core (cpu: the CPU set, or a container's CPU quota if lower), "
                              "32 (cuda). max_inflight, where set, bounds it too.")
    max_buffered_s: float = Field(60.0, gt=0, description="Audio waiting for its final decode "
                                  "per session before the server stops reading the socket "
                                  "(back-pressure; nothing is dropped).")
    backlog_timeout_s: float = Field(30.0, gt=0, description="Past max_buffered_s, how long "
                                     "no final decode may finish before the session is "
                                     "refused with an error and close 1008 (pending finals "
                                     "are sent first): a server that cannot keep up says so.")
    max_loaded_models: int = Field(2, ge=1, le=16, description="STT models held in memory "
                                   "at once: the configured one plus others asked for with "
                                   "?model= (loaded on first use; the least recently used idle "
                                   "one is unloaded to make room).")
    models_memory_mb: int = Field(0, ge=0, description="Most weights (MB, model.bin sizes) "
                                  "loaded at once; 0 = only max_loaded_models bounds them.")
    max_keyterms: int = Field(20, ge=0, le=100, description="Most keyterms a URL may give.")
    flush_timeout_s: float = Field(30.0, gt=0, description="On close or a limit, how long "
                                   "pending finals may take before the socket closes.")

    @model_validator(mode="after")
    def _thresholds(self) -> SttSettings:
        if self.vad_neg_threshold is not None and self.vad_neg_threshold > self.vad_threshold:
            raise ValueError("vad_neg_threshold must not exceed vad_threshold")
        if self.min_speech_ms >= self.max_utterance_s * 1000:
            # No utterance could start before it had to end: words were lost, silently.
            raise ValueError("min_speech_ms must be shorter than max_utterance_s")
        return self

    def neg_threshold_for(self, threshold: float) -> float | None:
        """The silence threshold of a session whose speech threshold is ``threshold`` (a
        URL's vad_threshold): the operator's gap below vad_threshold kept; None, the
        segmenter's own default, where the operator set none."""
        if self.vad_neg_threshold is None:
            return None
        return max(0.01, threshold - (self.vad_threshold - self.vad_neg_threshold))

    def interim_lane(self) -> bool:
        """Whether interims decode on their own low-priority copy of the model. Only on a
        Linux CPU: there niceness is per thread (elsewhere it would slow the whole
        server), and on a GPU decodes do not compete for cores (device=auto may pick
        one, so it keeps the one shared model)."""
        return self.interim_nice > 0 and self.device == "cpu" and sys.platform == "linux"

    def threads_per_decode(self) -> int:
        """Threads of one final decode (and of every decode without an interim lane)."""
        if self.cpu_threads:
            return self.cpu_threads
        if self.interim_lane():
            return min(usable_cpus(), 8)
        return max(1, usable_cpus() // self.decode_workers)

    def interim_workers(self) -> int:
        """Interims that may decode at once on their own lane; 0: no lane (they share the
        finals' workers)."""
        return self.decode_workers if self.interim_lane() else 0

    def final_workers(self) -> int:
        """Finals that may decode at once: with an interim lane, as many as the cores hold
        side by side (one on a small box: two finals on every core would only take turns
        in smaller slices, and each would finish later); else ``decode_workers``."""
        if self.interim_lane():
            return max(1, usable_cpus() // self.threads_per_decode())
        return self.decode_workers

    def on_gpu(self) -> bool:
        """Whether decodes run on a GPU, where they do not share the CPU's cores. "auto"
        counts as CPU (the sizing errs toward fewer sessions)."""
        return self.device == "cuda"

    def session_limit(self) -> int:
        """Sessions admitted at once. On CPU every session's decodes share the cores: past
        about 2 continuous real-time streams per core, finals queue behind each other and
        everyone's turn-taking slows (bench.stt: 4 streams hold finalize p95 <= 2x one
        decode on 2 cores, 8 do not). Refusing the next call with a 503 lets the gateway
        try elsewhere instead of slowing every call in progress."""
        limit = self.max_sessions or (32 if self.on_gpu() else 2 * usable_cpus())
        # The common max_inflight, where an operator set it, bounds sessions too: the
        # README and --help say it does for every server (it was dropped silently here).
        if "max_inflight" in self.model_fields_set:
            limit = min(limit, self.max_inflight)
        return limit
