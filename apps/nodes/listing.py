"""The model listings' query: filters, sorts and limits exactly as `specs/node-fit-api.txt` lists them."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from apps.core.errors import Invalid
from apps.core.validation import INT32_MAX
from apps.nodes.hardware import MEMORY_VARIANTS, gpu_resolve
from apps.nodes.scoring import CATEGORY_LABELS, FIT_LEVELS, RUNTIMES, ModelFit, license_matches

SORTS = ("score", "tps", "params", "mem", "ctx", "date", "use_case")
MIN_FITS = ("perfect", "good", "marginal", "too_tight")
RUNTIME_FILTERS = ("any", "mlx", "llamacpp", "vllm")  # the spec lists three; llmfit also filters on vllm
USE_CASES = ("coding", "reasoning", "chat", "multimodal", "embedding", "general")

# Spellings clients of such tools send, mapped to the canonical value echoed in `filters`.
ALIASES = {
    "sort": {"tokens": "tps", "throughput": "tps", "parameters": "params", "memory": "mem", "mem_pct": "mem",
             "utilization": "mem", "context": "ctx", "release": "date", "released": "date", "use": "use_case",
             "usecase": "use_case"},
    "min_fit": {"tight": "too_tight", "tootight": "too_tight"},
    "runtime": {"llama.cpp": "llamacpp", "llama_cpp": "llamacpp"},
    "force_runtime": {"llama.cpp": "llamacpp", "llama_cpp": "llamacpp"},
    "use_case": {"code": "coding", "reason": "reasoning", "vision": "multimodal", "embed": "embedding"},
}  # fmt: skip
CHOICES = {"sort": SORTS, "min_fit": MIN_FITS, "runtime": RUNTIME_FILTERS, "use_case": USE_CASES,
           "force_runtime": RUNTIMES}  # fmt: skip
ERRORS = {
    "min_fit": "invalid min_fit value: use perfect|good|marginal|too_tight",
    "runtime": "invalid runtime value: use any|mlx|llamacpp",
    "use_case": "invalid use_case value: use coding|reasoning|chat|multimodal|embedding|general",
    "sort": "invalid sort value: use score|tps|params|mem|ctx|date|use_case",
    "force_runtime": "invalid force_runtime value: use mlx|llamacpp|vllm",
}
# llmfit serve's what-if errors, in the spec's style.
WHAT_IF_ERRORS = {
    "ram_gb": "invalid ram_gb value: expected a positive number",
    "vram_gb": "invalid vram_gb value: expected a non-negative number",
    "cpu_cores": "invalid cpu_cores value: expected a positive integer",
    "gpu": "invalid gpu value: use a known GPU name, e.g. RTX 4090, RTX 3090, A100 80GB, H100 80GB HBM3, "
    "RX 7900 XTX or Apple M2 Max",
}


@dataclass(frozen=True)
class WhatIf:
    """Planned hardware instead of this node's (llmfit serve's overrides): total RAM and per-card VRAM in GB,
    CPU cores, a known GPU by name (`gpu_note`: which variant a name without a memory size stood for)."""

    ram_gb: float | None = None
    vram_gb: float | None = None
    cpu_cores: int | None = None
    gpu: str | None = None
    gpu_note: str | None = None

    def __bool__(self) -> bool:
        return any(value is not None for value in (self.ram_gb, self.vram_gb, self.cpu_cores, self.gpu))

    def filters(self) -> dict[str, Any]:
        return {"ram_gb": self.ram_gb, "vram_gb": self.vram_gb, "cpu_cores": self.cpu_cores, "gpu": self.gpu,
                "gpu_note": self.gpu_note}  # fmt: skip


def what_if_parse(params: dict[str, str]) -> WhatIf:
    """The what-if parameters of a query (`ram_gb` or `ram`, `vram_gb` or `memory`, `cpu_cores`, `gpu`),
    checked as llmfit serve checks them, with its 400 messages; a GPU name becomes the known GPU it
    names (`hardware.gpu_resolve`: "A100" is the 40 GB one, with a note saying so)."""
    ram_gb = _number(params.get("ram_gb", params.get("ram")), "ram_gb", lambda value: value > 0)
    vram_gb = _number(params.get("vram_gb", params.get("memory")), "vram_gb", lambda value: value >= 0)
    cores = _number(params.get("cpu_cores"), "cpu_cores", lambda value: value.is_integer() and 1 <= value <= INT32_MAX)
    gpu = params.get("gpu")
    cpu_cores = None if cores is None else int(cores)
    known = None
    if gpu is not None and gpu.strip():
        known = gpu_resolve(gpu)
        if known is None:
            raise Invalid(WHAT_IF_ERRORS["gpu"])
    if known is None:
        return WhatIf(ram_gb=ram_gb, vram_gb=vram_gb, cpu_cores=cpu_cores)
    sized_by_ram = ram_gb is not None and known.name in MEMORY_VARIANTS  # the machine's memory is given
    note = None if sized_by_ram else known.note
    return WhatIf(ram_gb=ram_gb, vram_gb=vram_gb, cpu_cores=cpu_cores, gpu=known.name, gpu_note=note)


def _number(raw: str | None, name: str, valid: Callable[[float], bool]) -> float | None:
    if raw is None or not raw.strip():
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Invalid(WHAT_IF_ERRORS[name]) from None
    if not math.isfinite(value) or not valid(value):
        raise Invalid(WHAT_IF_ERRORS[name])
    return value


@dataclass(frozen=True)
class ModelQuery:
    """One listing request, validated, with each endpoint's defaults applied."""

    limit: int | None = None
    perfect: bool | None = None
    min_fit: str | None = None
    runtime: str | None = None
    use_case: str | None = None
    provider: str | None = None
    search: str | None = None
    sort: str = "score"
    max_context: int | None = None
    include_too_tight: bool = True
    top_only: bool = False
    force_runtime: str | None = None
    license: str | None = None
    what_if: WhatIf = WhatIf()

    def filters(self) -> dict[str, Any]:
        """The `filters` object echoed in every listing."""
        return {
            "limit": self.limit,
            "perfect": self.perfect,
            "min_fit": self.min_fit,
            "runtime": self.runtime,
            "use_case": self.use_case,
            "provider": self.provider,
            "search": self.search,
            "sort": self.sort,
            "max_context": self.max_context,
            "include_too_tight": self.include_too_tight,
            "top_only": self.top_only,
            "force_runtime": self.force_runtime,
            "license": self.license,
            **self.what_if.filters(),
        }


