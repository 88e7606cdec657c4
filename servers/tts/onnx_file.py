"""Whether a voice's ``.onnx`` is whole: a protobuf message whose top-level fields end
exactly at the end of the file. A copy or download cut short was listed as a voice, and
every request for it was a 500 (onnxruntime: "Protobuf parsing failed"); loading each
voice to find out costs a fraction of a second and its memory. This walk reads a few
bytes per field (the graph and the weights are one or a few long fields), so every voice
in a folder is checked at start."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

_FIXED = {1: 8, 5: 4}  # wire type: bytes (fixed64, fixed32)


def _varint(f: BinaryIO) -> int | None:
    value = shift = 0
    for _ in range(10):
        byte = f.read(1)
        if not byte:
            return None
        value |= (byte[0] & 0x7F) << shift
        if byte[0] < 0x80:
            return value
        shift += 7
    return None


def onnx_problem(path: Path) -> str | None:
    """None for a whole model file; else what is wrong with it, in a few words."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            if size == 0:
                return "it is empty"
            while (at := f.tell()) < size:
                key = _varint(f)
                if key is None or key >> 3 == 0:
                    return f"it is not an ONNX model (bad field at byte {at})"
                wire = key & 7
                if wire == 0:
                    length = 0 if _varint(f) is not None else None
                elif wire == 2:
                    length = _varint(f)
                else:
                    length = _FIXED.get(wire)
                if length is None:
                    return f"it is not an ONNX model (bad field at byte {at})"
                if f.tell() + length > size:
                    return f"it is cut short ({size} bytes; a field runs to byte " \
                           f"{f.tell() + length})"
                f.seek(length, os.SEEK_CUR)
    except OSError as exc:
        return f"cannot read it ({exc.strerror or exc})"
    return None
