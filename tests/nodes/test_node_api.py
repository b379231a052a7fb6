"""The node surface (port 8787): specs/node-fit-api.txt — every field, filter, sort, default and error."""

import socket
from datetime import date

import psutil
import pytest
from django.utils import timezone

from apps.nodes.models import CatalogModel
from tests.nodes.profiles import GPU_BOX_24GB, LAPTOP_16GB, MAC_64GB

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalog")]

NODE_PORT = 8787
SYSTEM_FIELDS = {
    "total_ram_gb",
    "available_ram_gb",
    "cpu_cores",
    "cpu_name",
    "has_gpu",
    "gpu_vram_gb",
    "gpu_name",
    "gpu_count",
    "unified_memory",
    "backend",
    "gpus",
}
MODEL_FIELDS = {
    "name",
    "provider",
    "parameter_count",
    "params_b",
    "context_length",
    "use_case",
    "category",
    "release_date",
    "is_moe",
    "fit_level",
    "fit_label",
    "run_mode",
    "run_mode_label",
    "score",
    "score_components",
    "estimated_tps",
    "runtime",
    "runtime_label",
    "best_quant",
    "memory_required_gb",
    "memory_available_gb",
    "utilization_pct",
    "notes",
    "gguf_sources",
}
LLMFIT_EXTRA_FIELDS = {
    "usable_context",
    "effective_context_length",
    "capabilities",
    "license",
    "disk_size_gb",
    "estimate_basis",
    "moe_offloaded_gb",
    "total_memory_gb",
}
FILTER_FIELDS = {
    "limit",
    "perfect",
    "min_fit",
    "runtime",
    "use_case",
    "provider",
    "search",
    "sort",
    "max_context",
    "include_too_tight",
    "top_only",
}
RANK = {"perfect": 0, "good": 1, "marginal": 2, "too_tight": 3}


def get(client, path: str, **params):
    return client.get(path, params, SERVER_PORT=NODE_PORT)


@pytest.fixture
def gpu_box(use_hardware):
    return use_hardware(GPU_BOX_24GB)


# --- /api/v1/system ------------------------------------------------------------------------------


def test_system_reports_the_node_and_its_hardware_in_the_spec_shape(client, gpu_box, settings):
    settings.MODELYARD_NODE_NAME = "worker-1"
    body = get(client, "/api/v1/system").json()

    assert body["node"] == {"name": "worker-1", "os": "linux"}
    assert SYSTEM_FIELDS <= set(body["system"])
    assert body["system"] | {"gpus": None} == {
        "total_ram_gb": 64.0,
        "available_ram_gb": 56.0,
        "cpu_cores": 16,
        "cpu_name": "AMD Ryzen 9 7950X 16-Core Processor",
        "has_gpu": True,
        "gpu_vram_gb": 24.0,
        "gpu_name": "NVIDIA GeForce RTX 4090",
        "gpu_count": 1,
        "unified_memory": False,
        "backend": "CUDA",
        "gpus": None,
        "total_gpu_vram_gb": 24.0,
        "cpu_arch": "x86_64",
    }
    assert body["system"]["gpus"] == [
        {"name": "NVIDIA GeForce RTX 4090", "vram_gb": 24.0, "backend": "CUDA", "count": 1, "unified_memory": False}
    ]


def test_system_without_a_gpu_has_nulls_as_in_the_spec(client, use_hardware):
    use_hardware(LAPTOP_16GB)
    system = get(client, "/api/v1/system").json()["system"]

    assert (system["has_gpu"], system["gpu_vram_gb"], system["gpu_name"], system["gpu_count"]) == (False, None, None, 0)
    assert (system["backend"], system["gpus"], system["unified_memory"]) == ("CPU (x86)", [], False)


def test_system_detects_this_machine_truthfully(client, settings):
    settings.MODELYARD_NODES_HARDWARE_FILE = ""
    system = get(client, "/api/v1/system").json()["system"]
    memory = psutil.virtual_memory()

    assert system["total_ram_gb"] == round(memory.total / 1024**3, 2)
    assert abs(system["available_ram_gb"] - memory.available / 1024**3) < 1.0  # read live, moments apart
    assert system["cpu_cores"] == psutil.cpu_count(logical=True)
    assert system["cpu_name"]
    assert system["backend"] in {"CUDA", "ROCm", "Metal", "CPU (x86)", "CPU (ARM)"}
    assert system["has_gpu"] == bool(system["gpus"])


