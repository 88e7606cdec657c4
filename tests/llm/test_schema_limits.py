"""The chat request's limits at their edges, and the fields read from two places.

Out-of-range values far past a limit are refused in test_errors.py through the server;
here, without an engine, each limit itself is taken and the first value past it is not
(a limit moved outward went unnoticed), and the request's readings of stream_options and
of its two output limits are OpenAI's.
"""

from __future__ import annotations

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
