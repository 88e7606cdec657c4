"""The piper engine adapter: load voices (bounded, least recently used dropped) and turn
one piece of text into float32 audio at the voice's native rate, in onnx runs of a
bounded number of phonemes.

This is the only module that knows piper. Everything it does blocks (onnxruntime), so it
is called from the worker threads of ``pool.SynthesisPool``, never on the event loop.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import onnxruntime
from piper import PiperVoice
from piper.config import PiperConfig, SynthesisConfig

from .voices import VoiceInfo

log = logging.getLogger("rymi.tts.engine")

# Phonemes per onnx run. The model's memory and time grow with its input: a character
# cap on pieces does not bound that, since espeak reads a character it cannot say by
# name ("中" is "Chinese letter", 15 phonemes): 300 of them were one run of 4,319 ids,
# 3 GB and 112 s of audio. A 300-character piece of English is about 330 phonemes, so
# ordinary pieces stay whole (cutting one changes its prosody).
MAX_PHONEMES = 400


@dataclass(frozen=True)
class Style:
    """Multipliers on the voice's own inference settings (1.0 = as the voice ships)."""

    length: float = 1.0  # > 1 slower, < 1 faster
    noise: float = 1.0  # generator noise: lower is flatter and calmer
    noise_w: float = 1.0  # phoneme-duration noise: higher is livelier


class Withdrawn(Exception):
    """The caller withdrew the piece (it hung up) between two of its runs."""


def _never() -> bool:
    return False


class Engine(Protocol):
    """What the server needs from a TTS engine; a test double may wrap a real one.

    ``withdrawn`` is asked between runs of a long piece: true, the rest is not run
    (``Withdrawn`` is raised), so a hang-up frees the worker within one run.
    """

    def load(self, voice: VoiceInfo) -> None: ...

    def loaded(self, voice: VoiceInfo) -> bool: ...

    def synthesize(self, voice: VoiceInfo, text: str, style: Style,
                   withdrawn: Callable[[], bool] = _never) -> np.ndarray: ...


def session_options(threads: int) -> onnxruntime.SessionOptions:
    opts = onnxruntime.SessionOptions()
    # Several worker threads share the cores: each inference gets few threads, and they
    # sleep rather than spin when idle, so one request's spinning never starves another's.
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    # Its own lines are not JSON: a failed run is said by our log line (the exception
    # carries onnxruntime's message), not also as a coloured "[E:onnxruntime ...]".
    opts.log_severity_level = 4
    return opts


# (and its process-wide warnings: "Failed to persist telemetry device ID" where HOME
# cannot be written, in a container)
onnxruntime.set_default_logger_severity(3)


