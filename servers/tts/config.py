"""TTS server settings: every field is a flag (``--max-text-chars``) and an environment
variable (``RYMI_TTS_MAX_TEXT_CHARS``); the README's settings table is generated from here."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servers.common.config import ServerSettings
from servers.common.cpus import usable_cpus


def _default_workers() -> int:
    # One inference thread per core: piper's model is small, so parallel requests
    # gain more from separate threads than one request gains from intra-op threads.
    return max(1, min(4, usable_cpus()))


class TtsSettings(ServerSettings):
    """Rymi custom-voice endpoint: JSON in, chunked PCM16 out, synthesised by piper."""

    model_config = SettingsConfigDict(env_prefix="RYMI_TTS_", extra="ignore")

    port: int = Field(8002, ge=0, le=65535, description="TCP port.")
    voice: str = Field(
        "piper-en_US-joe-medium",
        description="Default voice: a catalog name, a voice id found in voices_dir, or a "
        "path to a piper .onnx file (its .onnx.json beside it).",
    )
    voices_dir: Path | None = Field(
        None, description="Extra folder scanned (recursively) for piper voices: *.onnx "
        "with a matching .onnx.json.",
    )
    max_loaded_voices: int = Field(
        4, ge=1, description="Voices kept loaded at once; the least recently used is "
        "dropped beyond it (the default voice stays).",
    )
    max_text_chars: int = Field(
        5000, ge=1, description="Longest text accepted; longer is 413."
    )
    max_body_bytes: int = Field(
        65536, ge=1024, description="Largest JSON body accepted; larger is 413."
    )
    workers: int = Field(
        default_factory=_default_workers,
        ge=1, description="Inference threads sharing the loaded voices (default: cores, max 4).",
    )
    onnx_threads: int = Field(
        1, ge=1, description="onnxruntime intra-op threads per inference while other "
        "syntheses run (keep 1 unless workers is 1 on a machine with idle cores).",
    )
    solo_threads: int = Field(
        default_factory=_default_workers, ge=1,
        description="Intra-op threads for a synthesis that runs alone (default: cores, "
        "max 4): the lowest time to first audio when the server is not busy.",
    )
    queue_size: int = Field(
        32, ge=1, description="Synthesis jobs that may wait for a worker; a new request "
        "that finds the queue full gets 503 + Retry-After.",
    )
    max_late_s: float = Field(
        1.0, gt=0, description="How long past its request a first audio may come. A new "
        "request gets 503 + Retry-After when a waiting piece is this late already (its "
        "audio due this long ago, or queued this long ago if later), or when, played "
        "forward at the pace recent pieces took, taking it would make a caller's first "
        "audio this late or add over 0.3 s of gaps to a caller's audio: over capacity "
        "callers are told, and the streams in progress are not made later.",
    )
    first_piece_chars: int = Field(
        60, ge=0, description="The first sentence is cut at its first clause boundary "
        "within this many characters (a short sentence too), or, past them, at a word "
        "near them where 20 characters or more follow, so the first audio chunk comes "
        "quickly; 0: not cut.",
    )
    sentence_silence_s: float = Field(
        0.2, ge=0, le=2, description="Silence written after each sentence (not after the "
        "last), as piper's --sentence-silence."
    )
    gain: float = Field(
        1.6, gt=0, le=8, description="Fixed output gain on the voice's raw output (never "
        "per-chunk normalisation, so loudness does not jump between chunks).",
    )
    resample_quality: str = Field(
        "HQ", pattern="^(QQ|LQ|MQ|HQ|VHQ)$", description="soxr quality for resampling "
        "to the requested rate (QQ, LQ, MQ, HQ, VHQ).",
    )
