"""The platform's one `GET /v1/models`: OpenAI's model list and the models cache's list at once.

Every model a pool can route and every stored model, each entry in both shapes; `?provider=` is the
models cache's own view; `GET /v1/models/{id}` is OpenAI's retrieve. Driven by the official
`openai` client: every listed id can be chatted with, or the answer says why not.
"""

import shutil

import openai
import pytest

from apps.backends import routing, services
from apps.backends.sync import backends_sync
from apps.modelstore import layout
from apps.modelstore import services as modelstore
from apps.modelstore.units import human_size_decimal
from tests.fakes.backends_common import FakeModel
from tests.fakes.backends_ollama import FakeOllama

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_routing")]

STORED = "cross-encoder/ms-marco-MiniLM-L-6-v2"
CHAT_SIZE = FakeModel("llama3:8b").size
OPENAI_FIELDS = {"id", "object", "created", "owned_by"}
CACHE_FIELDS = {"model_id", "size_bytes", "size_human", "last_modified", "revisions"}


@pytest.fixture
def stored(settings, tmp_path):
    """One model in a store of this test's own."""
    settings.MODELYARD_HOME = tmp_path / "home"
    folder = layout.model_dir("huggingface", STORED)
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"\0" * 90_000)
    yield modelstore.local_model_record(source="huggingface", model_id=STORED)
    shutil.rmtree(settings.MODELYARD_HOME, ignore_errors=True)


@pytest.fixture
def ollama():
    with FakeOllama(name="catalog-ollama", models=["llama3:8b", FakeModel.embedding("nomic-embed-text")]) as fake:
        backends_sync([services.backend_create(name=fake.name, base_url=fake.url, type="ollama")])
        routing.routing_invalidate()
        yield fake


def test_the_list_has_every_routable_and_every_stored_model_in_both_shapes(client, stored, ollama):
    body = client.get("/v1/models").json()

    assert body["object"] == "list"
    by_id = {entry["id"]: entry for entry in body["data"]}
    assert list(by_id) == [STORED, "llama3:8b", "nomic-embed-text:latest"]
    assert all(OPENAI_FIELDS | CACHE_FIELDS <= set(entry) for entry in body["data"])
    assert by_id["llama3:8b"] == {
        "id": "llama3:8b",
        "object": "model",
        "created": 1714551630,  # the backend's modified_at, 2024-05-01T10:20:30+02:00
        "owned_by": "ollama",
        "model_id": "llama3:8b",
        "size_bytes": CHAT_SIZE,
        "size_human": human_size_decimal(CHAT_SIZE),
        "last_modified": "2024-05-01T08:20:30Z",
        "revisions": ["main"],
        "backends": ["catalog-ollama"],
    }
    assert by_id[STORED] == {**modelstore.cache_entry(stored), "size_bytes": 90_000, "size_human": "90KB"}
    assert "backends" not in by_id[STORED]


def test_provider_universal_is_the_models_cache_view_alone(client, stored, ollama):
    body = client.get("/v1/models", {"provider": "universal"}).json()

    assert body == {"object": "list", "data": [modelstore.cache_entry(stored)]}
    assert set(body["data"][0]) >= CACHE_FIELDS


def test_an_unknown_cache_provider_is_400(client, stored):
    response = client.get("/v1/models", {"provider": "ollama"})

    assert response.status_code == 400
    assert response.json() == {"detail": "unknown provider 'ollama'; use 'universal' or one of huggingface, local"}


def test_provider_local_is_the_models_cache_view_of_imported_models(client, stored, settings):
    folder = layout.model_dir("local", "my-import")
    folder.mkdir(parents=True)
    (folder / "weights.bin").write_bytes(b"\0" * 1000)
    imported = modelstore.local_model_record(source="local", model_id="my-import")

    response = client.get("/v1/models", {"provider": "local"})

    assert response.status_code == 200, response.content
    assert response.json() == {"object": "list", "data": [modelstore.cache_entry(imported)]}


def test_with_pools_only_what_a_pool_can_route_is_listed(client, ollama):
    backend = services.backend_get(backend_id=client.get("/backends").json()[0]["id"])
    pool = services.pool_create(name="chat", purpose_type="Internal Tasks")
    declared = services.model_create(model="llama3:8b")
    services.model_create(model="phi3:mini")  # in the pool, but no backend has it: not routable
    services.pool_backend_assign(pool_id=pool.id, backend_id=backend.id)
    services.pool_model_assign(pool_id=pool.id, model_id=declared.id)

    entries = client.get("/v1/models").json()["data"]

    assert [entry["id"] for entry in entries] == ["llama3:8b"]
    assert entries[0]["created"] == int(declared.created_at.timestamp())


def test_every_listed_id_can_be_chatted_with_or_says_why_not(client_openai, stored, ollama):
    ids = [model.id for model in client_openai.models.list()]
    assert ids == [STORED, "llama3:8b", "nomic-embed-text:latest"]

    answer = client_openai.chat.completions.create(model="llama3:8b", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "[catalog-ollama/llama3:8b] you said: hi"

    with pytest.raises(openai.BadRequestError, match="does not support chat"):
        client_openai.chat.completions.create(
            model="nomic-embed-text:latest", messages=[{"role": "user", "content": "hi"}]
        )
    with pytest.raises(openai.NotFoundError) as stored_only:
        client_openai.chat.completions.create(model=STORED, messages=[{"role": "user", "content": "hi"}])
    assert stored_only.value.body["message"] == (
        f"model '{STORED}' is in the model store, but no backend serves it: stored models are routed only "
        "through a backend that has them (register one that serves it, and add both to a pool if pools are used)"
    )


def test_the_openai_client_retrieves_a_model_by_an_id_with_slashes_and_colons(client_openai, stored, ollama):
    assert client_openai.models.retrieve(STORED).id == STORED
    chat = client_openai.models.retrieve("llama3:8b")
    assert (chat.id, chat.object, chat.owned_by, chat.created) == ("llama3:8b", "model", "ollama", 1714551630)
    assert client_openai.models.retrieve("nomic-embed-text").id == "nomic-embed-text:latest"

    with pytest.raises(openai.NotFoundError) as missing:
        client_openai.models.retrieve("acme/missing")
    assert missing.value.body == {
        "message": "model 'acme/missing' not found: no pool can route it and it is not in the model store",
        "type": "invalid_request_error",
        "param": None,
        "code": "model_not_found",
    }


def test_the_models_cache_delete_still_answers_on_the_same_path(client, stored, ollama):
    response = client.delete(f"/v1/models/{STORED}")

    assert response.status_code == 200
    assert response.json()["model_name"] == STORED
    assert [entry["id"] for entry in client.get("/v1/models").json()["data"]] == [
        "llama3:8b",
        "nomic-embed-text:latest",
    ]
    gone = client.delete(f"/v1/models/{STORED}")
    assert (gone.status_code, gone.json()) == (404, {"detail": f"model {STORED} is not cached"})