class PiperEngine:
    """Piper voices kept loaded, each with two onnxruntime sessions of the same model.

    A call synthesising alone gets the ``solo_threads`` session (every core on one
    piece: the lowest time to first audio); while other syntheses run, each gets the
    ``onnx_threads`` session, so concurrent calls share the cores instead of fighting
    over them. The second session costs the model's size in memory once more.
    """

    def __init__(self, onnx_threads: int = 1, max_loaded: int = 4, keep: str = "",
                 solo_threads: int = 1) -> None:
        self.onnx_threads = onnx_threads
        self.solo_threads = max(solo_threads, onnx_threads)
        self.max_loaded = max_loaded
        self.keep = keep  # the default voice is never dropped
        self._voices: OrderedDict[str, tuple[PiperVoice, PiperVoice]] = OrderedDict()
        # Loading is rare and one at a time keeps memory bounded; the loaded voices are
        # looked up under a lock of their own, so a load (~0.7 s) never holds up the
        # pieces of voices already loaded.
        self._load_lock = threading.Lock()
        self._index_lock = threading.Lock()
        self._running = 0
        self._running_lock = threading.Lock()

    def load(self, voice: VoiceInfo) -> None:
        self._voice(voice)

    def loaded(self, voice: VoiceInfo) -> bool:
        """Whether ``load`` would return at once (a dict lookup: safe from any thread)."""
        return voice.id in self._voices

    def _voice(self, info: VoiceInfo) -> tuple[PiperVoice, PiperVoice]:
        """(shared, solo) sessions of one voice; the same object twice if solo adds nothing."""
        if (loaded := self._lookup(info.id)) is not None:
            return loaded
        with self._load_lock:
            if (loaded := self._lookup(info.id)) is not None:  # loaded while we waited
                return loaded
            started = time.monotonic()
            config = PiperConfig.from_dict(json.loads(
                info.path.with_name(info.path.name + ".json").read_text("utf-8")))

            def open_session(threads: int) -> PiperVoice:
                return PiperVoice(session=onnxruntime.InferenceSession(
                    str(info.path), sess_options=session_options(threads),
                    providers=["CPUExecutionProvider"]), config=config)

            shared = open_session(self.onnx_threads)
            solo = shared if self.solo_threads == self.onnx_threads \
                else open_session(self.solo_threads)
            loaded = (shared, solo)
            with self._index_lock:
                self._voices[info.id] = loaded
                self._evict(info.id)
            log.info("loaded voice %s in %.2fs", info.id, time.monotonic() - started)
            return loaded

    def _lookup(self, voice_id: str) -> tuple[PiperVoice, PiperVoice] | None:
        with self._index_lock:
            loaded = self._voices.get(voice_id)
            if loaded is not None:
                self._voices.move_to_end(voice_id)
            return loaded

    def _evict(self, current: str) -> None:
        while len(self._voices) > self.max_loaded:
            # Never the voice being returned: dropped, it would be loaded again for every
            # piece. With the kept default loaded too, the bound is exceeded by that one
            # voice rather than thrashing.
            oldest = next((k for k in self._voices if k not in (self.keep, current)), None)
            if oldest is None:
                break
            del self._voices[oldest]
            log.info("unloaded voice %s (max_loaded_voices=%d)", oldest, self.max_loaded)

    def synthesize(self, voice: VoiceInfo, text: str, style: Style,
                   withdrawn: Callable[[], bool] = _never) -> np.ndarray:
        shared, solo = self._voice(voice)
        with self._running_lock:
            self._running += 1
            alone = self._running == 1
        try:
            return self._synthesize(solo if alone else shared, text, style, withdrawn)
        finally:
            with self._running_lock:
                self._running -= 1

    def _synthesize(self, piper_voice: PiperVoice, text: str, style: Style,
                    withdrawn: Callable[[], bool]) -> np.ndarray:
        cfg = piper_voice.config
        syn = SynthesisConfig(
            length_scale=cfg.length_scale * style.length,
            noise_scale=cfg.noise_scale * style.noise,
            noise_w_scale=cfg.noise_w_scale * style.noise_w,
            normalize_audio=False,  # fixed gain is applied later, the same for every piece
        )
        # piper's own synthesize() runs each sentence whole, however long: the sentences
        # are run here in bounded parts instead, clipped as piper clips them.
        chunks = []
        for sentence in piper_voice.phonemize(text):
            for run in phoneme_runs(sentence):
                if chunks and withdrawn():
                    raise Withdrawn
                audio = piper_voice.phoneme_ids_to_audio(piper_voice.phonemes_to_ids(run), syn)
                chunks.append(np.clip(audio, -1.0, 1.0).astype(np.float32).reshape(-1))
        if not chunks:  # text that phonemizes to nothing (punctuation only)
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(chunks)


def phoneme_runs(phonemes: list[str], limit: int = MAX_PHONEMES) -> list[list[str]]:
    """One sentence's phonemes in runs of at most ``limit``, cut at the last word gap in
    the second half of the window (a whole word per run), else at ``limit`` itself."""
    runs: list[list[str]] = []
    while len(phonemes) > limit:
        gap = next((i for i in range(limit, limit // 2, -1) if phonemes[i] == " "), None)
        runs.append(phonemes[:gap or limit])
        phonemes = phonemes[gap + 1:] if gap else phonemes[limit:]
    return [*runs, phonemes] if phonemes else runs
