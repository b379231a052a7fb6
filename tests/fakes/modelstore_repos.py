"""Tiny model repositories built offline, for the model store's tests and its mirror.

- `build_tiny_llama`: a random-weight `LlamaForCausalLM` with a real config and a real BPE
  tokenizer (with a chat template) that transformers loads and generates with.
- `build_gguf_repo`: GGUF files of distinct quantization names, each with a valid GGUF header
  (architecture, context length, tensor shapes) and filler bytes where the weights would be.
- `build_safetensors_repo`: safetensors shards of random float32 tensors (sizes chosen by the
  test), a config.json and a model card.
"""

import json
import os
import struct
from pathlib import Path

LLAMA_CARD = """---
license: apache-2.0
pipeline_tag: text-generation
tags:
- tiny
- test
---
# tiny-llama

A random-weight Llama for tests.
"""

TEXT = [
    "the quick brown fox jumps over the lazy dog",
    "models are stored on disk and served to the cluster",
    "a mirror serves the hub protocol so air-gapped nodes can pull",
    "downloads resume where they stopped and verify every file",
    "hello world, hello models, hello store",
]


def write_card(folder: Path, *, license_name: str, pipeline_tag: str, tags: list[str], title: str) -> None:
    lines = ["---", f"license: {license_name}", f"pipeline_tag: {pipeline_tag}", "tags:"]
    lines += [f"- {tag}" for tag in tags]
    lines += ["---", f"# {title}", ""]
    (folder / "README.md").write_text("\n".join(lines))


def build_tiny_llama(folder: Path) -> Path:
    """A causal LM of about 30k parameters: config.json, model.safetensors, tokenizer files, README."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False)
    tokenizer.train_from_iterator(TEXT * 40, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    fast.chat_template = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}assistant:"
    fast.save_pretrained(folder)

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=128,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    (folder / "README.md").write_text(LLAMA_CARD)
    return folder


# --- GGUF ------------------------------------------------------------------------------------

GGUF_UINT32, GGUF_STRING, GGUF_ARRAY = 4, 8, 9
GGUF_ALIGNMENT = 32


def _gguf_string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def gguf_file(path: Path, *, tensors: dict[str, list[int]], size: int, architecture: str = "llama") -> None:
    """A GGUF v3 file: a real header (with a token array to skip), then filler bytes up to `size`."""
    header = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), 4)
    header += _gguf_string("general.architecture") + struct.pack("<I", GGUF_STRING) + _gguf_string(architecture)
    header += _gguf_string(f"{architecture}.context_length") + struct.pack("<II", GGUF_UINT32, 2048)
    header += _gguf_string("general.name") + struct.pack("<I", GGUF_STRING) + _gguf_string(path.stem)
    tokens = ["<s>", "</s>", "hello", "world"]
    header += _gguf_string("tokenizer.ggml.tokens") + struct.pack("<IIQ", GGUF_ARRAY, GGUF_STRING, len(tokens))
    header += b"".join(_gguf_string(token) for token in tokens)
    offset = 0
    for name, dims in tensors.items():
        header += _gguf_string(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims)
        header += struct.pack("<IQ", 1, offset)  # type F16
        count = 1
        for dim in dims:
            count *= dim
        offset += count * 2
    header += b"\0" * (-len(header) % GGUF_ALIGNMENT)
    if size < len(header):
        raise ValueError(f"size {size} is smaller than the header ({len(header)} bytes)")
    with path.open("wb") as stream:
        stream.write(header)
        stream.write(os.urandom(size - len(header)))


GGUF_TENSORS = {"token_embd.weight": [256, 1024], "output.weight": [256, 1024]}  # 524,288 parameters


def build_gguf_repo(folder: Path, *, stem: str, sizes: dict[str, int]) -> Path:
    """One `{stem}-{QUANT}.gguf` per entry of `sizes` (quantization → file size), and a model card."""
    folder.mkdir(parents=True, exist_ok=True)
    for quantization, size in sizes.items():
        gguf_file(folder / f"{stem}-{quantization}.gguf", tensors=GGUF_TENSORS, size=size)
    write_card(folder, license_name="mit", pipeline_tag="text-generation", tags=["gguf", "quantized"], title=stem)
    return folder


# --- safetensors -------------------------------------------------------------------------------


def safetensors_file(path: Path, tensors: dict[str, list[int]]) -> int:
    """Random float32 tensors in the safetensors layout; returns the parameter count."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset, total = 0, 0
    for name, shape in tensors.items():
        count = 1
        for dim in shape:
            count *= dim
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + 4 * count]}
        offset += 4 * count
        total += count
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    with path.open("wb") as stream:
        stream.write(struct.pack("<Q", len(encoded)) + encoded)
        remaining = offset
        while remaining:
            block = min(remaining, 4 * 1024 * 1024)
            stream.write(os.urandom(block))
            remaining -= block
    return total


def build_safetensors_repo(folder: Path, *, shards: list[dict[str, list[int]]]) -> Path:
    """A BERT-style encoder: one safetensors file per shard, config.json, a pooling folder and a card."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, tensors in enumerate(shards, start=1):
        name = "model.safetensors" if len(shards) == 1 else f"model-{index:05d}-of-{len(shards):05d}.safetensors"
        safetensors_file(folder / name, tensors)
    config = {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": 256, "num_hidden_layers": 2}
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    (folder / "1_Pooling").mkdir(exist_ok=True)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    write_card(folder, license_name="mit", pipeline_tag="feature-extraction", tags=["encoder"], title=folder.name)
    return folder
