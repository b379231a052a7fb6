"""The runtime spec's registry: backends, pools, models, associations, provider configs."""

import uuid

import pytest

from apps.backends.models import ProviderConfig

pytestmark = pytest.mark.django_db


def post(client, path, body):
    return client.post(path, body, content_type="application/json")


def put(client, path, body):
    return client.put(path, body, content_type="application/json")


def make_backend(client, name="ollama-1", base_url="http://127.0.0.1:11434", type="ollama"):
    response = post(client, "/backends", {"name": name, "baseUrl": base_url, "type": type})
    assert response.status_code == 201, response.content
    return response.json()


def make_pool(client, name="chat", purpose="Internal Tasks"):
    response = post(client, "/pools", {"name": name, "purposeType": purpose})
    assert response.status_code == 201, response.content
    return response.json()


def make_model(client, model="mistral:instruct", **fields):
    response = post(client, "/models", {"model": model, **fields})
    assert response.status_code == 201, response.content
    return response.json()


# --- backends ------------------------------------------------------------------------------------


def test_a_backend_is_created_listed_updated_and_removed(client):
    created = make_backend(client)
    assert set(created) == {"id", "name", "baseUrl", "type", "createdAt", "updatedAt"}
    uuid.UUID(created["id"])

    listed = client.get("/backends").json()
    assert [(b["name"], b["models"], b["pulledModels"]) for b in listed] == [("ollama-1", [], [])]
    assert "error" not in listed[0]

    updated = put(
        client,
        f"/backends/{created['id']}",
        {"id": "ignored", "name": "ollama-2", "baseUrl": "http://10.0.0.2:11434", "type": "ollama"},
    )
    assert updated.status_code == 200
    assert (updated.json()["id"], updated.json()["name"]) == (created["id"], "ollama-2")  # the path's ID wins

    removed = client.delete(f"/backends/{created['id']}")
    assert (removed.status_code, removed.json()) == (200, "backend removed")
    assert client.get(f"/backends/{created['id']}").status_code == 404


def test_a_duplicate_backend_name_is_a_409_with_the_error_body(client):
    make_backend(client)
    response = post(client, "/backends", {"name": "ollama-1", "baseUrl": "http://x:1", "type": "ollama"})
    assert (response.status_code, response.json()) == (409, {"error": "backend 'ollama-1' already exists"})


def test_an_unknown_backend_is_a_404_with_the_error_body(client):
    missing = uuid.uuid4()
    response = client.get(f"/backends/{missing}")
    assert (response.status_code, response.json()) == (404, {"error": f"backend {missing} not found"})
    assert client.get("/backends/not-a-uuid").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "baseUrl": "http://x:1", "type": "mystery"},
        {"name": "x", "baseUrl": "ftp://x", "type": "ollama"},
        {"baseUrl": "http://x:1", "type": "ollama"},
    ],
)
def test_an_invalid_backend_is_a_400_naming_the_field(client, body):
    response = post(client, "/backends", body)
    assert response.status_code == 400
    assert response.json()["error"].startswith("invalid request: ")


def test_malformed_json_is_a_400_with_the_error_body(client):
    response = client.post("/backends", "{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"].startswith("invalid JSON body")


# --- pools ---------------------------------------------------------------------------------------


def test_pools_are_found_by_id_name_and_purpose(client):
    pool = make_pool(client)
    make_pool(client, name="embeddings", purpose="Internal Embeddings")

    assert client.get(f"/pools/{pool['id']}").json()["name"] == "chat"
    assert client.get("/pool-by-name/chat").json()["id"] == pool["id"]
    assert [p["name"] for p in client.get("/pool-by-purpose/Internal Embeddings").json()] == ["embeddings"]
    assert client.get("/pool-by-name/nope").json() == {"error": "pool 'nope' not found"}
    assert post(client, "/pools", {"name": "chat", "purposeType": "x"}).status_code == 409


def test_pools_by_purpose_page_with_cursor_and_limit(client):
    for index in range(5):
        make_pool(client, name=f"pool-{index}", purpose="batch")

    first = client.get("/pool-by-purpose/batch", {"limit": 2}).json()
    rest = client.get("/pool-by-purpose/batch", {"limit": 10, "cursor": first[-1]["createdAt"]}).json()

    assert [p["name"] for p in first] == ["pool-4", "pool-3"]
    assert [p["name"] for p in rest] == ["pool-2", "pool-1", "pool-0"]
    assert client.get("/pool-by-purpose/batch", {"limit": 0}).status_code == 400


def test_updating_and_deleting_a_pool(client):
    pool = make_pool(client)
    updated = put(client, f"/pools/{pool['id']}", {"name": "chat-2", "purposeType": "Chat"}).json()
    assert (updated["name"], updated["purposeType"]) == ("chat-2", "Chat")
    assert client.delete(f"/pools/{pool['id']}").json() == "deleted"
    assert client.get("/pools").json() == []