def test_health_is_public_and_names_the_node(client):
    assert get(client, "/health").json() == {"status": "ok", "node": {"name": socket.gethostname(), "os": "linux"}}


def test_an_unusable_hardware_file_is_a_503_with_the_reason(client, settings, tmp_path):
    broken = tmp_path / "hw.json"
    broken.write_text("{not json")
    settings.MODELYARD_NODES_HARDWARE_FILE = str(broken)
    from apps.nodes.hardware import hardware_cache_clear

    hardware_cache_clear()
    response = get(client, "/api/v1/system")

    assert response.status_code == 503
    assert response.json()["error"].startswith(f"MODELYARD_NODES_HARDWARE_FILE {broken}")
    hardware_cache_clear()


# --- /api/v1/models ------------------------------------------------------------------------------


def test_the_listing_has_every_field_of_the_spec(client, gpu_box):
    body = get(client, "/api/v1/models", limit=20, min_fit="marginal", sort="score").json()

    assert set(body) == {"node", "system", "total_models", "returned_models", "filters", "models"}
    assert body["returned_models"] == len(body["models"]) == 20
    assert body["filters"] == {
        "limit": 20,
        "perfect": None,
        "min_fit": "marginal",
        "runtime": None,
        "use_case": None,
        "provider": None,
        "search": None,
        "sort": "score",
        "max_context": None,
        "include_too_tight": True,
        "top_only": False,
        "force_runtime": None,
        "license": None,
        "ram_gb": None,
        "vram_gb": None,
        "cpu_cores": None,
        "gpu": None,
        "gpu_note": None,
    }
    model = body["models"][0]
    assert MODEL_FIELDS <= set(model)
    assert set(model["score_components"]) == {"quality", "speed", "fit", "context"}
    assert model["fit_label"] in {"Perfect", "Good", "Marginal"}
    assert (model["runtime"], model["runtime_label"]) in {("llamacpp", "llama.cpp"), ("vllm", "vLLM")}  # AWQ: vLLM
    assert LLMFIT_EXTRA_FIELDS <= set(model)
    assert set(model["estimate_basis"]) == {
        "method",
        "gpu_bandwidth_gbps",
        "ddr_bandwidth_gbps",
        "efficiency",
        "assumed_context",
    }
    assert model["release_date"] is None or date.fromisoformat(model["release_date"])


def test_by_default_every_enabled_model_is_listed_with_too_tight_ones_last(client, use_hardware):
    use_hardware(LAPTOP_16GB)
    CatalogModel.objects.filter(name="Qwen/Qwen2-0.5B-Instruct").update(enabled=False)
    body = get(client, "/api/v1/models").json()
    levels = [model["fit_level"] for model in body["models"]]

    # Every enabled model whose weights can run here: not the MLX builds (Apple only) nor AWQ/GPTQ (a GPU's).
    runnable_here = (
        CatalogModel.objects.filter(enabled=True)
        .exclude(name__icontains="-mlx")
        .exclude(weight_format__in=["awq", "gptq", "autoround"])
        .exclude(capabilities__contains=["tts"])
    )
    assert body["total_models"] == body["returned_models"] == runnable_here.count()
    assert body["filters"]["limit"] is None
    assert "too_tight" in levels
    assert levels.index("too_tight") > max(i for i, level in enumerate(levels) if level != "too_tight")
    assert "Qwen/Qwen2-0.5B-Instruct" not in {model["name"] for model in body["models"]}


def test_limit_caps_the_models_but_not_the_total(client, gpu_box):
    body = get(client, "/api/v1/models", limit=3).json()

    assert (body["returned_models"], len(body["models"])) == (3, 3)
    assert body["total_models"] > 3


def test_perfect_keeps_only_perfect_fits(client, gpu_box):
    body = get(client, "/api/v1/models", perfect="true").json()

    assert body["models"] and {model["fit_level"] for model in body["models"]} == {"perfect"}
    assert body["filters"]["perfect"] is True
    everything = get(client, "/api/v1/models", perfect="false").json()
    assert everything["total_models"] > body["total_models"]


