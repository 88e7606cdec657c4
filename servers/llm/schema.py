"""The request body of POST /v1/chat/completions, validated with pydantic.

Standard OpenAI fields are typed and range-checked; unknown fields are ignored (the
contract: a client's vendor extras must not fail a call). Content may be a string or
a list of parts; text parts are what a text model can use.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from servers.common.text import is_text

from .schema_limits import MAX_TOOLS, check_schema, check_values


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextPart(_Lenient):
    # "input_text"/"output_text": the Responses API's names, which vLLM's server reads too.
    type: Literal["text", "input_text", "output_text"]
    text: str


class RefusalPart(_Lenient):
    """An assistant's refusal in a past turn, as the OpenAI SDK types it: text too."""

    type: Literal["refusal"]
    refusal: str


_TEXT_TYPES = frozenset({"text", "input_text", "output_text", "refusal"})


class OtherPart(_Lenient):
    """Image/audio parts: accepted by the schema, refused by text-only engines."""

    type: str

    @field_validator("type")
    @classmethod
    def _not_text(cls, v: str) -> str:
        # A text part without its text is a bad part, not one "this model cannot read".
        if v in _TEXT_TYPES:
            raise ValueError(f"a {v!r} part needs its {'refusal' if v == 'refusal' else 'text'}")
        return v


