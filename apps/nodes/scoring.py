"""Fit and score: can a node run a model, in which mode and quantization, how well and how fast.

Pure functions of a `ModelFacts` and a `Hardware` (no database, no detection), so any hardware can
be scored and every number can be reproduced by hand. The method is llmfit's as of release 1.1.17
(github.com/AlexsJones/llmfit, MIT): its source `llmfit-core/src/fit.rs` and `models.rs` at commit 3f44fd3
(release 1.1.10), plus the changes of 1.1.17 measured on its binary (fit levels by the share of the pool,
2 % kept free, native MXFP4/NVFP4 weights, hybrid-attention KV, sizes of packed repositories), re-derived here
so that a node ranks models as `llmfit serve` does on the same hardware; the README ("How the numbers are
computed") writes it out:

    memory = params_b × bytes_per_param(quant) + KV cache + 0.5 GB runtime overhead
    KV     = 2 · layers · kv_heads · head_dim · context · bytes_per_element / 2³⁰  (GiB)

Where llmfit reads the memory a model needs from its database (`min_ram_gb`, `min_vram_gb`: the
mixture-of-experts paths), so does this.
Hardware sizes are GiB, shown as GB as the usual tools do.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache, cached_property
from typing import Any

from apps.nodes.gpu_bandwidth import gpu_bandwidth_gbps
from apps.nodes.hardware import CPU_ARM, CPU_X86, CUDA, METAL, ROCM, Hardware

GIB = 1024**3

# --- quantization (llmfit's tables) -----------------------------------------------------------------

# Bytes per weight in memory (block scales included).
QUANT_MEMORY_BYTES = {"F32": 4.0, "F16": 2.0, "BF16": 2.0, "Q8_0": 1.05, "Q6_K": 0.80, "Q5_K_M": 0.68,
                      "Q4_K_M": 0.58, "Q4_0": 0.58, "Q3_K_M": 0.48, "Q2_K": 0.37, "mlx-4bit": 0.55,
                      "mlx-8bit": 1.0, "AWQ-4bit": 0.5, "AWQ-8bit": 1.0, "GPTQ-Int4": 0.5,
                      "GPTQ-Int8": 1.0, "AutoRound-4bit": 0.5, "AutoRound-8bit": 1.0, "MXFP4": 0.55}  # fmt: skip
QUANT_MEMORY_BYTES_DEFAULT = 0.58
# Bytes read per weight per token, for the bandwidth estimate (the nominal bit width).
QUANT_READ_BYTES = {"F16": 2.0, "BF16": 2.0, "Q8_0": 1.0, "Q6_K": 0.75, "Q5_K_M": 0.625, "Q4_K_M": 0.5, "Q4_0": 0.5,
                    "Q3_K_M": 0.375, "Q2_K": 0.25, "mlx-4bit": 0.5, "mlx-8bit": 1.0, "AWQ-4bit": 0.5,
                    "GPTQ-Int4": 0.5, "AutoRound-4bit": 0.5, "AWQ-8bit": 1.0, "GPTQ-Int8": 1.0,
                    "AutoRound-8bit": 1.0, "MXFP4": 0.53}  # fmt: skip
QUANT_READ_BYTES_DEFAULT = 0.5
# Relative decode speed for the constant-based estimate.
QUANT_SPEED = {"F16": 0.6, "BF16": 0.6, "Q8_0": 0.8, "Q6_K": 0.95, "Q5_K_M": 1.0, "Q4_K_M": 1.15, "Q4_0": 1.15,
               "Q3_K_M": 1.25, "Q2_K": 1.35, "mlx-4bit": 1.15, "mlx-8bit": 0.85, "AWQ-4bit": 1.2, "GPTQ-Int4": 1.2,
               "AutoRound-4bit": 1.2, "AWQ-8bit": 0.85, "GPTQ-Int8": 0.85, "AutoRound-8bit": 0.85,
               "MXFP4": 1.15}  # fmt: skip
# Points taken off the quality score.
QUANT_QUALITY_PENALTY = {"F16": 0.0, "BF16": 0.0, "Q8_0": 0.0, "Q6_K": -1.0, "Q5_K_M": -2.0, "Q4_K_M": -5.0,
                         "Q4_0": -5.0, "Q3_K_M": -8.0, "Q2_K": -12.0, "mlx-4bit": -4.0, "mlx-8bit": 0.0,
                         "AWQ-4bit": -3.0, "AWQ-8bit": 0.0, "GPTQ-Int4": -3.0, "GPTQ-Int8": 0.0,
                         "AutoRound-4bit": -3.0, "AutoRound-8bit": 0.0, "MXFP4": 0.0}  # fmt: skip
GGUF_LADDER = ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K")  # best quality first
MLX_LADDER = ("mlx-8bit", "mlx-4bit")
# llmfit ≥ 1.1.17: gpt-oss is released in MXFP4 and its GGUF builds keep it, so it is sized at that precision
# only (4.25 bits read per weight, 0.55 bytes held with the block scales; no quality penalty).
MXFP4_LADDER = ("MXFP4",)
MXFP4_NATIVE_ARCHITECTURES = ("gpt_oss",)
# Repositories of native FP4 weights: llmfit sizes them on the GGUF ladder as any other model, then reports no
# GGUF quant ("does not apply"); Modelyard reports the native format instead (the field is a string).
NATIVE_FP4_TAGS = (("nvfp4", "NVFP4"), ("mxfp4", "MXFP4"))
# Quantized repositories whose safetensors count packed weights (several to a stored element): llmfit ≥ 1.1.17
# takes the size the name states when the count is under 75 % of it.
PACKED_COUNT_TAGS = ("nvfp4", "mxfp4", "mxfp8", "w4a16", "w8a16", "awq", "gptq", "int4", "int8")
PACKED_COUNT_MAX_SHARE = 0.75
_STATED_SIZE = re.compile(r"(?<![a-z0-9.])(\d+(?:\.\d+)?)b(?![a-z0-9])")
PREQUANTIZED_FORMATS = ("awq", "gptq", "autoround")

RUNTIME_OVERHEAD_GB = 0.5
KV_FALLBACK_GB_PER_PARAM_B_TOKEN = 0.000008  # when the catalog lacks layers or head_dim
KV_FALLBACK_HEADS = 8
HALF_CONTEXT_MIN = 1024  # the retry at half context is made only down to this many tokens
USABLE_CONTEXT_REFERENCE = 4096
KV_BYTES_PER_ELEMENT = {"f16": 2.0, "q8_0": 1.0, "fp8": 1.0, "q4_0": 0.5}

# Fit levels by the share of the mode's memory pool the model needs (llmfit ≥ 1.1.17): perfect up to 60 %
# (GPU modes only), good up to 85 %, marginal up to 98 %, too tight above (2 % kept free for the runtime).
PERFECT_MAX_USE, GOOD_MAX_USE, MARGINAL_MAX_USE = 0.60, 0.85, 0.98
FIT_FULL_UNTIL, FIT_SIGMA = 0.70, 0.20  # fit score: 100 up to 70 % memory use, then a one-sided Gaussian

BANDWIDTH_EFFICIENCY = 0.55
MOE_FIXED_BYTES_PER_PARAM = 3.2  # attention, router, shared experts, embeddings: compute-bound, fixed cost
MOE_PRESSURE_FROM, MOE_PRESSURE_FLOOR, MOE_PRESSURE_DEFAULT_RATIO = 0.60, 0.30, 0.50
MOE_OVERHEAD_BY_EXPERTS = ((8, 0.90), (16, 0.85), (32, 0.80), (64, 0.70))  # more experts: 0.40; unknown: 0.60
MOE_ACTIVE_VRAM_FACTOR, MOE_ACTIVE_VRAM_MIN_GB = 1.1, 0.5
BACKEND_K = {(METAL, "mlx"): 250.0, (METAL, "llamacpp"): 160.0, (METAL, "vllm"): 160.0}
BACKEND_K_ANY_RUNTIME = {CUDA: 220.0, ROCM: 180.0, METAL: 160.0, CPU_ARM: 90.0, CPU_X86: 70.0}
MANY_CORES, MANY_CORES_BONUS = 8, 1.1
MODE_SPEED_FACTOR = {"gpu": 1.0, "tensor_parallel": 0.9, "moe_offload": 0.8, "cpu_offload": 0.5, "cpu": 0.3}
MIN_TPS = 0.1

SPEED_TARGET_TPS = {"general": 40.0, "chat": 40.0, "coding": 40.0, "multimodal": 40.0, "reasoning": 25.0,
                    "embedding": 200.0}  # fmt: skip
CONTEXT_TARGET = {"general": 4096, "chat": 4096, "multimodal": 4096, "coding": 8192, "reasoning": 8192,
                  "embedding": 512}  # fmt: skip
WEIGHTS = {  # quality, speed, fit, context
    "general": (0.45, 0.30, 0.15, 0.10),
    "coding": (0.50, 0.20, 0.15, 0.15),
    "reasoning": (0.55, 0.15, 0.15, 0.15),
    "chat": (0.40, 0.35, 0.15, 0.10),
    "multimodal": (0.50, 0.20, 0.15, 0.15),
    "embedding": (0.30, 0.40, 0.20, 0.10),
}
QUALITY_BY_PARAMS = ((1.0, 30.0), (3.0, 45.0), (7.0, 60.0), (10.0, 75.0), (20.0, 82.0), (40.0, 89.0))
QUALITY_LARGEST = 95.0
FAMILY_BONUS = (  # first match on the lower-cased name
    (("qwen",), 2.0),
    (("deepseek",), 3.0),
    (("llama",), 2.0),
    (("mistral", "mixtral"), 1.0),
    (("gemma",), 1.0),
    (("phi",), 0.0),
    (("starcoder",), 1.0),
)
RECENCY_BONUS = ((3, 3.0), (9, 1.5))  # released less than N months ago: + points
TASK_BENCH_BASELINE, TASK_BENCH_SCALE, TASK_BENCH_RANGE = 72.0, 0.4, (-8.0, 9.0)
CODING_NAME_BONUS, REASONING_SIZE_BONUS, REASONING_SIZE_MIN_B, VISION_BONUS = 6.0, 5.0, 13.0, 6.0

FIT_LEVELS = ("perfect", "good", "marginal", "too_tight")  # best first
FIT_LABELS = {"perfect": "Perfect", "good": "Good", "marginal": "Marginal", "too_tight": "Too Tight"}
RUN_MODE_LABELS = {
    "gpu": "GPU",
    "tensor_parallel": "Tensor parallel",
    "moe_offload": "MoE offload",
    "cpu_offload": "CPU+GPU",
    "cpu": "CPU",
}
RUNTIMES = ("llamacpp", "mlx", "vllm")
RUNTIME_LABELS = {"llamacpp": "llama.cpp", "mlx": "MLX", "vllm": "vLLM", "unsupported": "unsupported"}
CATEGORY_LABELS = {
    "general": "General",
    "coding": "Coding",
    "reasoning": "Reasoning",
    "chat": "Chat",
    "multimodal": "Multimodal",
    "embedding": "Embedding",
}


# --- inputs and result ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelFacts:
    """A catalog model, as the scoring needs it (sizes in billions of parameters and GiB)."""

    name: str
    params_b: float
    context_length: int
    category: str = "general"
    provider: str = ""
    parameter_count: str = ""
    use_case: str = ""
    release_date: str | None = None
    is_moe: bool = False
    active_params_b: float | None = None
    num_experts: int | None = None
    active_experts: int | None = None
    num_layers: int | None = None
    num_kv_heads: int | None = None
    num_attention_heads: int | None = None
    head_dim: int | None = None
    hidden_size: int | None = None
    vocab_size: int | None = None
    moe_intermediate_size: int | None = None
    shared_expert_intermediate_size: int | None = None
    quantization: str = "Q4_K_M"
    weight_format: str = "gguf"
    min_ram_gb: float | None = None
    recommended_ram_gb: float | None = None
    min_vram_gb: float | None = None
    architecture: str = ""
    license: str = ""
    capabilities: tuple = ()
    gguf_sources: tuple = ()

    def __post_init__(self) -> None:
        # Rows added by hand may lack the memory minimums: llmfit's scraper rule fills them in.
        weights = self.params_b * 1e9 * 0.5 / GIB
        if self.min_ram_gb is None:
            object.__setattr__(self, "min_ram_gb", round(max(weights * 1.2, 1.0), 1))
        if self.recommended_ram_gb is None:
            object.__setattr__(self, "recommended_ram_gb", round(max(weights * 2.0, 2.0), 1))
        lower = self.name.lower()
        if any(tag in lower for tag in PACKED_COUNT_TAGS):
            stated = stated_size_b(self.name)
            if stated and self.params_b < PACKED_COUNT_MAX_SHARE * stated:
                object.__setattr__(self, "params_b", stated)

    @property
    def decode_params_b(self) -> float:
        """Parameters read per generated token: the active ones for a mixture of experts (at least 0.1 B)."""
        if self.is_moe and self.active_params_b:
            return max(self.active_params_b, 0.1)
        return max(self.params_b, 0.1)

    @property
    def is_prequantized(self) -> bool:
        return self.weight_format in PREQUANTIZED_FORMATS

    @property
    def native_fp4(self) -> str | None:
        """`NVFP4` or `MXFP4` for a repository of native FP4 weights (by its name), else None."""
        lower = self.name.lower()
        return next((label for tag, label in NATIVE_FP4_TAGS if tag in lower), None)

    @property
    def is_mxfp4_native(self) -> bool:
        """gpt-oss weights (released in MXFP4, which its GGUF builds keep), except BF16 re-uploads."""
        return (
            (self.architecture or "").lower() in MXFP4_NATIVE_ARCHITECTURES
            and "bf16" not in self.name.lower()
            and self.native_fp4 is None
        )

    @property
    def is_mlx_only(self) -> bool:
        """MLX conversions (`…-MLX-4bit`) run on Apple silicon only."""
        return "-MLX" in self.name.upper()

    @property
    def needs_specialized_runtime(self) -> bool:
        return "tts" in self.capabilities

    @property
    def vram_minimum_gb(self) -> float:
        return self.min_vram_gb if self.min_vram_gb is not None else self.min_ram_gb


@dataclass(frozen=True)
class FitOptions:
    context_limit: int | None = None  # the request's max_context
    default_context: int = 8192
    kv_cache_type: str = "f16"
    unified_memory_fraction: float = 1.0
    force_runtime: str | None = None  # llamacpp, mlx or vllm: skip the automatic choice
    ddr_bandwidth_gbps: float = 50.0  # system RAM bandwidth for MoE expert streaming
    today: date | None = None  # for the recency bonus; None: the current date


@dataclass
class ModelFit:
    model: ModelFacts
    fit_level: str
    run_mode: str
    runtime: str
    best_quant: str
    context: int  # tokens the memory estimate is for
    usable_context: int  # tokens of KV cache the memory pool holds beside the weights, up to the model's window
    memory_required_gb: float
    memory_available_gb: float
    estimated_tps: float
    score: float
    score_components: dict[str, float]
    estimate_basis: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    moe_offloaded_gb: float | None = None
    sized_at: str | None = None  # the GGUF quant a native-FP4 repository was sized at (best_quant names the format)

    @property
    def utilization_pct(self) -> float | None:
        if self.memory_available_gb <= 0:
            return None
        return 100.0 * self.memory_required_gb / self.memory_available_gb

    def fit_dict(self) -> dict[str, Any]:
        """How the model runs on the hardware: the spec's fields from `fit_level` to `notes`."""
        return {
            "fit_level": self.fit_level,
            "fit_label": FIT_LABELS[self.fit_level],
            "run_mode": self.run_mode,
            "run_mode_label": RUN_MODE_LABELS[self.run_mode],
            "score": round(self.score, 1),
            "score_components": {name: round(value, 1) for name, value in self.score_components.items()},
            "estimated_tps": round(self.estimated_tps, 1),
            "runtime": self.runtime,
            "runtime_label": RUNTIME_LABELS[self.runtime],
            "best_quant": self.best_quant,
            "memory_required_gb": round(self.memory_required_gb, 2),
            "memory_available_gb": round(self.memory_available_gb, 2),
            "utilization_pct": None if self.utilization_pct is None else round(self.utilization_pct, 1),
            "notes": list(self.notes),
        }

    @cached_property
    def listing_dict(self) -> dict[str, Any]:
        """`as_dict()`, computed once: a cached fit answers many requests. Read-only by convention."""
        return self.as_dict()

    def as_dict(self) -> dict[str, Any]:
        """A model of the spec's listing: the model's facts, its fit, then llmfit's extra fields."""
        model = self.model
        return {
            "name": model.name,
            "provider": model.provider,
            "parameter_count": model.parameter_count,
            "params_b": round(model.params_b, 2),
            "context_length": model.context_length,
            "use_case": model.use_case,
            "category": CATEGORY_LABELS.get(model.category, model.category.title()),
            "release_date": model.release_date,
            "is_moe": model.is_moe,
            **self.fit_dict(),
            "gguf_sources": list(model.gguf_sources),
            "active_params_b": None if model.active_params_b is None else round(model.active_params_b, 2),
            "estimation_context": self.context,
            "effective_context_length": self.context,
            "usable_context": self.usable_context,
            "moe_offloaded_gb": None if self.moe_offloaded_gb is None else round(self.moe_offloaded_gb, 2),
            "total_memory_gb": round(self.memory_required_gb + (self.moe_offloaded_gb or 0.0), 2),
            "capabilities": list(model.capabilities),
            "license": model.license or None,
            "disk_size_gb": round(disk_size_gb(model, self.sized_at or self.best_quant), 2),
            "estimate_basis": dict(self.estimate_basis),
        }


