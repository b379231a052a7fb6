"""Fit and score on fixed hardware: expected modes, quants, fit levels and numbers, worked out by hand."""

from dataclasses import replace
from functools import cache

import pytest

from apps.nodes.catalog import catalog_read
from apps.nodes.hardware import Gpu, Hardware
from apps.nodes.scoring import (
    FitOptions,
    ModelFacts,
    context_score,
    fit_model,
    fit_score,
    kv_cache_gb,
    memory_required_gb,
    quality_score,
    speed_score,
    weighted_score,
)
from tests.nodes.profiles import GPU_BOX_24GB, LAPTOP_16GB, MAC_64GB, SERVER_2X80GB


@cache
def catalog_entries() -> dict[str, dict]:
    return {entry["name"]: entry for entry in catalog_read()[1]}


def facts(name: str) -> ModelFacts:
    entry = dict(catalog_entries()[name])
    entry.pop("architecture")
    entry["release_date"] = entry["release_date"].isoformat() if entry["release_date"] else None
    entry["gguf_sources"] = tuple(entry["gguf_sources"])
    return ModelFacts(**entry)


QWEN_7B = "Qwen/Qwen2.5-7B-Instruct"  # 7.62B, 28 layers, 4 KV heads of 128
LLAMA_70B = "meta-llama/Llama-3.3-70B-Instruct"  # 70.55B, 80 layers, 8 KV heads of 128
KV_QWEN_7B_8K = 28 * 2 * 4 * 128 * 8192 * 2 / 1e9  # 0.470 GB
KV_LLAMA_70B_8K = 80 * 2 * 8 * 128 * 8192 * 2 / 1e9  # 2.684 GB


# --- memory --------------------------------------------------------------------------------------


def test_memory_is_weights_plus_kv_cache_plus_half_a_gigabyte():
    model = facts(QWEN_7B)

    assert memory_required_gb(model, "Q4_K_M", 8192) == pytest.approx(7.62 * 0.58 + KV_QWEN_7B_8K + 0.5)
    assert memory_required_gb(model, "Q8_0", 8192) == pytest.approx(7.62 * 1.05 + KV_QWEN_7B_8K + 0.5)
    assert memory_required_gb(model, "Q4_K_M", 8192) == pytest.approx(5.389, abs=0.001)


def test_a_quantized_kv_cache_is_a_half_or_a_quarter_of_f16():
    model = facts("meta-llama/Llama-3.1-8B-Instruct")
    f16 = 32 * 2 * 8 * 128 * 8192 * 2 / 1e9

    assert kv_cache_gb(model, 8192) == pytest.approx(f16)
    assert kv_cache_gb(model, 8192, "q8_0") == pytest.approx(f16 * 0.5)
    assert kv_cache_gb(model, 8192, "fp8") == pytest.approx(f16 * 0.5)
    assert kv_cache_gb(model, 8192, "q4_0") == pytest.approx(f16 * 0.25)


def test_multi_head_latent_attention_caches_one_latent_per_layer():
    # DeepSeek V3: 61 layers × (512 latent + 64 rotary) elements per token, no separate K and V.
    assert kv_cache_gb(facts("deepseek-ai/DeepSeek-V3"), 8192) == pytest.approx(61 * 576 * 8192 * 2 / 1e9)


def test_without_layer_facts_the_kv_cache_falls_back_to_the_parameter_rule():
    model = ModelFacts(name="someone/unknown-7b", params_b=7.0, context_length=4096)

    assert kv_cache_gb(model, 4096) == pytest.approx(0.000008 * 7.0 * 4096)
    assert kv_cache_gb(model, 4096, "q4_0") == pytest.approx(0.000008 * 7.0 * 4096 * 0.25)


