"""A bad control message gets an error event and the session goes on (CONTRACT.md): at
once, even in the middle of an utterance, and however many come."""

from __future__ import annotations

from .client import load_pcm, session


async def test_keepalive_ignored_and_bad_messages_answered_then_session_goes_on(url, auth):
    got = await session(url, auth, [{"type": "keepalive"}, "{not json", {"type": "nope"},
                                    "[1, 2]", load_pcm("cards_001.wav"), {"type": "finalize"}])
    kinds = got.kinds()
    assert kinds[:3] == ["error", "error", "error"]
    assert all("message" in e for e in got.events[:3])
    assert kinds.count("final") == 1 and "club" in got.text().lower()


async def test_control_messages_nested_too_deep_or_null_are_answered_mid_utterance(url, auth):
    # "[[[...": json.loads raises RecursionError, which once ended the session in silence
    # (no error, no final for the utterance in progress, no close frame).
    got = await session(url, auth, [load_pcm("goforward.wav"), "[" * 16_000, "null",
                                    {"type": "finalize"}])
    errors = [e for e in got.events if e["type"] == "error"]
    assert len(errors) == 2, got.events
    assert "malformed JSON" in errors[0]["message"]
    assert "unknown message 'null'" in errors[1]["message"]
    assert len(got.finals()) == 1 and "forward" in got.text().lower()
    assert got.close_code == 1000


async def test_many_bad_messages_mid_utterance_are_answered_at_once_and_stall_nothing(
        url, auth):
    """70 typo'd keepalives while the caller speaks. Their errors queued behind the
    utterance's final; past 64 unsent answers the server stopped reading, while the final
    waited for audio it no longer read: the session hung (until max_session_s), and the
    rest of the call and its finalize were lost."""
    pcm = load_pcm("jfk.wav")
    head, rest = pcm[:2 * 32000], pcm[2 * 32000:]
    got = await session(url, auth, [head, *["{\"type\":\"KeepAlive\"}"] * 70, rest,
                                    {"type": "finalize"}], timeout=60)
    kinds = got.kinds()
    assert kinds.count("error") == 70 and kinds.index("error") < kinds.index("final")
    assert "country" in got.text().lower(), got.text()  # said after the bad messages
    assert got.close_code == 1000


async def test_a_control_message_past_its_bound_is_answered_unparsed(url, auth):
    """A text frame up to max_frame_bytes (1 MB) was parsed on the event loop: 1 MB of
    "[0,0,...]" held every other caller's events for up to 46 ms, once per frame. Past
    16,384 bytes it is answered without being parsed (a "finalize" padded to the bound is
    still one), and the session goes on."""
    from servers.stt.session import MAX_CONTROL_BYTES

    assert MAX_CONTROL_BYTES == 16_384  # as the README says
    finalize = '{"type":"finalize"}'
    padded = finalize.ljust(MAX_CONTROL_BYTES)
    zeros = "[" + ",".join(["0"] * 500_000) + "]"
    # 6,028 characters, 18,028 bytes: the bound is on bytes, as the frame's size is.
    euros = '{"type":"finalize","pad":"' + "€" * 6000 + '"}'
    got = await session(url, auth, [load_pcm("cards_001.wav"), zeros, padded + " ", euros,
                                    padded], timeout=60)
    errors = [e["message"] for e in got.events if e["type"] == "error"]
    assert errors == [f"control message of {size} bytes, past 16384; "
                      'expected {"type": "finalize" | "close" | "keepalive"}'
                      for size in (len(zeros), 16_385, len(euros.encode()))], got.events
    assert got.kinds().count("final") == 1 and "club" in got.text().lower(), got.events
    # Answered at once, ahead of the utterance's final still being decoded.
    assert got.kinds().index("error") < got.kinds().index("final"), got.kinds()
    assert got.close_code == 1000
