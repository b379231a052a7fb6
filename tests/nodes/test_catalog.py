"""The shipped catalog: real models with their published facts, loaded into Postgres, updatable without
losing what an admin changed."""

import json
import re
from datetime import date
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.nodes import services
from apps.nodes.catalog import (
    CATALOG_FILE,
    FORMATS,
    LICENSES_FILE,
    canonical_slug,
    catalog_read,
    corrections_read,
)
from apps.nodes.models import CatalogModel

pytestmark = pytest.mark.django_db


def test_the_shipped_catalog_has_at_least_1500_models_of_every_use_case():
    version, entries = catalog_read()
    categories = {entry["category"] for entry in entries}

    assert version == "a3e0eb2+2026.11.30" and len(entries) >= 1500
    assert categories == {"general", "coding", "reasoning", "chat", "multimodal", "embedding"}
    assert sum(entry["category"] == "embedding" for entry in entries) >= 20
    assert sum(entry["is_moe"] for entry in entries) >= 300
    assert len({entry["name"] for entry in entries}) == len(entries)


def test_every_entry_has_what_the_fit_needs():
    for entry in catalog_read()[1]:
        name = entry["name"]
        assert "/" in name, name
        assert entry["params_b"] > 0 and entry["context_length"] > 0, name
        assert entry["min_ram_gb"] >= 1.0 and entry["recommended_ram_gb"] >= 2.0, name
        assert entry["weight_format"] in FORMATS and entry["quantization"], name
        assert set(entry["capabilities"]) <= {"vision", "tool_use", "audio", "tts"}, name
        if entry["is_moe"] and entry["active_params_b"] is not None:
            assert 0 < entry["active_params_b"] <= entry["params_b"], name
        if not entry["is_moe"]:
            assert entry["active_params_b"] is None, name


def test_llmfits_duplicates_are_merged_and_its_test_stubs_left_out():
    names = {entry["name"] for entry in catalog_read()[1]}
    slugs = [canonical_slug(name) for name in names]

    assert len(slugs) == len(set(slugs))
    assert "Qwen/Qwen2.5-14B-Instruct" in names and "unsloth/Qwen2.5-14B-Instruct" not in names  # the original's name
    assert not any("tiny-random" in name.lower() for name in names)
    stubs = {
        "optimum-intel-internal-testing/tiny-GptOssForCausalLM",
        "MaxJeblick/llama2-0b-unit-test",
        "bigscience/bigscience-small-testing",
        "sparse-encoder-testing/splade-bert-tiny-nq",
    }
    assert not stubs & names  # test organisations and unit-test repos too


def test_mlx_builds_labelled_gguf_upstream_are_mlx():
    entries = {entry["name"]: entry for entry in catalog_read()[1]}

    assert entries["mlx-community/Qwen2.5-0.5B-Instruct-4bit"]["weight_format"] == "mlx"
    assert entries["Qwen/Qwen2.5-7B-Instruct"]["weight_format"] != "mlx"


@pytest.mark.parametrize(
    ("name", "facts"),
    [
        (
            "meta-llama/Llama-3.1-8B-Instruct",
            {"num_layers": 32, "num_kv_heads": 8, "head_dim": 128, "context_length": 131072, "min_ram_gb": 4.5},
        ),
        ("Qwen/Qwen2.5-7B-Instruct", {"num_layers": 28, "num_kv_heads": 4, "head_dim": 128, "recommended_ram_gb": 7.1}),
        ("mistralai/Mixtral-8x7B-Instruct-v0.1", {"active_params_b": 12.9, "num_experts": 8, "min_vram_gb": 23.9}),
        ("openai/gpt-oss-20b", {"num_layers": 24, "num_kv_heads": 8, "head_dim": 64, "num_experts": 32}),
        ("BAAI/bge-small-en-v1.5", {"context_length": 512, "num_layers": 12, "category": "embedding"}),
        ("Qwen/Qwen2.5-Coder-7B-Instruct", {"category": "coding", "capabilities": ["tool_use"]}),
        ("databricks/dbrx-instruct", {"is_moe": True, "num_experts": 16, "active_experts": 4}),  # Modelyard's own
    ],
)
def test_known_models_carry_their_published_config(name, facts):
    entry = {entry["name"]: entry for entry in catalog_read()[1]}[name]
    assert {key: entry[key] for key in facts} == facts


