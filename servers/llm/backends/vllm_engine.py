"""In-process vLLM: one AsyncLLM per server process, the model's own chat template.

Rendering the prompt here (not in vLLM) gives the exact prompt token count before the
request is queued, so a too-long prompt is a 400 before any byte is streamed, and
``max_tokens`` can be clamped to what the context has left (Rymi sends 2048 whatever
the model's context).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from rymi_endpoints.models.catalog import resolve
from servers.common.text import is_text

from ..config import LlmSettings
from ..schema import ChatRequest
from . import Delta, EngineError, vllm_cache
from .vllm_build import build_in_thread, prepare_processes
from .vllm_output import OutputParser, parser_class
from .vllm_prompt import messages_of, template_error, template_kwargs, template_takes_tools
from .vllm_sampling import sampling_params

log = logging.getLogger("rymi.llm.vllm")

# Long prompts are tokenised off the event loop; short ones (the usual voice turn) inline,
# where a thread hop would cost more than the work.
_INLINE_RENDER_CHARS = 8_000
# The prefix cache reuses whole KV blocks only. vLLM-CPU's default block is 128 tokens, so
# each turn of a call re-prefilled up to 127 tokens of history it had already seen; 32 is
# the smallest its attention takes (16 fails to start). bench.llm_turns on 2 cores, three
# 7-turn calls (190-450 prompt tokens): mean time to first token 404 -> 257 ms, decode
# speed unchanged.
CPU_BLOCK_SIZE = 32
# Tokens one engine step computes on CPU (vLLM's 2,048): every other stream's next token
# waits for each step of a long prompt's read (1.9 s -> 0.3 s: bench.llm_prefill).
CPU_BATCHED_TOKENS = 256


def cpu_has_fast_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="ignore")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def pick_dtype(setting: str, on_cpu: bool) -> str:
    if setting != "auto":
        return setting
    if on_cpu:  # bf16 without AVX-512/AMX runs slow fallback kernels (~4x the TTFT)
        return "bfloat16" if cpu_has_fast_bf16() else "float32"
    return "auto"


class VllmBackend:
    name = "vllm"

    def __init__(self, settings: LlmSettings) -> None:
        self.settings = settings
        self.served_name = settings.public_model_name()
        self.engine: Any = None
        self.tokenizer: Any = None
        self._defaults: dict[str, Any] = {}
        self.max_model_len = settings.max_model_len or 0  # the engine's own, once started
        # Whether the model's chat template shows the model any tools (SmolLM2's has no
        # place for them): None until start, then told to the operator once.
        self.template_takes_tools: bool | None = None
        self._tools_warned = False
        # vLLM's tool-call and reasoning parsers in force (vllm_output.py): names, class.
        self.parsers = settings.output_parsers()
        self.parser_cls: Any = None
        self.outputs = 0  # every output of every request, for the stall watch

    async def start(self) -> None:
        path = resolve(self.settings.model, self.settings.models_dir, server="llm")
        from vllm.engine.arg_utils import AsyncEngineArgs
        from vllm.platforms import current_platform
        from vllm.v1.engine.async_llm import AsyncLLM

        on_cpu = current_platform.is_cpu()
        busy_wait = self.settings.engine_busy_wait
        prepare_processes(self.settings.kv_cache_gb if on_cpu else None,
                          not on_cpu if busy_wait is None else busy_wait)
        vllm_cache.use_writable_cache_root()
        self._check_against(path, on_cpu)
        eager = self.settings.enforce_eager
        args = AsyncEngineArgs(
            model=str(path),
            served_model_name=[self.served_name],
            dtype=pick_dtype(self.settings.dtype, on_cpu),  # type: ignore[arg-type]
            max_model_len=self.settings.max_model_len,
            max_num_seqs=self.settings.max_num_seqs,
            max_num_batched_tokens=self.settings.max_num_batched_tokens or (  # (a step
                max(CPU_BATCHED_TOKENS, self.settings.max_num_seqs) if on_cpu else None),
            block_size=self.settings.block_size or (CPU_BLOCK_SIZE if on_cpu else None),
            gpu_memory_utilization=self.settings.gpu_memory_utilization,
            enforce_eager=on_cpu if eager is None else eager,
            disable_log_stats=True,
        )
        log.info("starting vLLM engine on %s (dtype %s)", path.name, args.dtype)
        self.engine = await build_in_thread(lambda: AsyncLLM.from_engine_args(args))
        self.tokenizer = self.engine.get_tokenizer()
        self.max_model_len = self.engine.model_config.max_model_len
        self.template_takes_tools = template_takes_tools(self.tokenizer)
        if not self.template_takes_tools:
            log.warning("%s: its chat template has no place for tools; a request's tools "
                        "will not reach the model (pick a model whose template takes them)",
                        path.name)
        self._defaults = self.engine.model_config.get_diff_sampling_param() or {}
        # Checked against this model's tokenizer (its marker tokens).
        self.parser_cls = parser_class(*self.parsers, self.tokenizer, path.name)

    def _check_against(self, path: Path, on_cpu: bool) -> None:
        """Settings that only the model or the device can refuse, refused here in one line
        naming ours: vLLM's own refusal came after a 30 s engine build (block_size), or as
        a multi-line error naming its fields (max_model_len)."""
        # A parser name that vLLM does not have, before a 30 s engine build.
        parser_class(*self.parsers)
        block = self.settings.block_size
        if on_cpu and block is not None and block % CPU_BLOCK_SIZE:
            raise ValueError(f"block_size={block} (RYMI_LLM_BLOCK_SIZE): vLLM on CPU takes "
                             f"multiples of {CPU_BLOCK_SIZE} only")
        wanted, context = self.settings.max_model_len, _model_context(path)
        if wanted is not None and context is not None and wanted > context:
            raise ValueError(f"max_model_len={wanted} (RYMI_LLM_MAX_MODEL_LEN) is longer than "
                             f"the model's context ({context} tokens)")

    def running(self) -> int:
        return self.engine.get_num_unfinished_requests() if self.engine is not None else 0

    def dead(self) -> bool:
        # vLLM's own flag: its engine-core process gone, or its output loop ended.
        return self.engine is not None and bool(self.engine.errored)

    def progress(self) -> int:
        return self.outputs

    async def close(self, within_s: float | None = None) -> None:
        if self.engine is not None:
            engine, self.engine = self.engine, None
            # vLLM's shutdown stops the engine core first and cancels its output loop
            # after, so that loop logs "EngineDeadError" with a traceback on every clean
            # stop: an error that is none trains operators to ignore the real one.
            handler = getattr(engine, "output_handler", None)
            if handler is not None and not handler.done():
                handler.cancel()
                await asyncio.gather(handler, return_exceptions=True)
            # Past ``within_s`` vLLM kills the engine core and its worker. What they do
            # meanwhile is free what the process exit frees anyway (the worker's KV
            # cache: 4 s of a 5 s teardown measured on SmolLM2 on a CPU).
            await asyncio.to_thread(engine.shutdown, within_s)

    async def warmup(self) -> None:
        req = ChatRequest.model_validate(
            {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2})
        async for _ in self.generate(req, "warmup"):
            pass

    async def render(self, req: ChatRequest, messages: list[dict[str, Any]]) -> list[int]:
        """``messages`` (``messages_of(req)``) through the chat template, as token ids."""
        kwargs = template_kwargs(req)
        if req.tools and req.tool_choice != "none":
            kwargs["tools"] = req.tools
            if self.template_takes_tools is False and not self._tools_warned:
                self._tools_warned = True  # an agent's end_call or transfer never happens
                log.warning("a request carries %d tools, and this model's chat template "
                            "shows the model none of them (said once)", len(req.tools))
        size = sum(len(m.get("content") or "") for m in messages)
        try:
            if size < _INLINE_RENDER_CHARS:
                out = self.tokenizer.apply_chat_template(messages, **kwargs)
            else:
                out = await asyncio.to_thread(self.tokenizer.apply_chat_template, messages,
                                              **kwargs)
        except Exception as exc:  # a template that rejects the conversation (roles, order)
            said = f"chat template rejected the messages: {template_error(exc)}"
            for i, m in enumerate(messages):  # (the tokenizer's own words say nothing of it)
                if not is_text(m.get("content") or ""):
                    said = (f"messages[{i}].content is not valid Unicode text (half a "
                            "surrogate pair: a \\ud800-\\udfff escape without its other half)")
                    break
            raise EngineError(400, said, "invalid_messages", "messages") from None
        return list(out["input_ids"])

    def sampling(self, req: ChatRequest, prompt_len: int,
                 parse: OutputParser | None = None) -> Any:
        return sampling_params(req, prompt_len, self._defaults, context=self.max_model_len,
                               cap=self.settings.max_tokens_cap, vocab=len(self.tokenizer),
                               parse=parse)

    def _output_parser(self, req: ChatRequest, messages: list[dict[str, Any]]
                       ) -> OutputParser | None:
        """A parser where one has work: a reasoning model's every answer, or a request
        that offers tools (the rest skip its cost on every token, as vLLM's would find
        nothing in them)."""
        if self.parser_cls is None or not (
                self.parsers[1] or (req.tools and req.tool_choice != "none")):
            return None
        return OutputParser(self.parser_cls, self.tokenizer, req, messages)

    async def generate(self, req: ChatRequest, request_id: str,
                       on_prompt: Callable[[int], None] | None = None
                       ) -> AsyncIterator[Delta]:
        """Yield deltas as the engine makes them; closing this generator aborts the request."""
        from vllm.inputs import TokensPrompt

        if any(m.has_non_text() for m in req.messages):
            raise EngineError(400, "this model reads text only", "unsupported_content",
                              "messages")
        messages = messages_of(req)  # once: the template and the parser read the same
        ids = await self.render(req, messages)
        parse = self._output_parser(req, messages)
        params = self.sampling(req, len(ids), parse)
        if on_prompt is not None:
            on_prompt(len(ids))
        completion, cached, outputs = 0, 0, 0
        rid = f"{request_id}-{uuid.uuid4().hex[:8]}"
        stream = self.engine.generate(TokensPrompt(prompt_token_ids=ids), params, rid)
        try:
            async for out in stream:
                outputs += 1
                self.outputs += 1
                o = out.outputs[0]
                if o.finish_reason in _FAILED:
                    # vLLM's own server raises here too: passed on, it was a 200 with
                    # no text, a failure that looks like an answer.
                    log.error("engine ended request %s with finish_reason=%s", rid,
                              o.finish_reason)
                    raise EngineError(500, f"the engine failed this request "
                                      f"({o.finish_reason})", "engine_error")
                completion += len(o.token_ids)
                # Set once the prompt is scheduled (getattr: not every vLLM release has it).
                cached = getattr(out, "num_cached_tokens", None) or cached
                if parse is None:
                    yield Delta(o.text, o.finish_reason, len(ids), completion, cached)
                    continue
                text, reasoning, calls = parse.feed(o.text, o.token_ids, ids,
                                                    o.finish_reason is not None)
                yield Delta(text, parse.finish_reason(o.finish_reason), len(ids), completion,
                            cached, tool_calls=calls, reasoning=reasoning)
        except EngineError:
            raise
        except Exception as exc:
            raise _map_engine_error(exc) from exc
        finally:
            await stream.aclose()  # on GeneratorExit/cancel: vLLM aborts the request
            if not outputs:
                # ... but only once add_request has returned: a request that failed, or
                # whose client left, on its way in stays registered (and may run unread).
                await _abort_quietly(self.engine, rid)


_FAILED = frozenset({"error", "abort"})  # finish reasons that are no answer



async def _abort_quietly(engine: Any, rid: str) -> None:
    """Take back a request that gave no output (vLLM's generate() only aborts once
    add_request returned): else it is counted as running for good. Harmless for one
    vLLM has ended or aborted already (an unknown id is ignored)."""
    try:
        await engine.abort(rid)
    except Exception as exc:
        log.warning("abort of failed request %s: %s: %s", rid, type(exc).__name__, exc)


def _model_context(path: Path) -> int | None:
    """The model's context from its config.json; None where vLLM works it out otherwise
    (a RoPE scaling stretches it) or the folder does not say."""
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict):
        return None
    context = config.get("max_position_embeddings")
    if config.get("rope_scaling") or not isinstance(context, int):
        return None
    return context


def _map_engine_error(exc: Exception) -> EngineError:
    from vllm.exceptions import VLLMClientError
    from vllm.v1.engine.exceptions import EngineDeadError

    if isinstance(exc, VLLMClientError | ValueError):
        return EngineError(400, str(exc), "invalid_value")  # as README lists a bad value
    if isinstance(exc, EngineDeadError):
        return EngineError(500, "the inference engine has stopped", "engine_dead")
    # vLLM's EngineGenerateError says nothing of itself: its cause is the story.
    cause = exc.__cause__ or exc.__context__
    log.error("generation failed: %s: %s%s", type(exc).__name__, exc,
              f" (from {type(cause).__name__}: {cause})" if cause else "")
    return EngineError(500, f"generation failed: {type(exc).__name__}", "engine_error")
