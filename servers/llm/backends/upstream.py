"""Proxy to any OpenAI-compatible upstream over one keep-alive pool (``http_client``).

Everything here is bookkeeping around the pool and ``relay.Framer``: the body we send
(standard fields only, our model name, usage always asked for), the upstream's refusals
mapped to the contract's errors, and the relay loop, which sends each whole event on
the moment it is complete.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from starlette.types import Send

from servers.common.body import parse_json
from servers.common.errors import ApiError
from servers.common.logs import shown_url

from ..config import LlmSettings
from ..schema import ChatRequest
from ..sse import compact_json, json_or_none
from . import secret
from .conform import answer_as_stream, conform_answer
from .connect import TransportError, env_proxy_for
from .exchange import Replayed, Response
from .http_client import UpstreamClient
from .relay import Framer, StreamState
from .upstream_errors import (
    error_parts,
    map_status,
    map_transport,
    refused_at_first_event,
    stream_code,
    stream_failure,
)

log = logging.getLogger("rymi.llm.upstream")

# The fields an upstream gets: ours, OpenAI's other standard ones (not read here, but
# dropping them would answer a request for logprobs or a logit_bias with none, silently),
# and vLLM's most used sampling extras. Anything else is ignored, as the contract has it:
# a hosted API refuses a field it does not know.
_FORWARDED = frozenset(ChatRequest.model_fields) | {
    "logprobs", "top_logprobs", "logit_bias", "metadata", "store", "reasoning_effort",
    "service_tier", "prediction", "modalities", "audio", "functions", "function_call",
    "web_search_options", "verbosity", "prompt_cache_key", "safety_identifier",
    "min_tokens", "ignore_eos", "chat_template_kwargs"}
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode  # one encoder, not one per request
_DRAIN_S = 2.0  # what follows [DONE] is read this long at most, so the connection is reused


class UpstreamBackend:
    name = "upstream"

    def __init__(self, settings: LlmSettings) -> None:
        self.settings = settings
        self.upstream_model = settings.upstream_model or ""
        self.shown_url = shown_url(settings.upstream_url)  # as logs may show it
        self.served_name = settings.served_model_name or settings.upstream_model or ""
        self.model_field: bytes | None = None  # set by start()
        self._unstreamed_said = False  # an upstream that does not stream, told once
        token = settings.upstream_token.get_secret_value()
        # Blanked out of what an upstream's error says (some echo the key they refused)
        # before it reaches the log or the caller.
        secret.keep_out(token)
        # identity: the bytes are relayed as they come, so they must not arrive compressed.
        headers = {"User-Agent": "rymi-endpoints", "Accept-Encoding": "identity",
                   **({"Authorization": f"Bearer {token}"} if token else {})}
        self.client = UpstreamClient(
            settings.upstream_url.rstrip("/"), headers,
            connect_timeout_s=settings.upstream_connect_timeout_s,
            read_timeout_s=settings.upstream_timeout_s,
            # HTTP(S)_PROXY and NO_PROXY, read once here rather than per request.
            proxy=env_proxy_for(settings.upstream_url))

    async def start(self) -> None:
        if not self.settings.upstream_check:
            self.served_name = self.served_name or self.upstream_model or "upstream"
            self._name_answers()
            return
        try:
            resp = await self.client.request("GET", "/models")
            try:
                status, text = resp.status, (await resp.read()).decode("utf-8", "replace")
            finally:
                resp.close()
        except TransportError as exc:
            raise RuntimeError(f"upstream {self.shown_url} unreachable: "
                               f"{type(exc).__name__}: {exc}") from None
        if status != 200:  # its words as a refused call's are read: our key blanked
            said = secret.blanked(error_parts(text.encode())[0])  # (a 401 may quote it)
            raise RuntimeError(f"upstream {self.shown_url}: GET /models answered "
                               f"{status}: {said[:200]}")
        try:
            data = parse_json(text).get("data", [])
        except (ValueError, AttributeError):
            data = []
        models = [m.get("id") for m in data if isinstance(m, dict)]
        if self.upstream_model and models and self.upstream_model not in models:
            # Served anyway (a gateway may list less than it serves), but said: each call
            # would otherwise fail with a 502 upstream_not_found and nothing before it.
            log.warning("RYMI_LLM_UPSTREAM_MODEL=%r is not among the models the upstream "
                        "lists (%s): calls may fail", self.upstream_model, models[:10])
        self.upstream_model = self.upstream_model or (models[0] if models else "")
        self.served_name = self.served_name or self.upstream_model or "upstream"
        self._name_answers()
        log.info("upstream %s serves %s", self.shown_url, models[:5])

    def _name_answers(self) -> None:
        """Served under a name of its own, the answers carry that name, as /v1/models
        lists it and as vLLM's --served-model-name does (a client that sends back the
        name it was answered with got a 404 when names are checked)."""
        self.model_field = None
        if self.settings.served_model_name and self.served_name != self.upstream_model:
            self.model_field = b'"model":' + _ENCODE(self.served_name).encode()

    async def warmup(self) -> None:
        """Nothing to load: start() opened a pooled connection already."""

    async def close(self, within_s: float | None = None) -> None:
        await self.client.aclose()

    def body(self, req: ChatRequest, raw: dict[str, Any]) -> tuple[bytes, bool]:
        """The upstream body, and whether the client did not ask for usage (so any usage
        chunk is dropped: the one we asked for, or one the upstream sends unasked)."""
        out = {k: v for k, v in raw.items() if k in _FORWARDED}
        if self.upstream_model:
            out["model"] = self.upstream_model
        cap = self.settings.max_tokens_cap
        if self.settings.upstream_cap_field == "max_completion_tokens":
            # OpenAI's reasoning models refuse max_tokens, which Rymi sends with every
            # turn: the caller's limit goes in the field they take, clamped, or the cap.
            out.pop("max_tokens", None)
            out["max_completion_tokens"] = min(req.output_limit() or cap, cap)
        else:
            for key in ("max_tokens", "max_completion_tokens"):
                if (req_value := getattr(req, key)) is not None and req_value > cap:
                    out[key] = cap  # as the vllm backend clamps: one setting, both backends
            if req.output_limit() is None:  # and bounds: not the upstream's own default
                out["max_tokens"] = cap
        drop_usage = not req.include_usage
        if not req.stream:  # OpenAI and vLLM refuse it on an answer not streamed; we take it
            out.pop("stream_options", None)
        if req.stream and drop_usage and self.settings.upstream_force_usage:
            out["stream_options"] = {**(raw.get("stream_options") or {}), "include_usage": True}
        return _ENCODE(out).encode(), drop_usage

    async def open(self, req: ChatRequest, raw: dict[str, Any]
                   ) -> tuple[Response | Replayed, bool]:
        """Send the request; any failure before a 200 becomes an ApiError."""
        content, drop_usage = self.body(req, raw)
        try:
            resp = await self.client.request("POST", "/chat/completions", content)
        except TransportError as exc:
            raise map_transport(exc) from None
        encoding = resp.headers.get("content-encoding", "").strip().lower() or "identity"
        if resp.status == 200 and encoding in ("identity", "none"):
            if not (req.stream and resp.headers.get("content-type", "").startswith(
                    "application/json")):
                return resp, drop_usage
            # One JSON body where a stream was asked for. A gateway's error under a 200
            # is said before our 200, with its message; an answer (an upstream that
            # does not stream) is relayed as the stream it stands for, once it is whole,
            # where a 502 ended the call.
            answer = json_or_none(await _read_all(resp))
            conform_answer(answer)  # raises with its message
            if not self._unstreamed_said:
                self._unstreamed_said = True
                log.warning("the upstream answered a stream with one whole answer: relayed "
                            "as a stream, its first words only once all are written (said "
                            "once)")
            return Replayed(answer_as_stream(answer)), drop_usage
        try:
            detail = await resp.read()
        except TransportError:
            detail = b""
        finally:
            resp.close()
        if resp.status == 200:
            raise ApiError(502, f"the upstream compressed its answer ({encoding}) although "
                           "asked for identity", "upstream_bad_response")
        raise map_status(resp.status, detail, resp.headers)

    async def whole(self, resp: Response | Replayed, state: StreamState) -> bytes:
        data = await _read_all(resp)
        try:
            answer = parse_json(data)
        except ValueError:
            raise ApiError(502, "upstream answered with a body that is not JSON",
                           "upstream_bad_response") from None
        changed = conform_answer(answer)  # a dict with choices from here on
        if self.model_field is not None and answer.get("model") != self.served_name:
            answer["model"], changed = self.served_name, True
        if changed:  # re-encoded only then
            data = compact_json(answer)
        usage = answer["usage"] if isinstance(answer["usage"], dict) else {}
        state.count(usage)
        return data

    async def first(self, resp: Response | Replayed, framer: Framer) -> bytes:
        """The stream's first whole events, before our 200: an upstream that refuses in
        its first event, ends or breaks before one, or stalls past the timeout, gets the
        HTTP error that fits (headers alone give the caller nothing to wait less for)."""
        # Comments alone (a keep-alive, OpenRouter's ": OPENROUTER PROCESSING") are no
        # event: the 200 waits past them for one, up to the timeout, as a refusal may
        # follow them; they carry nothing for the caller and are not forwarded.
        deadline = time.monotonic() + self.settings.upstream_timeout_s
        try:
            while True:
                chunk = await resp.next()
                events = framer.feed(chunk) if chunk is not None else framer.end()
                if events.startswith(b":") and events.find(b"data:") >= 0:
                    events = b"".join(e + b"\n\n" for e in events.split(b"\n\n")[:-1]
                                      if not e.startswith(b":"))
                if framer.finished or events and (
                        events.find(b"data:") >= 0 or time.monotonic() > deadline):
                    break
        except TransportError as exc:
            resp.close()
            raise map_transport(exc) from None
        except BaseException:
            resp.close()
            raise
        state = framer.state
        if state.error is not None and events.find(b"\n\n") == len(events) - 2:
            resp.close()
            code, state.error = state.error, None  # an HTTP error, not one mid-stream
            raise refused_at_first_event(events, code)
        return events

    async def relay(self, resp: Response | Replayed, framer: Framer, send: Send,
                    before_last: Callable[[], None], events: bytes) -> None:
        """``events`` (from ``first``), then whole events to the client (ASGI ``send``)
        as they complete; ``before_last()`` just before the response's last write. A
        transport failure mid-stream is the contract's error event (and no [DONE])."""
        handed_off = False  # to _drain, which closes it
        try:
            try:
                while not framer.finished:
                    if events:
                        await send({"type": "http.response.body", "body": events,
                                    "more_body": True})
                    chunk = await resp.next()
                    events = framer.feed(chunk) if chunk is not None else framer.end()
            except TransportError as exc:
                framer.state.error = stream_code(exc)
                events = stream_failure(framer.state.error, exc)
            before_last()
            await send({"type": "http.response.body", "body": events, "more_body": False})
            if framer.state.error is None and not resp.complete:
                # Off the request: the caller has its answer, and its in-flight slot and
                # record must not wait on an upstream slow to end its body.
                task = asyncio.ensure_future(_drain(resp))
                _DRAINS.add(task)
                task.add_done_callback(_DRAINS.discard)
                handed_off = True
        finally:
            # A whole answer returns the connection to the pool; anything else (the
            # client left, the upstream broke) closes it, so the upstream stops at once.
            if not handed_off:
                resp.close()


async def _read_all(resp: Response | Replayed) -> bytes:
    """The whole body of an answer (then closed); a transport failure is its ApiError."""
    try:
        return await resp.read()
    except TransportError as exc:
        raise map_transport(exc) from None
    finally:
        resp.close()


_DRAINS: set[asyncio.Future[None]] = set()  # held, or the loop may collect them mid-read


async def _drain(resp: Response) -> None:
    """Read what follows [DONE] (normally just the chunked terminator), briefly, then
    close: a response closed before its end cannot go back to the pool."""
    try:
        async with asyncio.timeout(_DRAIN_S):
            while await resp.next() is not None:
                pass
    except (TimeoutError, TransportError):
        pass  # the answer is whole already; the connection is closed instead
    finally:
        resp.close()
