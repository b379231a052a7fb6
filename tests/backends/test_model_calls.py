"""`services.model_chat` / `model_embed`: the routed model calls other apps use from sync code."""

import pytest
from asgiref.sync import ThreadSensitiveContext, async_to_sync, sync_to_async

from apps.backends import routing, services
from apps.backends.routing import ModelNotFound
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


def test_a_model_no_backend_has_is_not_found(two_backends):
    with pytest.raises(ModelNotFound, match="^no backend has model 'missing:1b'$"):
        services.model_chat(model="missing:1b", messages=[{"role": "user", "content": "hi"}])


@pytest.mark.timeout(20)
def test_model_chat_works_from_a_sync_view_under_asgi(two_backends):
    # An ASGI server runs a sync view in a thread-sensitive context; the routing's ORM calls must
    # not wait for that thread, which is blocked on the model call.
    async def as_an_asgi_server_calls_a_sync_view():
        async with ThreadSensitiveContext():
            return await sync_to_async(services.model_chat)(
                model="llama3:8b", messages=[{"role": "user", "content": "hi"}]
            )

    result, _backend = async_to_sync(as_an_asgi_server_calls_a_sync_view)()

    assert result.text.endswith("you said: hi")


def test_a_model_call_reopens_the_connection_the_server_ended_between_calls(two_backends):
    """Outside requests nothing checks the shared ORM thread's connection: a database restart (or a
    released worker's sessions) used to fail the next embedding of a whole ingestion."""
    from django.db import connection

    def backend_pid() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]

    services.model_embed(model="nomic-embed-text", inputs=["warm up"])
    shared_thread_pid = services._run_async(lambda: sync_to_async(backend_pid)())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [shared_thread_pid])
    routing.routing_invalidate()

    vectors = services.model_embed(model="nomic-embed-text", inputs=["after the restart"])

    assert [len(vector) for vector in vectors] == [32]
