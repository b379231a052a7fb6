"""GGUF files: the quantization label in a file name, and what the header says (architecture,
context length, parameter count) — the same facts the hub shows in a model's `gguf` field.

Header layout (GGUF v2/v3, little-endian): magic `GGUF`, u32 version, u64 tensor count,
u64 key/value count, the key/values (string key, u32 type, value), then per tensor its name,
u32 dimension count, u64 dimensions, u32 type and u64 offset.
"""

import re
import struct
from pathlib import Path
from typing import BinaryIO

MAGIC = b"GGUF"
# Fixed-size scalar value types: type id → struct format.
SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
STRING, ARRAY = 8, 9
MAX_STRING = 64 * 1024 * 1024
MAX_ITEMS = 50_000_000

# Quantization types as they appear in file names: Q4_K_M, Q8_0, IQ3_XXS, F16, BF16, Q4_K_XL (unsloth's UD-…).
QUANT_LABEL = re.compile(
    r"(?<![A-Za-z0-9])("
    r"I?Q[1-8]_[0-9A-Z]+(?:_[0-9A-Z]+)?"
    r"|TQ[12]_0|MXFP4(?:_MOE)?|BF16|F16|F32|FP16|FP32"
    r")(?![A-Za-z0-9])",
    re.IGNORECASE,
)
SPLIT_SUFFIX = re.compile(r"-\d{5}-of-\d{5}$")


class GGUFError(ValueError):
    """Not a GGUF file, or one whose header could not be read."""


def split_set(filename: str) -> str:
    """The name shared by the shards of a split GGUF (`m-Q4_K_M-00001-of-00002.gguf` → `m-Q4_K_M`)."""
    return SPLIT_SUFFIX.sub("", filename.removesuffix(".gguf"))


def quantization_label(filename: str) -> str | None:
    """`Qwen3-1.7B-Q4_K_M.gguf` → `Q4_K_M`; `model.f16.gguf` → `F16`; None when the name has none."""
    stem = SPLIT_SUFFIX.sub("", Path(filename).name.removesuffix(".gguf"))
    matches = QUANT_LABEL.findall(stem)
    if not matches:
        return None
    label = matches[-1].upper()  # the last one: "Llama-3-8B-Q8_0-Q4_K_M.gguf" is the Q4_K_M of a Q8_0 base
    return {"FP16": "F16", "FP32": "F32"}.get(label, label)


def read_header(path: Path) -> dict:
    """`{"architecture", "context_length", "total", "version"}` from a GGUF file's header."""
    with path.open("rb") as stream:
        if stream.read(4) != MAGIC:
            raise GGUFError(f"{path.name}: not a GGUF file")
        (version,) = _unpack(stream, "<I")
        if version not in (2, 3):
            raise GGUFError(f"{path.name}: unsupported GGUF version {version}")
        tensor_count, kv_count = _unpack(stream, "<QQ")
        if tensor_count > MAX_ITEMS or kv_count > MAX_ITEMS:
            raise GGUFError(f"{path.name}: implausible header counts")
        values: dict[str, object] = {}
        for _ in range(kv_count):
            key = _string(stream)
            (value_type,) = _unpack(stream, "<I")
            values[key] = _value(stream, value_type)
        total = 0
        for _ in range(tensor_count):
            _string(stream)
            (dimensions,) = _unpack(stream, "<I")
            if dimensions > 8:
                raise GGUFError(f"{path.name}: tensor with {dimensions} dimensions")
            count = 1
            for size in _unpack(stream, f"<{dimensions}Q"):
                count *= size
            _unpack(stream, "<IQ")  # type, offset
            total += count
    architecture = values.get("general.architecture")
    header: dict[str, object] = {"version": version, "total": total}
    if isinstance(architecture, str):
        header["architecture"] = architecture
        context_length = values.get(f"{architecture}.context_length")
        if isinstance(context_length, int):
            header["context_length"] = context_length
    return header


def _unpack(stream: BinaryIO, fmt: str) -> tuple:
    size = struct.calcsize(fmt)
    data = stream.read(size)
    if len(data) != size:
        raise GGUFError("truncated GGUF header")
    return struct.unpack(fmt, data)


def _string(stream: BinaryIO) -> str:
    (length,) = _unpack(stream, "<Q")
    if length > MAX_STRING:
        raise GGUFError("implausible string length in GGUF header")
    data = stream.read(length)
    if len(data) != length:
        raise GGUFError("truncated GGUF header")
    return data.decode("utf-8", errors="replace")


def _value(stream: BinaryIO, value_type: int) -> object:
    if value_type in SCALARS:
        return _unpack(stream, SCALARS[value_type])[0]
    if value_type == STRING:
        return _string(stream)
    if value_type == ARRAY:
        item_type, count = _unpack(stream, "<IQ")
        if count > MAX_ITEMS:
            raise GGUFError("implausible array length in GGUF header")
        if item_type in SCALARS:  # skipped, not kept: vocabularies are large and nobody needs them here
            stream.seek(struct.calcsize(SCALARS[item_type]) * count, 1)
        else:
            for _ in range(count):
                _value(stream, item_type)
        return None
    raise GGUFError(f"unknown GGUF value type {value_type}")
