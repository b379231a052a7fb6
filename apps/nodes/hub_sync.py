"""Catalog entries read from a Hugging Face-compatible hub: config.json and the safetensors metadata.

The facts are those llmfit's scraper (`scripts/scrape_hf_models.py`) derives from the same two
sources, with its rules for what they leave open (MoE active parameters, use case, memory
minimums), except one: the context is `max_position_embeddings` as the config states it, never
multiplied by a RoPE scaling factor again (how llmfit's database came to list 6,553,600 tokens for
DeepSeek-Coder-V2-Lite).

The hub is the one the model store reads (`MODELYARD_HF_ENDPOINT` and `MODELYARD_HF_TOKEN`): the
store's own `/hub/` mirror works offline. nodes and modelstore are on the same floor, so this reads
the endpoint with huggingface_hub itself instead of importing the model store.
"""

from __future__ import annotations

import json
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from apps.core.errors import Invalid, NotFound, Unavailable
from apps.nodes.catalog import (
    DEFAULT_QUANT,
    capabilities_infer,
    category_infer,
    parameter_label,
    requirements_estimate,
)

SHAPE_KEYS = ("num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim", "hidden_size",
              "vocab_size", "moe_intermediate_size", "shared_expert_intermediate_size")  # fmt: skip
CONTEXT_KEYS = ("max_position_embeddings", "max_sequence_length", "seq_length", "n_positions", "sliding_window")
EXPERT_KEYS = ("num_local_experts", "num_experts", "n_routed_experts")
ACTIVE_EXPERT_KEYS = ("num_experts_per_tok", "top_k_experts")
MOE_SHARED_FRACTION = 0.05  # llmfit's estimate: attention and embeddings are ~5 % of a MoE's parameters
QUANT_METHODS = {"awq": ("awq", "AWQ-{bits}bit"), "gptq": ("gptq", "GPTQ-Int{bits}"),
                 "auto-round": ("autoround", "AutoRound-{bits}bit")}  # fmt: skip


def hub_entry(*, repo_id: str, endpoint: str, token: str | None) -> dict[str, Any]:
    """A catalog entry (Modelyard's format, `catalog._entry`) for `repo_id` on the hub at `endpoint`.

    Raises NotFound when the hub does not have it, Invalid when it has no safetensors parameter count
    or no config.json, Unavailable when the hub does not answer."""
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, RepositoryNotFoundError

    api = HfApi(endpoint=endpoint, token=token or False)
    try:
        info = api.model_info(repo_id)
        with tempfile.TemporaryDirectory() as cache:
            path = hf_hub_download(repo_id, "config.json", endpoint=endpoint, token=token or False, cache_dir=cache)
            config = json.loads(Path(path).read_text())
    except RepositoryNotFoundError:
        raise NotFound(f"model {repo_id!r} is not on the hub at {endpoint}") from None
    except EntryNotFoundError:
        raise Invalid(f"model {repo_id!r} has no config.json on the hub") from None
    except (HfHubHTTPError, OSError, ValueError) as error:
        raise Unavailable(f"the hub at {endpoint} did not answer for {repo_id!r}: {error}") from None
    safetensors = getattr(info, "safetensors", None)
    total = (safetensors.total or max(safetensors.parameters.values(), default=0)) if safetensors else 0
    if not total:
        raise Invalid(f"model {repo_id!r} has no safetensors parameter count on the hub")
    return entry_from_config(
        repo_id=repo_id,
        config=config,
        total_params=int(total),
        pipeline_tag=info.pipeline_tag,
        license_name=license_of_info(info),
        created=info.created_at.date() if info.created_at else None,
    )


