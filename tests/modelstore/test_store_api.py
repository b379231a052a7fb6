"""The model-store API over the local store: list, show, delete, status, clean, export, auth."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from apps.modelstore import locks
from apps.modelstore.models import LocalModel

pytestmark = pytest.mark.django_db

SPEC_MODEL_KEYS = {"source", "model_id", "path", "size_bytes", "downloaded_at", "last_used", "files", "metadata"}


def test_an_empty_store_lists_no_models(client, store):
    assert client.get("/api/v1/models").json() == {"count": 0, "models": []}


def test_models_are_listed_with_the_specs_fields_and_filtered_by_source(client, stored):
    stored("Qwen/Qwen2.5-0.5B", source="huggingface")
    stored("my-model")

    everything = client.get("/api/v1/models").json()
    local_only = client.get("/api/v1/models", {"source": "local"}).json()

    assert everything["count"] == 2
    first = everything["models"][0]
    assert set(first) == SPEC_MODEL_KEYS
    assert first["source"] == "huggingface" and first["model_id"] == "Qwen/Qwen2.5-0.5B"
    assert first["files"] == ["config.json", "model.safetensors"]
    assert first["size_bytes"] == 22 + 64
    assert first["path"].endswith("/models/huggingface/Qwen/Qwen2.5-0.5B")
    assert first["last_used"] is None
    assert "T" in first["downloaded_at"] and "+" not in first["downloaded_at"]  # as the spec writes it
    assert first["metadata"]["architecture"] == "bert"
    assert [model["model_id"] for model in local_only["models"]] == ["my-model"]


def test_a_model_whose_folder_vanished_is_no_longer_listed(client, stored):
    model = stored("gone/model")
    for path in Path(model.path).iterdir():
        path.unlink()
    Path(model.path).rmdir()

    assert client.get("/api/v1/models").json()["count"] == 0
    assert not LocalModel.objects.exists()


def test_a_local_model_is_shown_without_remote_metadata(client, stored):
    stored("team/classifier-v2")

    body = client.get("/api/v1/models/local/team/classifier-v2").json()

    assert body["remote"] is None
    assert body["local"]["model_id"] == "team/classifier-v2"


def test_an_unknown_model_is_404_with_a_detail_body(client, store):
    response = client.get("/api/v1/models/local/nobody/nothing")

    assert response.status_code == 404
    assert response.json() == {"detail": "model local/nobody/nothing not found locally or on the source"}


def test_deleting_a_model_with_a_slash_removes_its_files_row_and_empty_parents(client, stored, store):
    model = stored("org/model-name", source="huggingface")

    response = client.delete("/api/v1/models/huggingface/org/model-name")

    assert response.status_code == 200
    assert response.json() == {"deleted": True, "model_id": "org/model-name", "source": "huggingface"}
    assert not Path(model.path).exists()
    assert not (store / "huggingface" / "org").exists()
    assert client.delete("/api/v1/models/huggingface/org/model-name").status_code == 404


def test_a_model_being_downloaded_cannot_be_deleted(client, stored):
    stored("busy/model")

    with locks.model_lock("local", "busy/model"):
        response = client.delete("/api/v1/models/local/busy/model")

    assert response.status_code == 409
    assert "being downloaded" in response.json()["detail"]
    assert LocalModel.objects.filter(model_id="busy/model").exists()


def test_status_sums_models_per_source(client, stored, store):
    stored("a/one", source="huggingface")
    stored("a/two", source="huggingface", files={"x.bin": b"1" * 1000})
    stored("mine")

    body = client.get("/api/v1/status").json()

    assert body == {
        "model_count": 3,
        "total_size_bytes": 86 + 1000 + 86,
        "storage_path": str(store),
        "sources": {"huggingface": {"count": 2, "size_bytes": 1086}, "local": {"count": 1, "size_bytes": 86}},
    }


def test_clean_unused_removes_models_not_used_nor_downloaded_within_days(client, stored):
    long_ago = timezone.now() - timedelta(days=40)
    stale = stored("old/never-used", downloaded_at=long_ago)
    stored("old/used-lately", downloaded_at=long_ago, last_used=timezone.now() - timedelta(days=2))
    stored("new/never-used")

    dry = client.post("/api/v1/clean", {"unused": True, "days": 30, "dry_run": True}, content_type="application/json")
    real = client.post("/api/v1/clean", {"unused": True, "days": 30}, content_type="application/json")

    assert dry.json() == {"removed": 1, "freed_bytes": 86, "dry_run": True, "models": ["local/old/never-used"]}
    assert real.json() == {"removed": 1, "freed_bytes": 86, "dry_run": False, "models": ["local/old/never-used"]}
    assert not Path(stale.path).exists()
    assert sorted(LocalModel.objects.values_list("model_id", flat=True)) == ["new/never-used", "old/used-lately"]


def test_clean_all_removes_everything_and_without_a_flag_nothing(client, stored):
    stored("a/b")
    stored("c")

    nothing = client.post("/api/v1/clean", {}, content_type="application/json").json()
    everything = client.post("/api/v1/clean", {"all": True}, content_type="application/json").json()

    assert nothing == {"removed": 0, "freed_bytes": 0, "dry_run": False, "models": []}
    assert everything["removed"] == 2 and everything["freed_bytes"] == 172
    assert not LocalModel.objects.exists()


def test_export_gives_paths_for_kitt_or_full_details_as_json(client, stored):
    model = stored("org/model")

    kitt = client.post("/api/v1/export", {}, content_type="application/json").json()
    full = client.post("/api/v1/export", {"format": "json"}, content_type="application/json").json()
    wrong = client.post("/api/v1/export", {"format": "xml"}, content_type="application/json")

    assert kitt == {"format": "kitt", "count": 1, "content": [model.path]}
    assert full["content"] == [
        {
            "source": "local",
            "model_id": "org/model",
            "path": model.path,
            "size_bytes": 86,
            "downloaded_at": full["content"][0]["downloaded_at"],
            "files": ["config.json", "model.safetensors"],
        }
    ]
    assert wrong.status_code == 422
    assert wrong.json()["detail"][0]["loc"] == ["body", "format"]


def test_invalid_bodies_are_422_with_field_errors(client, store):
    response = client.post("/api/v1/clean", {"days": "soon"}, content_type="application/json")

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "days"]


def test_with_a_key_configured_requests_without_it_get_401(client, settings, store):
    settings.MODELYARD_ENV_API_KEYS = ["devon-key"]

    anonymous = client.get("/api/v1/models")
    wrong = client.get("/api/v1/status", HTTP_AUTHORIZATION="Bearer nope")
    allowed = client.get("/api/v1/models", HTTP_AUTHORIZATION="Bearer devon-key")

    assert anonymous.status_code == 401
    assert anonymous.json() == {"detail": "Invalid or missing API key"}
    assert wrong.status_code == 401
    assert allowed.status_code == 200


def test_the_models_cache_lists_stored_models_with_openai_fields(client, stored):
    model = stored("cross-encoder/ms-marco-MiniLM-L-6-v2", source="huggingface", files={"w.bin": b"1" * 90_000})

    body = client.get("/v1/models").json()

    assert body["object"] == "list"
    assert body["data"] == [
        {
            "model_id": "cross-encoder/ms-marco-MiniLM-L-6-v2",
            "size_bytes": 90_000,
            "size_human": "90KB",
            "last_modified": model.downloaded_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "revisions": ["main"],
            "id": "cross-encoder/ms-marco-MiniLM-L-6-v2",
            "object": "model",
            "created": int(model.downloaded_at.timestamp()),
            "owned_by": "cross-encoder",
            "source": "huggingface",
        }
    ]
    assert client.get("/v1/models", {"provider": "ollama"}).status_code == 400


def test_the_models_cache_deletes_a_model_by_name_with_slashes(client, stored):
    model = stored("cross-encoder/ms-marco-MiniLM-L-6-v2", source="huggingface", files={"w.bin": b"1" * 1000})

    response = client.delete("/v1/models/cross-encoder/ms-marco-MiniLM-L-6-v2")

    assert response.json() == {
        "model_name": "cross-encoder/ms-marco-MiniLM-L-6-v2",
        "revisions_deleted": 1,
        "size_freed": 1000,
        "path": model.path,
    }
    assert not Path(model.path).exists()
    assert client.delete("/v1/models/cross-encoder/ms-marco-MiniLM-L-6-v2").status_code == 404


def test_importing_a_folder_copies_it_into_the_store(stored, store, tmp_path):
    from apps.modelstore import services

    source = tmp_path / "outside"
    (source / "sub").mkdir(parents=True)
    (source / "config.json").write_text("{}")
    (source / "sub" / "weights.gguf").write_bytes(b"GGUF" + b"\0" * 20)

    model = services.local_model_import(path=source, source="local", model_id="team/thing")

    assert model.files == ["config.json", "sub/weights.gguf"]
    assert Path(model.path) == store / "local" / "team" / "thing"
    assert (source / "config.json").exists()  # copied, not moved
    assert model.manifest["sub/weights.gguf"]["lfs"] is True


def test_quantizations_of_a_stored_model_are_listed_when_the_hub_cannot_be_reached(client, stored, settings):
    from tests.fakes.servers import free_port

    settings.MODELYARD_HF_ENDPOINT = f"http://127.0.0.1:{free_port()}"
    stored("mine/llm-GGUF", files={"llm-Q5_K_M.gguf": b"G" * 2048, "llm-Q2_K.gguf": b"G" * 1024, "README.md": b"hi"})

    body = client.get("/v1/models/mine/llm-GGUF/quantizations").json()

    assert body == {
        "options": [
            {"filename": "llm-Q2_K.gguf", "quantization": "Q2_K", "size_bytes": 1024, "size_human": "1.0 KB"},
            {"filename": "llm-Q5_K_M.gguf", "quantization": "Q5_K_M", "size_bytes": 2048, "size_human": "2.0 KB"},
        ]
    }


def test_a_rescan_refreshes_changed_models_and_drops_vanished_ones(stored):
    from django.core.management import call_command

    changed, vanished, untouched = stored("a/changed"), stored("a/vanished"), stored("a/same")
    (Path(changed.path) / "extra.txt").write_text("new file")
    for path in Path(vanished.path).iterdir():
        path.unlink()

    call_command("rescan_models")

    changed.refresh_from_db()
    assert changed.files == ["config.json", "extra.txt", "model.safetensors"]
    assert changed.size_bytes == 86 + 8
    assert not LocalModel.objects.filter(pk=vanished.pk).exists()
    assert LocalModel.objects.get(pk=untouched.pk).manifest == untouched.manifest


def test_the_mirror_can_be_switched_off(client, stored, settings):
    stored("org/model", source="huggingface")
    settings.MODELYARD_MIRROR_ENABLED = False

    response = client.get("/hub/api/models/org/model")

    assert response.status_code == 404
    assert response.json() == {"error": "the mirror is disabled (MODELYARD_MIRROR_ENABLED=false)"}


def test_a_split_gguf_is_one_quantization_option_named_by_its_first_shard(client, stored, settings):
    from tests.fakes.servers import free_port

    settings.MODELYARD_HF_ENDPOINT = f"http://127.0.0.1:{free_port()}"
    stored(
        "mine/big-GGUF",
        files={
            "Q4_K_M/big-Q4_K_M-00001-of-00002.gguf": b"G" * 1536,
            "Q4_K_M/big-Q4_K_M-00002-of-00002.gguf": b"G" * 512,
            "big-Q2_K.gguf": b"G" * 1024,
        },
    )

    body = client.get("/v1/models/mine/big-GGUF/quantizations").json()

    assert body["options"] == [
        {"filename": "big-Q2_K.gguf", "quantization": "Q2_K", "size_bytes": 1024, "size_human": "1.0 KB"},
        {
            "filename": "Q4_K_M/big-Q4_K_M-00001-of-00002.gguf",
            "quantization": "Q4_K_M",
            "size_bytes": 2048,
            "size_human": "2.0 KB",
        },
    ]


def test_the_models_cache_delete_refuses_an_unknown_provider(client, stored):
    model = stored("org/model", source="huggingface")

    response = client.delete("/v1/models/org/model?provider=ollama")

    assert response.status_code == 400
    assert response.json() == {"detail": "unknown provider 'ollama'; use 'universal' or one of huggingface, local"}
    assert Path(model.path).exists()