def test_a_kv_cache_type_the_runtime_lacks_is_sized_as_f16_and_said_so():
    fit = fit_model(facts(QWEN_7B), GPU_BOX_24GB, FitOptions(kv_cache_type="fp8"))
    q8 = fit_model(facts(QWEN_7B), GPU_BOX_24GB, FitOptions(kv_cache_type="q8_0"))

    assert any("KV cache fp8 is not supported by llama.cpp" in note for note in fit.notes)
    assert fit.memory_required_gb == pytest.approx(7.62 * 1.05 + KV_QWEN_7B_8K + 0.5)
    assert q8.memory_required_gb == pytest.approx(7.62 * 1.05 + KV_QWEN_7B_8K / 2 + 0.5)


# --- the 24 GB GPU box ---------------------------------------------------------------------------


def test_a_7b_fits_a_24gb_gpu_perfectly_at_the_best_quant():
    fit = fit_model(facts(QWEN_7B), GPU_BOX_24GB)

    assert (fit.run_mode, fit.best_quant, fit.fit_level, fit.runtime) == ("gpu", "Q8_0", "perfect", "llamacpp")
    assert fit.memory_required_gb == pytest.approx(8.971, abs=0.001)
    assert fit.memory_available_gb == 24.0
    # RTX 4090: 1008 GB/s ÷ (7.62 B × 1.05 bytes) × 0.55
    assert fit.estimated_tps == pytest.approx(1008 / (7.62 * 1.05) * 0.55)
    assert fit.score_components == {"quality": 77.0, "speed": 100.0, "fit": 100.0, "context": 100.0}
    assert fit.score == pytest.approx(0.45 * 77 + 0.30 * 100 + 0.15 * 100 + 0.10 * 100, abs=0.05)
    # Its Q4_K_M file, the usual download, would leave even more room: well within "perfect".
    assert memory_required_gb(facts(QWEN_7B), "Q4_K_M", 8192) * 1.5 <= 24.0


def test_a_70b_spills_from_a_24gb_gpu_into_ram_and_is_only_marginal():
    fit = fit_model(facts(LLAMA_70B), GPU_BOX_24GB)

    # Q8_0 needs 70.55 × 1.05 + 2.68 + 0.5 = 77.3 GB: not in 24 GB of VRAM, but in VRAM + 56 GB of free RAM.
    assert (fit.run_mode, fit.best_quant, fit.fit_level) == ("cpu_offload", "Q8_0", "marginal")
    assert fit.memory_required_gb == pytest.approx(70.55 * 1.05 + KV_LLAMA_70B_8K + 0.5)
    assert fit.memory_available_gb == 24.0 + 56.0
    assert fit.estimated_tps == pytest.approx(1008 / (70.55 * 1.05) * 0.55 * 0.5)
    assert any("layers spill to system RAM" in note for note in fit.notes)


def test_a_moe_too_big_for_vram_keeps_its_active_experts_on_the_gpu():
    fit = fit_model(facts("openai/gpt-oss-120b"), GPU_BOX_24GB)

    # Whole model at Q2_K: 116.83 × 0.37 + KV + 0.5 = 44 GB > 24 GB. Offloading the 111.7 B inactive
    # parameters needs RAM: Q4_K_M 64.8 GB > 56 GB free, Q3_K_M 53.6 GB fits.
    kv = 36 * 2 * 8 * 64 * 8192 * 2 / 1e9
    assert (fit.run_mode, fit.best_quant, fit.fit_level) == ("moe_offload", "Q3_K_M", "good")
    assert fit.memory_required_gb == pytest.approx(5.13 * 0.48 + kv + 0.5)
    assert fit.moe_offloaded_gb == pytest.approx((116.83 - 5.13) * 0.48)
    assert fit.estimated_tps == pytest.approx(1008 / (5.13 * 0.48) * 0.55 * 0.8)  # active parameters only
    assert any("Rated good, not perfect: MoE offload" in note for note in fit.notes)
    # Q8_0's active experts (6.5 GB) fit the GPU; its other experts do not fit the free RAM.
    assert (
        "Quantized down to Q3_K_M: at Q8_0 the active experts need 6.5 GB of 24.0 GB of VRAM "
        "and the offloaded experts 117.3 GB of 56.0 GB of free RAM"
    ) in fit.notes


# --- the 16 GB laptop without a GPU --------------------------------------------------------------