@pytest.mark.parametrize("min_fit", ["perfect", "good", "marginal", "too_tight"])
def test_min_fit_keeps_that_level_and_better(client, gpu_box, min_fit):
    body = get(client, "/api/v1/models", min_fit=min_fit).json()

    assert body["models"]
    assert all(RANK[model["fit_level"]] <= RANK[min_fit] for model in body["models"])
    assert body["filters"]["min_fit"] == min_fit


def test_include_too_tight_false_drops_models_that_do_not_fit(client, use_hardware):
    use_hardware(LAPTOP_16GB)
    body = get(client, "/api/v1/models", include_too_tight="false").json()

    assert body["models"] and "too_tight" not in {model["fit_level"] for model in body["models"]}
    assert body["filters"]["include_too_tight"] is False


def test_runtime_filters_on_the_runtime_each_model_would_use(client, use_hardware):
    use_hardware(GPU_BOX_24GB)
    assert get(client, "/api/v1/models", runtime="mlx").json()["total_models"] == 0
    llamacpp = get(client, "/api/v1/models", runtime="llama.cpp").json()
    assert llamacpp["total_models"] > 0 and llamacpp["filters"]["runtime"] == "llamacpp"

    use_hardware(MAC_64GB)
    mlx = get(client, "/api/v1/models", runtime="mlx").json()
    assert mlx["total_models"] == get(client, "/api/v1/models", runtime="any").json()["total_models"]
    assert {model["runtime_label"] for model in mlx["models"]} == {"MLX"}
    assert get(client, "/api/v1/models", runtime="llamacpp").json()["total_models"] == 0


@pytest.mark.parametrize("use_case", ["coding", "reasoning", "chat", "multimodal", "embedding", "general"])
def test_use_case_keeps_one_category(client, gpu_box, use_case):
    body = get(client, "/api/v1/models", use_case=use_case.upper()).json()

    assert body["models"]
    assert {model["category"] for model in body["models"]} == {use_case.title()}
    assert body["filters"]["use_case"] == use_case


def test_provider_is_a_case_insensitive_substring(client, gpu_box):
    body = get(client, "/api/v1/models", provider="mistral").json()

    assert body["models"] and all("mistral" in model["provider"].lower() for model in body["models"])
    assert "Mistral AI" in {model["provider"] for model in body["models"]}
    assert body["filters"]["provider"] == "mistral"


def test_search_looks_in_name_provider_and_parameter_count(client, gpu_box):
    by_name = get(client, "/api/v1/models", search="coder").json()["models"]
    by_provider = get(client, "/api/v1/models", search="allen ai").json()["models"]
    by_size = get(client, "/api/v1/models", search="30.5B").json()["models"]

    assert by_name and all("coder" in (model["name"] + model["use_case"]).lower() for model in by_name)
    assert by_provider and {model["provider"] for model in by_provider} == {"Allen AI"}
    assert by_size and all("30.5b" in (model["name"] + model["parameter_count"]).lower() for model in by_size)
    assert any(model["parameter_count"] == "30.5B" and "30.5b" not in model["name"].lower() for model in by_size)


def test_max_context_sizes_the_kv_cache_and_is_echoed(client, gpu_box):
    name = "meta-llama/Llama-3.1-8B-Instruct"
    short = get(client, f"/api/v1/models/{name}", max_context=2048).json()
    long = get(client, f"/api/v1/models/{name}", max_context=65536).json()

    kv_per_token = 32 * 2 * 8 * 128 * 2 / 1024**3  # layers × K and V × KV heads × head_dim × f16 bytes, GiB
    assert short["filters"]["max_context"] == 2048
    assert long["models"][0]["memory_required_gb"] - short["models"][0]["memory_required_gb"] == pytest.approx(
        kv_per_token * (65536 - 2048), abs=0.02
    )
    assert long["models"][0]["estimation_context"] == 65536


SORT_KEYS = {
    "score": lambda m: -m["score"],
    "tps": lambda m: -m["estimated_tps"],
    "params": lambda m: -m["params_b"],
    "mem": lambda m: -m["utilization_pct"],
    "ctx": lambda m: (-m["usable_context"], -m["context_length"]),  # what fits here, then the window
    "date": lambda m: (m["release_date"] is None, "" if m["release_date"] is None else "-" + m["release_date"]),
    "use_case": lambda m: m["category"],
}


