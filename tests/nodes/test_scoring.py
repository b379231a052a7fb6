"""Fit and score on fixed hardware: llmfit's method, each rule checked on its own (the whole against
hand-derived values is in test_parity.py)."""

from dataclasses import replace
from datetime import date
from functools import cache

import pytest

from apps.nodes.catalog import catalog_read
from apps.nodes.hardware import Gpu, Hardware, hardware_what_if
from apps.nodes.scoring import (
    FitOptions,
    ModelFacts,
    best_quant_for_budget,
    compatible,
    context_score,
    fit_model,
    fit_score,
    kv_cache_gb,
    license_matches,
    memory_required_gb,
    model_generation,
    quality_score,
    recency_bonus,
    task_benchmark,
    usable_context,
    weighted_score,
)
from tests.nodes.profiles import GPU_BOX_24GB, LAPTOP_16GB, SERVER_2X80GB

GIB = 1024**3
TODAY = date(2026, 11, 30)
OPTIONS = FitOptions(today=TODAY)


@cache
def catalog_entries() -> dict[str, dict]:
    return {entry["name"]: entry for entry in catalog_read()[1]}


def facts(name: str, **changes) -> ModelFacts:
    entry = dict(catalog_entries()[name])
    for unused in ("kv_lora_rank", "qk_rope_head_dim"):
        entry.pop(unused)
    entry["release_date"] = entry["release_date"].isoformat() if entry["release_date"] else None
    entry["gguf_sources"] = ()
    entry["capabilities"] = tuple(entry["capabilities"])
    return replace(ModelFacts(**entry), **changes)


QWEN_7B = "Qwen/Qwen2.5-7B-Instruct"  # 7.6156 B, 28 layers, 4 KV heads of 128
KV_QWEN_7B_8K = 28 * 2 * 4 * 128 * 8192 * 2 / GIB  # 0.4375 GiB


# --- memory --------------------------------------------------------------------------------------


def test_memory_is_weights_plus_kv_cache_plus_half_a_gigabyte():
    model = facts(QWEN_7B)

    assert memory_required_gb(model, "Q4_K_M", 8192) == pytest.approx(7.615616512 * 0.58 + KV_QWEN_7B_8K + 0.5)
    assert memory_required_gb(model, "Q8_0", 8192) == pytest.approx(7.615616512 * 1.05 + 0.4375 + 0.5)


def test_a_quantized_kv_cache_is_a_half_or_a_quarter_of_f16():
    model = facts(QWEN_7B)

    assert kv_cache_gb(model, 8192) == pytest.approx(0.4375)
    assert kv_cache_gb(model, 8192, "q8_0") == pytest.approx(0.4375 / 2)
    assert kv_cache_gb(model, 8192, "q4_0") == pytest.approx(0.4375 / 4)


def test_without_layers_or_head_dim_the_kv_cache_falls_back_to_the_parameter_rule():
    model = ModelFacts(name="someone/unknown-7b", params_b=7.0, context_length=4096, num_layers=32)

    assert kv_cache_gb(model, 4096) == pytest.approx(0.000008 * 7.0 * 4096)


def test_without_kv_heads_the_query_heads_size_the_cache():
    model = ModelFacts(name="a/b", params_b=1.0, context_length=4096, num_layers=2, head_dim=64, num_attention_heads=4)

    assert kv_cache_gb(model, 1024) == pytest.approx(2 * 4 * 64 * 1024 * 2 * 2 / GIB)


def test_the_best_quant_is_the_first_of_the_ladder_that_fits_then_at_half_context():
    model = facts(QWEN_7B)
    q4_full = memory_required_gb(model, "Q4_K_M", 8192)
    q2_half = memory_required_gb(model, "Q2_K", 4096)

    assert best_quant_for_budget(model, 100, 8192, ("Q8_0", "Q4_K_M")) == ("Q8_0", pytest.approx(8.9339, abs=1e-4))
    assert best_quant_for_budget(model, q4_full, 8192, ("Q8_0", "Q4_K_M")) == ("Q4_K_M", q4_full)
    assert best_quant_for_budget(model, q2_half, 8192, ("Q4_K_M", "Q2_K")) == ("Q2_K", q2_half)
    tiny = memory_required_gb(model, "Q2_K", 1023)
    assert best_quant_for_budget(model, tiny, 2046, ("Q4_K_M", "Q2_K")) is None  # no retry below 1024 tokens


# --- paths and fit levels --------------------------------------------------------------------------


def test_a_cpu_only_fit_is_good_at_best_and_runs_at_three_tenths_speed():
    fit = fit_model(facts(QWEN_7B), LAPTOP_16GB, OPTIONS)

    assert (fit.run_mode, fit.fit_level, fit.best_quant) == ("cpu", "good", "Q8_0")
    assert fit.estimated_tps == pytest.approx(70 / 7.615616512 * 0.8 * 1.1 * 0.3)  # 8 cores: ×1.1
    assert fit.estimate_basis["method"] == "cpu_constant"


