"""The voice catalog: which piper voices this server can speak with, and by what id.

Voices come from three places, in this order: the model catalog's TTS entries that are
installed (PyPI voice packages, or prepared under models_dir), ``*.onnx`` files with their
``.onnx.json`` under models_dir, and the same under the optional voices_dir. Finding a
voice only reads its small JSON config; the ONNX model is loaded later, on first use.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from rymi_endpoints.models.catalog import ModelNotReady, load_catalog, resolve
from servers.common.text import is_text

from .onnx_file import onnx_problem

log = logging.getLogger("rymi.tts.voices")


@dataclass(frozen=True)
class VoiceInfo:
    id: str
    path: Path  # the .onnx file; its config is path + ".json"
    language: str  # BCP-47, e.g. "en-US"
    sample_rate: int
    description: str = ""

    def public(self) -> dict[str, object]:
        return {"id": self.id, "language": self.language, "sample_rate": self.sample_rate,
                "description": self.description}


def bcp47(code: str) -> str:
    """``en_US`` / ``en-us`` -> ``en-US``; ``es`` stays ``es``."""
    parts = code.replace("_", "-").split("-")
    out = [parts[0].lower()]
    out += [p.upper() if len(p) == 2 else p.title() if len(p) == 4 else p for p in parts[1:]]
    return "-".join(out)


def primary(code: str) -> str:
    return bcp47(code).split("-")[0]


def _onnx_file(path: Path) -> Path | None:
    if path.is_dir():
        found = sorted(path.rglob("*.onnx"))
        return found[0] if found else None
    return path if path.suffix == ".onnx" else None


class VoiceUnusable(ValueError):
    """A voice's config that piper could not speak with."""


def read_voice(voice_id: str, onnx: Path, description: str = "") -> VoiceInfo | None:
    """The voice, or None (said in a warning) where its config is missing or unusable."""
    if not Path(f"{onnx}.json").is_file():
        return None
    try:
        return parse_voice(voice_id, onnx, description)
    except VoiceUnusable as exc:
        log.warning("skipping voice %s: %s", onnx, exc)
        return None


