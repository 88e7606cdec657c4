"""What the routes share: the voice catalog, the engine, the worker pool; built at start-up."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from .admission import Admission
from .config import TtsSettings
from .engine import Engine, PiperEngine, Style
from .pool import SynthesisPool
from .stream import DEADLINE_MARGIN_S
from .voices import VoiceCatalog, VoiceInfo

log = logging.getLogger("rymi.tts")

WARMUP_TEXT = "Hello, this is a warm-up."


@dataclass
class TtsService:
    settings: TtsSettings
    catalog: VoiceCatalog
    engine: Engine
    pool: SynthesisPool
    admission: Admission

    @classmethod
    def build(cls, settings: TtsSettings, engine: Engine | None = None) -> TtsService:
        catalog = VoiceCatalog.discover(settings.voice, settings.models_dir, settings.voices_dir)
        if engine is None:
            engine = PiperEngine(onnx_threads=settings.onnx_threads,
                                 solo_threads=settings.solo_threads,
                                 max_loaded=settings.max_loaded_voices, keep=catalog.default_id)
        return cls(settings, catalog, engine, SynthesisPool(settings.workers, settings.queue_size),
                   Admission(settings.workers, settings.max_late_s, DEADLINE_MARGIN_S))

    async def start(self) -> None:
        """Load the default voice and synthesise once, so the first caller pays nothing."""
        self.pool.start()
        voice = self.catalog.voices[self.catalog.default_id]
        started = time.monotonic()
        await asyncio.to_thread(self.engine.load, voice)
        # Once per worker thread, through the pool, so every thread's first run is warm too;
        # all at once, as a busy server runs them: admission's first idea of the pace.
        pace = self.admission.pace(voice.id)

        def warm_up(_: object) -> None:
            t = time.monotonic()
            audio = self.engine.synthesize(voice, WARMUP_TEXT, Style())
            pace.add(len(WARMUP_TEXT), time.monotonic() - t, len(audio) / voice.sample_rate)

        await asyncio.gather(*(self.pool.run(warm_up, 0.0) for _ in range(self.pool.workers)))
        log.info("voice %s loaded and warmed up in %.2fs (%d voices in catalog, %d workers)",
                 voice.id, time.monotonic() - started, len(self.catalog.voices),
                 self.pool.workers)

    async def stop(self) -> None:
        await asyncio.to_thread(self.pool.stop)

    async def ensure_loaded(self, voice: VoiceInfo) -> None:
        """Load a voice off the event loop before its first piece is queued (no thread
        hop for a voice already loaded: it would add to every request's first audio)."""
        if self.engine.loaded(voice):
            return
        await asyncio.to_thread(self.engine.load, voice)