def test_perfect_needs_a_gpu_and_the_models_recommended_memory():
    model = facts(QWEN_7B)  # recommended 7.1 GB in llmfit's database

    assert fit_model(model, GPU_BOX_24GB, OPTIONS).fit_level == "perfect"
    assert fit_model(replace(model, recommended_ram_gb=30.0), GPU_BOX_24GB, OPTIONS).fit_level == "good"


def test_a_dense_model_too_big_for_vram_spills_to_ram():
    fit = fit_model(facts("meta-llama/Llama-3.3-70B-Instruct"), GPU_BOX_24GB, OPTIONS)

    assert (fit.run_mode, fit.memory_available_gb) == ("cpu_offload", 56.0)
    assert fit.fit_level in {"good", "marginal"} and fit.best_quant == "Q5_K_M"


def test_a_moe_whose_minimum_fits_vram_is_sized_at_that_minimum():
    model = facts("mistralai/Mixtral-8x7B-Instruct-v0.1")  # min_vram 23.9 GB
    fit = fit_model(model, GPU_BOX_24GB, OPTIONS)

    assert (fit.run_mode, fit.memory_required_gb, fit.fit_level) == ("gpu", 23.9, "marginal")


def test_a_moe_too_big_for_vram_keeps_its_active_experts_on_the_gpu():
    model = facts("mistralai/Mixtral-8x7B-Instruct-v0.1")  # 46.7 B, 12.9 B active; Q2_K alone needs 18.8 GB
    box_16gb = replace(GPU_BOX_24GB, gpus=(Gpu(name="NVIDIA GeForce RTX 4080", vram_gb=16.0, backend="CUDA"),))
    fit = fit_model(model, box_16gb, OPTIONS)

    # Q8_0: active experts 12.9e9 × 1.05 B / 2³⁰ × 1.1 = 13.87 GiB ≤ 16; the others 33.8e9 × 1.05 B = 33.05 GiB ≤ 56.
    assert (fit.run_mode, fit.memory_required_gb) == ("moe_offload", pytest.approx(12.9e9 * 1.05 / GIB * 1.1))
    assert fit.moe_offloaded_gb == pytest.approx((46.702792704 - 12.9) * 1e9 * 0.58 / GIB)  # at the catalog's Q4_K_M
    assert fit.estimate_basis["ddr_bandwidth_gbps"] == 50.0
    # 716.8 GB/s (RTX 4080): 1 / (12.9 × 0.5 / 50 + 12.9 × 0.5 / (717 × 0.55)) × 0.8 tokens/s
    assert fit.estimated_tps == pytest.approx(0.8 / (6.45 / 50 + 6.45 / (717 * 0.55)))


def test_a_moe_on_a_cpu_is_sized_at_its_ram_minimum():
    fit = fit_model(facts("openai/gpt-oss-20b"), LAPTOP_16GB, OPTIONS)

    assert (fit.run_mode, fit.memory_required_gb) == ("cpu", 12.0)


def test_a_gpu_whose_memory_cannot_be_read_is_sized_on_the_cpu():
    unknown = replace(GPU_BOX_24GB, gpus=(Gpu(name="Mystery GPU", vram_gb=None, backend="CUDA"),))

    assert fit_model(facts(QWEN_7B), unknown, OPTIONS).run_mode == "cpu"


def test_two_gpus_pool_their_vram_and_one_bandwidth_estimate():
    fit = fit_model(facts("meta-llama/Llama-3.3-70B-Instruct"), SERVER_2X80GB, OPTIONS)

    assert (fit.run_mode, fit.memory_available_gb, fit.fit_level) == ("gpu", 160.0, "perfect")
    assert fit.estimate_basis == {
        "method": "gpu_bandwidth_roofline",
        "gpu_bandwidth_gbps": 3350,
        "ddr_bandwidth_gbps": None,
        "efficiency": 0.55,
        "assumed_context": 8192,
    }


def test_an_unknown_gpu_uses_the_backend_constant():
    box = replace(GPU_BOX_24GB, gpus=(Gpu(name="Some Future GPU", vram_gb=24.0, backend="CUDA"),))
    fit = fit_model(facts(QWEN_7B), box, OPTIONS)

    assert fit.estimate_basis["method"] == "backend_constant"
    assert fit.estimated_tps == pytest.approx(220 / 7.615616512 * 0.8 * 1.1)


def test_force_runtime_replaces_the_automatic_choice():
    mac = Hardware(total_ram_gb=64, available_ram_gb=40, cpu_cores=12, cpu_name="Apple M2 Max", cpu_arch="arm64",
                   gpus=(Gpu(name="Apple M2 Max", vram_gb=64.0, backend="Metal", unified_memory=True),))  # fmt: skip

    assert fit_model(facts(QWEN_7B), mac, OPTIONS).best_quant == "mlx-8bit"
    forced = fit_model(facts(QWEN_7B), mac, replace(OPTIONS, force_runtime="llamacpp"))
    assert (forced.runtime, forced.best_quant) == ("llamacpp", "Q8_0")


