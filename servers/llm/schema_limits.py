"""How large a constraint a request may carry: OpenAI's bounds for a Structured Outputs
schema, held for every constraint the engine compiles into a grammar.

The grammar is compiled before the request's first token, on the CPU, beside the model:
on 2 cores a schema of 40,000 enum values took 2 s and slowed every other stream (the
longest gap between two tokens 41-69 ms -> 380 ms), and 1,000 choices of 100 characters
a first token after 2 s and 107 s at 900. OpenAI refuses such schemas; so do we, with a
400 naming the bound, on both backends (an upstream vLLM compiles them the same way).
"""

from __future__ import annotations

import json
from typing import Any

# OpenAI's Structured Outputs bounds (its guide's "Supported schemas").
MAX_PROPERTIES = 5_000  # object properties, all objects together
MAX_ENUM_VALUES = 1_000  # enum values, all enums together
MAX_NAME_CHARS = 120_000  # property and definition names, enum values, consts
LARGE_ENUM = 250  # a string enum past this many values ...
MAX_LARGE_ENUM_CHARS = 15_000  # ... holds this many characters at most
MAX_TOOLS = 128  # OpenAI's bound on `tools`

# Values that are data, not schema: a "properties" key inside an example is no property.
_DATA_KEYS = frozenset({"enum", "const", "default", "examples", "example"})


def check_schema(schema: Any, what: str = "the schema") -> None:
    """Raise ValueError naming the bound a JSON schema (or a list of them) is past.
    Walked with a stack, not by recursion: a schema nested a thousand deep is a 400,
    not a RecursionError."""
    if isinstance(schema, str):  # vLLM's structured_outputs.json may be a JSON string
        try:
            schema = json.loads(schema)
        except ValueError:
            return  # not JSON: the engine's own 400 says so
    properties = enums = chars = 0
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
                properties += len(value) if key == "properties" else 0
                chars += sum(len(name) for name in value)
                stack.extend(value.values())  # (a property may be named "enum")
            elif key == "enum" and isinstance(value, list):
                enums += len(value)
                chars += check_values(value, "an enum")
            elif key == "const" and isinstance(value, str):
                chars += len(value)
            elif key not in _DATA_KEYS:
                stack.append(value)
    if properties > MAX_PROPERTIES:
        raise ValueError(f"{what} has {properties} object properties; at most "
                         f"{MAX_PROPERTIES}, as OpenAI bounds a schema")
    if enums > MAX_ENUM_VALUES:
        raise ValueError(f"{what} has {enums} enum values; at most {MAX_ENUM_VALUES}, "
                         "as OpenAI bounds a schema")
    if chars > MAX_NAME_CHARS:
        raise ValueError(f"{what}: its names, enum values and consts are {chars} "
                         f"characters; at most {MAX_NAME_CHARS}, as OpenAI bounds a schema")


def check_values(values: list[Any], what: str) -> int:
    """An enum's (or a choice's) characters, checked against the large-enum bound."""
    chars = sum(len(v) for v in values if isinstance(v, str))
    if len(values) > LARGE_ENUM and chars > MAX_LARGE_ENUM_CHARS:
        raise ValueError(f"{what} of {len(values)} values holds {chars} characters; past "
                         f"{LARGE_ENUM} values at most {MAX_LARGE_ENUM_CHARS}, as OpenAI "
                         "bounds an enum")
    if chars > MAX_NAME_CHARS:
        raise ValueError(f"{what} holds {chars} characters; at most {MAX_NAME_CHARS}")
    return chars