def test_a_70b_dense_model_does_not_fit_a_16gb_laptop():
    fit = fit_model(facts(LLAMA_70B), LAPTOP_16GB)

    assert (fit.fit_level, fit.run_mode, fit.best_quant) == ("too_tight", "cpu", "Q2_K")
    # The least it could need: Q2_K at half the context.
    kv_4k = KV_LLAMA_70B_8K / 2
    assert fit.memory_required_gb == pytest.approx(70.55 * 0.37 + kv_4k + 0.5)
    assert fit.memory_available_gb == 12.0
    assert fit.score_components["fit"] == 0.0
    assert any(
        note.startswith("Too large: needs at least 27.9 GB at Q2_K with a 4096-token context, 12.0 GB available")
        for note in fit.notes
    )


def test_a_7b_runs_on_the_laptop_cpu_and_is_never_rated_perfect():
    fit = fit_model(facts(QWEN_7B), LAPTOP_16GB)
    small = fit_model(facts("Qwen/Qwen2.5-0.5B-Instruct"), LAPTOP_16GB)

    assert (fit.run_mode, fit.best_quant, fit.fit_level) == ("cpu", "Q8_0", "good")  # 12 ≥ 1.2 × 8.97
    # CPU (x86) K = 70, Q8_0 speed factor 0.8; the CPU constant is not slowed again by the CPU mode factor.
    assert fit.estimated_tps == pytest.approx(70 / 7.62 * 0.8)
    assert small.fit_level == "good"
    assert any("Rated good, not perfect: CPU" in note for note in small.notes)
    assert any("No GPU" in note for note in fit.notes)


def test_a_model_that_fits_only_at_a_lower_quant_says_so():
    fit = fit_model(facts("Qwen/Qwen2.5-14B-Instruct"), LAPTOP_16GB)

    # Q8_0: 14.77 × 1.05 + 1.61 + 0.5 = 17.6 GB > 12; Q5_K_M: 14.77 × 0.68 + 1.61 + 0.5 = 12.2 > 12; Q4_K_M fits.
    assert fit.best_quant == "Q4_K_M"
    assert fit.score_components["quality"] == 82 + 2 - 5
    assert any(note.startswith("Quantized down to Q4_K_M: Q8_0 needs 17.6 GB, 12.0 GB available") for note in fit.notes)


def test_an_embedding_model_scores_against_the_embedding_targets():
    fit = fit_model(facts("BAAI/bge-small-en-v1.5"), LAPTOP_16GB)

    assert fit.fit_level == "good"
    assert fit.estimated_tps == pytest.approx(70 / 0.0334 * 0.8)
    assert fit.score_components["speed"] == 100.0  # far above the 200 tok/s embedding target
    assert fit.score_components["context"] == 100.0  # 512 tokens is the embedding target
    assert fit.score_components["quality"] == 30.0


# --- the 64 GB unified-memory Mac ----------------------------------------------------------------


def test_a_mac_runs_mlx_in_the_share_of_unified_memory_the_gpu_may_use():
    fit = fit_model(facts(LLAMA_70B), MAC_64GB)

    # The GPU may use 75 % of 64 GB = 48 GB. mlx-6bit needs 57 GB; mlx-4bit 70.55 × 0.5625 + 2.68 + 0.5 = 42.9.
    assert (fit.runtime, fit.run_mode, fit.best_quant, fit.fit_level) == ("mlx", "gpu", "mlx-4bit", "marginal")
    assert fit.memory_available_gb == pytest.approx(48.0)
    assert fit.memory_required_gb == pytest.approx(70.55 * 0.5625 + KV_LLAMA_70B_8K + 0.5)
    # Apple M2 Max: 400 GB/s.
    assert fit.estimated_tps == pytest.approx(400 / (70.55 * 0.5625) * 0.55)
    assert any("Unified memory: the GPU may use 48.0 GB of 64.0 GB" in note for note in fit.notes)


