"""Hand-made upstream events and the relay loop that forwards them, for the relay's and
the conformer's unit tests."""

from __future__ import annotations

from servers.llm.backends.relay import Framer, StreamState

# Every upstream's chunks carry the stream's id and created (one for all its chunks).
ID = b'"id":"chatcmpl-1","created":7,'
ROLE = b'data: {' + ID + b'"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n'
TEXT = b'data: {' + ID + b'"choices":[{"index":0,"delta":{"content":"Hi \\"error\\" [DONE]"}}]}\n\n'
STOP = b'data: {' + ID + b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
USAGE = (b'data: {' + ID + b'"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,'
         b'"total_tokens":7}}\n\n')
ERROR = b'data: {"error":{"message":"boom","type":"server_error","code":"x"}}\n\n'
DONE = b"data: [DONE]\n\n"
# OpenAI's own API, once usage is asked for, writes "usage":null into every chunk.
OPENAI_TEXT = b'data: {' + ID + b'"choices":[{"index":0,"delta":{"content":"Hi"}}],"usage":null}\n\n'
SPACED_TEXT = (b'data: {"id": "chatcmpl-1", "created": 7, "choices": [{"index": 0, '
               b'"delta": {"content": "!"}}], "usage": null}\n\n')


def relay(pieces: list[bytes], drop_usage: bool = False) -> tuple[list[bytes], StreamState]:
    """What the relay loop forwards: each feed's events until ``finished``, then, if
    the pieces ran out first, the end's."""
    state = StreamState()
    framer = Framer(drop_usage, state, 0.0)
    out = []
    for p in pieces:
        if events := framer.feed(p):
            out.append(events)
        if framer.finished:
            return out, state
    if events := framer.end():
        out.append(events)
    return out, state