@pytest.mark.parametrize("sort", SORT_KEYS)
def test_each_sort_orders_runnable_models_and_keeps_too_tight_ones_last(client, use_hardware, sort):
    use_hardware(LAPTOP_16GB)
    models = get(client, "/api/v1/models", sort=sort).json()["models"]
    runnable = [model for model in models if model["fit_level"] != "too_tight"]
    tight = [model for model in models if model["fit_level"] == "too_tight"]

    assert runnable and tight and models == runnable + tight
    if sort == "date":
        dated = [model["release_date"] for model in runnable if model["release_date"]]
        assert dated == sorted(dated, reverse=True)
        assert all(model["release_date"] is None for model in runnable[len(dated) :])
    else:
        keys = [SORT_KEYS[sort](model) for model in runnable]
        assert keys == sorted(keys)


@pytest.mark.parametrize(
    ("alias", "column"), [("tokens", "tps"), ("Memory", "mem"), ("mem_pct", "mem"), ("released", "date")]
)
def test_sort_aliases_are_echoed_as_the_canonical_column(client, gpu_box, alias, column):
    assert get(client, "/api/v1/models", sort=alias).json()["filters"]["sort"] == column
    assert get(client, "/api/v1/models").json()["filters"]["sort"] == "score"


def test_blank_parameters_are_not_set(client, gpu_box):
    blank = get(client, "/api/v1/models/top", search="", provider=" ", sort="", min_fit="", limit="", perfect="")
    plain = get(client, "/api/v1/models/top")

    assert blank.status_code == 200
    assert blank.json()["filters"] == plain.json()["filters"]
    assert [model["name"] for model in blank.json()["models"]] == [model["name"] for model in plain.json()["models"]]


# --- /api/v1/models/top --------------------------------------------------------------------------


def test_top_returns_five_runnable_models_by_default(client, use_hardware):
    use_hardware(LAPTOP_16GB)
    body = get(client, "/api/v1/models/top").json()

    assert body["returned_models"] == 5
    assert "too_tight" not in {model["fit_level"] for model in body["models"]}
    assert (body["filters"]["limit"], body["filters"]["include_too_tight"], body["filters"]["top_only"]) == (
        5,
        False,
        True,
    )
    scores = [model["score"] for model in body["models"]]
    assert scores == sorted(scores, reverse=True)


def test_top_takes_the_same_filters(client, gpu_box):
    body = get(client, "/api/v1/models/top", limit=3, min_fit="good", use_case="coding").json()

    assert body["returned_models"] == 3
    assert {model["category"] for model in body["models"]} == {"Coding"}
    assert all(model["fit_level"] in {"perfect", "good"} for model in body["models"])
    assert body["filters"]["min_fit"] == "good" and body["filters"]["use_case"] == "coding"


def test_top_can_still_be_asked_for_too_tight_models(client, use_hardware):
    use_hardware(LAPTOP_16GB)
    body = get(client, "/api/v1/models/top", include_too_tight="true", sort="params", limit=1).json()

    assert body["models"][0]["fit_level"] != "too_tight"  # runnable ones still come first
    assert body["filters"]["include_too_tight"] is True
    tight_only = get(client, "/api/v1/models/top", include_too_tight="true", search="405B", limit=1).json()
    assert tight_only["models"][0]["fit_level"] == "too_tight"


# --- /api/v1/models/{name} -----------------------------------------------------------------------


def test_name_is_a_case_insensitive_substring_search_limited_to_20(client, gpu_box):
    body = get(client, "/api/v1/models/MISTRAL", runtime="any").json()

    assert body["total_models"] > 20 or body["returned_models"] == body["total_models"]
    assert body["returned_models"] <= 20
    assert all("mistral" in (m["name"] + m["provider"]).lower() for m in body["models"])
    assert body["filters"]["search"] == "MISTRAL"
    assert (body["filters"]["limit"], body["filters"]["include_too_tight"], body["filters"]["top_only"]) == (
        20,
        True,
        False,
    )


def test_a_name_with_a_slash_finds_that_repository(client, gpu_box):
    body = get(client, "/api/v1/models/qwen/qwen2.5-7b-instruct").json()
    names = [model["name"] for model in body["models"]]

    assert "Qwen/Qwen2.5-7B-Instruct" in names
    assert all("qwen/qwen2.5-7b-instruct" in name.lower() for name in names)