def test_a_moe_on_unified_memory_keeps_every_expert_in_the_shared_pool():
    fit = fit_model(facts("Qwen/Qwen3-30B-A3B"), MAC_64GB)

    kv = 48 * 2 * 4 * 128 * 8192 * 2 / 1e9
    assert (fit.run_mode, fit.best_quant, fit.fit_level) == ("gpu", "mlx-8bit", "good")
    assert fit.memory_required_gb == pytest.approx(30.53 * 1.0625 + kv + 0.5)
    assert fit.estimated_tps == pytest.approx(400 / (3.34 * 1.0625) * 0.55)


def test_the_context_is_halved_when_nothing_fits_at_the_full_context():
    fit = fit_model(facts("meta-llama/Llama-3.1-70B-Instruct"), MAC_64GB, FitOptions(context_limit=131072))

    # At 131072 tokens the KV cache alone is 42.9 GB. At 65536 (21.5 GB), mlx-2bit fits in 48 GB.
    assert (fit.best_quant, fit.context) == ("mlx-2bit", 65536)
    assert fit.memory_required_gb == pytest.approx(70.55 * 0.3125 + KV_LLAMA_70B_8K * 8 + 0.5)
    assert "Context halved to 65536 tokens to fit" in fit.notes
    assert fit.score_components["context"] == 100.0  # 65536 tokens still beat the 4096 target


# --- the 2 × 80 GB server ------------------------------------------------------------------------


def test_a_70b_fits_one_h100_of_the_server_perfectly():
    fit = fit_model(facts(LLAMA_70B), SERVER_2X80GB)

    assert (fit.run_mode, fit.best_quant, fit.fit_level) == ("gpu", "Q8_0", "perfect")
    assert fit.memory_available_gb == 160.0  # both cards together
    assert fit.estimated_tps == pytest.approx(3350 / (70.55 * 1.05) * 0.55)


def test_a_405b_is_split_across_both_gpus():
    fit = fit_model(facts("meta-llama/Llama-3.1-405B-Instruct"), SERVER_2X80GB)

    kv = 126 * 2 * 8 * 128 * 8192 * 2 / 1e9
    assert (fit.run_mode, fit.best_quant, fit.fit_level) == ("tensor_parallel", "Q2_K", "marginal")
    assert fit.memory_required_gb == pytest.approx(405.85 * 0.37 + kv + 0.5)
    assert fit.estimated_tps == pytest.approx(3350 / (405.85 * 0.37) * 0.55 * 0.9)
    assert "Split across 2 GPUs (160.0 GB of VRAM together)" in fit.notes


def test_deepseek_r1_offloads_its_experts_to_the_servers_ram():
    fit = fit_model(facts("deepseek-ai/DeepSeek-R1"), SERVER_2X80GB)

    # Whole at Q2_K: 671 × 0.37 = 248 GB > 160. Inactive experts (634 B) fit in 480 GB of RAM from Q5_K_M down.
    mla_kv = 61 * 576 * 8192 * 2 / 1e9
    assert (fit.run_mode, fit.best_quant, fit.fit_level) == ("moe_offload", "Q5_K_M", "good")
    assert fit.memory_required_gb == pytest.approx(37 * 0.68 + mla_kv + 0.5)
    assert fit.moe_offloaded_gb == pytest.approx(634 * 0.68)
    assert fit.estimated_tps == pytest.approx(3350 / (37 * 0.68) * 0.55 * 0.8)


# --- GPU detection pitfalls ----------------------------------------------------------------------


def test_mixed_gpus_pool_their_vram_and_run_at_the_pace_of_the_slowest():
    mixed = replace(
        GPU_BOX_24GB,
        gpus=(Gpu("NVIDIA GeForce RTX 4090", 24.0, "CUDA"), Gpu("NVIDIA GeForce RTX 3090", 24.0, "CUDA")),
    )
    fit = fit_model(facts("Qwen/Qwen2.5-32B-Instruct"), mixed)

    assert (mixed.gpu_count, mixed.total_gpu_vram_gb) == (2, 48.0)
    # Q8_0: 32.76 × 1.05 + 2.15 + 0.5 = 37.05 GB: more than one card, less than both.
    assert (fit.run_mode, fit.best_quant) == ("tensor_parallel", "Q8_0")
    assert fit.estimated_tps == pytest.approx(936 / (32.76 * 1.05) * 0.55 * 0.9)