# --- memory -----------------------------------------------------------------------------------------


def quant_memory_bytes(quant: str) -> float:
    return QUANT_MEMORY_BYTES.get(quant, QUANT_MEMORY_BYTES_DEFAULT)


def stated_size_b(name: str) -> float | None:
    """The largest parameter size a model's name states in billions (`…-27B-…` → 27.0; not `A3B`, `E4B`,
    `8x7B`), or None."""
    sizes = [float(match) for match in _STATED_SIZE.findall(name.lower())]
    return max(sizes) if sizes else None


# Hybrid families whose linear / state-space layers keep no KV cache: (name fragments, full-attention layers,
# linear layers), first match on the lower-cased name. llmfit's name rules (`infer_attention_layout_from_name`
# in models.rs, from the families' published configs); llmfit ≥ 1.1.17 sizes the f16 KV cache with them too.
ATTENTION_LAYOUTS = (
    (("qwen3-next", "qwen3.5-next"), 10, 30),
    (("qwen3.5-", "qwen3.6-", "qwen3.8-"), None, None),  # by variant: see attention_layout()
    (("jamba",), 4, 28),
    (("zamba",), 2, 54),
    (("mamba", "rwkv"), 0, 1),
)
QWEN_HYBRID_LAYOUTS = ((("-a95b",), 23, 69), (("-a3b", "-a10b", "-a17b"), 10, 30))
QWEN_HYBRID_DENSE_LAYOUT = (16, 48)