class Message(_Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[TextPart | RefusalPart | OtherPart] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        # One line each, as vLLM's server joins them ("Hello", "world" was "Helloworld").
        return "\n".join(p.text if isinstance(p, TextPart) else p.refusal
                         for p in self.content if isinstance(p, TextPart | RefusalPart))

    def has_non_text(self) -> bool:
        return isinstance(self.content, list) and any(
            isinstance(p, OtherPart) for p in self.content)


class StreamOptions(_Lenient):
    include_usage: bool | None = False


class ResponseFormat(_Lenient):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: dict[str, Any] | None = None

    @field_validator("json_schema")
    @classmethod
    def _bounded(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None:
            check_schema(v.get("schema"))
        return v


class StructuredOutputs(_Lenient):
    """vLLM's own request field (its server takes it): the output held to one of these
    constraints, with vLLM's options for it. Passed on as it is by the upstream backend."""

    json_: dict[str, Any] | str | None = Field(None, alias="json")  # (BaseModel has .json)
    regex: str | None = Field(None, max_length=10_000)
    choice: list[str] | None = Field(None, min_length=1, max_length=1_000)
    grammar: str | None = Field(None, max_length=100_000)
    json_object: bool | None = None
    structural_tag: str | None = Field(None, max_length=100_000)
    disable_any_whitespace: bool | None = None
    disable_additional_properties: bool | None = None
    whitespace_pattern: str | None = Field(None, max_length=1_000)

    @field_validator("json_")
    @classmethod
    def _bounded(cls, v: dict[str, Any] | str | None) -> dict[str, Any] | str | None:
        check_schema(v)
        return v

    @field_validator("choice")
    @classmethod
    def _choices(cls, v: list[str] | None) -> list[str] | None:
        check_values(v or [], "choice")
        return v

    @model_validator(mode="after")
    def _one(self) -> StructuredOutputs:
        kinds = (self.json_, self.regex, self.choice, self.grammar, self.json_object,
                 self.structural_tag)
        # vLLM's rule: a kind is given when it is not null, so "json_object": false beside
        # a regex is two (its server refuses it; in-process it was a 500). Alone it holds
        # nothing to nothing: said, not taken as no constraint.
        if sum(k is not None for k in kinds) != 1 or self.json_object is False:
            raise ValueError("give exactly one of json, regex, choice, grammar, "
                             "json_object (true), structural_tag")
        return self


def _max_items(schema: dict[str, Any], n: int) -> None:
    """Say in the JSON schema what a validator below enforces on a list branch."""
    for branch in schema.get("anyOf", []):
        if branch.get("type") == "array":
            branch["maxItems"] = n


_INT64_MAX = 2**63 - 1


class ChatRequest(_Lenient):
    model: str = Field("", max_length=256)
    messages: list[Message] = Field(min_length=1)
    stream: bool | None = False  # null is the default, as OpenAI documents it
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)  # 0 as OpenAI takes it: see sampling
    top_k: int | None = Field(None, ge=-1, le=_INT64_MAX)
    min_p: float | None = Field(None, ge=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = Field(None, json_schema_extra=lambda s: _max_items(s, 4))
    # Bounded as vLLM's server bounds it: past int64 the engine cannot take the request.
    seed: int | None = Field(None, ge=-_INT64_MAX - 1, le=_INT64_MAX)
    n: int | None = Field(1, ge=1, le=1)  # one choice: voice replies never want more
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    repetition_penalty: float | None = Field(None, gt=0, le=2)
    response_format: ResponseFormat | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    user: str | None = None
    # Token id (as a string, OpenAI's form) -> bias; -100 bans a token, 100 forces it.
    logit_bias: dict[str, float] | None = Field(None, max_length=300)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)
    structured_outputs: StructuredOutputs | None = None  # vLLM's
    min_tokens: int | None = Field(None, ge=0)  # vLLM's: no stop before this many
    ignore_eos: bool | None = None  # vLLM's
    # vLLM's: variables for the chat template ({"enable_thinking": false} turns a Qwen3
    # model's thinking off, the first words of a spoken answer seconds sooner).
    chat_template_kwargs: dict[str, Any] | None = Field(None, max_length=32)
    # OpenAI's; vLLM's server hands it to the chat template and, unless the kwargs above
    # say otherwise, sets enable_thinking from it ("none": a Qwen3 model answers at once).
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh",
                              "max"] | None = None

    @field_validator("logit_bias")
    @classmethod
    def _logit_bias(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        for token, bias in (v or {}).items():
            # ASCII only: "²" and "١" pass isdigit() and then failed the engine (a 500).
            if not (token.isascii() and token.isdigit()) or not -100 <= bias <= 100:
                raise ValueError("keys are token ids, values from -100 to 100")
        return v

    @field_validator("tools")
    @classmethod
    def _tools(cls, v: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        if v == []:  # OpenAI's and vLLM's rule: a tool_choice over nothing was ignored
            raise ValueError("give at least one tool, or leave tools out")
        if v is not None and len(v) > MAX_TOOLS:
            raise ValueError(f"{len(v)} tools; at most {MAX_TOOLS}, as OpenAI takes")
        # Together: a call the model must make is held to a grammar over all of them.
        check_schema([t.get("function", {}).get("parameters") for t in v or []
                      if isinstance(t.get("function"), dict)], "the tools' parameters")
        return v

    @field_validator("tool_choice")
    @classmethod
    def _tool_choice(cls, v: str | dict[str, Any] | None,
                     info: ValidationInfo) -> str | dict[str, Any] | None:
        """A call the model must make ("required", a named function) needs the tool:
        without one it was answered in plain text, the promise dropped in silence (the
        in-process engine), or refused as a 500. "auto" and "none" need none. Other
        forms (OpenAI's newer "allowed_tools", Mistral's "any") are the backend's to
        take or refuse (the in-process one refuses them), not ours: a proxy relays them."""
        if v in (None, "none", "auto") or isinstance(v, dict) and v.get("type") != "function":
            return v
        tools = info.data.get("tools") or []
        if not tools:
            raise ValueError("a call the model must make needs tools to call")
        if isinstance(v, dict):
            fn = v.get("function")
            name = fn.get("name") if isinstance(fn, dict) else None
            if not isinstance(name, str) or not name:
                raise ValueError('a named function is {"type": "function", "function": '
                                 '{"name": ...}}')
            names = {t["function"].get("name") for t in tools
                     if isinstance(t.get("function"), dict)}
            if name not in names:
                raise ValueError(f"{name!r} is not one of the tools")
        return v

    @field_validator("stop")
    @classmethod
    def _stop(cls, v: str | list[str] | None) -> str | list[str] | None:
        if isinstance(v, list) and len(v) > 4:
            raise ValueError("at most 4 stop sequences")
        for stop in [v] if isinstance(v, str) else v or []:
            if not is_text(stop):  # it failed on its way to the engine: a 500
                raise ValueError("a stop sequence must be valid Unicode text")
        return v

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)

    def output_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens
