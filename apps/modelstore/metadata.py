"""What a model's files say about it, read the way the hub reads a repository.

From a folder: the model card's front matter (license, pipeline_tag, tags), `config.json`
(architecture, quantization), the parameter count from the safetensors headers or the GGUF
header, and the formats from file extensions. The same derivations turn the hub's metadata into
the spec's search fields, so a model described by the real hub and by a Modelyard mirror reads
the same.
"""

import json
import logging
import struct
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from apps.modelstore import gguf

logger = logging.getLogger(__name__)

CONFIG_KEYS = (
    "architectures",
    "model_type",
    "torch_dtype",
    "dtype",
    "max_position_embeddings",
    "hidden_size",
    "num_hidden_layers",
    "vocab_size",
)
FORMAT_SUFFIXES = {
    ".safetensors": "safetensors",
    ".gguf": "gguf",
    ".bin": "pytorch",
    ".pt": "pytorch",
    ".pth": "pytorch",
}
MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024

# transformers class-name endings → the hub's pipeline tag.
PIPELINE_BY_ARCHITECTURE = (
    ("ForCausalLM", "text-generation"),
    ("LMHeadModel", "text-generation"),
    ("ForSeq2SeqLM", "text2text-generation"),
    ("ForConditionalGeneration", "text2text-generation"),
    ("ForSequenceClassification", "text-classification"),
    ("ForTokenClassification", "token-classification"),
    ("ForQuestionAnswering", "question-answering"),
    ("ForMaskedLM", "fill-mask"),
    ("ForImageClassification", "image-classification"),
    ("ForSpeechSeq2Seq", "automatic-speech-recognition"),
    ("Model", "feature-extraction"),
)


# --- reading a folder ------------------------------------------------------------------------


def read_folder(folder: Path, files: list[str]) -> dict[str, Any]:
    """Hub-style metadata of a model folder: config, cardData, tags, pipeline_tag, library_name,
    safetensors (`{"parameters": {dtype: n}, "total": n}`) and gguf (`{"total", "architecture", …}`)."""
    names = set(files)
    config = _config(folder / "config.json") if "config.json" in names else {}
    card = read_card(folder / "README.md") if "README.md" in names else {}
    safetensors = _safetensors_parameters(folder, [name for name in files if name.endswith(".safetensors")])
    gguf_header = _gguf_header(folder, [name for name in files if name.endswith(".gguf")])
    sentence_transformers = bool(names & {"modules.json", "config_sentence_transformers.json"})

    library = card.get("library_name") if isinstance(card.get("library_name"), str) else None
    if library is None:
        if sentence_transformers:
            library = "sentence-transformers"
        elif config.get("architectures") or config.get("model_type"):
            library = "transformers"
        elif gguf_header is not None:
            library = "gguf"
    pipeline_tag = card.get("pipeline_tag") if isinstance(card.get("pipeline_tag"), str) else None
    if pipeline_tag is None:
        pipeline_tag = "sentence-similarity" if sentence_transformers else pipeline_from_config(config)

    card_tags = card.get("tags") if isinstance(card.get("tags"), list) else []
    license_name = card.get("license") if isinstance(card.get("license"), str) else None
    tags = [
        library,
        *formats_of(files),
        config.get("model_type"),
        pipeline_tag,
        *[str(tag) for tag in card_tags],
        f"license:{license_name}" if license_name else None,
    ]
    return {
        "config": config,
        "cardData": card,
        "tags": list(dict.fromkeys(tag for tag in tags if tag)),
        "pipeline_tag": pipeline_tag,
        "library_name": library,
        "safetensors": safetensors,
        "gguf": gguf_header,
    }


def read_card(path: Path) -> dict[str, Any]:
    """The YAML front matter of a model card (README.md), or {}."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    if not text.startswith("---"):
        return {}
    end = text.find("\n---", 3)
    if end == -1:
        return {}
    try:
        data = yaml.safe_load(text[3:end])
    except yaml.YAMLError:
        return {}
    return json.loads(json.dumps(data, default=str)) if isinstance(data, dict) else {}


def _config(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict):
        return {}
    config = {key: raw[key] for key in CONFIG_KEYS if key in raw}
    quantization = raw.get("quantization_config")
    if isinstance(quantization, dict):
        config["quantization_config"] = {
            key: quantization[key]
            for key in ("quant_method", "bits", "load_in_4bit", "load_in_8bit")
            if key in quantization
        }
    return config


def _safetensors_parameters(folder: Path, names: list[str]) -> dict[str, Any] | None:
    """Parameters per dtype summed over every .safetensors file's header (shards included)."""
    per_dtype: dict[str, int] = {}
    for name in names:
        try:
            with (folder / name).open("rb") as stream:
                (length,) = struct.unpack("<Q", stream.read(8))
                if length > MAX_SAFETENSORS_HEADER:
                    raise ValueError("header too large")
                header = json.loads(stream.read(length))
        except (OSError, ValueError, struct.error) as error:
            logger.warning("could not read the safetensors header of %s: %s", name, error)
            continue
        for tensor_name, tensor in header.items():
            if tensor_name == "__metadata__" or not isinstance(tensor, dict):
                continue
            count = 1
            for dimension in tensor.get("shape", []):
                count *= int(dimension)
            dtype = str(tensor.get("dtype", "unknown"))
            per_dtype[dtype] = per_dtype.get(dtype, 0) + count
    if not per_dtype:
        return None
    return {"parameters": per_dtype, "total": sum(per_dtype.values())}


def _gguf_header(folder: Path, names: list[str]) -> dict[str, Any] | None:
    """The header of the first readable GGUF file (every quantization of a repo has the same model)."""
    for name in sorted(names, key=lambda item: (gguf.SPLIT_SUFFIX.search(PurePosixPath(item).stem) is not None, item)):
        try:
            header = gguf.read_header(folder / name)
        except (OSError, gguf.GGUFError) as error:
            logger.info("no GGUF header in %s: %s", name, error)
            continue
        return {key: value for key, value in header.items() if key != "version"}
    return None


# --- the spec's fields from hub-style metadata -------------------------------------------------


def pipeline_from_config(config: dict[str, Any]) -> str | None:
    for architecture in config.get("architectures") or []:
        for suffix, pipeline in PIPELINE_BY_ARCHITECTURE:
            if str(architecture).endswith(suffix):
                return pipeline
    return None


def formats_of(filenames: list[str]) -> list[str]:
    found = {FORMAT_SUFFIXES.get(PurePosixPath(name).suffix.lower()) for name in filenames}
    return sorted(name for name in found if name)


def quantization_of(config: dict[str, Any] | None, filenames: list[str]) -> str | None:
    """`gptq`/`awq`/`bitsandbytes`… from config.json, else the GGUF labels in the file names (`Q4_K_M,Q8_0`)."""
    quantization = (config or {}).get("quantization_config")
    if isinstance(quantization, dict) and quantization.get("quant_method"):
        return str(quantization["quant_method"])
    labels = [gguf.quantization_label(name) for name in filenames if name.endswith(".gguf")]
    unique = list(dict.fromkeys(label for label in labels if label))
    return ",".join(unique) or None


def architecture_of(config: dict[str, Any] | None, gguf_header: dict[str, Any] | None) -> str | None:
    model_type = (config or {}).get("model_type")
    if model_type:
        return str(model_type)
    if gguf_header and gguf_header.get("architecture"):
        return str(gguf_header["architecture"])
    return None


def parameter_total(safetensors: dict[str, Any] | None, gguf_header: dict[str, Any] | None) -> int | None:
    for source in (safetensors, gguf_header):
        if source and source.get("total"):
            return int(source["total"])
    return None


def license_of(card: dict[str, Any] | None, tags: list[str] | None) -> str | None:
    license_name = (card or {}).get("license")
    if isinstance(license_name, str) and license_name:
        return license_name
    for tag in tags or []:
        if tag.startswith("license:"):
            return tag.removeprefix("license:")
    return None