def choice(name: str, raw: str | None) -> str | None:
    """The canonical value of a choice parameter; the spec's 400 message when it is not one."""
    if raw is None or raw.strip() == "":
        return None
    value = raw.strip().lower()
    value = ALIASES[name].get(value, value)
    if value not in CHOICES[name]:
        raise Invalid(ERRORS[name])
    return value


def model_query(
    *,
    endpoint: str = "models",
    limit: int | None = None,
    perfect: bool | None = None,
    min_fit: str | None = None,
    runtime: str | None = None,
    use_case: str | None = None,
    provider: str | None = None,
    search: str | None = None,
    sort: str | None = None,
    max_context: int | None = None,
    include_too_tight: bool | None = None,
    force_runtime: str | None = None,
    license: str | None = None,
    what_if: WhatIf | None = None,
) -> ModelQuery:
    """Validate a listing's parameters and apply the endpoint's defaults.

    `models`: every model, too-tight ones included (last). `top`: the 5 best runnable models.
    `name`: like `models`, 20 at most, `search` set to the path's name.
    """
    top_only = endpoint == "top"
    default_limit = {"models": None, "top": 5, "name": 20}[endpoint]
    return ModelQuery(
        limit=default_limit if limit is None else limit,
        perfect=perfect,
        min_fit=choice("min_fit", min_fit),
        runtime=choice("runtime", runtime),
        use_case=choice("use_case", use_case),
        provider=provider or None,
        search=search or None,
        sort=choice("sort", sort) or "score",
        max_context=max_context,
        include_too_tight=(not top_only) if include_too_tight is None else include_too_tight,
        top_only=top_only,
        force_runtime=choice("force_runtime", force_runtime),
        license=license or None,
        what_if=what_if or WhatIf(),
    )


def select(fits: list[ModelFit], query: ModelQuery) -> tuple[int, list[ModelFit]]:
    """Filter and sort `fits`; returns (how many matched, the ones within the limit)."""
    kept = [fit for fit in fits if _matches(fit, query)]
    kept.sort(key=_sort_key(query.sort))
    total = len(kept)
    return total, kept if query.limit is None else kept[: query.limit]


def _matches(fit: ModelFit, query: ModelQuery) -> bool:
    model = fit.model
    if query.provider and query.provider.lower() not in model.provider.lower():
        return False
    if query.search:
        needle = query.search.lower()
        haystack = (model.name, model.provider, model.parameter_count, model.use_case,
                    CATEGORY_LABELS.get(model.category, model.category))  # fmt: skip
        if not any(needle in text.lower() for text in haystack):
            return False
    if query.perfect:
        if fit.fit_level != "perfect":
            return False
    elif query.min_fit and FIT_LEVELS.index(fit.fit_level) > FIT_LEVELS.index(query.min_fit):
        return False
    if query.runtime and query.runtime != "any" and fit.runtime != query.runtime:
        return False
    if query.use_case and model.category != query.use_case:
        return False
    if query.license and not license_matches(model.license, query.license):
        return False
    return query.include_too_tight or fit.fit_level != "too_tight"


def _sort_key(sort: str):  # noqa: ANN202  (a key function for list.sort)
    """Runnable models first whatever the column; then the column, best or biggest first; then the score."""

    def key(fit: ModelFit) -> tuple:
        runnable = 0 if fit.fit_level != "too_tight" else 1
        column: tuple
        if sort == "tps":
            column = (-fit.estimated_tps,)
        elif sort == "params":
            column = (-fit.model.params_b,)
        elif sort == "mem":
            column = (-(fit.utilization_pct or 0.0),)
        elif sort == "ctx":
            column = (-fit.usable_context, -fit.model.context_length)  # what fits here, then the native window
        elif sort == "date":
            released = fit.model.release_date
            column = (0, -date.fromisoformat(released).toordinal()) if released else (1, 0)
        elif sort == "use_case":
            column = (CATEGORY_LABELS.get(fit.model.category, fit.model.category),)
        else:
            column = ()
        return (runnable, *column, -fit.score, -fit.estimated_tps, fit.model.name.lower())

    return key