def test_plainly_wrong_upstream_facts_are_corrected():
    entries = {entry["name"]: entry for entry in catalog_read()[1]}
    phi_moe = entries["microsoft/Phi-3.5-MoE-instruct"]

    assert (phi_moe["params_b"], phi_moe["active_params_b"]) == (pytest.approx(41.873, abs=0.001), 6.6)
    # llmfit's own rule for the minimums: 41.87e9 × 0.5 B / 2³⁰ = 19.50 GiB; ×1.2, ×2, ×1.1.
    assert (phi_moe["min_ram_gb"], phi_moe["recommended_ram_gb"], phi_moe["min_vram_gb"]) == (23.4, 39.0, 21.4)
    assert entries["deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct"]["context_length"] == 163840
    assert entries["baidu/ERNIE-4.5-21B-A3B-PT"]["is_moe"] is True
    assert entries["meta-llama/Llama-3.3-70B-Instruct"]["context_length"] == 131072
    llama_3 = [entry["context_length"] for name, entry in entries.items() if re.search(r"llama-?3\.\d", name.lower())]
    assert max(llama_3) == 131072  # Llama 3.1, 3.2 and 3.3 and their derivatives: 128k, never ×8 or ×32


def test_the_leftovers_of_the_users_scan_are_corrected():
    entries = {entry["name"]: entry for entry in catalog_read()[1]}
    huihui = entries["huihui-ai/Huihui-gpt-oss-20b-BF16-abliterated"]

    assert entries["pfnet/plamo-2-1b"]["context_length"] == 32768
    assert {entries[name]["context_length"] for name in ("z-lab/Qwen3.6-35B-A3B-DFlash", "z-lab/Kimi-K2.5-DFlash",
                                                          "lightseekorg/kimi-k2.5-eagle3-mla")} == {262144}  # fmt: skip
    assert {entries[name]["context_length"] for name in ("hmellor/Ilama-3.2-1B", "abaryan/CyberXP_Agent_Llama_3.2_1B",
                                                          "nvidia/llama-nemotron-embed-1b-v2")} == {131072}  # fmt: skip
    # A gpt-oss-20b: 20.9 B total, 3.6 B active, 128k; minimums by llmfit's rule: 20.91e9 × 0.5 / 2³⁰ = 9.74 GiB.
    assert (huihui["params_b"], huihui["active_params_b"], huihui["context_length"]) == (
        pytest.approx(20.915, abs=0.001),
        3.6,
        131072,
    )
    assert (huihui["min_ram_gb"], huihui["recommended_ram_gb"], huihui["min_vram_gb"]) == (11.7, 19.5, 10.7)
    assert entries["unsloth/gpt-oss-120b-GGUF"]["params_b"] == pytest.approx(116.829, abs=0.001)


# Windows over 2,097,152 tokens that are as configured upstream or not verifiable here (README).
LONG_CONTEXT_FAMILIES = re.compile(r"minimax-(text-01|m1)|deepseek-v4|llama-4-scout|a\.x-k1", re.IGNORECASE)
DRAFT_MODELS = re.compile(r"eagle|dflash|speculator", re.IGNORECASE)  # small by design, named for their target


def test_no_context_window_or_parameter_count_of_the_plainly_wrong_kind_is_left():
    long_windows, undersized = [], []
    for entry in catalog_read()[1]:
        name = entry["name"]
        if entry["context_length"] > 2_097_152 and not LONG_CONTEXT_FAMILIES.search(name):
            long_windows.append(name)
        size = re.search(r"(?<![\d.a-z])(\d+(?:\.\d+)?)b(?![a-z0-9])", name.rsplit("/", 1)[-1].lower())
        if size and float(size[1]) >= 2 and entry["params_b"] < 0.4 * float(size[1]) and not DRAFT_MODELS.search(name):
            undersized.append(name)

    assert long_windows == []
    assert undersized == ["stabilityai/stablelm-2-1_6b-chat"]  # 1.6 B: "1_6b" is not a 6 B name


