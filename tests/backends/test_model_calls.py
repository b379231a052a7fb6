"""`services.model_chat` / `model_embed`: the routed model calls other apps use from sync code."""

import pytest

from apps.backends import routing, services
from apps.core.errors import Unavailable
from tests.fakes.backends_ollama import FakeOllama

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def two_backends():
    with FakeOllama(name="calls-a") as first, FakeOllama(name="calls-b") as second:
        for fake in (first, second):
            services.backend_create(name=fake.name, base_url=fake.url, type="ollama")
        routing.routing_invalidate()
        routing.routing_health_reset()
        yield first, second


def test_model_chat_answers_from_sync_code_and_fails_over(two_backends):
    first, second = two_backends
    first.go_down()

    result, backend = services.model_chat(model="llama3:8b", messages=[{"role": "user", "content": "hi"}])

    assert backend == "calls-b"
    assert result.text == "[calls-b/llama3:8b] you said: hi"


def test_model_embed_returns_one_vector_per_input(two_backends):
    vectors = services.model_embed(model="nomic-embed-text", inputs=["a b", "c d", "e"])
    assert [len(vector) for vector in vectors] == [32, 32, 32]


def test_a_model_no_backend_has_is_unavailable(two_backends):
    with pytest.raises(Unavailable, match="'missing:1b'"):
        services.model_chat(model="missing:1b", messages=[{"role": "user", "content": "hi"}])
