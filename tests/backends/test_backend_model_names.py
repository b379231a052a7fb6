"""Every backend gets a request under the name it reported itself.

Ollama's convention (`mistral` is `mistral:latest`) applies to Ollama backends only: an
OpenAI-compatible backend (OpenAI, vLLM…) has no tags, so `GET /v1/models` lists its models under
its own ids, and the gateway sends them back exactly so. Driven by the official `openai` client.
"""

import openai
import pytest

from apps.backends import routing, services
from apps.backends.models import Backend
from apps.backends.sync import backends_sync
from tests.fakes.backends_ollama import FakeOllama
from tests.fakes.backends_openai import FakeOpenAI

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_routing")]

HI = [{"role": "user", "content": "hi"}]


def register(fake, *, type: str) -> Backend:
    backend = services.backend_create(name=fake.name, base_url=fake.url, type=type)
    backends_sync([backend])
    routing.routing_invalidate()
    return backend


def state_of(backend: Backend) -> list[str]:
    backend.refresh_from_db()
    return backend.model_names


@pytest.fixture
def openai_backend():
    with FakeOpenAI(name="names-openai", models=["solo-model", "gpt-fake", "text-embedding-3-small"]) as fake:
        yield fake, register(fake, type="openai")


def test_an_openai_backends_models_are_listed_under_its_own_ids(client_openai, openai_backend):
    ids = [model.id for model in client_openai.models.list()]

    assert ids == ["gpt-fake", "solo-model", "text-embedding-3-small"]


def test_every_listed_chat_id_chats_and_the_backend_gets_the_name_it_reported(client_openai, openai_backend):
    fake, backend = openai_backend

    answers = {
        model.id: client_openai.chat.completions.create(model=model.id, messages=HI).choices[0].message.content
        for model in client_openai.models.list()
        if "embedding" not in model.id
    }

    assert answers == {
        "gpt-fake": "[names-openai/gpt-fake] you said: hi",
        "solo-model": "[names-openai/solo-model] you said: hi",
    }
    assert [request.json["model"] for request in fake.requests_to("/v1/chat/completions")] == [
        "gpt-fake",
        "solo-model",
    ]
    assert state_of(backend) == ["solo-model", "gpt-fake", "text-embedding-3-small"]  # nothing dropped


def test_the_openai_client_retrieves_an_openai_backends_model_by_its_id(client_openai, openai_backend):
    model = client_openai.models.retrieve("gpt-fake")

    assert (model.id, model.object, model.owned_by) == ("gpt-fake", "model", "openai")


def test_an_ollama_tag_on_an_openai_backends_id_is_another_model(client_openai, openai_backend):
    fake, backend = openai_backend

    with pytest.raises(openai.NotFoundError) as error:
        client_openai.chat.completions.create(model="solo-model:latest", messages=HI)

    assert error.value.body == {
        "message": "no backend has model 'solo-model:latest'",
        "type": "invalid_request_error",
        "param": None,
        "code": "model_not_found",
    }
    assert fake.requests_to("/v1/chat/completions") == []  # never sent a name it did not report
    assert state_of(backend) == ["solo-model", "gpt-fake", "text-embedding-3-small"]
    answer = client_openai.chat.completions.create(model="solo-model", messages=HI)
    assert answer.choices[0].message.content == "[names-openai/solo-model] you said: hi"


def test_an_ollama_name_without_a_tag_reaches_the_ollamas_latest(client_openai):
    with FakeOllama(name="names-ollama", models=["mistral", "nomic-embed-text"]) as fake:
        register(fake, type="ollama")

        ids = [model.id for model in client_openai.models.list()]
        answer = client_openai.chat.completions.create(model="mistral", messages=HI)
        embedded = client_openai.embeddings.create(model="nomic-embed-text", input="hi")

    assert ids == ["mistral:latest", "nomic-embed-text:latest"]
    assert answer.choices[0].message.content == "[names-ollama/mistral:latest] you said: hi"
    assert len(embedded.data[0].embedding) == 32
    assert [request.json["model"] for request in fake.requests_to("/api/chat")] == ["mistral:latest"]
    assert [request.json["model"] for request in fake.requests_to("/api/embed")] == ["nomic-embed-text:latest"]


def test_the_same_name_on_ollama_and_openai_backends_is_listed_once_for_each_convention(client_openai):
    with (
        FakeOllama(name="both-ollama", models=["shared"]) as ollama,
        FakeOpenAI(name="both-openai", models=["shared"]) as served,
    ):
        register(ollama, type="ollama")
        register(served, type="openai")

        entries = {model.id: model.model_extra["backends"] for model in client_openai.models.list()}
        tagged = client_openai.chat.completions.create(model="shared:latest", messages=HI)

    assert entries == {"shared": ["both-ollama", "both-openai"], "shared:latest": ["both-ollama"]}
    assert tagged.choices[0].message.content == "[both-ollama/shared:latest] you said: hi"
    assert [request.json["model"] for request in served.requests_to("/v1/chat/completions")] == []


def test_a_model_gone_from_an_openai_backend_is_dropped_under_its_own_name_only(client_openai, openai_backend):
    fake, backend = openai_backend
    fake.remove_model("solo-model")

    with pytest.raises(openai.NotFoundError):
        client_openai.chat.completions.create(model="solo-model", messages=HI)

    assert [request.json["model"] for request in fake.requests_to("/v1/chat/completions")] == ["solo-model"]
    assert state_of(backend) == ["gpt-fake", "text-embedding-3-small"]