def test_an_unknown_gpu_uses_the_backend_constant():
    unknown = replace(GPU_BOX_24GB, gpus=(Gpu("NVIDIA Mystery Card", 24.0, "CUDA"),))
    rocm = replace(GPU_BOX_24GB, gpus=(Gpu("AMD Radeon Mystery", 24.0, "ROCm"),))

    assert fit_model(facts(QWEN_7B), unknown).estimated_tps == pytest.approx(220 / 7.62 * 0.8)
    assert fit_model(facts(QWEN_7B), rocm).estimated_tps == pytest.approx(180 / 7.62 * 0.8)


def test_a_gpu_whose_memory_cannot_be_read_is_sized_on_the_cpu():
    blind = replace(GPU_BOX_24GB, gpus=(Gpu("NVIDIA GeForce RTX 4090", None, "CUDA"),))
    fit = fit_model(facts(QWEN_7B), blind)

    assert (fit.run_mode, fit.memory_available_gb) == ("cpu", 56.0)
    assert fit.estimated_tps == pytest.approx(220 * 0.3 / 7.62 * 0.8)  # the GPU's constant, at CPU pace
    assert any("GPU memory could not be read" in note for note in fit.notes)


def test_an_arm_cpu_uses_its_own_constant():
    arm = Hardware(total_ram_gb=16, available_ram_gb=12, cpu_cores=8, cpu_name="Cortex-A76", cpu_arch="aarch64")
    assert arm.backend == "CPU (ARM)"
    assert fit_model(facts(QWEN_7B), arm).estimated_tps == pytest.approx(90 / 7.62 * 0.8)


# --- score pieces --------------------------------------------------------------------------------


def test_fit_score_is_full_up_to_70_percent_then_falls_off_as_a_gaussian():
    assert fit_score(7.0, 10.0) == 100.0
    assert fit_score(9.0, 10.0) == pytest.approx(100 * 2.718281828 ** (-(0.2**2) / (2 * 0.2**2)))
    assert fit_score(10.0, 10.0) == pytest.approx(32.47, abs=0.01)
    assert fit_score(11.0, 10.0) == 0.0


def test_speed_and_context_scores_use_the_targets_of_the_use_case():
    assert speed_score(20.0, "general") == 50.0
    assert speed_score(20.0, "reasoning") == 80.0
    assert speed_score(100.0, "embedding") == 50.0
    assert [context_score(tokens, "coding") for tokens in (8192, 4096, 2048)] == [100.0, 70.0, 30.0]
    assert [context_score(tokens, "chat") for tokens in (4096, 2048, 1024)] == [100.0, 70.0, 30.0]
    assert context_score(256, "embedding") == 70.0


def test_quality_counts_size_family_quant_and_task():
    coder = facts("Qwen/Qwen2.5-Coder-32B-Instruct")
    reasoner = facts("deepseek-ai/DeepSeek-R1-Distill-Qwen-14B")

    assert quality_score(coder, "Q4_K_M") == 89 + 2 - 5 + 6
    assert quality_score(reasoner, "Q8_0") == 82 + 2 + 5  # "qwen" is matched before "deepseek"
    assert quality_score(facts("microsoft/phi-4"), "Q2_K") == 82 + 0 - 12


def test_weights_differ_by_use_case():
    components = {"quality": 80.0, "speed": 50.0, "fit": 100.0, "context": 100.0}

    assert weighted_score(components, "chat") == pytest.approx(0.40 * 80 + 0.35 * 50 + 0.15 * 100 + 0.10 * 100)
    assert weighted_score(components, "embedding") == pytest.approx(0.30 * 80 + 0.40 * 50 + 0.20 * 100 + 0.10 * 100)
    assert weighted_score(components, "reasoning") == pytest.approx(0.55 * 80 + 0.15 * 50 + 0.15 * 100 + 0.15 * 100)
