"""The Whisper engine behind one narrow call: audio in, ``Transcript`` out.

One ``WhisperModel`` per process, shared by every session (CTranslate2 runs up to
``num_workers`` decodes at once). The decode is the bare floor: the encoder always
sees a 30 s window (shortening it makes tiny.en loop), so latency is won by *when* a
decode starts (see scheduler.py and session.py), never by trimming it here.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import SttSettings
from .languages import LanguageChoice, choose_language

# Whisper's own hallucination guards, applied per segment (we never fall back to
# sampling at higher temperatures: it doubles the decode and invents words on noise).
NO_SPEECH_THRESHOLD = 0.6
LOG_PROB_THRESHOLD = -1.0
COMPRESSION_RATIO_THRESHOLD = 2.4


@dataclass(frozen=True)
class DecodeOptions:
    # Whisper language code the decode is forced to; None: detect it (language=auto).
    language: str | None = "en"
    beam_size: int = 1
    hotwords: str | None = None
    model: str = ""  # which loaded model decodes (ModelRegistry); "" = the configured one
    previous: str | None = None  # auto: the language this session settled on so far
    candidates: tuple[str, ...] = ()  # auto: detect only among these


@dataclass
class Transcript:
    text: str
    confidence: float
    language: str
    audio_s: float
    decode_s: float = 0.0
    detected: str | None = None  # auto: detection's own answer and probability
    probability: float = 0.0


class WhisperEngine:
    def __init__(self, model_path: Path, *, device: str = "cpu", compute_type: str = "int8",
                 cpu_threads: int = 1, workers: int = 1) -> None:
        from faster_whisper import WhisperModel

        self.model_path = model_path
        self.model = WhisperModel(str(model_path), device=device, compute_type=compute_type,
                                  cpu_threads=cpu_threads, num_workers=workers)
        self.multilingual = bool(self.model.model.is_multilingual)

    @classmethod
    def from_settings(cls, settings: SttSettings, model_path: Path) -> WhisperEngine:
        return cls(model_path, device=settings.device, compute_type=settings.compute_type,
                   cpu_threads=settings.threads_per_decode(), workers=settings.decode_workers)

    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> Transcript:
        """Blocking: call from a worker thread, never from the event loop."""
        started = time.perf_counter()
        choice = self.language_for(audio, options)
        text, logprob = self._decode(audio, choice.language, options)
        confidence = math.exp(logprob) if text else 0.0
        return Transcript(text=text, confidence=round(min(1.0, confidence), 4),
                          language=choice.language, audio_s=len(audio) / 16000,
                          decode_s=time.perf_counter() - started, detected=choice.detected,
                          probability=round(choice.probability, 4))

    def _decode(self, audio: np.ndarray, language: str,
                options: DecodeOptions) -> tuple[str, float]:
        """-> (text, mean token log-probability) of one decode forced to ``language``."""
        segments, _info = self.model.transcribe(
            audio,
            language=language,
            beam_size=options.beam_size,
            temperature=0.0,
            vad_filter=False,  # the session's VAD already chose the speech
            condition_on_previous_text=False,  # no earlier text to copy into a new utterance
            without_timestamps=True,  # text tokens only: a shorter decode
            no_speech_threshold=NO_SPEECH_THRESHOLD,
            log_prob_threshold=LOG_PROB_THRESHOLD,
            compression_ratio_threshold=COMPRESSION_RATIO_THRESHOLD,
            hotwords=options.hotwords or None,
        )
        texts: list[str] = []
        logprob_sum = 0.0
        tokens = 0
        for seg in segments:
            if _hallucinated(seg):
                continue
            text = seg.text.strip()
            if not text:
                continue
            texts.append(text)
            n = max(1, len(seg.tokens))
            logprob_sum += seg.avg_logprob * n
            tokens += n
        return " ".join(texts), (logprob_sum / tokens if tokens else -math.inf)

    def language_for(self, audio: np.ndarray, options: DecodeOptions) -> LanguageChoice:
        """The forced language, or (auto) detection weighed against what the session knows."""
        if options.language is not None:
            return LanguageChoice(options.language)
        if not self.multilingual:
            return LanguageChoice("en")
        # One extra encoder pass; faster-whisper's own auto mode costs the same.
        _lang, _p, probs = self.model.detect_language(audio)
        return choose_language(probs, audio_s=len(audio) / 16000, previous=options.previous,
                               candidates=options.candidates)


def _hallucinated(seg) -> bool:  # noqa: ANN001 - faster_whisper.Segment
    # A segment that repeats itself, or that the model thinks is no speech and is unsure
    # of, is dropped rather than sent as words nobody said.
    if seg.compression_ratio > COMPRESSION_RATIO_THRESHOLD:
        return True
    return seg.no_speech_prob > NO_SPEECH_THRESHOLD and seg.avg_logprob < LOG_PROB_THRESHOLD