def parse_voice(voice_id: str, onnx: Path, description: str = "") -> VoiceInfo:
    """Read a voice's ``.onnx.json``; raises VoiceUnusable saying what is wrong with it.
    (A rate of 0, or an espeak voice espeak-ng lacks, was listed and ready, then a 500
    on every request for the voice.)"""
    try:
        data = json.loads(Path(f"{onnx}.json").read_text(encoding="utf-8"))
        espeak = (data.get("espeak") or {}).get("voice")
        lang = (data.get("language") or {}).get("code") or data["espeak"]["voice"]
        rate = int(data["audio"]["sample_rate"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise VoiceUnusable(f"unreadable config ({type(exc).__name__}: {exc})") from None
    if not 4000 <= rate <= 192_000:
        raise VoiceUnusable(f"audio.sample_rate {rate} in its config is not a sample rate")
    if problem := onnx_problem(onnx):
        raise VoiceUnusable(f"its model file: {problem}")
    if data.get("phoneme_type", "espeak") == "espeak" and not _espeak_has(str(espeak)):
        raise VoiceUnusable(f"espeak-ng has no voice {espeak!r} (espeak.voice in its "
                            "config)")
    if not description:
        name = data.get("dataset") or onnx.stem
        quality = (data.get("audio") or {}).get("quality", "")
        description = f"Piper voice {name} ({quality}, {rate} Hz), {bcp47(lang)}".replace(
            " (, ", " (")
    return VoiceInfo(voice_id, onnx, bcp47(lang), rate, description)


@functools.cache
def _espeak_has(voice: str) -> bool:
    """Whether piper's espeak-ng knows ``voice`` (asked at start, before any synthesis:
    setting a voice is global in espeak-ng)."""
    from piper.phonemize_espeak import EspeakPhonemizer

    try:
        EspeakPhonemizer().phonemize(voice, "a")
    except RuntimeError:  # "Failed to set voice: ..."
        return False
    return True


class VoiceCatalog:
    """Ids -> VoiceInfo, plus the default voice per language."""

    def __init__(self, voices: list[VoiceInfo], default_id: str) -> None:
        self.voices: dict[str, VoiceInfo] = {}
        self.aliases: dict[str, str] = {}
        seen: set[Path] = set()
        for v in voices:
            if v.path.resolve() in seen:  # a catalog voice also found by the folder scan
                continue
            seen.add(v.path.resolve())
            self.voices.setdefault(v.id, v)
            self.aliases.setdefault(v.path.stem, v.id)  # "en_US-joe-medium" works too
        for alias, voice_id in self.aliases.items():
            if alias != voice_id and alias in self.voices:  # the id wins (get): said so
                log.warning("voice %r (%s) is named as voice %r's file: %r is that voice, "
                            "%r the other", alias, self.voices[alias].path, voice_id, alias,
                            voice_id)
        if default_id not in self.voices:
            raise ModelNotReady(f"default voice {default_id!r} not found "
                                f"(have: {', '.join(self.voices) or 'none'})")
        self.default_id = default_id

    @classmethod
    def discover(cls, default: str, models_dir: Path, voices_dir: Path | None) -> VoiceCatalog:
        voices: list[VoiceInfo] = []
        default_id = default
        custom = Path(default).expanduser()
        if custom.suffix == ".onnx" and custom.is_file():  # a path given as the default
            if not Path(f"{custom}.json").is_file():
                raise ModelNotReady(f"voice {custom} has no {custom.name}.json beside it")
            try:
                info = parse_voice(custom.stem, custom)
            except VoiceUnusable as exc:
                raise ModelNotReady(f"voice {custom}: {exc}") from None
            voices.append(info)
            default_id = info.id
        # Each file read once: a voices_dir inside models_dir was walked twice, and a
        # voice that could not be used was warned about twice.
        seen: set[Path] = set()
        for entry in load_catalog().values():
            if entry.server != "tts":
                continue
            try:
                onnx = _onnx_file(resolve(entry.name, models_dir))
            except ModelNotReady:
                continue  # listed but not installed here: not offered
            info = onnx and read_voice(entry.name, onnx, entry.description)
            if onnx:
                seen.add(onnx.resolve())
            if info:
                voices.append(info)
        if voices_dir is not None and not Path(voices_dir).is_dir():
            # Skipped, it left the operator's voices a 404 with nothing said.
            raise ModelNotReady(f"voices_dir {voices_dir} is not a folder")
        for folder in (models_dir, voices_dir):
            if folder is not None and Path(folder).is_dir():
                for onnx in sorted(Path(folder).rglob("*.onnx")):
                    if onnx.resolve() in seen:
                        continue
                    seen.add(onnx.resolve())
                    if not is_text(onnx.stem):  # no id a JSON answer can hold: /voices
                        log.warning("skipping voice %r: its file name is not UTF-8 text",
                                    str(onnx))  # was a 500 for every caller
                        continue
                    info = read_voice(onnx.stem, onnx)
                    if info:
                        voices.append(info)
                    elif folder == voices_dir and not Path(f"{onnx}.json").is_file():
                        log.warning("skipping voice %s: no %s.json beside it (piper's "
                                    "config of the voice)", onnx, onnx.name)
        return cls(voices, default_id)

    @property
    def ids(self) -> list[str]:
        return list(self.voices)

    @property
    def languages(self) -> list[str]:
        return sorted({v.language for v in self.voices.values()})

    def get(self, voice_id: str) -> VoiceInfo | None:
        # An id before an alias: an operator's voice named as a packaged voice's file
        # ("en_US-joe-medium", retrained) was listed, and the packaged one answered.
        return self.voices.get(voice_id) or self.voices.get(self.aliases.get(voice_id, ""))

    def for_language(self, language: str) -> VoiceInfo | None:
        """The default voice if it speaks ``language`` (its primary language: the voice
        the operator chose stays chosen for the "en-US" Rymi sends, an en-GB one too),
        else the first exact match, else the first voice of the same primary language."""
        want = bcp47(language)
        default = self.voices[self.default_id]
        if primary(default.language) == primary(want):
            return default
        for v in self.voices.values():
            if v.language.lower() == want.lower():
                return v
        for v in self.voices.values():
            if primary(v.language) == primary(want):
                return v
        return None

    def listing(self) -> dict[str, object]:
        return {"object": "list", "default": self.default_id,
                "data": [v.public() for v in self.voices.values()]}
