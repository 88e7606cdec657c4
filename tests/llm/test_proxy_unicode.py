"""What an upstream writes in JSON reaches the caller, whatever its Unicode: here half a
surrogate pair (a gateway that cut one between chunks), in events and an answer the
proxy re-encodes (a lone surrogate has no UTF-8: it failed as a 500 or a cut stream)."""

from __future__ import annotations

import json

from tests.llm.sse_util import payloads, raw_stream
from tests.support.servers import RunningServer


def _ask(url: str, stream: bool) -> tuple[int, bytes]:
    body = {"model": "m", "messages": [{"role": "user", "content": "fault:lone-surrogate"}],
            "stream": stream}
    r, data = raw_stream(url, body, timeout=30)
    return r.status_code, data


def test_a_lone_surrogate_in_a_rewritten_stream_is_relayed_escaped(
        fault_proxy: RunningServer) -> None:
    status, data = _ask(fault_proxy.url, stream=True)
    assert status == 200, data
    events = payloads(data)
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": "\ud83d"}
    # The upstream's error, reshaped (a string code) and said, not lost to a cut.
    assert events[-1]["error"]["message"] == "broke at \ud83d", events
    assert isinstance(events[-1]["error"]["code"], str) and "[DONE]" not in events
    data.decode("utf-8")  # what went out is UTF-8 throughout


def test_a_lone_surrogate_in_a_rewritten_answer_is_relayed_escaped(
        fault_proxy: RunningServer) -> None:
    status, data = _ask(fault_proxy.url, stream=False)
    assert status == 200, data
    answer = json.loads(data.decode("utf-8"))
    assert answer["choices"][0]["message"]["content"] == "ok \ud83d"
    assert answer["usage"]["total_tokens"] == 4  # (added: what made it re-encoded)
