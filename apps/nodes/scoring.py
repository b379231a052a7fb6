"""Fit and score: can a node run a model, in which mode and quantization, how well and how fast.

Pure functions of a `ModelFacts` and a `Hardware` (no database, no detection), so any hardware can
be scored and every number can be reproduced by hand. The method and its constants are written out
in the README ("Node fit"); they follow the established method of llmfit-style tools:

    memory = params_b × bytes_per_param(quant) + KV cache + 0.5 GB runtime overhead
    KV     = 2 · layers · kv_heads · head_dim · context · bytes_per_element / 10⁹  (GB)

Hardware sizes are GiB (what drivers report, shown as GB); model sizes are 10⁹-byte GB, which makes
every estimate about 7 % conservative.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apps.nodes.gpu_bandwidth import gpu_bandwidth_gbps
from apps.nodes.hardware import CPU_ARM, CPU_X86, CUDA, METAL, ROCM, Hardware

# --- constants ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quant:
    name: str
    bytes_per_param: float  # weights in memory, block scales included
    speed_factor: float  # relative decode speed for the constant-based tok/s estimate
    quality_penalty: float  # points taken off the quality score


QUANTS: dict[str, Quant] = {
    quant.name: quant
    for quant in (
        Quant("Q8_0", 1.05, 0.80, 0.0),
        Quant("Q6_K", 0.80, 0.95, -1.0),
        Quant("Q5_K_M", 0.68, 1.00, -2.0),
        Quant("Q4_K_M", 0.58, 1.15, -5.0),
        Quant("Q3_K_M", 0.48, 1.25, -8.0),
        Quant("Q2_K", 0.37, 1.35, -12.0),
        # MLX affine quantization, group size 64 with an fp16 scale and bias per group: bits + 0.5 per weight.
        Quant("mlx-8bit", 1.0625, 0.85, 0.0),
        Quant("mlx-6bit", 0.8125, 1.00, -1.0),
        Quant("mlx-4bit", 0.5625, 1.15, -4.0),
        Quant("mlx-3bit", 0.4375, 1.25, -8.0),
        Quant("mlx-2bit", 0.3125, 1.35, -12.0),
    )
}
GGUF_LADDER = ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K")  # llama.cpp, best quality first
MLX_LADDER = ("mlx-8bit", "mlx-6bit", "mlx-4bit", "mlx-3bit", "mlx-2bit")

RUNTIME_OVERHEAD_GB = 0.5
KV_FALLBACK_GB_PER_PARAM_B_TOKEN = 0.000008  # when the catalog lacks the attention shape
HALF_CONTEXT_MIN = 512  # the retry at half context is made only down to this many tokens

KV_BYTES_PER_ELEMENT = {"f16": 2.0, "q8_0": 1.0, "fp8": 1.0, "q4_0": 0.5}  # f16 ×1, q8/fp8 ×0.5, q4 ×0.25
RUNTIME_KV_TYPES = {"llamacpp": {"f16", "q8_0", "q4_0"}, "mlx": {"f16", "q8_0", "q4_0"}}

RECOMMENDED_HEADROOM = 1.5  # "recommended" memory = 1.5 × required: a longer prompt, a second request, the desktop
GOOD_HEADROOM = 1.2  # good when available ≥ 1.2 × required

FIT_FULL_UNTIL = 0.70  # fit score is 100 up to 70 % memory use…
FIT_SIGMA = 0.20  # …then falls off as a Gaussian of this width

BANDWIDTH_EFFICIENCY = 0.55
BACKEND_K = {CUDA: 220.0, METAL: 160.0, ROCM: 180.0, CPU_ARM: 90.0, CPU_X86: 70.0}
MODE_SPEED_FACTOR = {"gpu": 1.0, "tensor_parallel": 0.9, "moe_offload": 0.8, "cpu_offload": 0.5, "cpu": 0.3}

SPEED_TARGET_TPS = {
    "general": 40.0,
    "chat": 40.0,
    "coding": 40.0,
    "multimodal": 40.0,
    "reasoning": 25.0,
    "embedding": 200.0,
}
CONTEXT_TARGET = {
    "general": 4096,
    "chat": 4096,
    "multimodal": 4096,
    "coding": 8192,
    "reasoning": 8192,
    "embedding": 512,
}
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
TASK_BONUS = {"coding": 6.0, "multimodal": 6.0}
REASONING_BONUS, REASONING_BONUS_MIN_PARAMS_B = 5.0, 13.0

FIT_LEVELS = ("perfect", "good", "marginal", "too_tight")  # best first
FIT_LABELS = {"perfect": "Perfect", "good": "Good", "marginal": "Marginal", "too_tight": "Too Tight"}
RUN_MODE_LABELS = {
    "gpu": "GPU",
    "tensor_parallel": "Tensor parallel",
    "moe_offload": "MoE offload",
    "cpu_offload": "CPU+GPU",
    "cpu": "CPU",
}
RUNTIME_LABELS = {"llamacpp": "llama.cpp", "mlx": "MLX"}
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
    """A catalog model, as the scoring needs it."""

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
    head_dim: int | None = None
    kv_lora_rank: int | None = None
    qk_rope_head_dim: int | None = None
    gguf_sources: tuple = ()

    @property
    def decode_params_b(self) -> float:
        """Parameters read per generated token: the active ones for a mixture of experts."""
        if self.is_moe and self.active_params_b:
            return self.active_params_b
        return self.params_b


@dataclass(frozen=True)
class FitOptions:
    context_limit: int | None = None  # the request's max_context
    default_context: int = 8192
    kv_cache_type: str = "f16"
    unified_memory_fraction: float = 0.75


@dataclass
class ModelFit:
    model: ModelFacts
    fit_level: str
    run_mode: str
    runtime: str
    best_quant: str
    context: int  # tokens the memory estimate was made for
    memory_required_gb: float
    memory_available_gb: float
    estimated_tps: float
    score: float
    score_components: dict[str, float]
    notes: list[str] = field(default_factory=list)
    moe_offloaded_gb: float | None = None

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

    def as_dict(self) -> dict[str, Any]:
        """A model of the spec's listing: the model's facts, its fit, and a few additions at the end."""
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
            "moe_offloaded_gb": None if self.moe_offloaded_gb is None else round(self.moe_offloaded_gb, 2),
        }


# --- memory -----------------------------------------------------------------------------------------


def kv_cache_gb(model: ModelFacts, context: int, kv_cache_type: str = "f16") -> float:
    """KV cache for `context` tokens: K and V per layer, or the latent of multi-head latent attention."""
    bytes_per_element = KV_BYTES_PER_ELEMENT[kv_cache_type]
    if model.num_layers and model.kv_lora_rank:
        per_layer_per_token = model.kv_lora_rank + (model.qk_rope_head_dim or 0)  # one latent, not K and V
    elif model.num_layers and model.num_kv_heads and model.head_dim:
        per_layer_per_token = 2 * model.num_kv_heads * model.head_dim
    else:
        relative = bytes_per_element / KV_BYTES_PER_ELEMENT["f16"]
        return KV_FALLBACK_GB_PER_PARAM_B_TOKEN * model.params_b * context * relative
    return model.num_layers * per_layer_per_token * context * bytes_per_element / 1e9


def memory_required_gb(model: ModelFacts, quant: str, context: int, kv_cache_type: str = "f16") -> float:
    """Weights at `quant` + KV cache + runtime overhead: what loading the whole model takes."""
    weights = model.params_b * QUANTS[quant].bytes_per_param
    return weights + kv_cache_gb(model, context, kv_cache_type) + RUNTIME_OVERHEAD_GB


def moe_offload_split_gb(model: ModelFacts, quant: str, context: int, kv_cache_type: str) -> tuple[float, float]:
    """(GPU memory, RAM) when only the active experts stay on the GPU and the others wait in RAM."""
    bytes_per_param = QUANTS[quant].bytes_per_param
    active = model.active_params_b or model.params_b
    on_gpu = active * bytes_per_param + kv_cache_gb(model, context, kv_cache_type) + RUNTIME_OVERHEAD_GB
    in_ram = max(model.params_b - active, 0.0) * bytes_per_param
    return on_gpu, in_ram


@dataclass(frozen=True)
class _Choice:
    quant: str
    context: int
    required_gb: float


def _first_fit(ladder: tuple[str, ...], context: int, needs: Callable[[str, int], float | None]) -> _Choice | None:
    """The best quant whose need fits (`needs` returns None when it does not), at full then at half context."""
    contexts = [context]
    if context // 2 >= HALF_CONTEXT_MIN:
        contexts.append(context // 2)
    for tried_context in contexts:
        for quant in ladder:
            required = needs(quant, tried_context)
            if required is not None:
                return _Choice(quant, tried_context, required)
    return None


# --- the fit ----------------------------------------------------------------------------------------


def estimation_context(model: ModelFacts, options: FitOptions) -> int:
    limit = options.context_limit or options.default_context
    return max(1, min(model.context_length or limit, limit))


def runtime_for(hardware: Hardware) -> str:
    return "mlx" if hardware.backend == METAL and hardware.unified_memory else "llamacpp"


def fit_model(model: ModelFacts, hardware: Hardware, options: FitOptions | None = None) -> ModelFit:
    """Where and how `model` runs on `hardware`: run mode, best quant, fit level, speed and score."""
    options = options or FitOptions()
    notes: list[str] = []
    runtime = runtime_for(hardware)
    ladder = MLX_LADDER if runtime == "mlx" else GGUF_LADDER
    kv_type = options.kv_cache_type
    if kv_type not in RUNTIME_KV_TYPES[runtime]:
        notes.append(f"KV cache {kv_type} is not supported by {RUNTIME_LABELS[runtime]}: sized as f16")
        kv_type = "f16"
    context = estimation_context(model, options)
    if context < model.context_length:
        notes.append(
            f"Context capped at {context} tokens for the estimate (the model supports {model.context_length}; "
            "set max_context to change it)"
        )

    plan = _plan(model, hardware, options, ladder, context, kv_type, notes)
    if plan.choice and plan.choice.context < context:
        notes.append(f"Context halved to {plan.choice.context} tokens to fit")
    if plan.choice and plan.choice.quant != ladder[0]:
        notes.append(_downgrade_note(model, hardware, plan, plan.choice, ladder[0], kv_type))

    quant = plan.choice.quant if plan.choice else ladder[-1]
    used_context = plan.choice.context if plan.choice else plan.smallest_context
    required = plan.choice.required_gb if plan.choice else plan.smallest_need
    level = _fit_level(required, plan.available_gb, plan.run_mode, notes)
    if level == "too_tight":
        notes.append(
            f"Too large: needs at least {required:.1f} GB at {quant} with a {used_context}-token context, "
            f"{plan.available_gb:.1f} GB available"
        )

    tps = estimate_tps(model, quant, hardware, plan.run_mode)
    # The context a model can serve here: its own window, unless the fit had to halve it.
    capacity_context = used_context if used_context < context else model.context_length
    components = {
        "quality": quality_score(model, quant),
        "speed": speed_score(tps, model.category),
        "fit": fit_score(required, plan.available_gb),
        "context": context_score(capacity_context, model.category),
    }
    return ModelFit(
        model=model,
        fit_level=level,
        run_mode=plan.run_mode,
        runtime=runtime,
        best_quant=quant,
        context=used_context,
        memory_required_gb=required,
        memory_available_gb=plan.available_gb,
        estimated_tps=tps,
        score=weighted_score(components, model.category),
        score_components=components,
        notes=notes,
        moe_offloaded_gb=plan.offloaded_gb,
    )


@dataclass
class _Plan:
    run_mode: str
    available_gb: float
    need: Callable[[str, int], float]
    choice: _Choice | None
    smallest_need: float = 0.0
    smallest_context: int = 0
    offloaded_gb: float | None = None


def _plan(
    model: ModelFacts,
    hardware: Hardware,
    options: FitOptions,
    ladder: tuple[str, ...],
    context: int,
    kv_type: str,
    notes: list[str],
) -> _Plan:
    def need(quant: str, tokens: int) -> float:
        return memory_required_gb(model, quant, tokens, kv_type)

    def plan_for(run_mode: str, available: float) -> _Plan:
        choice = _first_fit(ladder, context, lambda q, t: need(q, t) if need(q, t) <= available else None)
        smallest_context = context // 2 if context // 2 >= HALF_CONTEXT_MIN else context
        return _Plan(
            run_mode, available, need, choice, need(ladder[-1], smallest_context), smallest_context, offloaded_gb=None
        )

    ram = hardware.available_ram_gb
    vram = hardware.total_gpu_vram_gb
    if not hardware.has_gpu or not vram:
        if hardware.has_gpu:
            notes.append("GPU memory could not be read: sized for the CPU and system RAM")
        else:
            notes.append("No GPU: runs on the CPU from system RAM")
        if model.is_moe:
            notes.append("Mixture of experts: offloading experts needs a GPU, so every expert sits in RAM")
        return plan_for("cpu", ram)

    if hardware.unified_memory:
        pool = vram * options.unified_memory_fraction
        notes.append(
            f"Unified memory: the GPU may use {pool:.1f} GB of {vram:.1f} GB "
            f"({options.unified_memory_fraction:.0%}, set by MODELYARD_NODES_UNIFIED_MEMORY_FRACTION)"
        )
        return plan_for("gpu", pool)

    on_gpu = plan_for("gpu", vram)
    if on_gpu.choice:
        single = hardware.largest_gpu_vram_gb or vram
        if hardware.gpu_count > 1 and on_gpu.choice.required_gb > single:
            on_gpu.run_mode = "tensor_parallel"
            notes.append(f"Split across {hardware.gpu_count} GPUs ({vram:.1f} GB of VRAM together)")
        return on_gpu

    if model.is_moe and model.active_params_b:

        def offload_need(quant: str, tokens: int) -> float | None:
            gpu_part, ram_part = moe_offload_split_gb(model, quant, tokens, kv_type)
            return gpu_part if gpu_part <= vram and ram_part <= ram else None

        choice = _first_fit(ladder, context, offload_need)
        if choice:
            _, offloaded = moe_offload_split_gb(model, choice.quant, choice.context, kv_type)
            notes.append(
                f"Does not fit in {vram:.1f} GB of VRAM: the active experts ({choice.required_gb:.1f} GB) "
                f"stay on the GPU and the other experts ({offloaded:.1f} GB) are offloaded to system RAM"
            )
            gpu_need = lambda quant, tokens: moe_offload_split_gb(model, quant, tokens, kv_type)[0]  # noqa: E731
            return _Plan("moe_offload", vram, gpu_need, choice, offloaded_gb=offloaded)

    spill = plan_for("cpu_offload", vram + ram)
    if spill.choice:
        notes.append(
            f"Does not fit in {vram:.1f} GB of VRAM: layers spill to system RAM "
            f"({vram + ram:.1f} GB of VRAM and free RAM together)"
        )
    return spill


def _downgrade_note(model: ModelFacts, hardware: Hardware, plan: _Plan, choice: _Choice, top: str, kv: str) -> str:
    """Why the best quant did not fit: the memory it needed against the memory there was."""
    if plan.run_mode == "moe_offload":  # either side may be the limit: the GPU or the RAM holding the experts
        on_gpu, in_ram = moe_offload_split_gb(model, top, choice.context, kv)
        return (
            f"Quantized down to {choice.quant}: at {top} the active experts need {on_gpu:.1f} GB of "
            f"{plan.available_gb:.1f} GB of VRAM and the offloaded experts {in_ram:.1f} GB of "
            f"{hardware.available_ram_gb:.1f} GB of free RAM"
        )
    need = plan.need(top, choice.context)
    return f"Quantized down to {choice.quant}: {top} needs {need:.1f} GB, {plan.available_gb:.1f} GB available"


def _fit_level(required: float, available: float, run_mode: str, notes: list[str]) -> str:
    if required > available:
        return "too_tight"
    roomy = available >= GOOD_HEADROOM * required
    if available >= RECOMMENDED_HEADROOM * required:
        if run_mode in ("gpu", "tensor_parallel"):
            return "perfect"
        notes.append(f"Rated good, not perfect: {RUN_MODE_LABELS[run_mode]} runs are never rated above good")
    return "good" if roomy else "marginal"


# --- speed ------------------------------------------------------------------------------------------


def estimate_tps(model: ModelFacts, quant: str, hardware: Hardware, run_mode: str) -> float:
    """Decode tokens per second.

    With a GPU whose bandwidth is known: bandwidth ÷ bytes read per token × 0.55 × the run mode's
    factor. Otherwise K ÷ params_b × the quant's speed factor × the run mode's factor, where K is
    the backend's constant. A CPU backend's K already describes the CPU, so a CPU-only node is not
    slowed a second time by the CPU run-mode factor; a GPU node pushed onto its CPU is.
    """
    params = max(model.decode_params_b, 0.01)
    mode_factor = MODE_SPEED_FACTOR[run_mode]
    if run_mode != "cpu" and hardware.has_gpu:
        bandwidths = [gpu_bandwidth_gbps(gpu.name) for gpu in hardware.pool_gpus]
        if bandwidths and all(bandwidths):
            slowest = min(bandwidths)  # layers split across cards run at the pace of the slowest
            model_gb = params * QUANTS[quant].bytes_per_param
            return slowest / model_gb * BANDWIDTH_EFFICIENCY * mode_factor
    if run_mode == "cpu" and not hardware.has_gpu:
        mode_factor = 1.0
    k = BACKEND_K.get(hardware.backend, BACKEND_K[CPU_X86])
    return k / params * QUANTS[quant].speed_factor * mode_factor


# --- scores -----------------------------------------------------------------------------------------


def quality_score(model: ModelFacts, quant: str) -> float:
    """Parameter count, family, quantization penalty and task alignment, 0–100."""
    base = next((score for limit, score in QUALITY_BY_PARAMS if model.params_b < limit), QUALITY_LARGEST)
    name = model.name.lower()
    family = next((bonus for words, bonus in FAMILY_BONUS if any(word in name for word in words)), 0.0)
    task = TASK_BONUS.get(model.category, 0.0)
    if model.category == "reasoning" and model.params_b >= REASONING_BONUS_MIN_PARAMS_B:
        task = REASONING_BONUS
    return _clamp(base + family + QUANTS[quant].quality_penalty + task)


def speed_score(tps: float, category: str) -> float:
    return _clamp(100.0 * tps / SPEED_TARGET_TPS.get(category, 40.0))


def fit_score(required: float, available: float) -> float:
    """100 up to 70 % memory use, then a Gaussian fall-off (σ 0.20); 0 when it does not fit."""
    if available <= 0 or required > available:
        return 0.0
    used = required / available
    if used <= FIT_FULL_UNTIL:
        return 100.0
    return 100.0 * math.exp(-((used - FIT_FULL_UNTIL) ** 2) / (2 * FIT_SIGMA**2))


def context_score(context: int, category: str) -> float:
    target = CONTEXT_TARGET.get(category, 4096)
    if context >= target:
        return 100.0
    if context >= target / 2:
        return 70.0
    return 30.0


def weighted_score(components: dict[str, float], category: str) -> float:
    quality, speed, fit, context = WEIGHTS.get(category, WEIGHTS["general"])
    raw = (
        components["quality"] * quality
        + components["speed"] * speed
        + components["fit"] * fit
        + components["context"] * context
    )
    return round(raw, 1)


def _clamp(value: float) -> float:
    return max(0.0, min(100.0, value))
