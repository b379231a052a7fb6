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


def test_fit_levels_follow_the_share_of_the_pool_a_model_needs():
    """llmfit ≥ 1.1.17: perfect ≤ 60 % (GPU only), good ≤ 85 %, marginal ≤ 98 %, else too tight; the model's
    recommended memory no longer decides. Measured against the llmfit 1.1.17 binary with mixtures of experts
    sized at their VRAM minimum on 24 GB: 14.40 perfect, 14.41 good, 20.40 good, 20.41 marginal, 23.52
    marginal, 23.53 too tight, whatever their recommended memory."""
    model = facts("mistralai/Mixtral-8x7B-Instruct-v0.1")
    expected = {
        14.40: "perfect",
        14.41: "good",
        20.40: "good",
        20.41: "marginal",
        23.52: "marginal",
        23.53: "too_tight",
    }
    for minimum, level in expected.items():
        for recommended in (10.0, 100.0):
            sized = replace(model, min_vram_gb=minimum, recommended_ram_gb=recommended)
            assert fit_model(sized, GPU_BOX_24GB, OPTIONS).fit_level == level, (minimum, recommended)
    cpu_only = replace(GPU_BOX_24GB, total_ram_gb=24 / 0.9, available_ram_gb=24.0, gpus=())
    assert fit_model(replace(model, min_ram_gb=14.40), cpu_only, OPTIONS).fit_level == "good"  # never perfect on a CPU


def test_the_best_quant_leaves_two_percent_of_the_pool_free():
    model = facts(QWEN_7B)  # Q8_0 at 8,192 tokens: 8.934 GB
    q8 = memory_required_gb(model, "Q8_0", 8192)
    just_enough = replace(GPU_BOX_24GB, gpus=(Gpu(name="NVIDIA GeForce RTX 4090", vram_gb=q8 / 0.979, backend="CUDA"),))
    too_little = replace(GPU_BOX_24GB, gpus=(Gpu(name="NVIDIA GeForce RTX 4090", vram_gb=q8 / 0.985, backend="CUDA"),))

    assert (fit_model(model, just_enough, OPTIONS).best_quant, fit_model(model, just_enough, OPTIONS).fit_level) == (
        "Q8_0",
        "marginal",
    )
    assert fit_model(model, too_little, OPTIONS).best_quant == "Q6_K"


def test_a_dense_model_too_big_for_vram_spills_to_ram():
    fit = fit_model(facts("meta-llama/Llama-3.3-70B-Instruct"), GPU_BOX_24GB, OPTIONS)

    assert (fit.run_mode, fit.memory_available_gb) == ("cpu_offload", 56.0)
    assert fit.fit_level in {"good", "marginal"} and fit.best_quant == "Q5_K_M"


def test_a_moe_whose_minimum_fits_vram_is_sized_at_that_minimum():
    model = facts("mistralai/Mixtral-8x7B-Instruct-v0.1")  # min_vram 23.9 GB
    fit = fit_model(model, GPU_BOX_24GB, OPTIONS)

    # 23.9 of 24 GB is 99.6 %: over the 98 % llmfit ≥ 1.1.17 allows, so too tight where it used to be marginal.
    assert (fit.run_mode, fit.memory_required_gb, fit.fit_level) == ("gpu", 23.9, "too_tight")


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


def test_a_hybrid_models_linear_layers_keep_no_kv_cache():
    """Qwen3.5/3.6 keep K and V in one layer of four (llmfit's name rules, used for the f16 cache since 1.1.17)."""
    qwen35 = facts("Qwen/Qwen3.5-27B")  # 64 layers × 4 KV heads × 256; 16 of them full attention
    plain = replace(qwen35, name="Qwen/Qwen3-27B-like")

    assert kv_cache_gb(plain, 8192) == pytest.approx(2.0)
    assert kv_cache_gb(qwen35, 8192) == pytest.approx(0.5)
    nine_b = facts("Qwen/Qwen3.5-9B")  # 32 layers: 8 full
    eight_full_layers = 2 * nine_b.num_kv_heads * nine_b.head_dim * 8192 * 2 * 8 / GIB
    assert (nine_b.num_layers, kv_cache_gb(nine_b, 8192)) == (32, pytest.approx(eight_full_layers))


