"""A tiny OpenAI-shaped upstream that misbehaves on request, for the proxy's fault tests.

The last user message picks the behaviour (the proxy rewrites ``model``, so that field
cannot carry it): ``fault:ok``, ``fault:die`` (dies mid-stream), ``fault:stall``
(stalls after the first chunk), ``fault:stall-headers``, ``fault:stall-first`` (headers, then no event),
``fault:first-error`` (an error as the first event; ``comment-first-error``: after two SSE comments; ``first-429``: a rate limit), ``fault:error-event`` (an error
event then ``[DONE]``, as vLLM's server does; ``-vllm``: with its integer code), ``fault:no-done``, ``fault:done-hold`` (the body open 5 s after ``[DONE]``), ``fault:hold`` (keeps
the stream open with comments until the client leaves), ``fault:400``, ``fault:401``,
``fault:403``, ``fault:429``, ``fault:429-bare`` and ``fault:503`` (no Retry-After), ``fault:500``, ``fault:html-502``, and three ways with usage
that the contract's own does not take: ``fault:usage-on-choice`` (on the last choice
chunk, asked or not), ``fault:usage-unasked`` (a usage chunk asked or not),
``fault:no-usage`` (never one), ``fault:lone-surrogate`` (half a surrogate pair escaped
in chunks and an answer the proxy must re-encode), ``fault:no-total`` (usage without ``total_tokens``,
streamed or not), and ``fault:loose``, which breaks the stream's rules (a
new id and created in every chunk, no role, no finish_reason; not streamed, an answer
with none of the contract's fields but its text), and ``fault:200-error`` (an error
object under a 200, as some gateways answer, streamed or not), ``fault:no-stream`` (one
whole answer with a tool call, even to a stream), ``fault:not-json`` (an event that is no
JSON mid-stream), ``fault:odd-usage`` (counts that are no counts), ``fault:odd-fields``
and ``fault:echo-key-code`` (a 400 whose type, code and param are no strings, or hold
the key). It runs in a thread of
the test process, so tests can read ``FaultState`` directly.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

MODEL = "fault-model"


@dataclass
class FaultState:
    requests: list[dict] = field(default_factory=list)
    open_streams: dict[str, int] = field(default_factory=dict)  # by fault
    cancelled: int = 0
    models_down_until: float = 0.0  # time.monotonic(): /models answers 503 till then


USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


def _chunk(content: str | None = None, role: bool = False, finish: str | None = None,
           usage: dict | None = None) -> bytes:
    delta: dict = {"role": "assistant", "content": ""} if role else {}
    if content is not None:
        delta["content"] = content
    obj = {"id": "chatcmpl-fault", "object": "chat.completion.chunk", "created": 1,
           "model": MODEL, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage is not None:
        obj["usage"] = usage
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def _err(status: int, message: str, code: str, param: str | None = None,
         headers: dict | None = None) -> Response:
    return JSONResponse({"error": {"message": message, "type": "invalid_request_error",
                                   "code": code, "param": param}}, status, headers=headers)


def make_app(state: FaultState) -> Starlette:
    async def models(request: Request) -> Response:
        if time.monotonic() < state.models_down_until:  # a passing outage
            return _err(503, "restarting", "busy")
        return JSONResponse({"object": "list", "data": [{"id": MODEL, "object": "model"}]})

    async def chat(request: Request) -> Response:
        body = await request.json()
        state.requests.append({"body": body, "auth": request.headers.get("authorization"),
                               "accept_encoding": request.headers.get("accept-encoding")})
        fault = body["messages"][-1]["content"].removeprefix("fault:")
        if fault == "400":
            return _err(400, "temperature is bad upstream", "bad_temp", param="temperature")
        if fault in ("401", "403"):  # what OpenAI's API says to a bad or limited key,
            # (as some gateways do) with the key it was given
            key = (request.headers.get("authorization") or "").removeprefix("Bearer ")
            return _err(int(fault), f"Incorrect API key provided: {key}", "invalid_api_key")
        if fault == "404":  # an upstream_model it does not serve
            return _err(404, "The model `gpt-99` does not exist", "model_not_found", "model")
        if fault == "429":
            return _err(429, "slow down", "rate_limited", headers={"Retry-After": "7"})
        if fault in ("429-bare", "503"):  # no Retry-After
            return _err(int(fault[:3]), "busy", "busy")
        if fault == "500":
            return _err(500, "upstream exploded", "boom")
        if fault == "html-502":
            return PlainTextResponse("<html>bad gateway</html>", 502)
        if fault == "200-error":  # an error under a 200, as some gateways answer
            return JSONResponse({"error": {"message": "quota gone", "type": "x"}})
        if fault == "stall-headers":
            await asyncio.sleep(30)
        if fault == "no-stream":  # one whole answer, streamed or not: it never streams
            return JSONResponse({
                "id": "chatcmpl-whole", "object": "chat.completion", "created": 7,
                "model": MODEL, "choices": [{"index": 0, "message": {
                    "role": "assistant", "content": "Let me check.", "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {
                            "name": "lookup", "arguments": '{"q": 1}'}}]},
                    "finish_reason": "tool_calls"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}})
        key = (request.headers.get("authorization") or "").removeprefix("Bearer ")
        if fault == "echo-key-escaped":  # JSON may escape any character ("-" as \u002d)
            said = json.dumps({"error": {"message": f"bad key {key}", "type": "x",
                                         "code": "bad_key"}}).replace("-", "\\u002d")
            return Response(said, 400, media_type="application/json")
        if fault == "echo-key-code":  # the key echoed in the fields beside the message
            return JSONResponse({"error": {"message": "no", "type": f"t {key}", "param": key,
                                           "code": f"bad {key}"}}, 400)
        if fault == "odd-fields":  # no strings where the contract has them
            return JSONResponse({"error": {"message": "weird", "type": 7, "param": ["x"],
                                           "code": {"a": 1}}}, 400)
        if fault == "echo-key-200":  # the key echoed in an error under a 200
            return JSONResponse({"error": {"message": f"bad key {key}", "type": "x"}})
        if not body.get("stream"):
            if body.get("stream_options") is not None:  # as OpenAI's API and vLLM's server
                return _err(400, "stream_options is only allowed when stream is true",
                            "invalid_value", param="stream_options")
            usage = {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
            if fault == "no-total":
                del usage["total_tokens"]
            if fault == "odd-usage":  # counts that are no counts (a string, a negative)
                usage.update(prompt_tokens="3", completion_tokens=-1)
            if fault == "lone-surrogate":  # and no total: re-encoded by the proxy
                del usage["total_tokens"]
                return Response(json.dumps({"id": "chatcmpl-fault", "object": "chat.completion",
                    "created": 1, "model": MODEL, "choices": [{"index": 0, "message": {
                        "role": "assistant", "content": "ok \ud83d"}, "finish_reason": "stop"}],
                    "usage": usage}), media_type="application/json")
            if fault == "loose":  # no object, id, created, role, finish_reason or usage
                return JSONResponse({"model": MODEL, "choices": [
                    {"index": 0, "message": {"content": "ok"}}]})
            return JSONResponse({
                "id": "chatcmpl-fault", "object": "chat.completion", "created": 1, "model": MODEL,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                             "finish_reason": "stop"}], "usage": usage})
        # "none" where "identity" is meant, as some servers write it
        headers = {"Content-Encoding": "none"} if fault == "encoding-none" else None
        return StreamingResponse(_stream(fault, body, state), media_type="text/event-stream",
                                 headers=headers)

    return Starlette(routes=[Route("/v1/models", models),
                             Route("/v1/chat/completions", chat, methods=["POST"])])


def _loose_stream() -> list[bytes]:
    """A stream that breaks the contract's rules, as some OpenAI-shaped servers do."""
    chunks = [{"id": f"chatcmpl-{i}", "object": "chat.completion.chunk", "created": 100 + i,
               "model": MODEL, "choices": [{"index": 0, "delta": {"content": text}}]}
              for i, text in enumerate(["Hel", "lo"])]
    usage = {"id": "chatcmpl-9", "object": "chat.completion.chunk", "created": 109,
             "model": MODEL, "choices": [], "usage": USAGE}
    return [b"data: " + json.dumps(c).encode() + b"\n\n" for c in [*chunks, usage]]


