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
import shutil
import tempfile
from pathlib import Path

# What a complete folder has; a partial one (killed mid-save) is never renamed into place,
# but an old layout written by hand might lack these, so check them too.
_REQUIRED = ("config.json", "tokenizer_config.json")
_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")
_OFFLINE = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def is_complete(out_dir: Path) -> bool:
    return (
        out_dir.is_dir()
        and all((out_dir / name).is_file() for name in _REQUIRED)
        and any((out_dir / name).is_file() for name in _WEIGHTS)
    )


def convert_gguf_to_hf(gguf_path: Path, out_dir: Path) -> None:
    """Dequantise ``gguf_path`` into ``out_dir`` (float32 weights, tokenizer, chat template).

    Idempotent: a complete ``out_dir`` is left alone. The folder appears atomically (a
    temporary sibling renamed into place), so a crash never leaves a half-written model.
    """
    out_dir = Path(out_dir)
    if is_complete(out_dir):
        return
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        convert_into(Path(gguf_path), tmp)
        if out_dir.exists():  # an incomplete leftover from an older run
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def convert_into(gguf_path: Path, folder: Path) -> None:
    """The conversion itself, into an existing empty ``folder`` (its caller makes the
    folder appear whole)."""
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
