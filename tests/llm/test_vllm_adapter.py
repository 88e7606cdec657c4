"""The vLLM adapter's handling of what the engine reports, with an engine double
(fault injection: vLLM ending a request with finish_reason "error", failing a request
on its way in, which the real engine does only on rare inputs, or a client leaving
while vLLM is still adding the request, a window too short to hit on demand)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from servers.llm.backends import EngineError
from servers.llm.backends.vllm_engine import VllmBackend
from servers.llm.config import LlmSettings
from servers.llm.schema import ChatRequest
from tests.llm.inprocess_util import sampling_of

REQ = ChatRequest.model_validate({"messages": [{"role": "user", "content": "Hi"}]})


class EngineDouble:
    """Yields the given finish reasons one output each, or raises before any output."""

    def __init__(self, finishes: list[str | None] | None = None,
                 fail_on_the_way_in: bool = False, hang_on_the_way_in: bool = False) -> None:
        self.finishes, self.fail, self.hang = finishes or [], fail_on_the_way_in, \
            hang_on_the_way_in
        self.aborted: list[str] = []
        self.adding = asyncio.Event()

    async def generate(self, prompt, params, request_id):  # type: ignore[no-untyped-def]
        if self.fail:
            raise RuntimeError("can't serialize ints > 2**64-1")
        if self.hang:  # as vLLM inside add_request: registered, its send under way
            self.adding.set()
            await asyncio.Event().wait()
        for i, finish in enumerate(self.finishes):
            yield SimpleNamespace(outputs=[SimpleNamespace(text=f"t{i}", token_ids=[i],
                                                           finish_reason=finish)],
                                  num_cached_tokens=0)

    async def abort(self, request_id: str) -> None:
        self.aborted.append(request_id)


def backend_with(engine: EngineDouble) -> VllmBackend:
    backend = VllmBackend(LlmSettings())
    backend.engine = engine

    async def render(req: ChatRequest, messages: list) -> list[int]:
        return [1, 2, 3]
    backend.render = render  # type: ignore[method-assign]
    backend.sampling = lambda req, n, parse=None: None  # type: ignore[method-assign]
    return backend


async def deltas(backend: VllmBackend) -> list:
    return [d async for d in backend.generate(REQ, "req-1")]


@pytest.mark.parametrize("finish", ["error", "abort"])
async def test_an_engine_that_ends_a_request_failed_is_an_error_not_an_answer(finish) -> None:
    backend = backend_with(EngineDouble([None, finish]))
    got = []
    with pytest.raises(EngineError) as err:
        async for d in backend.generate(REQ, "req-1"):
            got.append(d)
    assert err.value.status == 500 and err.value.code == "engine_error"
    assert [d.text for d in got] == ["t0"]  # what came before is kept; the end is an error


async def test_normal_finish_reasons_pass() -> None:
    got = await deltas(backend_with(EngineDouble([None, "length"])))
    assert [d.finish_reason for d in got] == [None, "length"]


async def test_a_request_that_fails_on_its_way_in_is_aborted_in_the_engine() -> None:
    engine = EngineDouble(fail_on_the_way_in=True)
    with pytest.raises(EngineError) as err:
        await deltas(backend_with(engine))
    assert err.value.code == "engine_error"
    assert len(engine.aborted) == 1 and engine.aborted[0].startswith("req-1-")


async def test_a_request_cancelled_while_being_added_is_aborted_in_the_engine() -> None:
    engine = EngineDouble(hang_on_the_way_in=True)
    task = asyncio.create_task(deltas(backend_with(engine)))
    await asyncio.wait_for(engine.adding.wait(), 5)
    task.cancel()  # the client hung up
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(engine.aborted) == 1 and engine.aborted[0].startswith("req-1-")


def test_a_template_with_no_place_for_tools_is_told_apart(prepared_model) -> None:  # type: ignore[no-untyped-def]
    """The default model's own template (SmolLM2's ignores tools) against the same
    tokenizer given a template that writes them out, as Qwen's and Llama 3's do."""
    from transformers import AutoTokenizer

    from servers.llm.backends.vllm_prompt import template_takes_tools

    tokenizer = AutoTokenizer.from_pretrained(prepared_model)
    assert template_takes_tools(tokenizer) is False
    tokenizer.chat_template = (
        "{% if tools %}Tools: {{ tools | tojson }}\n{% endif %}"
        "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}assistant:")
    assert template_takes_tools(tokenizer) is True


def test_chat_template_kwargs_reach_the_template(prepared_model) -> None:  # type: ignore[no-untyped-def]
    """vLLM's chat_template_kwargs: {"enable_thinking": false} is how a Qwen3 model is
    told to answer without thinking first (seconds sooner); OpenAI's reasoning_effort
    "none" too. Both were dropped without a word. The template's end is Qwen3's own;
    a template sent in the field is not run, and what the server sets itself stays."""
    from transformers import AutoTokenizer

    from servers.llm.backends.vllm_prompt import template_kwargs

    tokenizer = AutoTokenizer.from_pretrained(prepared_model)
    tokenizer.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
        "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
        "{% if enable_thinking is defined and enable_thinking is false %}"
        "<think>\n\n</think>\n\n{% endif %}{% endif %}")

    def rendered(kwargs: dict[str, object] | None, **fields: object) -> str:
        req = ChatRequest.model_validate({"messages": [{"role": "user", "content": "Hi"}],
                                          "chat_template_kwargs": kwargs, **fields})
        out = tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}],
                                            **template_kwargs(req))
        return str(tokenizer.decode(out["input_ids"]))

    plain = rendered(None)
    assert "<think>" not in plain and plain.endswith("assistant\n")
    assert rendered({"enable_thinking": False}) == plain + "<think>\n\n</think>\n\n"
    assert rendered({"enable_thinking": True}) == plain
    assert rendered({"chat_template": "{{ 'injected' }}", "add_generation_prompt": False,
                     "tokenize": False}) == plain
    # OpenAI's reasoning_effort, as vLLM's server reads it: "none" is no thinking, unless
    # chat_template_kwargs says otherwise.
    assert rendered(None, reasoning_effort="none") == plain + "<think>\n\n</think>\n\n"
    assert rendered(None, reasoning_effort="low") == plain
    assert rendered({"enable_thinking": True}, reasoning_effort="none") == plain


def test_the_request_sampling_reaches_the_engine_and_max_tokens_fits_the_context() -> None:
    """Rymi sends max_tokens 2048 whatever the context: clamped to the room the prompt
    leaves (else vLLM refuses the whole request), and to the operator's cap; temperature,
    top_p, seed, stop and the penalties are the request's own."""
    params = sampling_of({"max_tokens": 2048, "temperature": 0.3, "top_p": 0.9, "seed": 7,
                          "stop": ["Bye"], "frequency_penalty": 0.5}, prompt_len=2000)
    assert (params.max_tokens, params.temperature, params.top_p, params.seed, params.stop,
            params.frequency_penalty, params.n) == (48, 0.3, 0.9, 7, ["Bye"], 0.5, 1)
    assert sampling_of({}, prompt_len=10).max_tokens == 2038  # none asked: what is left
    assert sampling_of({}, prompt_len=10, max_tokens_cap=100).max_tokens == 100
    with pytest.raises(EngineError, match="context"):
        sampling_of({}, prompt_len=2048)


def test_top_p_0_is_greedy() -> None:
    """OpenAI's top_p 0 (the likeliest token only) is said to vLLM as greedy: its CPU
    sampler's nucleus of one still varied with the seed."""
    params = sampling_of({"top_p": 0, "temperature": 0.8}, prompt_len=10)
    assert (params.temperature, params.top_p) == (0.0, 1.0)