def entry_from_config(
    *,
    repo_id: str,
    config: dict[str, Any],
    total_params: int,
    pipeline_tag: str | None = None,
    license_name: str = "",
    created: date | None = None,
) -> dict[str, Any]:
    """The catalog entry for a model from its config.json and parameter count (llmfit's scraper rules)."""
    sources = [config] + ([config["text_config"]] if isinstance(config.get("text_config"), dict) else [])
    shape: dict[str, Any] = dict.fromkeys(SHAPE_KEYS)
    for source in sources:
        for key in SHAPE_KEYS:
            if shape[key] is None:
                value = source.get(key)
                if key == "moe_intermediate_size" and value is None:
                    value = source.get("intermediate_size")  # Mixtral-style: the per-expert width
                shape[key] = value[0] if isinstance(value, list) and value else value
        if shape["head_dim"] is None and shape["num_attention_heads"] and shape["hidden_size"]:
            shape["head_dim"] = shape["hidden_size"] // shape["num_attention_heads"]
    shape["num_key_value_heads"] = shape["num_key_value_heads"] or shape["num_attention_heads"]
    experts, active = _experts(sources)
    weight_format, quant = _quant_format(repo_id, config)
    use_case = _use_case(repo_id, pipeline_tag)
    architecture = str(config.get("model_type") or "")
    moe = bool(experts and active)
    shared = int(total_params * MOE_SHARED_FRACTION)
    active_params = shared + active * ((total_params - shared) // experts) if moe else None
    return {
        "name": repo_id,
        "provider": repo_id.split("/")[0],
        "parameter_count": parameter_label(total_params),
        "params_b": total_params / 1e9,
        "active_params_b": active_params / 1e9 if active_params else None,
        "is_moe": moe,
        "num_experts": experts if moe else None,
        "active_experts": active if moe else None,
        "context_length": _context(sources),
        "num_layers": shape["num_hidden_layers"],
        "num_kv_heads": shape["num_key_value_heads"],
        "num_attention_heads": shape["num_attention_heads"],
        "head_dim": shape["head_dim"],
        "hidden_size": shape["hidden_size"],
        "vocab_size": shape["vocab_size"],
        "moe_intermediate_size": shape["moe_intermediate_size"],
        "shared_expert_intermediate_size": shape["shared_expert_intermediate_size"],
        "architecture": architecture,
        "category": category_infer(repo_id, use_case),
        "use_case": use_case,
        "release_date": created.isoformat() if created else None,
        "license": license_name,
        "capabilities": capabilities_infer(repo_id, use_case, architecture, []),
        "quantization": quant,
        "weight_format": weight_format,
        **requirements_estimate(total_params, quant),
    }


def _experts(sources: list[dict[str, Any]]) -> tuple[int | None, int | None]:
    experts = active = None
    for source in sources:
        experts = experts or next((source[key] for key in EXPERT_KEYS if source.get(key)), None)
        active = active or next((source[key] for key in ACTIVE_EXPERT_KEYS if source.get(key)), None)
    return experts, active


def _context(sources: list[dict[str, Any]]) -> int:
    for source in sources:
        for key in CONTEXT_KEYS:
            value = source.get(key)
            if isinstance(value, int) and value > 0:
                return value
    return 4096


def _quant_format(repo_id: str, config: dict[str, Any]) -> tuple[str, str]:
    quant_config = config.get("quantization_config") or {}
    method = str(quant_config.get("quant_method") or "")
    bits = quant_config.get("bits", quant_config.get("num_bits", 4))
    for prefix, (weight_format, label) in QUANT_METHODS.items():
        if method.startswith(prefix):
            return weight_format, label.format(bits=bits)
    upper = repo_id.upper()
    for marker, result in (("-AWQ", ("awq", "AWQ-4bit")), ("-GPTQ", ("gptq", "GPTQ-Int4")),
                           ("-AUTOROUND", ("autoround", "AutoRound-4bit"))):  # fmt: skip
        if marker in upper:
            return result
    return ("mlx", DEFAULT_QUANT) if "-MLX" in upper else ("gguf", DEFAULT_QUANT)


def _use_case(repo_id: str, pipeline_tag: str | None) -> str:
    name = repo_id.lower()
    if pipeline_tag == "text-to-speech":
        return "Text-to-speech"
    if "embed" in name or "bge" in name or pipeline_tag in ("feature-extraction", "sentence-similarity"):
        return "Text embeddings for RAG"
    if "coder" in name or "code" in name:
        return "Code generation and completion"
    if "r1" in name or "reason" in name:
        return "Advanced reasoning, chain-of-thought"
    if pipeline_tag in ("image-text-to-text", "any-to-any") or "-vl-" in name:
        return "Multimodal, vision and text"
    if "instruct" in name or "chat" in name:
        return "Instruction following, chat"
    if pipeline_tag == "text-generation":
        return "General purpose text generation"
    return "General purpose"


def license_of_info(info: Any) -> str:
    """The license the hub shows for a model: its card's `license` (several joined by ","), else a
    `license:<id>` tag; "" when it has neither."""
    card = getattr(info, "card_data", None)
    value = card.get("license") if card is not None else None
    if not value:
        value = next((tag.removeprefix("license:") for tag in info.tags or [] if tag.startswith("license:")), "")
    return ",".join(value) if isinstance(value, list) else str(value or "")