async def _stream(fault: str, body: dict, state: FaultState):
    state.open_streams[fault] = state.open_streams.get(fault, 0) + 1
    try:
        if fault.startswith("comment-"):  # as OpenRouter opens a stream
            yield b": OPENROUTER PROCESSING\n\n"
            await asyncio.sleep(0.05)
            yield b": OPENROUTER PROCESSING\n\n"
            fault = fault.removeprefix("comment-")
        if fault == "first-error":  # refused in the first event, as vLLM's server can
            yield (b'data: {"error": {"message": "context too long", "type": "BadRequestError",'
                   b' "param": "messages", "code": 400}}\n\n')
            yield b"data: [DONE]\n\n"
            return
        key = (state.requests[-1]["auth"] or "").removeprefix("Bearer ")
        if fault in ("echo-key-first", "first-401") or fault.startswith("first-code-"):
            code = "401" if fault == "first-401" else fault if fault.startswith("first-") \
                else "bad_key"
            yield b"data: " + json.dumps({"error": {"message": f"bad key {key}", "type": "x",
                                                    "code": code}}).encode() + b"\n\n"
            return
        if fault == "first-429":  # OpenRouter's rate limit, said in the stream
            yield (b'data: {"error": {"message": "Rate limit exceeded", "code": 429}}\n\n')
            return
        if fault == "stall-first":  # headers, then nothing
            await asyncio.sleep(30)
        if fault == "lone-surrogate":  # a gateway that cut a pair: JSON escapes it as is
            for ev in ({"id": "chatcmpl-fault", "created": 1, "choices": [  # no role: rewritten
                        {"index": 0, "delta": {"content": "\ud83d"}}]},
                       {"error": {"message": "broke at \ud83d", "type": "InternalServerError",
                                  "param": None, "code": 500}}):  # an int code: rewritten
                yield b"data: " + json.dumps(ev).encode() + b"\n\n"
            yield b"data: [DONE]\n\n"
            return
        if fault == "loose":
            for ev in _loose_stream():
                yield ev
            yield b"data: [DONE]\n\n"
            return
        yield _chunk(role=True)
        yield _chunk("Hel")
        if fault == "not-json":  # an event a client's SDK cannot read, then the rest
            yield b"data: {not json\n\n"
        if fault == "die":
            raise RuntimeError("upstream died")  # uvicorn drops the connection mid-body
        if fault == "stall":
            await asyncio.sleep(30)
        if fault == "hold":
            for _ in range(300):
                await asyncio.sleep(0.1)
                yield b": keep-alive\n\n"
        if fault == "echo-key-mid":  # the key echoed in a mid-stream error event
            yield b"data: " + json.dumps({"error": {"message": f"bad key {key}", "type": "x",
                                                    "code": "bad_key"}}).encode() + b"\n\n"
            return
        if fault == "error-event":
            yield b'data: {"error": {"message": "engine broke", "type": "server_error", "code": "oops"}}\n\n'
            yield b"data: [DONE]\n\n"
            return
        if fault == "error-event-vllm":  # vLLM's ErrorInfo: an integer code, a null param
            yield (b'data: {"error": {"message": "engine broke", "type": "InternalServerError",'
                   b' "param": null, "code": 500}}\n\n')
            yield b"data: [DONE]\n\n"
            return
        yield _chunk("lo", finish="stop", usage=USAGE if fault == "usage-on-choice" else None)
        if fault == "no-done":
            return
        asked = (body.get("stream_options") or {}).get("include_usage")
        if fault == "usage-unasked" or (asked and fault not in ("usage-on-choice", "no-usage")):
            usage = {k: v for k, v in USAGE.items() if fault != "no-total" or k != "total_tokens"}
            if fault == "odd-usage":
                usage.update(prompt_tokens="3", completion_tokens=-1)
            yield (b"data: " + json.dumps({"id": "chatcmpl-fault", "object": "chat.completion.chunk",
                   "created": 1, "model": MODEL, "choices": [], "usage": usage}).encode() + b"\n\n")
        yield b"data: [DONE]\n\n"
        if fault == "done-hold":  # the body left open after [DONE]
            await asyncio.sleep(5)
    except asyncio.CancelledError:
        state.cancelled += 1
        raise
    finally:
        state.open_streams[fault] -= 1


class FaultUpstream:
    """Run the double on a port in a background thread."""

    def __init__(self, port: int) -> None:
        self.state = FaultState()
        config = uvicorn.Config(make_app(self.state), host="127.0.0.1", port=port,
                                log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.url = f"http://127.0.0.1:{port}/v1"
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> FaultUpstream:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("fault upstream did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)
