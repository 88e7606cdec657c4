"""Per-agent options from the WebSocket URL's query string, validated before the upgrade.

``wss://host/stt?language=en&endpointing_ms=300&interim=false&keyterms=Rymi,Acme``
``wss://host/stt?model=base&language=auto`` (or ``language=es,en``: detect among these)
Rymi sends nothing per agent but this URL, so a typo must be loud: an unknown
parameter or a bad value is an ``OptionError`` (HTTP 400 on the handshake) that names
the parameter and what it accepts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from .config import SttSettings
from .languages import ALIASES, to_bcp47, to_whisper, whisper_languages

PARAMS = ("language", "model", "endpointing_ms", "vad_threshold", "interim", "keyterms")
ENDPOINTING_RANGE = (100, 10000)
VAD_THRESHOLD_RANGE = (0.05, 0.95)
KEYTERM_MAX_CHARS = 50
_TAG = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_ACCEPTED = {  # what each option accepts, for the refusal of an empty value
    "language": "a language code (es, es-ES), auto, or a list (es,en)",
    "endpointing_ms": f"an integer from {ENDPOINTING_RANGE[0]} to {ENDPOINTING_RANGE[1]}",
    "vad_threshold": f"a number from {VAD_THRESHOLD_RANGE[0]} to {VAD_THRESHOLD_RANGE[1]}",
    "interim": "true or false",
    "keyterms": f"comma-separated terms of at most {KEYTERM_MAX_CHARS} characters",
}


class OptionError(ValueError):
    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param
        self.message = message


@dataclass(frozen=True)
class ServedModel:
    """A model this server can decode with, and the languages it speaks."""

    name: str
    aliases: tuple[str, ...] = ()
    # Whisper language codes; empty means multilingual (any Whisper language)...
    languages: tuple[str, ...] = ("en",)
    # ...but these, which its vocabulary has no token for (Cantonese before large-v3).
    lacks: tuple[str, ...] = ()

    def speaks(self, code: str) -> bool:
        """``code``: a Whisper language code (``es``, ``jw``)."""
        if self.languages:
            return code in self.languages
        return code in whisper_languages() and code not in self.lacks


@dataclass(frozen=True)
class SessionOptions:
    model: str
    language: str | None  # the Whisper code every decode is forced to; None = detect
    language_code: str | None  # BCP-47 tag reported in each final; None = the detected one
    endpointing_ms: int
    vad_threshold: float
    interim: bool
    vad_from_url: bool = False  # a URL's vad_threshold is the caller's: never adapted
    keyterms: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()  # detection limited to these Whisper codes
    # The tag the URL gave for each candidate (``nb-NO,en-US``), reported when detected.
    candidate_tags: tuple[tuple[str, str], ...] = ()

    def tag_for(self, code: str) -> str:
        """BCP-47 of a detected Whisper code: as the URL spelled it, if it listed it."""
        return dict(self.candidate_tags).get(code) or to_bcp47(code)

    @property
    def hotwords(self) -> str | None:
        return ", ".join(self.keyterms) if self.keyterms else None


def canonical_tag(tag: str) -> str:
    """``en-us``, ``en_US`` -> ``en-US``: primary subtag lower case, a region upper case."""
    parts = tag.replace("_", "-").split("-")
    out = [parts[0].lower()]
    for p in parts[1:]:
        out.append(p.upper() if len(p) == 2 or p.isdigit() else p.title() if len(p) == 4
                   else p.lower())
    return "-".join(out)


def parse_options(query_string: str, settings: SttSettings,
                  models: dict[str, ServedModel]) -> SessionOptions:
    pairs = parse_qsl(query_string, keep_blank_values=True)
    given: dict[str, str] = {}
    keyterms: list[str] = []
    for key, value in pairs:
        if key not in PARAMS:
            raise OptionError(key, f"unknown parameter {key!r}; accepted: {', '.join(PARAMS)}")
        if not value.strip():  # ``?language={{lang}}`` with the variable missing: loud
            accepted = _model_names(models) if key == "model" else _ACCEPTED[key]
            raise OptionError(key, f"parameter {key!r} is empty; accepted: {accepted}, or "
                              "leave it out for the default")
        if key == "keyterms":  # may repeat, as Deepgram's keyterm does
            keyterms += _items("keyterms", value)
            continue
        if key in given:
            raise OptionError(key, f"parameter {key!r} given more than once")
        given[key] = value.strip()

    model = _model(given.get("model"), settings, models)
    language, language_code, candidates, tags = _language(given.get("language"), model)
    return SessionOptions(
        model=model.name,
        language=language,
        language_code=language_code,
        endpointing_ms=_int_in("endpointing_ms", given.get("endpointing_ms"),
                               settings.endpointing_ms, ENDPOINTING_RANGE),
        vad_threshold=_float_in("vad_threshold", given.get("vad_threshold"),
                                settings.vad_threshold, VAD_THRESHOLD_RANGE),
        vad_from_url="vad_threshold" in given,
        interim=_bool("interim", given.get("interim"), settings.interim),
        keyterms=_keyterms(keyterms, settings.max_keyterms),
        candidates=candidates,
        candidate_tags=tags,
    )


def _model(value: str | None, settings: SttSettings,
           models: dict[str, ServedModel]) -> ServedModel:
    if value is None:
        return models[settings.model]
    for served in models.values():
        if value == served.name or value in served.aliases:
            return served
    raise OptionError("model", f"model {value!r} is not served here; accepted: "
                      f"{_model_names(models)}")


def _model_names(models: dict[str, ServedModel]) -> str:
    return ", ".join(sorted({n for m in models.values() for n in (m.name, *m.aliases)}))


def _language(value: str | None, model: ServedModel
              ) -> tuple[str | None, str | None, tuple[str, ...], tuple[tuple[str, str], ...]]:
    """-> (forced Whisper code or None, BCP-47 tag to report or None, detection
    candidates, the tag given for each candidate).

    Omitted: English on an English-only model, detection on a multilingual one. A list
    (``es,en``) detects among those languages; a single tag is always obeyed and
    reported as given (``nb-NO`` decodes as Whisper's ``no``, reports ``nb-NO``).
    """
    english_only = model.languages == ("en",)
    if value is None or value.lower() == "auto":
        # An English-only model has nothing to detect.
        return ("en", "en-US", (), ()) if english_only else (None, None, (), ())
    tags = _items("language", value)
    codes = []
    for tag in tags:
        if not _TAG.match(tag):
            raise OptionError("language", f"language {tag!r} is not a BCP-47 tag or ISO "
                              f"639-1 code; accepted with {model.name}: "
                              f"{_accepted_languages(model)}")
        code = to_whisper(tag.replace("_", "-").split("-")[0].lower())
        if not model.speaks(code):
            why = "is English-only, not" if english_only else "does not know the language"
            raise OptionError("language", f"model {model.name} {why} {tag!r}; accepted: "
                              f"{_accepted_languages(model)}")
        codes.append(code)
    if len(tags) == 1:
        return codes[0], canonical_tag(tags[0]), (), ()
    named: dict[str, str] = {}
    for code, tag in zip(codes, tags, strict=True):
        named.setdefault(code, canonical_tag(tag))  # the first tag given for each code
    return None, None, tuple(named), tuple(named.items())


def _items(name: str, value: str) -> list[str]:
    """A comma-separated value's items; an empty one (``es,,en``) is refused."""
    items = [t.strip() for t in value.split(",")]
    if not all(items):
        raise OptionError(name, f"{name}={value!r} has an empty item; accepted: "
                          f"{_ACCEPTED[name]}")
    return items


def _accepted_languages(model: ServedModel) -> str:
    if not model.languages:
        return ("auto, a language code Whisper knows with an optional region (es, es-ES, "
                f"es_ES; {len(whisper_languages() - set(model.lacks))} languages; also "
                f"{', '.join(a for a in ALIASES if a not in whisper_languages())}), or a "
                "comma-separated list of them to detect among (es,en)")
    codes = ", ".join(model.languages)
    return (f"{codes} (optionally with a region, e.g. en-US, en-GB) or auto; other "
            "languages need a multilingual model (see model)")


def _int_in(name: str, value: str | None, default: int, bounds: tuple[int, int]) -> int:
    if value is None:
        return default
    lo, hi = bounds
    # At most 9 digits: int() refuses over 4,300 (a ValueError, not an OptionError: the
    # handshake was answered 500 in plain text), and none of these bounds needs 10.
    if not re.fullmatch(r"\d{1,9}", value or "") or not lo <= int(value) <= hi:
        raise OptionError(name, f"{name}={value!r}: accepted: an integer from {lo} to {hi}")
    return int(value)


def _float_in(name: str, value: str | None, default: float,
              bounds: tuple[float, float]) -> float:
    if value is None:
        return default
    lo, hi = bounds
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not lo <= number <= hi:  # NaN fails too
        raise OptionError(name, f"{name}={value!r}: accepted: a number from {lo} to {hi}")
    return number


def _bool(name: str, value: str | None, default: bool) -> bool:
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise OptionError(name, f"{name}={value!r}: accepted: true or false")


def _keyterms(terms: list[str], limit: int) -> tuple[str, ...]:
    if len(terms) > limit:
        raise OptionError("keyterms", f"{len(terms)} keyterms given; accepted: at most {limit}, "
                          "comma-separated")
    for term in terms:
        if len(term) > KEYTERM_MAX_CHARS or not term.isprintable():
            raise OptionError("keyterms", f"keyterm {term[:60]!r}: accepted: printable "
                              f"terms of at most {KEYTERM_MAX_CHARS} characters")
    return tuple(dict.fromkeys(terms))
