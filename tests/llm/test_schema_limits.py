"""The chat request's limits at their edges, and the fields read from two places.

Out-of-range values far past a limit are refused in test_errors.py through the server;
here, without an engine, each limit itself is taken and the first value past it is not
(a limit moved outward went unnoticed), and the request's readings of stream_options and
of its two output limits are OpenAI's.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from servers.llm.schema import ChatRequest

MESSAGES = [{"role": "user", "content": "hi"}]


def request(**fields: Any) -> ChatRequest:
    return ChatRequest.model_validate({"messages": MESSAGES, **fields})


@pytest.mark.parametrize("field, at_limit, past_limit", [
    ("temperature", 2, 2.5),
    ("temperature", 0, -0.5),
    ("stop", ["a", "b", "c", "d"], ["a", "b", "c", "d", "e"]),  # OpenAI's: up to 4
    ("logit_bias", {"5": 100}, {"5": 150}),
    ("logit_bias", {"5": -100}, {"5": -150}),
])
def test_a_limit_is_taken_and_the_first_value_past_it_is_refused(
        field: str, at_limit: object, past_limit: object) -> None:
    assert getattr(request(**{field: at_limit}), field) == at_limit
    with pytest.raises(ValidationError) as err:
        request(**{field: past_limit})
    assert [e["loc"][0] for e in err.value.errors()] == [field]


@pytest.mark.parametrize("stream_options, include_usage", [
    ({"include_usage": True}, True),
    ({"include_usage": False}, False),  # asked not to: no usage chunk
    ({"include_usage": None}, False),  # null is the default
    ({}, False),
    (None, False),
])
def test_include_usage_is_what_stream_options_say(stream_options: dict | None,
                                                  include_usage: bool) -> None:
    fields = {} if stream_options is None else {"stream_options": stream_options}
    assert request(stream=True, **fields).include_usage is include_usage


@pytest.mark.parametrize("fields, limit", [
    ({}, None),
    ({"max_tokens": 7}, 7),
    ({"max_completion_tokens": 9}, 9),
    # OpenAI's rule: max_tokens is the older name, max_completion_tokens wins over it.
    ({"max_tokens": 7, "max_completion_tokens": 9}, 9),
    ({"max_tokens": 9, "max_completion_tokens": 7}, 7),
])
def test_max_completion_tokens_wins_over_max_tokens(fields: dict, limit: int | None) -> None:
    assert request(**fields).output_limit() == limit


def _schema(properties: int = 1, values: int = 0, name: str = "p") -> dict:
    prop: dict = {"type": "string"}
    if values:
        prop["enum"] = [f"{j:04d}" for j in range(values)]
    return {"type": "object", "properties": {f"{name}{i}": prop for i in range(properties)}}


def _format(schema: object) -> dict:
    return {"response_format": {"type": "json_schema",
                                "json_schema": {"name": "x", "schema": schema}}}


def _choice(values: int, chars: int) -> dict:
    each, extra = divmod(chars, values)
    return {"structured_outputs": {"choice": [
        "c" * (each + (i < extra)) for i in range(values)]}}


def _tools(n: int, schema: dict | None = None) -> dict:
    return {"tools": [{"type": "function", "function": {
        "name": f"f{i}", "parameters": schema or {"type": "object"}}} for i in range(n)]}


@pytest.mark.parametrize("at_limit, past_limit, where", [
    (_format(_schema(5000)), _format(_schema(5001)), "response_format"),  # properties
    (_format(_schema(1, 1000)), _format(_schema(1, 1001)), "response_format"),  # enums
    (_format(_schema(1, 200, "n" * 119_199)), _format(_schema(1, 200, "n" * 119_200)),
     "response_format"),  # 120,000 characters: a name and 200 four-digit values
    ({"structured_outputs": {"json": _schema(1, 1000)}},
     {"structured_outputs": {"json": _schema(1, 1001)}}, "structured_outputs"),
    ({"structured_outputs": {"json": json.dumps(_schema(1, 1000))}},
     {"structured_outputs": {"json": json.dumps(_schema(1, 1001))}}, "structured_outputs"),
    (_choice(251, 15_000), _choice(251, 15_001), "structured_outputs"),  # a large enum
    (_choice(250, 120_000), _choice(250, 120_001), "structured_outputs"),
    (_tools(128), _tools(129), "tools"),
    (_tools(5, _schema(1000)), _tools(5, _schema(1001)), "tools"),  # all tools together
])
def test_a_constraints_size_is_taken_at_openais_bound_and_refused_past_it(
        at_limit: dict, past_limit: dict, where: str) -> None:
    request(**at_limit)
    with pytest.raises(ValidationError) as err:
        request(**past_limit)
    assert [e["loc"][0] for e in err.value.errors()] == [where]


def test_a_schemas_data_and_shape_are_told_apart_and_depth_is_no_crash() -> None:
    """Values in "examples"/"default" are data, not properties; a property named "enum"
    is a property whose own schema is walked; a schema nested 5,000 deep is walked
    without recursion (a RecursionError would be a 500)."""
    data = {"type": "object", "examples": [{"properties": {str(i): {} for i in range(6000)}}]}
    request(**_format(data))
    named = {"type": "object", "properties": {"enum": _schema(1, 1001)}}
    with pytest.raises(ValidationError):
        request(**_format(named))
    deep: dict = {"type": "string"}
    for _ in range(5000):
        deep = {"type": "array", "items": deep}
    request(**_format(deep))
