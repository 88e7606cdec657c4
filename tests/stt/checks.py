"""Invariants every STT session must keep, whatever the audio (CONTRACT.md, "STT")."""

from __future__ import annotations

from typing import Any


def assert_well_ordered(events: list[dict[str, Any]]) -> None:
    """speech_started opens an utterance; interims only inside one; final then utterance_end;
    the next speech_started only after the previous utterance_end."""
    open_utterance = False
    expect_end = False
    for i, event in enumerate(events):
        kind = event["type"]
        where = f"event {i} ({kind}) in {[e['type'] for e in events]}"
        if expect_end:
            assert kind == "utterance_end", where
            expect_end = False
            open_utterance = False
            continue
        if kind == "speech_started":
            assert not open_utterance, where
            open_utterance = True
        elif kind == "interim":
            assert open_utterance, where
            assert isinstance(event["text"], str) and event["text"], where
        elif kind == "final":
            assert isinstance(event["text"], str), where
            assert 0.0 <= event["confidence"] <= 1.0, where
            assert event["language_code"], where
            expect_end = True
        elif kind == "utterance_end":
            raise AssertionError(f"utterance_end without a final: {where}")
        else:
            assert kind == "error", where
    assert not expect_end, "final without utterance_end"
    assert not open_utterance, "speech_started never closed by a final"
    last = None
    for event in events:
        if event["type"] == "interim":
            assert event["text"] != last, "an interim was repeated unchanged"
            last = event["text"]
        elif event["type"] in ("final", "speech_started"):
            last = None
