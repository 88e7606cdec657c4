"""A deterministic, instant OpenAI-style upstream for measuring proxy overhead.

Each content chunk carries the upstream's CLOCK_MONOTONIC send time (system-wide on
Linux, so comparable across processes) at the start of its text, so a client can tell
exactly how long a chunk spent between the upstream and itself, whatever sat between.
Raw ASGI, so the mock costs as little as possible.

    python -m bench.llm_mock --port 9100 --chunks 16 --interval-ms 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import uvicorn

MODEL = "mock-model"


def make_app(chunks: int, interval_s: float):
    head = {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1,
            "model": MODEL}

    def event(choices: list, **extra) -> bytes:
        return b"data: " + json.dumps({**head, "choices": choices, **extra},
                                      separators=(",", ":")).encode() + b"\n\n"

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        if scope["path"].endswith("/models"):
            body = json.dumps({"object": "list", "data": [{"id": MODEL, "object": "model"}]})
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body.encode()})
            return
        raw = b""
        while True:
            msg = await receive()
            raw += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        req = json.loads(raw or b"{}")
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})

        async def out(b: bytes) -> None:
            await send({"type": "http.response.body", "body": b, "more_body": True})

        await out(event([{"index": 0, "delta": {"role": "assistant", "content": ""},
                          "finish_reason": None}]))
        for i in range(chunks):
            if i and interval_s:
                await asyncio.sleep(interval_s)
            finish = "length" if i == chunks - 1 else None
            await out(event([{"index": 0, "delta": {"content": f"{time.monotonic_ns()} tok{i}"},
                              "finish_reason": finish}]))
        if (req.get("stream_options") or {}).get("include_usage"):
            await out(event([], usage={"prompt_tokens": 10, "completion_tokens": chunks,
                                       "total_tokens": 10 + chunks}))
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n",
                    "more_body": False})

    return app


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--chunks", type=int, default=16)
    p.add_argument("--interval-ms", type=float, default=20)
    p.add_argument("--keepalive-s", type=float, default=5.0,
                   help="idle keep-alive (5 s: uvicorn's and vLLM's own server's default)")
    a = p.parse_args()
    uvicorn.run(make_app(a.chunks, a.interval_ms / 1000), host="127.0.0.1", port=a.port,
                log_level="warning", access_log=False, lifespan="off",
                timeout_keep_alive=a.keepalive_s)


if __name__ == "__main__":
    main()