def test_weights_that_only_run_elsewhere_are_not_listed():
    awq = facts(QWEN_7B, weight_format="awq", quantization="AWQ-4bit")
    mlx = replace(facts(QWEN_7B), name="mlx-community/Qwen2.5-7B-Instruct-MLX-4bit")

    assert not compatible(awq, LAPTOP_16GB) and compatible(awq, GPU_BOX_24GB)
    assert not compatible(mlx, GPU_BOX_24GB)
    assert fit_model(awq, GPU_BOX_24GB, OPTIONS).runtime == "vllm"


def test_usable_context_is_what_fits_beside_the_weights_up_to_the_window():
    model = facts(QWEN_7B)
    per_token = KV_QWEN_7B_8K / 8192

    assert usable_context(model, "Q8_0", 10.0) == int((10.0 - 7.615616512 * 1.05 - 0.5) / per_token)
    assert usable_context(model, "Q8_0", 100.0) == 32768
    assert usable_context(model, "Q8_0", 1.0) == 0


# --- what-if hardware ----------------------------------------------------------------------------


def test_what_if_ram_counts_ninety_percent_available_and_vram_adds_a_gpu():
    planned = hardware_what_if(LAPTOP_16GB, ram_gb=64, vram_gb=24, cpu_cores=16)

    assert (planned.total_ram_gb, planned.available_ram_gb, planned.cpu_cores) == (64, 57.6, 16)
    assert (planned.gpu_name, planned.gpu_vram_gb, planned.backend) == ("User-specified GPU", 24, "CUDA")


def test_what_if_gpu_names_a_known_card():
    planned = hardware_what_if(LAPTOP_16GB, gpu="rtx4090")

    assert (planned.gpu_name, planned.gpu_vram_gb, planned.backend) == ("NVIDIA GeForce RTX 4090", 24.0, "CUDA")
    apple = hardware_what_if(LAPTOP_16GB, gpu="Apple M2 Max", ram_gb=96)
    assert (apple.unified_memory, apple.gpu_vram_gb, apple.backend) == (True, 96, "Metal")
    with pytest.raises(ValueError):
        hardware_what_if(LAPTOP_16GB, gpu="Voodoo 5")


# --- scores --------------------------------------------------------------------------------------


def test_fit_score_is_full_up_to_70_percent_then_falls_off_as_a_gaussian():
    assert fit_score(7, 10) == 100.0
    assert fit_score(9, 10) == pytest.approx(100 * 2.718281828 ** (-0.5))
    assert fit_score(11, 10) == 0.0


def test_context_score_uses_the_native_window_against_the_use_case_target():
    assert (context_score(8192, "coding"), context_score(4096, "coding"), context_score(2048, "coding")) == (
        100.0,
        70.0,
        30.0,
    )


def test_quality_counts_active_params_family_generation_recency_quant_and_benchmarks():
    qwen = facts(QWEN_7B)  # 75 (7–10 B) + 2 (qwen) + 4.5 (generation 2.5) + 0 (2024) − 5 (Q4_K_M); chat: no bench row
    moe = facts("openai/gpt-oss-20b")  # tier from 3.6 B active: 60; no family; gpt_oss has no generation

    assert quality_score(qwen, "Q4_K_M", TODAY) == pytest.approx(76.5)
    assert quality_score(moe, "Q8_0", TODAY) == 60.0
    assert quality_score(replace(qwen, release_date="2026-10-01"), "Q4_K_M", TODAY) == pytest.approx(79.5)


def test_recency_counts_whole_months():
    assert recency_bonus("2026-09-15", TODAY) == 3.0  # 2 months
    assert recency_bonus("2026-03-01", TODAY) == 1.5  # 8 months
    assert recency_bonus("2026-02-28", TODAY) == 0.0  # 9 months
    assert recency_bonus(None, TODAY) == 0.0


def test_generations_come_from_the_architecture_then_the_name():
    assert model_generation("qwen3_moe", "Qwen/Qwen3-30B-A3B") == 3.0
    assert model_generation("qwen3_5", "Qwen/Qwen3.6-35B") == 3.6
    assert model_generation("llama", "meta-llama/Llama-3.1-8B") == 3.1
    assert model_generation("gemma3", "google/gemma-3-4b-it") == 3.0
    assert model_generation("", "someone/model") is None


def test_the_longest_benchmark_pattern_wins():
    assert task_benchmark("qwen/qwen2.5-coder-7b-instruct", "coding") == 90
    assert task_benchmark("qwen/qwen3-8b", "coding") == 78
    assert task_benchmark("acme/custom", "coding") is None


def test_the_score_is_rounded_half_away_from_zero():
    assert weighted_score({"quality": 80.25, "speed": 0.0, "fit": 0.0, "context": 0.0}, "chat") == 32.1


def test_licenses_match_any_of_a_comma_separated_list():
    assert license_matches("apache-2.0", "MIT, Apache-2.0")
    assert license_matches("llama3.1,other", "llama3.1")
    assert not license_matches("", "mit")
