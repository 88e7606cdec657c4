"""The request: URL query defaults, the JSON body over them, every check made before the 200.

Query parameters are the per-agent settings Rymi can carry (one URL per agent): a typo
there is a 400 naming the parameter. Body fields follow the contract: malformed JSON 400,
a wrong type or an empty text 422, an over-long text 413, an unknown voice 404, an
unsupported format, a language no voice speaks or a text mostly in a script the voice
cannot read 422.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)
from starlette.requests import Request

from servers.common.audio import (
    DEFAULT_FORMAT,
    SUPPORTED_FORMATS,
    UnsupportedFormat,
    parse_pcm_format,
)
from servers.common.body import bounded_body, parse_json
from servers.common.errors import ApiError

from .config import TtsSettings
from .voices import VoiceCatalog, VoiceInfo, primary

QUERY_PARAMS = ("voice", "speed", "format", "language")
MIN_SPEED, MAX_SPEED = 0.5, 2.0
_QUERY_ACCEPTED = {"voice": "a voice id from GET /voices", "speed": f"a number from "
                   f"{MIN_SPEED} to {MAX_SPEED}", "format": ", ".join(SUPPORTED_FORMATS),
                   "language": "a BCP-47 tag a voice speaks (en-US)"}


class TtsBody(BaseModel):
    """The JSON body Rymi sends. Unknown fields are ignored (Rymi may add some)."""

    model_config = ConfigDict(extra="ignore")

    text: StrictStr = Field(description="The text to speak (required, non-empty).")
    voice: StrictStr | None = Field(None, description="Voice id from GET /voices.")
    language: StrictStr | None = Field(None, description="BCP-47; picks that language's "
                                       "default voice when no voice is given.")
    format: StrictStr | None = Field(None, description="pcm_<rate>; default pcm_24000.")
    instructions: StrictStr | None = Field(None, description="Style hints (pace, calm, "
                                           "expressive); unknown words are ignored.")
    speed: StrictFloat | StrictInt | None = Field(None, description="Pace multiplier, "
                                                  f"{MIN_SPEED} to {MAX_SPEED}.")


@dataclass(frozen=True)
class TtsJob:
    text: str
    voice: VoiceInfo
    language: str
    rate: int
    speed: float
    instructions: str | None


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def speakable(text: str) -> str:
    """Control characters (NUL...) and lone surrogates make the phonemizer fail (a 500
    found by fuzzing): they carry no speech, so they become spaces."""
    return _CONTROL.sub(" ", text)


# The scripts a voice's language is written in, besides Latin (names and brands turn up
# in every language, and espeak reads them by the voice's own rules). A language missing
# here is not checked: refusing what it might read would be worse than letting it try.
_LATIN_LANGUAGES = ("af bs ca cs cy da de en eo es et eu fi fr ga gl hr hu id is it lb lt "
                    "lv ms mt nb nl nn no pl pt ro sk sl sq sv sw tr vi")
_WRITTEN_IN = {  # script (the first word of its letters' Unicode names) -> languages
    "ARABIC": "ar fa ur", "ARMENIAN": "hy", "BENGALI": "bn", "CJK": "ja ko zh",
    "CYRILLIC": "be bg kk ky mk ru sr tt uk", "DEVANAGARI": "hi mr ne", "GEORGIAN": "ka",
    "GREEK": "el", "GUJARATI": "gu", "GURMUKHI": "pa", "HANGUL": "ko", "HEBREW": "he",
    "HIRAGANA": "ja", "KANNADA": "kn", "KATAKANA": "ja", "MALAYALAM": "ml", "TAMIL": "ta",
    "TELUGU": "te", "THAI": "th",
}
_SCRIPTS: dict[str, frozenset[str]] = {
    lang: frozenset(s for s, langs in _WRITTEN_IN.items() if lang in langs.split())
    for lang in {*_LATIN_LANGUAGES.split(), *" ".join(_WRITTEN_IN.values()).split()}}
MIN_FOREIGN_LETTERS = 3  # "π" or "Δx" is a symbol English reads ("pi"), not Greek text


@functools.lru_cache(maxsize=4096)  # per letter: unicodedata.name is ~0.5 µs a call
def _script(letter: str) -> str:
    """"CJK", "CYRILLIC", "LATIN"...: the first word of the letter's Unicode name, after
    NFKC so full-width and mathematical Latin ("Ｈ", "𝐇") count as the Latin they are."""
    name = unicodedata.name(unicodedata.normalize("NFKC", letter)[:1], "")
    return re.split(r"[ -]", name, maxsplit=1)[0]


def check_script(text: str, voice: VoiceInfo, catalog: VoiceCatalog) -> None:
    """Text mostly in a script the voice's language is not written in is refused.

    espeak reads such letters one by one by name: 300 characters of Chinese became
    112 s of "Chinese letter, Chinese letter..." from an English voice. That is the
    contract's silent failure (a 200 that sounds like success), so it is a 422 naming
    the voice's language, as for a ``language`` no voice speaks: the customer sees it in
    the call log and fixes the agent. A few foreign words in a sentence still pass.
    """
    own = _SCRIPTS.get(primary(voice.language))
    if own is None or text.isascii():  # ASCII is Latin: most text, checked in ~1 µs
        return
    scripts = [_script(c) for c in text if c.isalpha()]
    foreign = [s for s in scripts if s != "LATIN" and s not in own]
    if len(foreign) >= MIN_FOREIGN_LETTERS and 2 * len(foreign) > len(scripts):
        script = max(set(foreign), key=foreign.count)
        script = script if script == "CJK" else script.title()
        raise ApiError(422, f"text is mostly {script} script, which voice {voice.id!r} "
                       f"({voice.language}) cannot read; available languages: "
                       f"{', '.join(catalog.languages)}",
                       "unsupported_script", param="text")


def _bad_query(param: str, message: str) -> ApiError:
    return ApiError(400, message, "invalid_query_parameter", param=param)


def _speed(value: Any, param: str, status: int) -> float:
    try:
        speed = float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: a 400-digit integer
        speed = math.nan
    if not (MIN_SPEED <= speed <= MAX_SPEED):  # also refuses nan and inf
        msg = f"bad {param} {value!r}; accepted: a number from {MIN_SPEED} to {MAX_SPEED}"
        raise (_bad_query(param, msg) if status == 400 else
               ApiError(422, msg, "invalid_speed", param=param))
    return speed


def query_defaults(request: Request, catalog: VoiceCatalog) -> dict[str, Any]:
    """URL options, validated before the body is read (a bad URL fails every request)."""
    params = request.query_params
    seen: set[str] = set()
    for key, value in params.multi_items():
        if key not in QUERY_PARAMS:
            raise _bad_query(key, f"unknown query parameter {key!r}; accepted: "
                             f"{', '.join(QUERY_PARAMS)}")
        if key in seen:  # which one would win is a guess: refused, as on STT
            raise _bad_query(key, f"query parameter {key!r} given more than once; accepted: "
                             "each of " + ", ".join(QUERY_PARAMS) + " at most once")
        seen.add(key)
        if not value.strip():  # ``?voice={{voice}}`` with the variable missing: loud
            raise _bad_query(key, f"query parameter {key!r} is empty; accepted: "
                             f"{_QUERY_ACCEPTED[key]}, or leave it out for the default")
    out: dict[str, Any] = {}
    if "voice" in params:
        if catalog.get(params["voice"]) is None:
            raise _bad_query("voice", f"unknown voice {params['voice']!r}; accepted: "
                             f"{', '.join(catalog.ids)}")
        out["voice"] = params["voice"]
    if "format" in params:
        try:
            parse_pcm_format(params["format"])
        except UnsupportedFormat:
            raise _bad_query("format", f"unsupported format {params['format']!r}; accepted: "
                             f"{', '.join(SUPPORTED_FORMATS)}") from None
        out["format"] = params["format"]
    if "speed" in params:
        out["speed"] = _speed(params["speed"], "speed", 400)
    if "language" in params:
        if catalog.for_language(params["language"]) is None:
            raise _bad_query("language", f"no voice speaks {params['language']!r}; accepted: "
                             f"{', '.join(catalog.languages)}")
        out["language"] = params["language"]
    return out


async def read_body(request: Request, settings: TtsSettings) -> TtsBody:
    limit = settings.max_body_bytes
    raw = await bounded_body(request, limit, lambda: ApiError(
        413, f"body larger than {limit} bytes", "body_too_large"))
    try:
        data = parse_json(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "body is not valid JSON", "invalid_json") from None
    if not isinstance(data, dict):
        raise ApiError(400, "body must be a JSON object", "invalid_json")
    try:
        return TtsBody.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else None  # "speed", not "speed.float"
        missing = err["type"] == "missing"
        raise ApiError(422, f"{field}: {'required' if missing else err['msg'].lower()}",
                       "missing_field" if missing else "invalid_type", param=field) from None


def resolve_job(body: TtsBody, query: dict[str, Any], catalog: VoiceCatalog,
                settings: TtsSettings) -> TtsJob:
    if not body.text.strip():
        raise ApiError(422, "text: must not be empty", "empty_text", param="text")
    if len(body.text) > settings.max_text_chars:
        raise ApiError(413, f"text is {len(body.text)} characters; the limit is "
                       f"{settings.max_text_chars}", "text_too_long", param="text")
    fmt = body.format or query.get("format") or DEFAULT_FORMAT
    try:
        rate = parse_pcm_format(fmt)
    except UnsupportedFormat as exc:
        raise ApiError(422, str(exc), "unsupported_format", param="format") from None
    speed = _speed(body.speed, "speed", 422) if body.speed is not None else query.get("speed", 1.0)
    language = body.language or query.get("language")
    voice_id = body.voice or query.get("voice")
    if not body.voice and body.language and "voice" in query:  # "" is no voice, as None
        # Rymi's body always carries the agent's language: the URL's voice stays when it
        # speaks it (else every per-agent voice would be lost); only a voice of another
        # language gives way to that language's default (Spanish text read by an English
        # voice is a silent failure).
        url_voice = catalog.get(query["voice"])
        if url_voice is None or primary(url_voice.language) != primary(body.language):
            voice_id = None
    if voice_id:  # a given voice wins over language
        voice = catalog.get(voice_id)
        if voice is None:
            raise ApiError(404, f"unknown voice {voice_id!r}; available: "
                           f"{', '.join(catalog.ids)}", "voice_not_found", param="voice")
    elif language:
        voice = catalog.for_language(language)
        if voice is None:
            raise ApiError(422, f"no voice speaks language {language!r}; available languages: "
                           f"{', '.join(catalog.languages)}", "unsupported_language",
                           param="language")
    else:
        voice = catalog.voices[catalog.default_id]
    check_script(body.text, voice, catalog)
    # Text is normalised for the language the voice speaks, which is what will be heard.
    return TtsJob(text=speakable(body.text), voice=voice, language=voice.language,
                  rate=rate, speed=speed, instructions=body.instructions)