def attention_layout(name: str) -> tuple[int, int] | None:
    """(full-attention layers, linear layers) of a hybrid model, from its name; None for a plain transformer."""
    lower = name.lower()
    for words, full, linear in ATTENTION_LAYOUTS:
        if any(word in lower for word in words):
            if full is not None and linear is not None:
                return full, linear
            return next(((f, lin) for tags, f, lin in QWEN_HYBRID_LAYOUTS if any(tag in lower for tag in tags)),
                        QWEN_HYBRID_DENSE_LAYOUT)  # fmt: skip
    return None


def _full_share(layout: tuple[int, int]) -> float:
    return layout[0] / (layout[0] + layout[1]) if sum(layout) else 1.0


def kv_cache_gb(model: ModelFacts, context: int, kv_cache_type: str = "f16") -> float:
    """KV cache for `context` tokens (GiB): K and V per layer, of a hybrid only the full-attention share of its
    layers (`attention_layout`: linear layers keep none); without layers or head_dim, a per-parameter rule."""
    bytes_per_element = KV_BYTES_PER_ELEMENT[kv_cache_type]
    layout = attention_layout(model.name)
    if model.num_layers and model.head_dim:
        kv_heads = model.num_kv_heads or model.num_attention_heads or KV_FALLBACK_HEADS
        layers = model.num_layers * (1.0 if layout is None else _full_share(layout))
        return 2 * kv_heads * model.head_dim * context * bytes_per_element * layers / GIB
    relative = bytes_per_element / KV_BYTES_PER_ELEMENT["f16"]
    if layout is not None:
        relative *= _full_share(layout)
    return KV_FALLBACK_GB_PER_PARAM_B_TOKEN * model.params_b * context * relative


