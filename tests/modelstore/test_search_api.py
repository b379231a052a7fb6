"""Search, remote model info, quantizations and validate-download, with the test mirror as the hub."""

import pytest

from tests.fakes.modelstore_hub import ENCODER, GGUF, GGUF_SIZES, LLAMA
from tests.fakes.servers import free_port

OURS = {LLAMA, ENCODER, GGUF}

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

SPEC_RESULT_KEYS = {
    "source",
    "model_id",
    "model_name",
    "author",
    "total_size_bytes",
    "file_count",
    "parameter_count",
    "architecture",
    "format",
    "quantization",
    "tags",
    "license",
    "downloads",
    "likes",
    "created_at",
    "updated_at",
    "web_url",
    "repo_url",
    "gated",  # beyond the spec: the hub's own field (false, "auto" or "manual")
}


def search(client, **query) -> list[str]:
    """The ids found among this module's repos: other packages (tests/forecasting) add theirs to the
    session's hub."""
    response = client.get("/api/v1/search", {"limit": 100, **query})
    assert response.status_code == 200, response.json()
    return sorted(result["model_id"] for result in response.json()["results"] if result["model_id"] in OURS)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, [LLAMA, ENCODER, GGUF]),
        ({"query": "gguf"}, [GGUF]),
        ({"provider": "tiny-org"}, [ENCODER, GGUF]),
        ({"params": "500k"}, [GGUF]),
        ({"params": "<100k"}, [LLAMA]),
        ({"params": ">=900k"}, [ENCODER]),
        ({"size": "<1mb"}, [LLAMA]),
        ({"size": ">=3mb"}, [ENCODER]),
        ({"format": "gguf"}, [GGUF]),
        ({"format": "safetensors"}, [LLAMA, ENCODER]),
        ({"task": "text-generation"}, [LLAMA, GGUF]),
        ({"license": "apache-2.0"}, [LLAMA]),
        ({"license": "mit", "format": "gguf"}, [GGUF]),
        ({"provider": "acme", "size": ">1gb"}, []),
    ],
)
def test_search_filters_select_from_the_hubs_metadata(client, hub_store, query, expected):
    assert search(client, **query) == sorted(expected)


def test_search_results_carry_the_specs_fields_computed_from_hub_metadata(client, hub_store, hub):
    body = client.get("/api/v1/search", {"query": "gguf", "limit": 5}).json()

    assert body["query"] == "gguf" and body["source"] == "huggingface" and body["count"] == 1
    result = body["results"][0]
    assert set(result) == SPEC_RESULT_KEYS
    assert result["model_id"] == GGUF
    assert result["model_name"] == "tiny-gguf-GGUF"
    assert result["author"] == "tiny-org"
    assert result["total_size_bytes"] == sum(hub.files(GGUF).values())
    assert result["file_count"] == len(GGUF_SIZES) + 1
    assert result["parameter_count"] == 0.000524  # 524,288 parameters, from the GGUF header
    assert result["architecture"] == "llama"
    assert result["format"] == ["gguf"]
    assert result["quantization"] == "F16,Q4_K_M,Q8_0"
    assert result["license"] == "mit"
    assert "license:mit" in result["tags"]
    assert result["web_url"] == f"{hub.url}/{GGUF}"
    assert result["repo_url"] == f"{hub.url}/{GGUF}/tree/main"
    assert result["created_at"].endswith("+00:00")


def test_the_limit_caps_the_results(client, hub_store):
    assert client.get("/api/v1/search", {"limit": 2}).json()["count"] == 2


def test_an_unknown_source_is_400(client, hub_store):
    response = client.get("/api/v1/search", {"source": "civitai"})

    assert response.status_code == 400
    assert response.json() == {"detail": "unknown source 'civitai': use one of huggingface"}


def test_a_malformed_size_filter_is_422(client, hub_store):
    response = client.get("/api/v1/search", {"size": "huge"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "size"]


def test_an_unreachable_hub_is_503(client, store, settings):
    settings.MODELYARD_HF_ENDPOINT = f"http://127.0.0.1:{free_port()}"

    response = client.get("/api/v1/models/huggingface/acme/anything")

    assert response.status_code == 503
    assert "cannot be reached" in response.json()["detail"]


def test_a_model_not_stored_is_shown_with_its_remote_metadata(client, hub_store):
    body = client.get(f"/api/v1/models/huggingface/{ENCODER}").json()

    assert body["local"] is None
    assert body["remote"]["model_id"] == ENCODER
    assert body["remote"]["architecture"] == "bert"
    assert body["remote"]["parameter_count"] == 0.000918


def test_a_model_neither_stored_nor_on_the_hub_is_404(client, hub_store):
    assert client.get("/api/v1/models/huggingface/acme/missing").status_code == 404


def test_quantizations_lists_each_gguf_file_with_its_label_and_size(client, hub_store):
    body = client.get(f"/v1/models/{GGUF}/quantizations").json()

    assert body == {
        "options": [
            {
                "filename": "tiny-gguf-Q4_K_M.gguf",
                "quantization": "Q4_K_M",
                "size_bytes": 300_000,
                "size_human": "292.97 KB",
            },
            {
                "filename": "tiny-gguf-Q8_0.gguf",
                "quantization": "Q8_0",
                "size_bytes": 560_000,
                "size_human": "546.88 KB",
            },
            {"filename": "tiny-gguf-F16.gguf", "quantization": "F16", "size_bytes": 1_050_000, "size_human": "1.0 MB"},
        ]
    }
    assert client.get("/v1/models/acme/missing/quantizations").status_code == 404


def test_validate_download_reports_the_space_needed_and_free(client, hub_store, hub):
    response = client.post("/v1/models/validate-download", {"model_name": GGUF}, content_type="application/json")

    body = response.json()
    assert body["can_download"] is True
    assert body["message"] in ("Sufficient disk space available",) or body["warning"] is True
    assert body["required_bytes"] == sum(hub.files(GGUF).values())
    assert body["available_bytes"] == body["cache_info"]["free_bytes"]
    assert body["cache_info"]["path"] == str(hub_store)
    assert body["system_info"]["path"] == "/"


def test_validate_download_refuses_when_the_disk_would_fill(client, hub_store, settings):
    settings.MODELYARD_DOWNLOAD_MIN_FREE_BYTES = 10**18  # more than any disk: the download would fill it

    body = client.post(
        "/v1/models/validate-download",
        {"model_name": GGUF, "include_patterns": ["*Q4_K_M*"]},
        content_type="application/json",
    ).json()

    assert body["can_download"] is False
    assert body["required_bytes"] == 300_000
    assert body["message"].startswith("Insufficient disk space")


def test_an_sse_client_gets_a_refused_download_as_json_with_the_reason(client, hub_store, hub):
    response = client.post(
        "/v1/models/download",
        {"model_name": "acme/nothing"},
        content_type="application/json",
        HTTP_ACCEPT="text/event-stream",
    )

    assert response.status_code == 404
    assert response.json() == {"detail": f"model 'acme/nothing' not found on {hub.url}"}