def test_licenses_come_from_the_curated_file_with_a_source_for_each_rule():
    rules = json.loads(LICENSES_FILE.read_text())["licenses"]
    entries = {entry["name"]: entry["license"] for entry in catalog_read()[1]}

    assert all(rule["source"].startswith("model card license field, e.g. https://huggingface.co/") for rule in rules)
    assert {name: entries[name] for name in [
        "Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-72B-Instruct", "Qwen/Qwen3-8B", "meta-llama/Llama-3.1-8B-Instruct",
        "meta-llama/Llama-3.2-3B-Instruct", "meta-llama/Llama-3.3-70B-Instruct", "google/gemma-3-27b-it",
        "microsoft/phi-4", "mistralai/Mistral-7B-Instruct-v0.3", "deepseek-ai/DeepSeek-R1", "openai/gpt-oss-20b",
        "BAAI/bge-small-en-v1.5", "bigcode/starcoder2-7b",
    ]} == {
        "Qwen/Qwen2.5-7B-Instruct": "apache-2.0", "Qwen/Qwen2.5-72B-Instruct": "other", "Qwen/Qwen3-8B": "apache-2.0",
        "meta-llama/Llama-3.1-8B-Instruct": "llama3.1", "meta-llama/Llama-3.2-3B-Instruct": "llama3.2",
        "meta-llama/Llama-3.3-70B-Instruct": "llama3.3", "google/gemma-3-27b-it": "gemma", "microsoft/phi-4": "mit",
        "mistralai/Mistral-7B-Instruct-v0.3": "apache-2.0", "deepseek-ai/DeepSeek-R1": "mit",
        "openai/gpt-oss-20b": "apache-2.0", "BAAI/bge-small-en-v1.5": "mit",
        "bigcode/starcoder2-7b": "bigcode-openrail-m",
    }  # fmt: skip
    # Re-uploads and fine-tunes may carry another licence: unknown stays empty, never guessed.
    assert entries["deepseek-ai/DeepSeek-V3"] == ""  # its own licence, not the later MIT releases'
    assert [name for name in entries if name.startswith("mlx-community/") and entries[name]] == []


def test_the_database_holds_the_licenses_after_migrating(catalog):
    row = CatalogModel.objects.get(name="meta-llama/Llama-3.1-8B-Instruct")
    assert row.license == "llama3.1"
    assert CatalogModel.objects.exclude(license="").count() == sum(bool(e["license"]) for e in catalog_read()[1])


def test_every_correction_is_listed_in_the_readme():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for correction in corrections_read():
        for name in correction.get("names", []):
            assert name in readme, name
        if correction.get("pattern"):
            assert correction["pattern"].replace("|", "\\|") in readme, correction["pattern"]  # escaped in a table


def test_the_migration_loaded_the_catalog_into_postgres(catalog):
    assert CatalogModel.objects.count() == len(catalog_read()[1])
    llama = CatalogModel.objects.get(name="meta-llama/Llama-3.3-70B-Instruct")
    assert (llama.provider, llama.category, llama.release_date) == ("Meta", "chat", date(2024, 11, 26))
    assert (llama.min_ram_gb, llama.recommended_ram_gb, llama.quantization) == (39.4, 65.7, "Q4_K_M")


def newer_catalog(tmp_path, change) -> str:
    document = json.loads(CATALOG_FILE.read_text())
    change(document)
    path = tmp_path / "models.json"
    path.write_text(json.dumps(document))
    return str(path)


def test_a_newer_file_updates_facts_adds_models_and_keeps_admin_edits(catalog, admin_client, tmp_path):
    name = "Qwen/Qwen3-32B"  # one of Modelyard's own entries (models.json), which the newer file changes
    row = CatalogModel.objects.get(name=name)
    form = {
        field: getattr(row, field) if getattr(row, field) is not None else ""
        for field in ["name", "provider", "parameter_count", "category", "use_case", "params_b", "context_length",
                      "num_layers", "num_kv_heads", "head_dim", "architecture", "license"]
    }  # fmt: skip
    # The admin page posts the hidden initial of fields with a callable default (gguf_sources) too.
    form.update(release_date=row.release_date.isoformat(), enabled="on", gguf_sources="[]", context_length=131072)
    form.update(
        quantization=row.quantization, weight_format=row.weight_format, capabilities=json.dumps(row.capabilities)
    )
    form.update(min_ram_gb=row.min_ram_gb, recommended_ram_gb=row.recommended_ram_gb, min_vram_gb=row.min_vram_gb)
    form["initial-gguf_sources"] = "[]"
    form["initial-capabilities"] = json.dumps(row.capabilities)
    assert admin_client.post(f"/admin/nodes/catalogmodel/{row.pk}/change/", form).status_code == 302
    row.refresh_from_db()
    assert (row.context_length, row.admin_edited_fields) == (131072, ["context_length"])

    def change(document):
        for entry in document["models"]:
            if entry["name"] == name:
                entry.update(context_length=65536, use_case="Newer description")
        document["version"] = "2099.1"
        document["models"].append(
            {"name": "example/New-Model-3B", "provider": "Example", "params_b": 3.0, "context_length": 8192,
             "num_layers": 28, "num_kv_heads": 8, "head_dim": 128, "category": "chat"}
        )  # fmt: skip

    report = services.catalog_sync(path=newer_catalog(tmp_path, change))

    row.refresh_from_db()
    assert (row.context_length, row.use_case, row.catalog_version) == (131072, "Newer description", "2099.1")
    assert report.created == ["example/New-Model-3B"] and report.updated == [name]
    assert report.kept_admin_edits == {name: ["context_length"]}
    assert CatalogModel.objects.get(name="example/New-Model-3B").category == "chat"