def test_the_path_name_wins_over_a_search_parameter_and_unknown_names_list_nothing(client, gpu_box):
    assert get(client, "/api/v1/models/gemma", search="llama").json()["filters"]["search"] == "gemma"
    empty = get(client, "/api/v1/models/no-such-model-anywhere").json()
    assert (empty["total_models"], empty["models"]) == (0, [])


# --- llmfit serve's extra parameters -------------------------------------------------------------


def test_top_and_n_are_aliases_of_limit(client, gpu_box):
    assert get(client, "/api/v1/models", n=3).json()["returned_models"] == 3
    assert get(client, "/api/v1/models", top=4, n=3).json()["filters"]["limit"] == 4
    assert get(client, "/api/v1/models/top", limit=2, top=7).json()["returned_models"] == 2


def test_what_if_vram_gb_0_plans_a_machine_without_a_gpu(client, gpu_box):
    body = get(client, "/api/v1/models/top", vram_gb=0, limit=20).json()

    assert (body["system"]["has_gpu"], body["system"]["gpu_vram_gb"], body["system"]["total_gpu_vram_gb"]) == (
        False,
        None,
        None,
    )
    assert {model["run_mode"] for model in body["models"]} <= {"cpu"}
    assert not [model["name"] for model in body["models"] if model["runtime"] == "vllm"]  # AWQ/GPTQ need a GPU


def test_what_if_hardware_scores_a_planned_machine_as_llmfit_serve_does(client, use_hardware):
    use_hardware(LAPTOP_16GB)
    body = get(client, "/api/v1/models/Qwen/Qwen2.5-7B-Instruct", ram_gb=64, vram_gb=24, cpu_cores=16).json()
    system = body["system"]
    model = next(model for model in body["models"] if model["name"] == "Qwen/Qwen2.5-7B-Instruct")

    assert (system["total_ram_gb"], system["available_ram_gb"], system["cpu_cores"]) == (64.0, 57.6, 16)
    assert (system["gpu_name"], system["gpu_vram_gb"], system["backend"]) == ("User-specified GPU", 24.0, "CUDA")
    assert (body["filters"]["ram_gb"], body["filters"]["vram_gb"], body["filters"]["cpu_cores"]) == (64.0, 24.0, 16)
    # An unnamed GPU: CUDA's constant, 220 ÷ 7.6156 B × 0.8 (Q8_0) × 1.1 (16 cores) = 25.4 tok/s (llmfit 1.1.17: 25.4).
    assert (model["fit_level"], model["run_mode"], model["best_quant"], model["estimated_tps"]) == (
        "perfect",
        "gpu",
        "Q8_0",
        25.4,
    )
    assert model["estimate_basis"]["method"] == "backend_constant"
    planned = get(client, "/api/v1/system", gpu="rtx 4090", ram="64").json()["system"]
    assert (planned["gpu_name"], planned["gpu_vram_gb"], planned["total_ram_gb"]) == (
        "NVIDIA GeForce RTX 4090",
        24.0,
        64.0,
    )


def test_force_runtime_and_license_filter_as_llmfit_serve(client, use_hardware):
    use_hardware(MAC_64GB)
    CatalogModel.objects.filter(name="Qwen/Qwen2.5-7B-Instruct").update(license="apache-2.0", updated_at=timezone.now())
    auto = get(client, "/api/v1/models/Qwen/Qwen2.5-7B-Instruct").json()["models"][0]
    forced = get(client, "/api/v1/models/Qwen/Qwen2.5-7B-Instruct", force_runtime="llama.cpp").json()
    licensed = get(client, "/api/v1/models", license="MIT,Apache-2.0").json()

    assert (auto["runtime"], auto["best_quant"]) == ("mlx", "mlx-8bit")
    assert (forced["models"][0]["runtime"], forced["models"][0]["best_quant"]) == ("llamacpp", "Q8_0")
    assert forced["filters"]["force_runtime"] == "llamacpp"
    assert "Qwen/Qwen2.5-7B-Instruct" in {model["name"] for model in licensed["models"]}
    assert all(model["license"] for model in licensed["models"])  # models without a license never match


