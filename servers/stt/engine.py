"""The Whisper engine behind one narrow call: audio in, ``Transcript`` out.

One ``WhisperModel`` per process, shared by every session (CTranslate2 runs up to
``num_workers`` decodes at once). By default the encoder sees Whisper's own 30 s window
whatever the utterance's length, and that is most of a decode's time: tiny.en on 2 AVX2
cores, a 3 s utterance: encoder 400-590 ms, text 85-170 ms. ``encoder_window_s`` trims
the zero padding (the window is never shorter than the utterance plus 1 s): 10 s takes
the encoder to ~65 ms, but Whisper was trained on 30 s windows and writes less
punctuation and casing and a few more wrong words (``python -m bench.stt_window``). So
by default latency is won by *when* a decode starts (scheduler.py, session.py) and by
what CPU it gets; the window is the customer's trade. Interims, hypotheses their final
replaces, take a 10 s window by default (``interim_window_s``): they come sooner and leave
the CPU to finals, and the final keeps Whisper's whole window.

On a Linux CPU interims get a lane of their own: a second copy of the model whose
CTranslate2 workers run at a lower priority (niceness). A final then decodes on every
core and takes them from a running interim, as do the LLM and TTS beside us; interims
use what is left. On 2 cores with an interim decoding beside it, a tiny.en final took
750 ms on one shared model and 540 ms this way (alone: 690 and 450 ms).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import SttSettings
from .languages import LanguageChoice, SessionLanguage, choose_language

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

log = logging.getLogger("rymi.stt")

# Whisper's own hallucination guards, applied per segment (we never fall back to
# sampling at higher temperatures: it doubles the decode and invents words on noise).
NO_SPEECH_THRESHOLD = 0.6
LOG_PROB_THRESHOLD = -1.0
COMPRESSION_RATIO_THRESHOLD = 2.4

TOKENS_BASE, TOKENS_PER_S = 32, 20  # see max_new_tokens
# More words than anyone says in the audio: Whisper's training data, not the caller. A
# finalize 64 ms into a word gave tiny.en "Thank you so much for watching and I'll see
# you in the next video, bye" (15 words in 0.19 s); the test corpora's fastest reader
# says 3.1 words a second, and no real clip comes near this bound.
WORDS_BASE, WORDS_PER_S = 3, 8
FULL_WINDOW_S = 30.0  # Whisper's window: what the model was trained on
FRAMES_PER_S = 100  # mel frames (10 ms hop)
FULL_FRAMES = int(FULL_WINDOW_S * FRAMES_PER_S)
# The window of the decode running on this thread (set by transcribe(), read by encode).
_window = threading.local()


@dataclass(frozen=True)
class DecodeOptions:
    # Whisper language code the decode is forced to; None: detect it (language=auto).
    language: str | None = "en"
    beam_size: int = 1
    hotwords: str | None = None
    model: str = ""  # which loaded model decodes (ModelRegistry); "" = the configured one
    interim: bool = False  # an interim: decoded on the low-priority lane where there is one
    previous: str | None = None  # auto: the language sure detections settled on so far
    candidates: tuple[str, ...] = ()  # auto: detect only among these
    # auto: the session's settled language, read when this decode detects and set when
    # its detection is sure (a final with words): newer than ``previous``, which is
    # what the session knew when it submitted the decode.
    settled: SessionLanguage | None = None


@dataclass
class Transcript:
    text: str
    confidence: float
    language: str
    audio_s: float
    decode_s: float = 0.0
    detected: str | None = None  # auto: detection's own answer and probability
    probability: float = 0.0
    sure: bool = False  # auto: detection sure enough to settle the session's language


class WhisperEngine:
    def __init__(self, model_path: Path, *, device: str = "cpu", compute_type: str = "int8",
                 cpu_threads: int = 1, workers: int = 1, interim_workers: int = 0,
                 interim_nice: int = 0, encoder_window_s: float = FULL_WINDOW_S,
                 interim_window_s: float = FULL_WINDOW_S) -> None:
        from faster_whisper import WhisperModel

        self.model_path = model_path
        self.window_frames = _frames(encoder_window_s)
        self.interim_window_frames = min(self.window_frames, _frames(interim_window_s))
        self.model = WhisperModel(str(model_path), device=device, compute_type=compute_type,
                                  cpu_threads=cpu_threads, num_workers=workers)
        self.multilingual = bool(self.model.model.is_multilingual)
        # The interim lane (0 workers: interims share self.model).
        self.interim_model = self.model if not interim_workers else _load_niced(
            interim_nice, WhisperModel, str(model_path), device=device,
            compute_type=compute_type, cpu_threads=1, num_workers=interim_workers)
        if self.interim_window_frames < FULL_FRAMES:  # (the interims' is never wider)
            for model in {id(m): m for m in (self.model, self.interim_model)}.values():
                model.encode = _windowed(model.encode)

    @classmethod
    def from_settings(cls, settings: SttSettings, model_path: Path) -> WhisperEngine:
        return cls(model_path, device=settings.device, compute_type=settings.compute_type,
                   cpu_threads=settings.threads_per_decode(), workers=settings.final_workers(),
                   interim_workers=settings.interim_workers(), interim_nice=settings.interim_nice,
                   encoder_window_s=settings.encoder_window_s,
                   interim_window_s=settings.interim_window_s)

    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> Transcript:
        """Blocking: call from a worker thread, never from the event loop."""
        started = time.perf_counter()
        model = self.interim_model if options.interim else self.model
        # The encoder's window for this decode: at least the audio and 1 s beyond it.
        window = self.interim_window_frames if options.interim else self.window_frames
        _window.frames = max(window, _frames(len(audio) / 16000 + 1.0))
        try:
            choice = self.language_for(audio, options, model)
            text, logprob = self._decode(model, audio, choice.language, options)
            if not text and not options.interim and choice.detected not in (None,
                                                                            choice.language):
                # Forced into the session's language, an unsure utterance in another one
                # can decode to nothing (every segment filtered): heard in detection's
                # guess instead, as on its own, not an empty final for real speech.
                text, logprob = self._decode(model, audio, choice.detected, options)
                if text:
                    choice = replace(choice, language=choice.detected)
            if choice.sure and text and not options.interim and options.settled is not None:
                options.settled.code = choice.language
        finally:
            _window.frames = FULL_FRAMES
        confidence = math.exp(logprob) if text else 0.0
        return Transcript(text=text, confidence=round(min(1.0, confidence), 4),
                          language=choice.language, audio_s=len(audio) / 16000,
                          decode_s=time.perf_counter() - started, detected=choice.detected,
                          probability=round(choice.probability, 4), sure=choice.sure)

    def _decode(self, model: WhisperModel, audio: np.ndarray, language: str,
                options: DecodeOptions) -> tuple[str, float]:
        """-> (text, mean token log-probability) of one decode forced to ``language``."""
        audio_s = len(audio) / 16000
        segments, _info = model.transcribe(
            audio,
            language=language,
            beam_size=options.beam_size,
            temperature=0.0,
            vad_filter=False,  # the session's VAD already chose the speech
            condition_on_previous_text=False,  # no earlier text to copy into a new utterance
            # Interims: text tokens only, a shorter decode. Finals decode with timestamps,
            # as offline faster-whisper does: without them a beam search may end on the
            # first sentence of a long utterance and drop the rest (seen at beam 5 on
            # tests/data/audio/two_utterances_*); with them a segment ending early is
            # decoded on from its last timestamp.
            without_timestamps=options.interim,
            no_speech_threshold=NO_SPEECH_THRESHOLD,
            log_prob_threshold=LOG_PROB_THRESHOLD,
            compression_ratio_threshold=COMPRESSION_RATIO_THRESHOLD,
            hotwords=options.hotwords or None,
            max_new_tokens=max_new_tokens(audio_s),
        )
        texts: list[str] = []
        logprob_sum = 0.0
        tokens = 0
        for seg in segments:
            if _hallucinated(seg):
                continue
            text = seg.text.strip()
            if not any(c.isalnum() for c in text):  # "." or "..." on a pause: no words
                continue
            texts.append(text)
            n = max(1, len(seg.tokens))
            logprob_sum += seg.avg_logprob * n
            tokens += n
        text = " ".join(texts)
        if (words := len(text.split())) > WORDS_BASE + WORDS_PER_S * audio_s:
            # (Counts only: no server log holds what a caller said.)
            log.info("stt decode dropped: %d words in %.2f s of audio", words, audio_s)
            return "", -math.inf
        return text, (logprob_sum / tokens if tokens else -math.inf)

    def language_for(self, audio: np.ndarray, options: DecodeOptions,
                     model: WhisperModel | None = None) -> LanguageChoice:
        """The forced language, or (auto) detection weighed against what the session knows."""
        if options.language is not None:
            return LanguageChoice(options.language)
        if not self.multilingual:
            return LanguageChoice("en")
        # One extra encoder pass; faster-whisper's own auto mode costs the same.
        _lang, _p, probs = (model or self.model).detect_language(audio)
        settled = options.settled.code if options.settled is not None else None
        return choose_language(probs, audio_s=len(audio) / 16000,
                               previous=settled or options.previous,
                               candidates=options.candidates)


def max_new_tokens(audio_s: float) -> int | None:
    """The tokens a decode of ``audio_s`` may write: far past what anyone says in it
    (the fastest clip of the test corpora is 8 tokens a second), so a short clip's
    decode stops where its hallucination would run on. On a 0.1 s clip (a finalize
    after every 100 ms frame) base wrote a sentence over and over toward its 448-token
    limit, 7 s a decode where its encoder pass is 1.4 s, every other caller's final
    waiting behind it. None (Whisper's own limit) from 200 on, which any prompt leaves
    room for (hotwords take at most 224)."""
    bound = int(TOKENS_BASE + TOKENS_PER_S * audio_s)
    return bound if bound < 200 else None


def _frames(seconds: float) -> int:
    """Mel frames of a window of ``seconds``, in whole seconds, at most Whisper's 30 s."""
    return min(FULL_FRAMES, math.ceil(seconds) * FRAMES_PER_S)


def _windowed(encode_full: Callable[[np.ndarray], Any]) -> Callable[[np.ndarray], Any]:
    """faster-whisper pads every segment's features to 30 s before ``encode``; this cuts
    that padding to the window of the decode on the calling thread (language detection
    included). Only zero padding goes: the window always covers the audio."""

    def encode(features: np.ndarray) -> Any:
        return encode_full(features[..., : getattr(_window, "frames", FULL_FRAMES)])

    return encode


def _load_niced(nice: int, load: Callable[..., WhisperModel], *args: Any,
                **kwargs: Any) -> WhisperModel:
    """``load(...)`` in a short-lived thread ``nice`` steps nicer than the caller.

    On Linux niceness belongs to a thread and a new thread inherits its creator's, so the
    CTranslate2 workers this model starts run at the lower priority while the rest of the
    server keeps its own (raising niceness needs no privilege; lowering it again would,
    hence the throwaway thread). Relative, so a server started under ``nice`` keeps its
    interims below itself and never lifts them above.
    """
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            try:
                target = min(19, os.getpriority(os.PRIO_PROCESS, 0) + nice)
                os.setpriority(os.PRIO_PROCESS, 0, target)  # 0 = this thread, on Linux
            except OSError as exc:  # a sandbox that forbids it: a lane still, unprioritised
                log.warning("interim lane at normal priority: setpriority failed (%s)", exc)
            box["model"] = load(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller
            box["error"] = exc

    thread = threading.Thread(target=run, name="stt-interim-load")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["model"]


def _hallucinated(seg) -> bool:  # noqa: ANN001 - faster_whisper.Segment
    # A segment that repeats itself, or that the model thinks is no speech and is unsure
    # of, is dropped rather than sent as words nobody said.
    if seg.compression_ratio > COMPRESSION_RATIO_THRESHOLD:
        return True
    return seg.no_speech_prob > NO_SPEECH_THRESHOLD and seg.avg_logprob < LOG_PROB_THRESHOLD
