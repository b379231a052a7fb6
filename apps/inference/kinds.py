"""Which engine serves a stored model, read from its files the way the libraries themselves read them.

- `architectures` ending in `ForSequenceClassification`: one output is a cross-encoder (rerank),
  several are labels (classify);
- `modules.json` / `config_sentence_transformers.json`: a sentence-transformers embedder;
- `ForCausalLM` / `LMHeadModel`, or GGUF files without a `config.json`: a chat model.
Anything else (seq2seq, vision, audio…) is not served by this runtime: None.
"""

import json
from pathlib import Path
from typing import Any

from apps.inference.engines import CHAT, CLASSIFY, EMBEDDING, RERANK

CAUSAL_SUFFIXES = ("ForCausalLM", "LMHeadModel")
SENTENCE_TRANSFORMERS_FILES = {"modules.json", "config_sentence_transformers.json"}


def read_config(folder: Path) -> dict[str, Any]:
    """The folder's `config.json`, or {} when it has none or it is not a JSON object."""
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}


def label_count(config: dict[str, Any]) -> int:
    """How many outputs a classification config declares (transformers' default is 2)."""
    labels = config.get("id2label")
    if isinstance(labels, dict) and labels:
        return len(labels)
    count = config.get("num_labels")
    return count if isinstance(count, int) and count > 0 else 2


def model_kind(folder: Path, files: list[str]) -> str | None:
    """The kind of engine that loads the model in `folder` (with `files`), or None when none does."""
    names = set(files)
    config = read_config(folder) if "config.json" in names else {}
    architectures = [str(name) for name in config.get("architectures") or []]
    if any(name.endswith("ForSequenceClassification") for name in architectures):
        return RERANK if label_count(config) == 1 else CLASSIFY
    if names & SENTENCE_TRANSFORMERS_FILES:
        return EMBEDDING
    if any(name.endswith(CAUSAL_SUFFIXES) for name in architectures):
        return CHAT
    if "config.json" not in names and any(name.lower().endswith(".gguf") for name in names):
        return CHAT
    return None