# --- models --------------------------------------------------------------------------------------


def test_models_are_declared_and_listed_in_openai_format(client):
    created = make_model(client, contextLength=8192)
    assert created["canChat"] is True and created["contextLength"] == 8192

    listing = client.get("/models").json()
    assert listing["object"] == "list"
    assert listing["data"][0]["id"] == "mistral:instruct"
    assert set(listing["data"][0]) == {"id", "object", "created", "owned_by"}
    assert client.get("/internal/models").json()[0]["id"] == created["id"]


def test_a_model_update_changes_capabilities_but_never_its_name(client):
    created = make_model(client)
    updated = put(client, f"/models/{created['id']}", {"canEmbed": True, "contextLength": 4096})
    renamed = put(client, f"/models/{created['id']}", {"model": "other"})

    assert (updated.json()["canEmbed"], updated.json()["contextLength"]) == (True, 4096)
    assert renamed.status_code == 400 and "cannot change" in renamed.json()["error"]


def test_a_duplicate_model_is_a_409(client):
    make_model(client)
    assert post(client, "/models", {"model": "mistral:instruct"}).status_code == 409


# --- associations --------------------------------------------------------------------------------


def test_backends_and_models_join_and_leave_pools(client):
    backend, pool, model = make_backend(client), make_pool(client), make_model(client)

    assert post(client, f"/backend-associations/{pool['id']}/backends/{backend['id']}", {}).status_code == 201
    assert post(client, f"/model-associations/{pool['id']}/models/{model['id']}", {}).status_code == 200

    assert [p["name"] for p in client.get(f"/backend-associations/{backend['id']}/pools").json()] == ["chat"]
    assert [b["name"] for b in client.get(f"/backend-associations/{pool['id']}/backends").json()] == ["ollama-1"]
    assert [p["name"] for p in client.get(f"/model-associations/{model['id']}/pools").json()] == ["chat"]
    assert [m["model"] for m in client.get(f"/model-associations/{pool['id']}/models").json()] == ["mistral:instruct"]

    again = post(client, f"/backend-associations/{pool['id']}/backends/{backend['id']}", {})
    assert again.status_code == 409

    assert client.delete(f"/backend-associations/{pool['id']}/backends/{backend['id']}").status_code == 200
    assert client.delete(f"/model-associations/{pool['id']}/models/{model['id']}").status_code == 200
    assert client.get(f"/backend-associations/{pool['id']}/backends").json() == []
    assert client.delete(f"/model-associations/{pool['id']}/models/{model['id']}").status_code == 404


def test_associating_unknown_ids_is_a_404(client):
    pool = make_pool(client)
    response = post(client, f"/backend-associations/{pool['id']}/backends/{uuid.uuid4()}", {})
    assert response.status_code == 404 and response.json()["error"].startswith("backend ")


# --- provider configs ----------------------------------------------------------------------------


def test_a_provider_key_is_stored_encrypted_and_shown_masked(client):
    response = post(client, "/providers/openai/configure", {"apiKey": "sk-test-1234567890abcd"})

    assert response.json() == {"Type": "openai", "APIKey": "sk-…abcd"}
    stored = ProviderConfig.objects.get(type="openai").api_key_encrypted
    assert "sk-test" not in stored
    assert client.get("/providers/openai/config").json() == {"Type": "openai", "APIKey": "sk-…abcd"}
    assert client.get("/providers/configs").json() == [{"Type": "openai", "APIKey": "sk-…abcd"}]

    assert client.delete("/providers/openai/config").json() == "deleted"
    assert client.get("/providers/openai/config").status_code == 404


def test_configuring_an_unknown_provider_or_no_key_is_refused(client):
    assert post(client, "/providers/mystery/configure", {"apiKey": "x"}).status_code == 400
    assert post(client, "/providers/openai/configure", {}).status_code == 400


# --- defaults ------------------------------------------------------------------------------------


def test_the_default_model_comes_from_the_environment_or_the_runtime_settings(client, settings):
    settings.MODELYARD_DEFAULT_MODEL = ""
    assert client.get("/defaultmodel").status_code == 404

    settings.MODELYARD_DEFAULT_MODEL = "mistral:latest"
    assert client.get("/defaultmodel").json() == {"modelName": "mistral:latest"}

    from apps.backends.models import RuntimeSettings

    RuntimeSettings.objects.update_or_create(pk=1, defaults={"default_model": "llama3:8b"})
    assert client.get("/defaultmodel").json() == {"modelName": "llama3:8b"}


def test_the_runtime_api_needs_the_key_when_one_is_set(client, settings):
    settings.MODELYARD_ENV_API_KEYS = ["k"]
    response = client.get("/backends")
    assert (response.status_code, response.json()) == (401, {"error": "Invalid or missing API key"})
    assert client.get("/backends", HTTP_X_API_KEY="k").status_code == 200
