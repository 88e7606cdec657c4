"""Invariants every STT session must keep, whatever the audio (CONTRACT.md, "STT")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Walk:
    """Where an event sequence ended, and what it held."""

    finals: int = 0
    errors: int = 0
    open_utterance: bool = False  # speech_started not yet closed by a final
    expect_end: bool = False  # a final not yet followed by its utterance_end


def walk_events(events: list[dict[str, Any]]) -> Walk:
    """Check each event and its place: speech_started opens an utterance; interims (never
    empty) only inside one; final then utterance_end; the next speech_started only after
    the previous utterance_end; errors carry a message. A sequence may stop anywhere (a
    session cut by a limit): the returned state says where."""
    w = Walk()
    for i, event in enumerate(events):
        kind = event["type"]
        where = f"event {i} ({kind}) in {[e['type'] for e in events]}"
        if w.expect_end:
            assert kind == "utterance_end", where
            w.expect_end = False
            w.open_utterance = False
            continue
        if kind == "speech_started":
            assert not w.open_utterance, where
            w.open_utterance = True
        elif kind == "interim":
            assert w.open_utterance, where
            assert isinstance(event["text"], str) and event["text"], where
        elif kind == "final":
            assert isinstance(event["text"], str), where
            assert 0.0 <= event["confidence"] <= 1.0, where
            assert event["language_code"], where
            w.expect_end = True
            w.finals += 1
        elif kind == "utterance_end":
            raise AssertionError(f"utterance_end without a final: {where}")
        else:
            assert kind == "error", where
            assert isinstance(event["message"], str) and event["message"], where
            w.errors += 1
    return w


def assert_well_ordered(events: list[dict[str, Any]]) -> None:
    """A whole session: every event in its place, every utterance closed, no interim
    repeated unchanged."""
    w = walk_events(events)
    assert not w.expect_end, "final without utterance_end"
    assert not w.open_utterance, "speech_started never closed by a final"
    last = None
    for event in events:
        if event["type"] == "interim":
            assert event["text"] != last, "an interim was repeated unchanged"
            last = event["text"]
        elif event["type"] in ("final", "speech_started"):
            last = None