def test_forgetting_admin_edits_lets_the_file_win_again(catalog, tmp_path):
    row = CatalogModel.objects.get(name="microsoft/phi-4")
    row.context_length, row.admin_edited_fields = 4096, ["context_length"]
    row.save()
    services.catalog_sync()
    assert CatalogModel.objects.get(pk=row.pk).context_length == 4096

    services.catalog_model_forget_admin_edits(rows=CatalogModel.objects.filter(pk=row.pk))
    services.catalog_sync()
    assert CatalogModel.objects.get(pk=row.pk).context_length == 16384


def test_models_added_in_the_admin_survive_a_sync(catalog, admin_client):
    response = admin_client.post(
        "/admin/nodes/catalogmodel/add/",
        {"name": "acme/house-model-7b", "provider": "ACME", "parameter_count": "7B", "category": "coding",
         "params_b": 7.2, "context_length": 16384, "enabled": "on", "gguf_sources": "[]", "capabilities": "[]",
         "quantization": "Q4_K_M", "weight_format": "gguf"},
    )  # fmt: skip
    assert response.status_code == 302

    report = services.catalog_sync()
    added = CatalogModel.objects.get(name="acme/house-model-7b")
    assert added.source == CatalogModel.Source.ADMIN
    assert report.not_in_file == ["acme/house-model-7b"]


def test_a_newer_file_listing_a_model_added_in_the_admin_leaves_it_alone(catalog, tmp_path):
    CatalogModel.objects.create(
        name="acme/house-model-7b", provider="ACME", parameter_count="7B", params_b=7.2, context_length=16384,
        category="coding", source=CatalogModel.Source.ADMIN,
    )  # fmt: skip

    def change(document):
        document["models"].append(
            {"name": "acme/house-model-7b", "provider": "Someone", "params_b": 8.0, "context_length": 4096,
             "num_layers": 32, "num_kv_heads": 8, "head_dim": 128, "category": "chat"}
        )  # fmt: skip

    report = services.catalog_sync(path=newer_catalog(tmp_path, change))

    added = CatalogModel.objects.get(name="acme/house-model-7b")
    assert (added.provider, added.params_b, added.context_length, added.category) == ("ACME", 7.2, 16384, "coding")
    assert report.updated == [] and "provider" in report.kept_admin_edits["acme/house-model-7b"]


def test_the_sync_command_reports_what_it_did(catalog, tmp_path, capsys):
    call_command("catalog_sync")
    report = json.loads(capsys.readouterr().out)
    assert (report["created"], report["updated"], report["unchanged"]) == (0, 0, CatalogModel.objects.count())

    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"version": "x", "models": [{"name": "a/b", "params_b": 1}]}))
    with pytest.raises(CommandError, match="missing context_length"):
        call_command("catalog_sync", "--file", str(broken))


def test_the_admin_lists_filters_and_searches_the_catalog(catalog, admin_client):
    page = admin_client.get("/admin/nodes/catalogmodel/")
    coding = admin_client.get("/admin/nodes/catalogmodel/", {"category__exact": "coding"})
    google = admin_client.get("/admin/nodes/catalogmodel/", {"provider": "Google"})
    searched = admin_client.get("/admin/nodes/catalogmodel/", {"q": "starcoder2"})

    assert page.status_code == 200 and page.context["cl"].result_count == CatalogModel.objects.count()
    assert coding.context["cl"].result_count == CatalogModel.objects.filter(category="coding").count()
    assert {row.provider for row in google.context["cl"].result_list} == {"Google"}
    assert {row.name for row in searched.context["cl"].result_list} == {
        "bigcode/starcoder2-3b",
        "bigcode/starcoder2-7b",
        "bigcode/starcoder2-15b",
        "bigcode/starcoder2-15b-instruct-v0.1",
    }


def test_the_disable_action_hides_models_from_the_node_listing(catalog, admin_client, client):
    target = CatalogModel.objects.filter(name__icontains="starcoder2")
    admin_client.post(
        "/admin/nodes/catalogmodel/",
        {"action": "disable_models", "_selected_action": list(target.values_list("pk", flat=True))},
    )

    assert client.get("/api/v1/models/starcoder2", SERVER_PORT=8787).json()["total_models"] == 0
