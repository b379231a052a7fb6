"""`manage.py catalog_sync --source huggingface`: catalog rows from a hub's config.json and safetensors
metadata, against the test mirror (offline), keeping admin edits."""

import json

import pytest
from django.core.management import CommandError, call_command
from safetensors import safe_open

from apps.nodes.hub_sync import entry_from_config, license_of_info
from apps.nodes.models import CatalogModel
from tests.fakes.modelstore_hub import ENCODER, LLAMA

pytestmark = pytest.mark.django_db


@pytest.fixture
def from_hub(hub, settings):
    """The catalog reads the hub the model store reads: the test mirror."""
    settings.MODELYARD_HF_ENDPOINT = hub.url
    settings.MODELYARD_HF_TOKEN = hub.token
    return hub


def parameters_in(folder) -> int:
    total = 0
    for path in folder.glob("*.safetensors"):
        with safe_open(path, "numpy") as weights:
            for name in weights.keys():  # noqa: SIM118  (safe_open is not a mapping)
                count = 1
                for dim in weights.get_slice(name).get_shape():
                    count *= dim
                total += count
    return total


def test_a_hub_model_becomes_a_catalog_row_with_its_config_facts(from_hub, capsys):
    call_command("catalog_sync", "--source", "huggingface", LLAMA, ENCODER)
    report = json.loads(capsys.readouterr().out)
    config = json.loads((from_hub.repos[LLAMA] / "config.json").read_text())
    llama = CatalogModel.objects.get(name=LLAMA)
    params = parameters_in(from_hub.repos[LLAMA])

    assert report["created"] == 2 and report["version"].startswith("hub-")
    assert llama.params_b == pytest.approx(params / 1e9)
    assert (llama.num_layers, llama.num_kv_heads, llama.num_attention_heads, llama.head_dim) == (1, 1, 2, 16)
    assert (llama.hidden_size, llama.vocab_size) == (config["hidden_size"], config["vocab_size"])
    assert (llama.context_length, llama.architecture, llama.license) == (128, "llama", "apache-2.0")
    assert (llama.is_moe, llama.quantization, llama.weight_format, llama.category) == (
        False,
        "Q4_K_M",
        "gguf",
        "general",
    )
    assert (llama.min_ram_gb, llama.recommended_ram_gb, llama.min_vram_gb) == (1.0, 2.0, 0.5)  # llmfit's floors
    encoder = CatalogModel.objects.get(name=ENCODER)
    assert (encoder.category, encoder.license, encoder.num_layers) == ("embedding", "mit", 2)
    assert encoder.params_b == pytest.approx(parameters_in(from_hub.repos[ENCODER]) / 1e9)


def test_the_synced_model_is_listed_by_the_node(from_hub, client, catalog):
    call_command("catalog_sync", "--source", "huggingface", LLAMA)
    body = client.get("/api/v1/models/acme/tiny-llama", SERVER_PORT=8787).json()

    assert [model["name"] for model in body["models"]] == [LLAMA]
    assert body["models"][0]["license"] == "apache-2.0"


def test_admin_edits_survive_a_hub_sync(from_hub):
    call_command("catalog_sync", "--source", "huggingface", LLAMA)
    CatalogModel.objects.filter(name=LLAMA).update(context_length=4096, admin_edited_fields=["context_length"])

    call_command("catalog_sync", "--source", "huggingface")  # no ids: the rows a hub sync added

    row = CatalogModel.objects.get(name=LLAMA)
    assert (row.context_length, row.num_layers) == (4096, 1)


def test_a_model_the_hub_lacks_is_an_error_naming_it(from_hub):
    with pytest.raises(CommandError, match="'nobody/nothing' is not on the hub"):
        call_command("catalog_sync", "--source", "huggingface", "nobody/nothing")
    with pytest.raises(CommandError, match="unknown source 'modelscope'"):
        call_command("catalog_sync", "--source", "modelscope", LLAMA)


def test_a_moe_config_gets_llmfits_active_estimate_and_expert_width():
    config = {"model_type": "mixtral", "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
              "num_key_value_heads": 8, "vocab_size": 32000, "intermediate_size": 14336, "num_local_experts": 8,
              "num_experts_per_tok": 2, "max_position_embeddings": 32768,
              "rope_scaling": {"type": "yarn", "factor": 4.0}}  # fmt: skip
    entry = entry_from_config(repo_id="someone/Mixtral-8x7B-Instruct-AWQ", config=config, total_params=46_702_792_704)

    shared = int(46_702_792_704 * 0.05)  # attention and embeddings: 5 %; the rest split evenly over 8 experts
    assert entry["active_params_b"] == (shared + 2 * ((46_702_792_704 - shared) // 8)) / 1e9
    assert (entry["is_moe"], entry["num_experts"], entry["moe_intermediate_size"], entry["head_dim"]) == (
        True,
        8,
        14336,
        128,
    )
    assert entry["context_length"] == 32768  # as configured: never multiplied by the RoPE factor again
    assert (entry["weight_format"], entry["quantization"]) == ("awq", "AWQ-4bit")


def test_the_license_comes_from_the_card_else_from_a_license_tag():
    class Info:  # what huggingface_hub's model_info gives: card_data (a mapping) and tags
        def __init__(self, card_data, tags):
            self.card_data, self.tags = card_data, tags

    assert license_of_info(Info({"license": "llama3.1"}, ["license:other"])) == "llama3.1"
    assert license_of_info(Info(None, ["text-generation", "license:apache-2.0"])) == "apache-2.0"
    assert license_of_info(Info({"license": ["mit", "apache-2.0"]}, [])) == "mit,apache-2.0"
    assert license_of_info(Info({}, ["text-generation"])) == ""