def memory_required_gb(model: ModelFacts, quant: str, context: int, kv_cache_type: str = "f16") -> float:
    """Weights at `quant` + KV cache + runtime overhead: what loading the whole model takes."""
    return model.params_b * quant_memory_bytes(quant) + kv_cache_gb(model, context, kv_cache_type) + RUNTIME_OVERHEAD_GB


def disk_size_gb(model: ModelFacts, quant: str) -> float:
    """The weights' file size at `quant`."""
    return model.params_b * quant_memory_bytes(quant)


def best_quant_for_budget(
    model: ModelFacts, budget_gb: float, context: int, ladder: tuple[str, ...], kv: str = "f16"
) -> tuple[str, float] | None:
    """(quant, GB) of the best quant that fits `budget_gb`, at full context, else at half (down to 1024 tokens)."""
    contexts = (context, context // 2) if context // 2 >= HALF_CONTEXT_MIN else (context,)
    for tokens in contexts:
        for quant in ladder:
            need = memory_required_gb(model, quant, tokens, kv)
            if need <= budget_gb:
                return quant, need
    return None


def moe_split_gb(model: ModelFacts, quant: str) -> tuple[float, float] | None:
    """(GPU GiB, RAM GiB) with only the active experts on the GPU (×1.1, at least 0.5) and the rest in RAM."""
    if not model.is_moe or model.active_params_b is None:
        return None
    bytes_per_param = quant_memory_bytes(quant)
    on_gpu = max(model.active_params_b * 1e9 * bytes_per_param / GIB * MOE_ACTIVE_VRAM_FACTOR, MOE_ACTIVE_VRAM_MIN_GB)
    in_ram = max(model.params_b - model.active_params_b, 0.0) * 1e9 * bytes_per_param / GIB
    return on_gpu, in_ram


# --- the fit ----------------------------------------------------------------------------------------


def estimation_context(model: ModelFacts, options: FitOptions) -> int:
    limit = options.context_limit or options.default_context
    return max(1, min(model.context_length or limit, limit))


def runtime_for(model: ModelFacts, hardware: Hardware, options: FitOptions) -> str:
    """The forced runtime, else vLLM for pre-quantized weights, MLX on Apple silicon, llama.cpp elsewhere."""
    if options.force_runtime:
        return options.force_runtime
    if model.is_prequantized:
        return "vllm"
    return "mlx" if hardware.backend == METAL and hardware.unified_memory else "llamacpp"


def compatible(model: ModelFacts, hardware: Hardware) -> bool:
    """Whether the model is listed for the hardware at all: MLX builds need Apple silicon, pre-quantized
    (AWQ/GPTQ/AutoRound) weights a CUDA or ROCm GPU, and TTS models a runtime llmfit does not size."""
    if model.needs_specialized_runtime:
        return False
    if model.is_mlx_only:
        return hardware.backend == METAL and hardware.unified_memory
    if model.is_prequantized:
        return hardware.backend in (CUDA, ROCM)
    return True


def _ladder(runtime: str, model: ModelFacts | None = None) -> tuple[str, ...]:
    if model is not None and model.is_mxfp4_native:
        return MXFP4_LADDER
    return MLX_LADDER if runtime == "mlx" else GGUF_LADDER


def _choose(model: ModelFacts, runtime: str, pool: float, context: int, kv: str) -> tuple[str, float] | None:
    """The runtime's best quant within 98 % of `pool` (what is not too tight); a vLLM (pre-quantized) model
    only at its own quant."""
    budget = pool * MARGINAL_MAX_USE
    if runtime == "vllm":
        need = memory_required_gb(model, model.quantization, context, kv)
        return (model.quantization, need) if need <= budget else None
    choice = best_quant_for_budget(model, budget, context, _ladder(runtime, model), kv)
    if choice is None and runtime == "mlx" and not model.is_mxfp4_native:
        choice = best_quant_for_budget(model, budget, context, GGUF_LADDER, kv)
    return choice


def fit_model(model: ModelFacts, hardware: Hardware, options: FitOptions | None = None) -> ModelFit:
    """Where and how `model` runs on `hardware`: run mode, best quant, fit level, speed and score."""
    options = options or FitOptions()
    kv = options.kv_cache_type
    notes: list[str] = []
    context = estimation_context(model, options)
    if context < model.context_length:
        notes.append(
            f"Context capped at {context} tokens for the estimate (the model supports {model.context_length}; "
            "set max_context to change it)"
        )
    runtime = runtime_for(model, hardware, options)
    run_mode, required, available = _path(model, hardware, options, runtime, context, notes)
    level = _fit_level(required, available, run_mode)
    if run_mode == "cpu":
        notes.append("No GPU: inference will be slow")
    if run_mode in ("cpu", "cpu_offload") and hardware.cpu_cores < 4:
        notes.append("Low CPU core count may bottleneck inference")
    offloaded = None
    if run_mode == "moe_offload":
        split = moe_split_gb(model, model.quantization)
        offloaded = split[1] if split else None

    quant = model.quantization
    if not model.is_prequantized:
        choice = _choose(model, runtime, available, context, kv)
        if choice:
            quant = choice[0]
    if quant != model.quantization:
        notes.append(f"Best quantization for this hardware: {quant} (catalog default: {model.quantization})")
    if quant == "MXFP4":
        notes.append("MXFP4-native weights: sized at the released MXFP4 precision, which GGUF builds keep")
    if level == "too_tight":
        notes.append(f"Too large: needs {required:.1f} GB, {available:.1f} GB available")

    tps, basis = estimate_tps(model, quant, hardware, run_mode, runtime, options)
    basis["assumed_context"] = context
    components = {
        "quality": quality_score(model, quant, options.today or date.today()),
        "speed": speed_score(tps, model.category),
        "fit": fit_score(required, available),
        "context": context_score(model.context_length, model.category),
    }
    sized_at = None
    if model.native_fp4 and not model.is_prequantized:
        sized_at, quant = quant, model.native_fp4
        notes.append(f"Native {quant} weights: no GGUF quant applies; memory and speed are estimated at {sized_at}")
    return ModelFit(
        model=model,
        fit_level=level,
        run_mode=run_mode,
        runtime=runtime,
        best_quant=quant,
        sized_at=sized_at,
        context=context,
        usable_context=usable_context(model, sized_at or quant, available),
        memory_required_gb=required,
        memory_available_gb=available,
        estimated_tps=tps,
        score=weighted_score(components, model.category),
        score_components=components,
        estimate_basis=basis,
        notes=notes,
        moe_offloaded_gb=offloaded,
    )


def _path(
    model: ModelFacts, hardware: Hardware, options: FitOptions, runtime: str, context: int, notes: list[str]
) -> tuple[str, float, float]:
    """(run mode, GB required, GB available in that mode's memory pool)."""
    kv = options.kv_cache_type
    default_need = memory_required_gb(model, model.quantization, context, kv)
    vram = hardware.total_gpu_vram_gb
    if not hardware.has_gpu or not vram:
        if hardware.has_gpu:
            notes.append("GPU memory could not be read: sized for the CPU and system RAM")
        return _cpu_path(model, hardware, runtime, context, kv, notes)

    if hardware.unified_memory:
        pool = vram * options.unified_memory_fraction
        notes.append(f"Unified memory: the GPU and the CPU share {pool:.1f} GB")
        if model.is_moe:
            notes.append(f"Mixture of experts: {model.active_experts or 0}/{model.num_experts or 0} experts active")
            return "gpu", model.vram_minimum_gb, pool
        choice = _choose(model, runtime, pool, context, kv)
        return "gpu", choice[1] if choice else default_need, pool

    if hardware.gpu_count > 1:
        notes.append(f"Split across {hardware.gpu_count} GPUs ({vram:.1f} GB of VRAM together)")
    if model.is_moe:
        if model.vram_minimum_gb <= vram:
            notes.append(f"GPU: all {model.num_experts or 0} experts loaded into VRAM")
            return "gpu", model.vram_minimum_gb, vram
        choice = _choose(model, runtime, vram, context, kv)
        if choice and choice[1] <= vram:
            notes.append(f"GPU: all experts loaded into VRAM at {choice[0]} ({choice[1]:.1f} GB)")
            return "gpu", choice[1], vram
        return _moe_offload_path(model, hardware, vram, runtime, notes)
    choice = _choose(model, runtime, vram, context, kv)
    if choice:
        return "gpu", choice[1], vram
    choice = _choose(model, runtime, hardware.available_ram_gb, context, kv)
    if choice:
        notes.append("Does not fit in VRAM: layers spill to system RAM; much slower")
        return "cpu_offload", choice[1], hardware.available_ram_gb
    notes.append(f"Fits neither VRAM nor system RAM (needs {model.vram_minimum_gb:.1f} GB of VRAM)")
    return "gpu", default_need, vram


def _cpu_path(
    model: ModelFacts, hardware: Hardware, runtime: str, context: int, kv: str, notes: list[str]
) -> tuple[str, float, float]:
    ram = hardware.available_ram_gb
    notes.append("CPU only: the model is loaded into system RAM")
    if model.is_moe:
        notes.append("Mixture of experts: offloading experts needs a GPU, so the model is sized at its RAM minimum")
        return "cpu", model.min_ram_gb, ram
    choice = _choose(model, runtime, ram, context, kv)
    return "cpu", choice[1] if choice else memory_required_gb(model, model.quantization, context, kv), ram


def _moe_offload_path(
    model: ModelFacts, hardware: Hardware, vram: float, runtime: str, notes: list[str]
) -> tuple[str, float, float]:
    """Active experts in VRAM and the others in RAM, at the best quant where both fit; else spill or fail."""
    ram = hardware.available_ram_gb
    if model.is_mxfp4_native:
        ladders: tuple[tuple[str, ...], ...] = (MXFP4_LADDER,)
    else:
        ladders = (MLX_LADDER, GGUF_LADDER) if runtime == "mlx" else (GGUF_LADDER,)
    for ladder in ladders:
        for quant in ladder:
            split = moe_split_gb(model, quant)
            if split and split[0] <= vram and split[1] <= ram:
                notes.append(
                    f"Mixture of experts: {model.active_experts or 0}/{model.num_experts or 0} experts active in "
                    f"VRAM ({split[0]:.1f} GB at {quant}); the others offloaded to system RAM ({split[1]:.1f} GB)"
                )
                return "moe_offload", split[0], vram
    if model.min_ram_gb <= ram:
        notes.append("Mixture of experts: too little VRAM to offload experts, the whole model spills to system RAM")
        return "cpu_offload", model.min_ram_gb, ram
    notes.append("Fits neither VRAM (even with experts offloaded) nor system RAM")
    return "gpu", model.vram_minimum_gb, vram


def _fit_level(required: float, available: float, run_mode: str) -> str:
    """By the share of the pool the model needs (llmfit ≥ 1.1.17): perfect ≤ 60 % on a GPU, good ≤ 85 %,
    marginal ≤ 98 %, else too tight. The model's recommended memory no longer decides, as in llmfit."""
    if available <= 0:
        return "too_tight"
    use = required / available
    if use > MARGINAL_MAX_USE:
        return "too_tight"
    if run_mode in ("gpu", "tensor_parallel") and use <= PERFECT_MAX_USE:
        return "perfect"
    return "good" if use <= GOOD_MAX_USE else "marginal"


def usable_context(model: ModelFacts, quant: str, available_gb: float) -> int:
    """Tokens of f16 KV cache that fit beside the weights and overhead, up to the model's own window."""
    leftover = max(available_gb - memory_required_gb(model, quant, 0), 0.0)
    per_token = kv_cache_gb(model, USABLE_CONTEXT_REFERENCE) / USABLE_CONTEXT_REFERENCE
    if per_token <= 0:
        return model.context_length
    return min(int(leftover / per_token), model.context_length)


# --- speed ------------------------------------------------------------------------------------------


def estimate_tps(
    model: ModelFacts, quant: str, hardware: Hardware, run_mode: str, runtime: str, options: FitOptions
) -> tuple[float, dict[str, Any]]:
    """Decode tokens per second, and the basis of the estimate (method, bandwidths, efficiency).

    With a GPU whose bandwidth is known: bandwidth ÷ GB read per token × 0.55 × the run mode's
    factor (mixtures of experts: the experts' reads from RAM, the fixed attention cost, cache
    pressure). Otherwise a per-backend constant K ÷ params × the quant's speed × the run mode's factor.
    """
    params = model.decode_params_b
    bandwidth = gpu_bandwidth_gbps(hardware.gpu_name) if hardware.has_gpu else None
    basis: dict[str, Any] = {
        "method": "cpu_constant"
        if run_mode == "cpu"
        else ("gpu_bandwidth_roofline" if bandwidth else "backend_constant"),
        "gpu_bandwidth_gbps": bandwidth if run_mode != "cpu" else None,
        "ddr_bandwidth_gbps": options.ddr_bandwidth_gbps if run_mode == "moe_offload" else None,
        "efficiency": BANDWIDTH_EFFICIENCY,
    }
    mode_factor = MODE_SPEED_FACTOR[run_mode]
    read_gb = params * QUANT_READ_BYTES.get(quant, QUANT_READ_BYTES_DEFAULT)
    ddr = options.ddr_bandwidth_gbps
    if run_mode != "cpu" and bandwidth:
        if model.is_moe and run_mode == "moe_offload":
            seconds = read_gb / ddr + read_gb / (bandwidth * BANDWIDTH_EFFICIENCY)
            return max(mode_factor / seconds, MIN_TPS), basis
        if model.is_moe and run_mode == "gpu":
            return _moe_gpu_tps(model, quant, hardware, bandwidth, params) * mode_factor, basis
        return max(bandwidth / read_gb * BANDWIDTH_EFFICIENCY * mode_factor, MIN_TPS), basis

    k = BACKEND_K.get((hardware.backend, runtime), BACKEND_K_ANY_RUNTIME.get(hardware.backend, 70.0))
    cores_bonus = MANY_CORES_BONUS if hardware.cpu_cores >= MANY_CORES else 1.0
    speed = QUANT_SPEED.get(quant, 1.0)
    if run_mode == "moe_offload":
        # The GPU's bandwidth as the constant implies it: K = bandwidth × efficiency / bytes per param.
        implied_bandwidth = k * QUANT_READ_BYTES.get(quant, QUANT_READ_BYTES_DEFAULT) / BANDWIDTH_EFFICIENCY
        seconds = read_gb / ddr + read_gb / (implied_bandwidth * BANDWIDTH_EFFICIENCY)
        return max(1.0 / seconds, MIN_TPS) * cores_bonus, basis
    if run_mode == "cpu":
        k = BACKEND_K_ANY_RUNTIME[CPU_ARM if hardware.is_arm else CPU_X86]
    return max(k / params * speed * cores_bonus * mode_factor, MIN_TPS), basis


def _moe_gpu_tps(model: ModelFacts, quant: str, hardware: Hardware, bandwidth: float, params: float) -> float:
    """A mixture of experts fully in VRAM: active expert reads plus a fixed cost, slowed by cache pressure."""
    pressure = 1.0
    if hardware.gpu_vram_gb:
        utilization = model.params_b * quant_memory_bytes(quant) / hardware.gpu_vram_gb
        if MOE_PRESSURE_FROM <= utilization <= 1.0:
            if model.num_experts:
                ratio = 1.0 - (model.active_experts or 1) / model.num_experts
            else:
                ratio = MOE_PRESSURE_DEFAULT_RATIO
            pressure = max(1.0 - (utilization - MOE_PRESSURE_FROM) * ratio, MOE_PRESSURE_FLOOR)
    split = moe_bandwidth_split_b(model)
    if split:
        active_ffn_b, fixed_b = split
        per_token_gb = active_ffn_b * quant_memory_bytes(quant) + fixed_b * MOE_FIXED_BYTES_PER_PARAM
        return max(bandwidth / per_token_gb * pressure, MIN_TPS)
    experts = model.num_experts
    overhead = next((value for limit, value in MOE_OVERHEAD_BY_EXPERTS if experts and experts <= limit),
                    0.40 if experts else 0.60)  # fmt: skip
    active_gb = params * quant_memory_bytes(quant)
    return max(bandwidth / active_gb * BANDWIDTH_EFFICIENCY * overhead * pressure, MIN_TPS)


def moe_bandwidth_split_b(model: ModelFacts) -> tuple[float, float] | None:
    """(active expert FFN, fixed) billions of parameters read per token, from the config's shape; None if unknown.

    Fixed = attention (Q, K, V, O), shared experts, router, embeddings and LM head."""
    needed = (model.hidden_size, model.num_layers, model.active_experts, model.moe_intermediate_size, model.vocab_size)
    if not model.is_moe or not all(needed):
        return None
    hidden, layers, active, expert_width, vocab = (float(value) for value in needed)  # type: ignore[arg-type]
    heads = float(model.num_attention_heads or 1)
    kv_heads = float(model.num_kv_heads or model.num_attention_heads or 1)
    head_dim = float(model.head_dim) if model.head_dim else hidden / heads
    active_ffn = layers * active * 3 * hidden * expert_width
    attention = layers * (2 * heads * head_dim * hidden + 2 * kv_heads * head_dim * hidden)
    shared = layers * 3 * hidden * float(model.shared_expert_intermediate_size or 0)
    router = layers * float(model.num_experts or 8) * hidden
    embeddings = 2 * vocab * hidden
    return active_ffn / 1e9, (attention + shared + router + embeddings) / 1e9


# --- scores -----------------------------------------------------------------------------------------


def quality_score(model: ModelFacts, quant: str, today: date) -> float:
    """Size tier (active parameters for a mixture of experts), family, generation, recency, quant and task, 0–100."""
    tier_params = model.active_params_b if model.active_params_b is not None else model.params_b
    base = next((score for limit, score in QUALITY_BY_PARAMS if tier_params < limit), QUALITY_LARGEST)
    name = model.name.lower()
    family = next((bonus for words, bonus in FAMILY_BONUS if any(word in name for word in words)), 0.0)
    return _clamp(
        base
        + family
        + generation_bonus(model.architecture, model.name)
        + recency_bonus(model.release_date, today)
        + QUANT_QUALITY_PENALTY.get(quant, -5.0)
        + task_bonus(model)
    )


def recency_bonus(release_date: str | None, today: date) -> float:
    """+3 for a model released less than 3 months ago, +1.5 under 9 months (whole months, by year and month)."""
    if not release_date:
        return 0.0
    try:
        year, month = (int(part) for part in release_date.split("-")[:2])
    except ValueError:
        return 0.0
    months = max((today.year - year) * 12 + today.month - month, 0)
    return next((bonus for limit, bonus in RECENCY_BONUS if months < limit), 0.0)


def task_bonus(model: ModelFacts) -> float:
    """The family's benchmark strength at the task, centred on 72 (×0.4, −8…+9); else name rules."""
    name = model.name.lower()
    if model.category in ("coding", "reasoning", "chat"):
        bench = task_benchmark(name, model.category)
        if bench is not None:
            low, high = TASK_BENCH_RANGE
            return min(max((bench - TASK_BENCH_BASELINE) * TASK_BENCH_SCALE, low), high)
    if model.category == "coding":
        return CODING_NAME_BONUS if any(word in name for word in ("code", "starcoder", "wizard")) else 0.0
    if model.category == "reasoning":
        return REASONING_SIZE_BONUS if model.params_b >= REASONING_SIZE_MIN_B else 0.0
    if model.category == "multimodal" and ("vision" in name or "vision" in model.use_case.lower()):
        return VISION_BONUS
    return 0.0


@cache
def _task_table() -> tuple[tuple[str, dict[str, float]], ...]:
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parent / "data" / "llmfit" / "use_case_benchmarks.json"
    families = json.loads(path.read_text())["families"]
    return tuple((pattern, family["scores"]) for family in families for pattern in family["match"])


def task_benchmark(name_lower: str, task: str) -> float | None:
    """llmfit's curated family score at `task` (coding, reasoning, chat): the longest matching pattern wins."""
    best: tuple[int, float] | None = None
    for pattern, scores in _task_table():
        if pattern in name_lower and task in scores and (best is None or len(pattern) > best[0]):
            best = (len(pattern), float(scores[task]))
    return best[1] if best else None


def generation_bonus(architecture: str, name: str) -> float:
    """+3 points per model generation above the first, at most +9 (gen 4)."""
    generation = model_generation(architecture, name)
    return 0.0 if generation is None else min(max((generation - 1.0) * 3.0, 0.0), 9.0)


_QWEN_MINOR = (("qwen3.8", "qwen3_8", 3.8), ("qwen3.6", "qwen3_6", 3.6), ("qwen3.5", "qwen3_5", 3.5),
               ("qwen2.5", "qwen2_5", 2.5))  # fmt: skip
_ARCH_GENERATIONS = (  # architecture prefix → ((suffix start, generation), ...), default
    ("gemma", (("4", 4.0), ("3", 3.0), ("2", 2.0)), 1.0),
    ("phi", (("4", 4.0), ("3", 3.0), ("moe", 3.0), ("2", 2.0)), 1.0),
    ("cohere", (("2", 2.0),), 1.0),
    ("falcon", (("3", 3.0),), 1.0),
    ("granite", (("4", 4.0),), 1.0),
)
_NAME_GENERATIONS = (
    (("llama-4", "llama4"), 4.0), (("llama-3.3", "llama3.3"), 3.3), (("llama-3.2", "llama3.2"), 3.2),
    (("llama-3.1", "llama3.1"), 3.1), (("llama-3", "llama3"), 3.0), (("llama-2", "llama2"), 2.0),
    (("gemma-4", "gemma4"), 4.0), (("gemma-3", "gemma3"), 3.0), (("gemma-2", "gemma2"), 2.0),
    (("deepseek-v4", "deepseekv4"), 4.0), (("deepseek-v3", "deepseekv3"), 3.0), (("deepseek-v2", "deepseekv2"), 2.0),
    (("phi-4", "phi4"), 4.0), (("phi-3", "phi3"), 3.0),
)  # fmt: skip


def _qwen_minor(name_lower: str) -> float | None:
    return next((gen for dotted, underscored, gen in _QWEN_MINOR if dotted in name_lower or underscored in name_lower),
                None)  # fmt: skip


def model_generation(architecture: str, name: str) -> float | None:
    """The model family's generation from the config's architecture, else from the name (llmfit's rules)."""
    arch = (architecture or "").lower()
    name_lower = name.lower()
    if arch.startswith("deepseek"):
        return next((gen for tag, gen in (("v4", 4.0), ("v3", 3.0), ("v2", 2.0)) if tag in arch), 1.0)
    if arch.startswith("qwen"):
        minor = _qwen_minor(name_lower)
        if minor is not None:
            return minor
        suffix = arch[4:]
        if suffix.startswith(("3_5", "3.5")):
            return 3.5
        if suffix.startswith(("3_next", "3next")):
            return 3.8
        return 3.0 if suffix.startswith("3") else 2.0 if suffix.startswith("2") else 1.0
    if arch.startswith("llama4"):
        return 4.0
    for prefix, suffixes, default in _ARCH_GENERATIONS:
        if arch.startswith(prefix):
            return next((gen for start, gen in suffixes if arch[len(prefix) :].startswith(start)), default)
    if arch.startswith(("mistral", "mixtral")):
        return 1.0
    minor = _qwen_minor(name_lower)
    if minor is not None:
        return minor
    if "qwen3" in name_lower:
        return 3.0
    if "qwen2" in name_lower:
        return 2.0
    return next((gen for words, gen in _NAME_GENERATIONS if any(word in name_lower for word in words)), None)


def speed_score(tps: float, category: str) -> float:
    return _clamp(100.0 * tps / SPEED_TARGET_TPS.get(category, 40.0))


def fit_score(required: float, available: float) -> float:
    """100 up to 70 % memory use, then a one-sided Gaussian fall-off (σ 0.20); 0 when it does not fit."""
    if available <= 0 or required > available:
        return 0.0
    z = max((required / available - FIT_FULL_UNTIL) / FIT_SIGMA, 0.0)
    return _clamp(100.0 * math.exp(-0.5 * z * z))


def context_score(context: int, category: str) -> float:
    """100 at the use case's target window, 70 at half of it, 30 below."""
    target = CONTEXT_TARGET.get(category, 4096)
    if context >= target:
        return 100.0
    if context >= target // 2:
        return 70.0
    return 30.0


def weighted_score(components: dict[str, float], category: str) -> float:
    """The use case's weighted sum of the four components, rounded half away from zero to 0.1."""
    quality, speed, fit, context = WEIGHTS.get(category, WEIGHTS["general"])
    raw = (
        components["quality"] * quality
        + components["speed"] * speed
        + components["fit"] * fit
        + components["context"] * context
    )
    return math.floor(raw * 10.0 + 0.5) / 10.0


def license_matches(license_value: str, wanted: str) -> bool:
    """Whether any of the model's licenses (comma-separated) is one of `wanted` (comma-separated, any case).
    A model without a license never matches."""
    allowed = {part.strip().lower() for part in wanted.split(",") if part.strip()}
    return any(part.strip().lower() in allowed for part in (license_value or "").split(",") if part.strip())


def _clamp(value: float) -> float:
    return max(0.0, min(100.0, value))


__all__ = [name for name in dir() if not name.startswith("_") and name not in {"annotations", "re"}]
