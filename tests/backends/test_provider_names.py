"""Provider (backend type) names wherever a client gives one: an unknown one is a 400 naming the
valid ones; a known one that no backend in scope has says exactly that."""

import pytest

from apps.backends import services
from apps.backends.routing import ModelNotFound, Route, RoutingTable, candidates
from apps.core.errors import Invalid, NotFound
from tests.fakes.backends_ollama import FakeOllama

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_routing")]

VALID = "use one of local, ollama, openai, vllm"


def post(client, path, body):
    return client.post(path, body, content_type="application/json")


@pytest.fixture
def ollama():
    with FakeOllama(name="names-ollama", models=["bar-chat:latest"]) as fake:
        services.backend_create(name=fake.name, base_url=fake.url, type="ollama")
        yield fake


# --- /execute ------------------------------------------------------------------------------------


def test_execute_with_an_unknown_provider_is_400_naming_the_valid_ones(client, ollama):
    response = post(client, "/execute", {"prompt": "hi", "model_name": "bar-chat:latest", "model_provider": "frob"})

    assert response.status_code == 400
    assert response.json() == {"error": f"invalid request: model_provider: unknown provider 'frob': {VALID}"}
    assert ollama.requests_to("/api/generate") == []


def test_execute_with_a_provider_no_backend_is_of_is_404_saying_so(client, ollama):
    response = post(client, "/execute", {"prompt": "hi", "model_name": "bar-chat:latest", "model_provider": "vllm"})

    assert response.status_code == 404
    assert response.json() == {"error": "no backend of type 'vllm' is registered"}


def test_execute_with_a_provider_in_no_pool_of_the_model_is_404_naming_the_pools(client, ollama):
    backend = services.backend_get(backend_id=client.get("/backends").json()[0]["id"])
    pool = services.pool_create(name="chat", purpose_type="Internal Tasks")
    model = services.model_create(model="bar-chat:latest")
    services.pool_backend_assign(pool_id=pool.id, backend_id=backend.id)
    services.pool_model_assign(pool_id=pool.id, model_id=model.id)

    response = post(client, "/execute", {"prompt": "hi", "model_name": "bar-chat:latest", "model_provider": "openai"})

    assert response.status_code == 404
    assert response.json() == {"error": "no backend of type 'openai' in pool(s) chat"}


def test_execute_with_the_right_provider_answers_from_that_backend(client, ollama):
    response = post(client, "/execute", {"prompt": "hi", "model_name": "bar-chat:latest", "model_provider": "ollama"})

    assert response.status_code == 200, response.content
    assert (response.json()["backend"], response.json()["backendType"]) == ("names-ollama", "ollama")


# --- the registry --------------------------------------------------------------------------------


def test_creating_a_backend_of_an_unknown_type_is_400_naming_the_valid_ones(client):
    response = post(client, "/backends", {"name": "x", "baseUrl": "http://127.0.0.1:1", "type": "frob"})

    assert response.status_code == 400
    assert response.json() == {"error": f"invalid request: type: unknown provider 'frob': {VALID}"}
    assert client.get("/backends").json() == []


def test_updating_a_backend_to_an_unknown_type_is_400_naming_the_valid_ones(client):
    created = post(client, "/backends", {"name": "x", "baseUrl": "http://127.0.0.1:1", "type": "ollama"}).json()

    response = client.put(
        f"/backends/{created['id']}",
        {"name": "x", "baseUrl": "http://127.0.0.1:1", "type": "frob"},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json() == {"error": f"invalid request: type: unknown provider 'frob': {VALID}"}
    assert client.get(f"/backends/{created['id']}").json()["type"] == "ollama"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/providers/frob/config"),
        ("delete", "/providers/frob/config"),
        ("post", "/providers/frob/configure"),
    ],
)
def test_provider_config_routes_refuse_an_unknown_provider_with_400(client, method, path):
    response = getattr(client, method)(path, {"apiKey": "sk-1"}, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"error": f"unknown provider 'frob': {VALID}"}


def test_a_known_but_unconfigured_provider_is_still_404(client):
    response = client.get("/providers/openai/config")

    assert (response.status_code, response.json()) == (404, {"error": "provider 'openai' is not configured"})


# --- routing, for callers in code (chains, other apps) -------------------------------------------


def route(name: str, *models: str, type: str = "ollama") -> Route:
    return Route(
        backend_id=name,
        name=name,
        type=type,
        base_url=f"http://{name}",
        models=frozenset(models),
        pool_ids=frozenset(),
        synced=True,
    )


def no_pools(*routes: Route) -> RoutingTable:
    return RoutingTable(pools_exist=False, routes=routes, model_pools={}, pool_names={}, api_keys={})


def test_routing_refuses_an_unknown_backend_type():
    with pytest.raises(Invalid, match=f"unknown provider 'frob': {VALID}"):
        candidates(no_pools(route("a", "m:1")), "m:1", backend_type="frob")


def test_routing_names_the_type_when_its_backends_lack_the_model():
    registry = no_pools(route("a", "m:1"), route("b", "other:1", type="vllm"))

    with pytest.raises(ModelNotFound, match=r"^no vllm backend has model 'm:1'$"):
        candidates(registry, "m:1", backend_type="vllm")
    with pytest.raises(NotFound, match="no backend of type 'openai' is registered"):
        candidates(registry, "m:1", backend_type="openai")


def test_model_chat_with_an_unknown_backend_type_is_invalid(ollama):
    with pytest.raises(Invalid, match="unknown provider 'frob'"):
        services.model_chat(model="bar-chat:latest", messages=[{"role": "user", "content": "hi"}], backend_type="frob")
