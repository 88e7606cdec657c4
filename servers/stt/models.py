"""The STT models this server serves: which ones, and which are loaded right now.

The configured model loads at start and stays (it is the fast path, and the warm-up
decode is paid once). Any other catalog STT model prepared on this machine may be asked
for with ``?model=``; it loads on first use (that handshake waits for it, and for one
warm-up decode per lane, as the configured model gets at start) and then stays loaded.
Loads are per model: a handshake for a model already loaded never waits for another's
load, and two handshakes for one model share one load. The loaded set is bounded by
``max_loaded_models`` and ``models_memory_mb``: to make room, the least recently used
model that no session is using is unloaded; when none can go, the handshake is refused
with 503 (the speaches model-manager pattern, with a bound instead of a TTL).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rymi_endpoints.models.catalog import ModelIncomplete, ModelNotReady, load_catalog, resolve

from .config import SttSettings
from .engine import DecodeOptions, Transcript, WhisperEngine
from .options import ServedModel

log = logging.getLogger("rymi.stt")


class ModelCapacity(RuntimeError):
    """No room to load another model: every loaded one is in use."""


class ModelNeverFits(RuntimeError):
    """No room to load this model even with every other one unloaded: the settings
    leave none beside the configured model, which is never unloaded."""


# Whisper's vocabulary: 51864 tokens in the English-only models, 51865 in the
# multilingual ones (51866 in large-v3): the language tokens' extra entry. CTranslate2
# decides ``is_multilingual`` the same way.
MULTILINGUAL_VOCAB = 51865
CANTONESE_VOCAB = 51866  # large-v3 added one language token: "yue"


def served_model(name: str, path: Path | None = None) -> ServedModel:
    """A model with its short aliases and languages (from the catalog, or its folder)."""
    entry = load_catalog().get(name)
    vocab = vocabulary_size(path or Path(name)) if entry is None or path else None
    # Without its token, a model asked for Cantonese decoded nothing: empty finals.
    lacks = ("yue",) if vocab is not None and vocab < CANTONESE_VOCAB else ()
    if entry is None:  # a path: English-only when its folder says so, whatever its name
        english = (vocab < MULTILINGUAL_VOCAB if vocab is not None
                   else name.rstrip("/").endswith(".en") or ".en/" in name)
        return ServedModel(name, (), ("en",) if english else (), () if english else lacks)
    short = entry.name.removeprefix("whisper-")
    languages = () if "multilingual" in entry.languages else tuple(
        lang.split("-")[0] for lang in entry.languages)
    return ServedModel(entry.name, (short,) if short != entry.name else (), languages,
                       () if languages else lacks)


def vocabulary_size(folder: Path) -> int | None:
    """Tokens in a CTranslate2 Whisper folder's vocabulary, read without the weights:
    ``vocabulary.txt`` (one per line), ``vocabulary.json``, else ``tokenizer.json``;
    None when the folder has none of them."""
    try:
        if (folder / "vocabulary.txt").is_file():
            with open(folder / "vocabulary.txt", encoding="utf-8") as f:
                return sum(1 for _ in f)
        if (folder / "vocabulary.json").is_file():
            return len(json.loads((folder / "vocabulary.json").read_text(encoding="utf-8")))
        if (folder / "tokenizer.json").is_file():
            tok = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
            ids = [*tok["model"]["vocab"].values(), *(t["id"] for t in tok["added_tokens"])]
            return max(ids) + 1
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return None


def _whisper_folder(path: Path) -> Path:
    """``path``, if faster-whisper can load it from its own files: without a
    tokenizer.json it fetched one from the Hugging Face hub (a folder converted without
    ``--copy_files tokenizer.json``), or waited on a hub it could not reach."""
    if path.is_dir() and not (path / "tokenizer.json").is_file():
        raise ModelIncomplete(f"{path} has no tokenizer.json (convert with "
                              "`ct2-transformers-converter ... --copy_files tokenizer.json`)")
    return path


_SAID: set[str] = set()  # the damaged models' warnings given, each once a process


def served_models(settings: SttSettings) -> dict[str, tuple[ServedModel, Path]]:
    """The configured model (must be ready) and every other STT model prepared here."""
    path = _whisper_folder(resolve(settings.model, settings.models_dir, server="stt"))
    out = {settings.model: (served_model(settings.model, path), path)}
    for entry in load_catalog().values():
        if entry.server != "stt" or entry.name in out:
            continue
        try:
            entry_path = _whisper_folder(resolve(entry.name, settings.models_dir))
        except ModelIncomplete as exc:  # prepared once, damaged since: said, not served
            if (said := f"not serving {entry.name}: {exc}") not in _SAID:
                _SAID.add(said)  # once: a rescan (any unknown ?model=) said it again
                log.warning("%s", said)  # on each caller's handshake, as if theirs
            continue
        except ModelNotReady:  # in the catalog but not prepared on this machine
            continue
        served = served_model(entry.name, entry_path)
        if entry_path.resolve() == path.resolve():
            # The configured model set by its folder's path: its catalog names are its
            # aliases (a ?model=base loaded the same weights a second time).
            configured = out[settings.model][0]
            out[settings.model] = (ServedModel(
                configured.name, (*configured.aliases, served.name, *served.aliases),
                served.languages, served.lacks), path)
            continue
        out[entry.name] = (served, entry_path)
    return out


def model_size_mb(path: Path) -> float:
    weights = path / "model.bin"
    return (weights.stat().st_size if weights.exists() else 0) / 2**20


@dataclass
class Loaded:
    engine: WhisperEngine
    size_mb: float
    users: int = 0
    last_used: float = field(default_factory=time.monotonic)


class ModelRegistry:
    """Engines by model name; also the one ``Engine`` the decode scheduler calls."""

    def __init__(self, settings: SttSettings) -> None:
        self.settings = settings
        self.served = served_models(settings)
        self.loaded: dict[str, Loaded] = {}
        # Loads in flight, one per model (two callers never load one model twice), with
        # the room each was given; and how many handshakes wait on each.
        self._loading: dict[str, tuple[asyncio.Future[Loaded], float]] = {}
        self._waiting: dict[str, int] = {}

    @property
    def models(self) -> dict[str, ServedModel]:
        return {name: served for name, (served, _) in self.served.items()}

    def rescan(self) -> bool:
        """Pick up models prepared since start (``rymi-endpoints models prepare``, no
        restart); True when the set grew. Called only when a URL names an unknown model."""
        before = len(self.served)
        self.served = {**served_models(self.settings), **self.served}
        return len(self.served) > before

    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> Transcript:
        """Blocking, on a decode worker. The model is held by the session that asked."""
        return self.loaded[options.model or self.settings.model].engine.transcribe(
            audio, options)

    async def load_default(self) -> WhisperEngine:
        engine = (await self.acquire(self.settings.model))
        self.release(self.settings.model)
        return engine

    async def acquire(self, name: str) -> WhisperEngine:
        """The engine for ``name``, loaded if needed; held until ``release``."""
        held = self.loaded.get(name)
        if held is None:
            pending = self._loading.get(name)
            if pending is None:
                path = self.served[name][1]
                # An interim lane holds a second copy of the weights.
                size = model_size_mb(path) * (2 if self.settings.interim_lane() else 1)
                self._make_room(name, size)
                pending = (asyncio.ensure_future(self._load(name, path, size)), size)
                self._loading[name] = pending
            self._waiting[name] = self._waiting.get(name, 0) + 1
            try:  # shielded: a handshake that gives up does not cancel the others' load
                held = await asyncio.shield(pending[0])
            finally:
                self._waiting[name] -= 1
        held.users += 1
        held.last_used = time.monotonic()
        return held.engine

    async def _load(self, name: str, path: Path, size: float) -> Loaded:
        started = time.monotonic()
        warm = name != self.settings.model  # the configured one is warmed by the app
        try:
            engine = await asyncio.get_running_loop().run_in_executor(
                None, _load_engine, self.settings, path, warm)
        finally:
            del self._loading[name]
        held = self.loaded[name] = Loaded(engine, size)
        log.info("stt model %s loaded in %.1f s (%.0f MB; %d loaded)", name,
                 time.monotonic() - started, size, len(self.loaded))
        return held

    def release(self, name: str) -> None:
        held = self.loaded.get(name)
        if held is not None:
            held.users -= 1
            held.last_used = time.monotonic()

    def _make_room(self, name: str, size_mb: float) -> None:
        s = self.settings
        budget = s.models_memory_mb or float("inf")
        if name == s.model and size_mb > budget:  # (at start: nothing else is loaded)
            raise ModelNeverFits(
                f"models_memory_mb={s.models_memory_mb} is below the configured model "
                f"{s.model!r} ({size_mb:.0f} MB" + (", twice for the interim lane)"
                                                     if s.interim_lane() else ")"))
        pinned = self.loaded.get(s.model)
        if name != s.model and (s.max_loaded_models < 2 or (
                pinned.size_mb if pinned else 0) + size_mb > budget):
            # Refused for good, not "busy, retry": no wait would make the room.
            raise ModelNeverFits(
                f"this server cannot load another model beside {s.model!r} "
                f"(max_loaded_models={s.max_loaded_models}, "
                f"models_memory_mb={s.models_memory_mb}, this model {size_mb:.0f} MB)")

        def full() -> bool:  # loads in flight count as loaded
            used = sum(m.size_mb for m in self.loaded.values()) + sum(
                size for _, size in self._loading.values())
            count = len(self.loaded) + len(self._loading)
            return count >= s.max_loaded_models or used + size_mb > budget

        while full():
            idle = [(m.last_used, n) for n, m in self.loaded.items()
                    if m.users == 0 and not self._waiting.get(n) and n != s.model]
            if not idle:
                raise ModelCapacity(
                    f"no room to load another model (max_loaded_models={s.max_loaded_models}, "
                    f"models_memory_mb={s.models_memory_mb}) while the loaded ones are in use")
            name = min(idle)[1]
            del self.loaded[name]  # CTranslate2 frees its weights with the last reference
            log.info("stt model %s unloaded to make room", name)


def _load_engine(settings: SttSettings, path: Path, warm: bool) -> WhisperEngine:
    """Load (blocking, on a thread); ``warm``: one short decode per lane before serving,
    so the first caller of a lazily loaded model does not pay for CTranslate2's set-up."""
    engine = WhisperEngine.from_settings(settings, path)
    if warm:
        tone = (0.1 * np.sin(np.arange(16000, dtype=np.float32) * 0.05)).astype(np.float32)
        for interim in (False, True):
            engine.transcribe(tone, DecodeOptions(interim=interim))
    return engine