def test_a_quantized_repository_counting_packed_weights_is_sized_by_the_size_its_name_states():
    """llmfit ≥ 1.1.17: an NVFP4/MXFP4/AWQ/GPTQ/W4A16/INT4… repository whose count is under 75 % of the
    size in its name is sized at the name's size (measured: 20B at 14.8 → 20; at 15.0 → 15)."""

    def model(name: str, params: float) -> ModelFacts:
        return ModelFacts(name=name, params_b=params, context_length=8192)

    assert model("RedHatAI/Llama-3.1-8B-Instruct-NVFP4", 4.977).params_b == 8.0
    assert model("acme/Foo-20B-NVFP4", 14.8).params_b == 20.0
    assert model("acme/Foo-20B-NVFP4", 15.0).params_b == 15.0  # 75 %: a real count
    assert model("acme/Foo-20B-A3B-AWQ", 12.0).params_b == 20.0  # A3B is the active size, not the model's
    assert model("acme/Foo-20B-FP8", 12.0).params_b == 12.0  # FP8 is not packed
    assert model("acme/Foo-20B", 12.0).params_b == 12.0  # not a quantized repository
    assert model("google/gemma-4-E4B-it-NVFP4", 3.0).params_b == 3.0  # E4B: an effective size, not stated


def test_gpt_oss_is_sized_and_scored_at_its_native_mxfp4():
    """llmfit ≥ 1.1.17 (measured on the 1.1.17 binary): gpt-oss keeps its released MXFP4 (0.55 bytes per weight
    held, speed ×1.15, no quality penalty); a BF16 re-upload is sized on the GGUF ladder as before."""
    gpt_oss = facts("openai/gpt-oss-20b")  # 3.63 B active
    cpu_16 = replace(LAPTOP_16GB, total_ram_gb=200.0, available_ram_gb=180.0, cpu_cores=16)
    fit = fit_model(gpt_oss, cpu_16, OPTIONS)

    assert (fit.best_quant, fit.memory_required_gb) == ("MXFP4", gpt_oss.min_ram_gb)
    assert fit.estimated_tps == pytest.approx(70 / 3.630142231 * 1.15 * 0.3 * 1.1)  # llmfit: 7.3
    assert fit.score_components["quality"] == 60.0
    assert fit.as_dict()["disk_size_gb"] == pytest.approx(21.511953984 * 0.55, abs=0.01)
    bf16 = fit_model(facts("unsloth/gpt-oss-20b-BF16"), cpu_16, OPTIONS)
    assert bf16.best_quant == "Q8_0"


def test_a_native_nvfp4_repository_reports_its_format_and_is_estimated_on_the_gguf_ladder():
    fit = fit_model(facts("RedHatAI/Llama-3.1-8B-Instruct-NVFP4"), GPU_BOX_24GB, OPTIONS)

    # llmfit 1.1.17 on a 24 GB CUDA card: 9.9 GB (8 B at Q8_0 + 1.0 KV + 0.5), perfect, quality 83.3; its
    # best_quant is null ("the GGUF quant label does not apply"), Modelyard names the weights' format.
    assert (fit.best_quant, fit.sized_at, fit.fit_level) == ("NVFP4", "Q8_0", "perfect")
    assert fit.memory_required_gb == pytest.approx(8.0 * 1.05 + 1.0 + 0.5)
    assert fit.score_components["quality"] == pytest.approx(83.3)
    assert fit.as_dict()["disk_size_gb"] == pytest.approx(8.4)


def test_autoround_weights_hold_half_a_byte_per_weight():
    fit = fit_model(facts("winninghealth/olmOCR-2-7B-1025-INT4"), GPU_BOX_24GB, OPTIONS)

    assert fit.best_quant == "AutoRound-4bit"
    assert fit.memory_required_gb == pytest.approx(7.6152832 * 0.5 + 0.4375 + 0.5)  # llmfit 1.1.17: 4.75