def test_the_license_filter_keeps_the_shipped_models_of_those_licenses(client, gpu_box):
    llama = get(client, "/api/v1/models", license="llama3.1", limit=500).json()
    permissive = get(client, "/api/v1/models", license="Apache-2.0, MIT", limit=2000).json()

    assert {model["license"] for model in llama["models"]} == {"llama3.1"}
    assert "meta-llama/Llama-3.1-8B-Instruct" in {model["name"] for model in llama["models"]}
    assert {model["license"] for model in permissive["models"]} == {"apache-2.0", "mit"}
    names = {model["name"] for model in permissive["models"]}
    assert {"Qwen/Qwen2.5-7B-Instruct", "microsoft/phi-4", "openai/gpt-oss-20b"} <= names
    assert not names & {"meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-72B-Instruct", "unsloth/Qwen3-8B-GGUF"}
    assert permissive["total_models"] == len(permissive["models"]) > 150


@pytest.mark.parametrize(
    ("gpu", "name", "vram_gb", "note"),
    [
        ("A100", "NVIDIA A100 40GB", 40.0, "'A100' has several variants: scored as NVIDIA A100 40GB, the smallest "
         "(others: NVIDIA A100 80GB; name one to score it)"),
        ("a100 80gb", "NVIDIA A100 80GB", 80.0, None),
        ("H100", "NVIDIA H100 80GB HBM3", 80.0, None),
    ],
)  # fmt: skip
def test_a_gpu_named_without_its_memory_size_is_its_smallest_variant(client, gpu_box, gpu, name, vram_gb, note):
    body = get(client, "/api/v1/models/top", gpu=gpu).json()

    assert (body["system"]["gpu_name"], body["system"]["gpu_vram_gb"], body["system"]["unified_memory"]) == (
        name,
        vram_gb,
        False,
    )
    assert (body["filters"]["gpu"], body["filters"]["gpu_note"]) == (name, note)
    assert body["system"]["total_ram_gb"] == 64.0  # a discrete card: the machine's RAM stays


@pytest.mark.parametrize(
    ("gpu", "name", "memory_gb", "backend"),
    [
        ("GB10", "NVIDIA GB10", 128.0, "CUDA"),
        ("DGX Spark", "NVIDIA GB10", 128.0, "CUDA"),
        ("Jetson Orin", "NVIDIA Jetson Orin Nano 8GB", 8.0, "CUDA"),
        ("jetson agx orin", "NVIDIA Jetson AGX Orin 32GB", 32.0, "CUDA"),
        ("M2 Max", "Apple M2 Max", 32.0, "Metal"),
    ],
)
def test_a_unified_memory_gpu_plans_that_machine_with_its_memory(client, use_hardware, gpu, name, memory_gb, backend):
    use_hardware(LAPTOP_16GB)
    system = get(client, "/api/v1/system", gpu=gpu).json()["system"]

    assert (system["gpu_name"], system["gpu_vram_gb"], system["unified_memory"], system["backend"]) == (
        name,
        memory_gb,
        True,
        backend,
    )
    assert (system["total_ram_gb"], system["available_ram_gb"], system["cpu_arch"]) == (
        memory_gb,
        round(memory_gb * 0.9, 2),
        "arm64",
    )


def test_an_apple_chip_takes_its_smallest_memory_unless_ram_gb_gives_it(client, use_hardware):
    use_hardware(LAPTOP_16GB)
    smallest = get(client, "/api/v1/models/top", gpu="M2 Max").json()
    sized = get(client, "/api/v1/models/top", gpu="m2 max", ram="96").json()

    assert smallest["system"]["gpu_vram_gb"] == 32.0
    assert smallest["filters"]["gpu_note"] == (
        "Apple M2 Max comes with 32, 64, 96 GB: scored with 32 GB, the smallest (give ram_gb for another)"
    )
    assert (sized["system"]["gpu_vram_gb"], sized["system"]["total_ram_gb"], sized["filters"]["ram_gb"]) == (
        96.0,
        96.0,
        96.0,
    )
    assert sized["filters"]["gpu_note"] is None


