"""Turn a GGUF checkpoint into a Hugging Face folder that vLLM loads directly.

vLLM can read some GGUF files itself, but not the small default (SmolLM2, Q4_1) on its
CPU build, and a dequantised HF folder starts faster and is what every other backend
understands. The conversion runs once (the models step), fully offline.

Pitfalls of transformers 5.x this works around: ``save_pretrained`` refuses a model
loaded from GGUF ("quantized with GGUF, not serializable") unless it was loaded with
``GgufConfig(dequantize=True)`` and its ``hf_quantizer`` is cleared, and the saved
``config.json`` must not keep the ``quantization_config`` (vLLM would look for a GGUF
quantizer that the folder no longer needs).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

_OFFLINE = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def convert_into(gguf_path: Path, folder: Path) -> None:
    """Dequantise ``gguf_path`` into the existing empty ``folder`` (float32 weights,
    tokenizer, chat template). The caller (prepare.py) builds it aside and renames it
    into place whole, so a crash never leaves a half-written model."""
    if not gguf_path.is_file():
        raise FileNotFoundError(f"no GGUF file at {gguf_path}")
    # Never reach for the hub: the GGUF carries weights, config and tokenizer. The
    # variables only count if the hub library is not imported yet, hence also
    # local_files_only; they are restored after, for a caller that fetches other models.
    saved = {k: os.environ.get(k) for k in _OFFLINE}
    os.environ.update(dict.fromkeys(_OFFLINE, "1"))
    try:
        _write(gguf_path, folder)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _write(gguf_path: Path, tmp: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    src_dir, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(src_dir, gguf_file=name, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(
        src_dir,
        gguf_file=name,
        local_files_only=True,
        quantization_config=GgufConfig(dequantize=True),
        dtype=torch.float32,  # exact dequantised values; vLLM casts at load time
    )
    model.hf_quantizer = None  # else save_pretrained refuses a GGUF-loaded model
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    _drop_quantization_config(tmp / "config.json")
    if not getattr(tokenizer, "chat_template", None):
        raise RuntimeError(f"{gguf_path.name} carries no chat template")


def _drop_quantization_config(config_path: Path) -> None:
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if config.pop("quantization_config", None) is not None:
        config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
