"""Settings of the LLM server (env ``RYMI_LLM_*`` or the same-named flags)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from servers.common.config import ServerSettings


class LlmSettings(ServerSettings):
    """OpenAI-compatible chat completions for Rymi's custom-llm channel."""

    model_config = SettingsConfigDict(env_prefix="RYMI_LLM_", extra="ignore")

    port: int = Field(8003, ge=0, le=65535, description="TCP port.")
    backend: Literal["vllm", "upstream"] = Field(
        "vllm", description="vllm: run the model in this process; upstream: proxy to "
        "an OpenAI-compatible URL (vLLM, llama.cpp, ollama, a hosted API).")
    model: str = Field("smollm2-135m-instruct",
                       description="Catalog name or path of a Hugging Face model folder (vllm).")
    served_model_name: str | None = Field(
        None, description="Name listed by /v1/models; default: the model's name "
        "(upstream: the upstream's first model).")
    allow_any_model_name: bool = Field(
        True, description="Serve any requested model name with the configured model "
        "(alias); off: other names get 404.")
    # vLLM's names: a typo ("fp16") was vLLM's multi-line error naming its own field.
    dtype: Literal["auto", "float32", "bfloat16", "float16", "half", "float"] = Field(
        "auto", description="Weights dtype (vllm). auto: float32 on CPUs without AVX-512 "
        "bf16/AMX, else bfloat16; float16 on GPU.")
    max_model_len: int | None = Field(None, ge=64, description="Context length (prompt + "
                                      "output); default: the model's own, as vLLM's server "
                                      "has it (SmolLM2: 8192).")
    kv_cache_gb: float = Field(1.0, ge=1, description="KV-cache size in whole GiB on CPU "
                               "(VLLM_CPU_KVCACHE_SPACE); GPUs use gpu_memory_utilization.")
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1,
                                          description="Share of GPU memory vLLM may take.")
    max_num_seqs: int = Field(64, ge=1, description="Sequences the engine batches at once.")
    max_num_batched_tokens: int | None = Field(
        None, ge=16, description="Tokens the engine computes in one step (vllm's "
        "--max-num-batched-tokens): a long prompt is read in steps of this many, and every "
        "other stream's next token waits for each step. Default: 256 on CPU (a 1,900-token "
        "prompt held every other stream 1.9 s at vLLM's 2,048, 0.3 s at 256, its own first "
        "token as soon), vLLM's own on GPU.")
    block_size: int | None = Field(None, ge=1, description="KV-cache block size in tokens "
                                   "(vllm). The prefix cache reuses whole blocks only, and a "
                                   "call re-sends its history every turn. Default: 32 on CPU "
                                   "(vLLM-CPU takes multiples of 32; its own default is "
                                   "128), vLLM's default on GPU.")
    enforce_eager: bool | None = Field(
        None, description="Skip graph capture (faster start, slower decode). Default: on "
        "for CPU, off for GPU.")
    engine_busy_wait: bool | None = Field(
        None, description="Let vLLM's engine processes spin while they wait for each other "
        "(vllm). Default: off on CPU (the engine core would burn a core through every "
        "decode step), vLLM's own spin on GPU.")
    tool_call_parser: str | None = Field(
        None, description="vLLM's tool-call parser for the model's output (vllm), as `vllm "
        "serve --tool-call-parser` names it: hermes, llama3_json, mistral, ... Default: the "
        "catalog model's own (hermes for qwen2.5-7b-instruct); none = off, and a tool call "
        "comes back as text.")
    reasoning_parser: str | None = Field(
        None, description="vLLM's reasoning parser (vllm), as `vllm serve --reasoning-parser` "
        "names it (qwen3, deepseek_r1, ...): the model's thinking goes to delta.reasoning, "
        "not to the content a voice reads. Default: the catalog model's own; none = off.")
    upstream_url: str = Field("", description="Upstream base URL up to /v1, e.g. "
                              "http://vllm:8000/v1 (backend=upstream). A query (Azure's "
                              "?api-version=) goes with every request.")
    upstream_token: SecretStr = Field(SecretStr(""), description="Bearer token sent upstream "
                                      "(never logged). One the upstream refuses (401/403) is "
                                      "502 upstream_auth_failed to the caller, not its 401.")
    upstream_model: str | None = Field(
        None, description="Model name sent upstream; default: the upstream's first model.")
    upstream_timeout_s: float = Field(60.0, gt=0, description="Upstream wait for the "
                                      "first byte and between chunks; past it: 504.")
    upstream_connect_timeout_s: float = Field(5.0, gt=0,
                                              description="Upstream connect timeout.")
    upstream_check: bool = Field(True, description="At start-up, fail unless the upstream "
                                 "answers /models. Off: upstream_model must be set.")
    upstream_force_usage: bool = Field(
        True, description="Always ask the upstream for usage (for the usage record) and "
        "drop that chunk when the client did not ask for it.")
    max_tokens_cap: int = Field(4096, ge=1, description="Largest max_tokens honoured; "
                                "larger requests are clamped, and a request with none gets "
                                "this (so is the context's rest).")
    upstream_cap_field: Literal["max_tokens", "max_completion_tokens"] = Field(
        "max_tokens", description="The field that carries the output limit upstream. "
        "max_completion_tokens for OpenAI's reasoning models (o-series, gpt-5), which "
        "refuse max_tokens with a 400: a caller's max_tokens is sent there instead.")
    max_body_bytes: int = Field(1_000_000, ge=1024,
                                description="Largest request body; over it: 413.")
    max_messages: int = Field(512, ge=1, description="Most messages in one request; over "
                              "it: 413.")
    max_message_chars: int = Field(100_000, ge=1, description="Longest content of one "
                                   "message (its text parts together), in characters; "
                                   "over it: 413 naming the message.")
    warmup: bool = Field(True, description="Run one short generation before /readyz is 200.")
    workers: int = Field(1, ge=1, le=64, description="Processes serving one port "
                         "(backend=upstream only): each runs its Python on a core of its "
                         "own, so a burst of calls is not queued behind one. max_inflight "
                         "stays a limit of the server: one count across the processes.")

    @field_validator("upstream_token")
    @classmethod
    def _one_line(cls, token: SecretStr) -> SecretStr:
        # A key from a file, or a Kubernetes secret made --from-file, ends in a newline:
        # kept, it ended the request's head early, and every call failed with a 500 or a
        # 400 that looked like the caller's, while /readyz said ready.
        value = token.get_secret_value().strip()
        if not value.isprintable() or not value.isascii():
            raise ValueError("must be one line of plain text (it has a control or "
                             "non-ASCII character)")
        return SecretStr(value)

    @field_validator("kv_cache_gb")
    @classmethod
    def _whole_gib(cls, size: float) -> float:
        if not size.is_integer():  # vLLM-CPU reads its variable as an int: 0.5 failed there
            raise ValueError("must be a whole number of GiB (vLLM on CPU takes no fraction)")
        return size

    @field_validator("upstream_url")
    @classmethod
    def _no_credentials(cls, url: str) -> str:
        # Dropped by the client and written into the log with the URL: refused, not kept.
        parts = urlsplit(url)
        if parts.username or parts.password:
            raise ValueError("must not carry credentials (user:password@); put the key in "
                             "upstream_token")
        return url

    @model_validator(mode="after")
    def _backend_needs(self) -> LlmSettings:
        if self.backend == "upstream" and not self.upstream_url:
            raise ValueError("backend=upstream needs upstream_url")
        if self.backend == "upstream" and not self.upstream_check and not self.upstream_model:
            # Without the check nothing names the upstream's model, and every caller's
            # typed name would go upstream as it is (a 404 from vLLM or OpenAI, each call).
            raise ValueError("upstream_check=false needs upstream_model (the model name "
                             "sent upstream)")
        parsers = (self.tool_call_parser, self.reasoning_parser)
        if self.backend == "upstream" and any(p not in (None, "", "none") for p in parsers):
            raise ValueError("tool_call_parser and reasoning_parser need backend=vllm (an "
                             "upstream parses its own output: vllm serve --tool-call-parser)")
        if self.workers > 1 and self.backend != "upstream":
            raise ValueError("workers > 1 needs backend=upstream (the vllm backend holds "
                             "the model in its one process)")
        return self

    def output_parsers(self) -> tuple[str, str]:
        """The (tool-call, reasoning) parsers in force, "" for none: each as set, else the
        catalog model's own, so a model picked by name makes its tool calls as it should."""
        from rymi_endpoints.models.catalog import load_catalog

        entry = load_catalog().get(self.model)
        out = []
        for setting, field in ((self.tool_call_parser, "tool_call_parser"),
                               (self.reasoning_parser, "reasoning_parser")):
            name = getattr(entry, field, None) if setting in (None, "") else setting
            out.append("" if name in (None, "none") else name)
        return out[0], out[1]

    def public_model_name(self) -> str:
        """What /v1/models lists and responses carry when no alias is wanted."""
        if self.served_model_name:
            return self.served_model_name
        return Path(self.model).name if "/" in self.model else self.model