def test_ram_and_memory_are_documented_aliases_of_ram_gb_and_vram_gb(client, use_hardware):
    use_hardware(LAPTOP_16GB)
    aliased = get(client, "/api/v1/models/top", ram=48, memory=12).json()
    named = get(client, "/api/v1/models/top", ram_gb=48, vram_gb=12).json()
    schema = client.get("/api/schema/node/", HTTP_ACCEPT="application/json").json()

    assert aliased["system"] == named["system"] and aliased["filters"] == named["filters"]
    assert (aliased["filters"]["ram_gb"], aliased["filters"]["vram_gb"]) == (48.0, 12.0)
    assert [m["name"] for m in aliased["models"]] == [m["name"] for m in named["models"]]
    for path in ["/api/v1/system", "/api/v1/models", "/api/v1/models/top"]:
        parameters = {parameter["name"] for parameter in schema["paths"][path]["get"]["parameters"]}
        assert {"ram_gb", "ram", "vram_gb", "memory", "cpu_cores", "gpu"} <= parameters, path


def test_fit_levels_stay_put_between_hardware_refreshes(client, settings, monkeypatch):
    from apps.nodes import hardware

    settings.MODELYARD_NODES_HARDWARE_FILE = ""
    settings.MODELYARD_NODES_HARDWARE_TTL = 3600
    hardware.hardware_cache_clear()
    first = get(client, "/api/v1/models").json()
    real = psutil.virtual_memory()
    less = type("Memory", (), {"total": real.total, "available": real.available // 8})
    monkeypatch.setattr(hardware.psutil, "virtual_memory", lambda: less())  # free RAM drops to an eighth
    second = get(client, "/api/v1/models").json()
    system = get(client, "/api/v1/system").json()["system"]
    hardware.hardware_cache_clear()

    assert [(m["name"], m["fit_level"]) for m in first["models"]] == [
        (m["name"], m["fit_level"]) for m in second["models"]
    ]
    assert system["available_ram_gb"] == round(real.available // 8 / 1024**3, 2)  # /system shows it live


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"min_fit": "excellent"}, "invalid min_fit value: use perfect|good|marginal|too_tight"),
        ({"runtime": "tensorrt"}, "invalid runtime value: use any|mlx|llamacpp"),
        ({"use_case": "poetry"}, "invalid use_case value: use coding|reasoning|chat|multimodal|embedding|general"),
        ({"sort": "name"}, "invalid sort value: use score|tps|params|mem|ctx|date|use_case"),
        ({"limit": "ten"}, "invalid request: limit: A valid integer is required."),
        ({"max_context": "0"}, "invalid request: max_context: Ensure this value is greater than or equal to 1."),
        ({"perfect": "maybe"}, "invalid request: perfect: Must be a valid boolean."),
        ({"force_runtime": "tensorrt"}, "invalid force_runtime value: use mlx|llamacpp|vllm"),
        ({"ram_gb": "0"}, "invalid ram_gb value: expected a positive number"),
        ({"ram_gb": "nan"}, "invalid ram_gb value: expected a positive number"),
        ({"vram_gb": "-1"}, "invalid vram_gb value: expected a non-negative number"),
        ({"cpu_cores": "1.5"}, "invalid cpu_cores value: expected a positive integer"),
        (
            {"gpu": "Voodoo 5"},
            "invalid gpu value: use a known GPU name, e.g. RTX 4090, RTX 3090, A100 80GB, "
            "H100 80GB HBM3, RX 7900 XTX or Apple M2 Max",
        ),
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/models", "/api/v1/models/top", "/api/v1/models/llama"])
def test_invalid_parameters_are_400_with_the_spec_body(client, gpu_box, path, params, error):
    response = get(client, path, **params)

    assert (response.status_code, response.json()) == (400, {"error": error})


def test_an_unknown_path_on_the_node_port_is_a_json_404(client):
    response = get(client, "/api/v1/nothing")
    assert (response.status_code, response.json()) == (404, {"error": "Not found"})


def test_the_node_surface_schema_documents_the_spec_paths(client):
    paths = client.get("/api/schema/node/", HTTP_ACCEPT="application/json").json()["paths"]

    operations = {path: paths[path]["get"]["operationId"] for path in paths if path.startswith("/api/v1/")}
    assert operations == {
        "/api/v1/system": "node_system",
        "/api/v1/models": "node_models",
        "/api/v1/models/top": "node_models_top",
        "/api/v1/models/{name}": "node_models_search",
    }
    for path in ["/api/v1/models", "/api/v1/models/top", "/api/v1/models/{name}"]:
        assert "400" in paths[path]["get"]["responses"], path
        assert {"limit", "min_fit", "sort"} <= {parameter["name"] for parameter in paths[path]["get"]["parameters"]}
