"""A backend whose model list is stale: the model was deleted or evicted there since the last sync.

Its "model not found" moves the request on to the next backend that has the model, drops the
model from that backend's state at once and asks for a sync; it is not a failure of the backend.
Any other client error from a backend goes back to the client and never counts against it.
"""

import httpx
import pytest

from apps.backends import routing, services
from apps.backends.models import Backend
from apps.backends.sync import SYNC_KIND, backends_sync
from apps.core.models import Job
from tests.fakes.backends_ollama import FakeOllama
from tests.fakes.backends_openai import FakeOpenAI

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_routing")]


def post(client, path, body):
    return client.post(path, body, content_type="application/json")


def register(*fakes, type: str = "ollama") -> list[Backend]:
    """Register and sync the fakes; forget the syncs that registering asked for."""
    backends = [services.backend_create(name=fake.name, base_url=fake.url, type=type) for fake in fakes]
    backends_sync(backends)
    Job.objects.filter(kind=SYNC_KIND).delete()
    routing.routing_invalidate()
    return backends


def tried_first(backend: Backend, *others: Backend) -> None:
    """Make routing try `backend` first: the others look busy."""
    for other in others:
        routing._in_flight[str(other.id)] = 1


def models_of(backend: Backend) -> list[str]:
    backend.refresh_from_db()
    return backend.model_names


def test_a_model_deleted_on_one_ollama_fails_over_and_is_dropped_from_its_state(client):
    with (
        FakeOllama(name="evicting", models=["m:7b"]) as evicting,
        FakeOllama(name="keeping", models=["m:7b"]) as keeping,
    ):
        stale, fresh = register(evicting, keeping)
        tried_first(stale, fresh)
        deleted = httpx.request("DELETE", f"{evicting.url}/api/delete", json={"model": "m:7b"})
        assert deleted.status_code == 200 and evicting.model_names == []

        first = post(client, "/execute", {"prompt": "hi", "model_name": "m:7b"})
        second = post(client, "/execute", {"prompt": "again", "model_name": "m:7b"})

        assert first.status_code == 200, first.content
        assert (first.json()["backend"], first.json()["response"]) == ("keeping", "[keeping/m:7b] you said: hi")
        assert second.json()["backend"] == "keeping"
        assert len(evicting.requests_to("/api/generate")) == 1  # the second request went straight to B
        assert models_of(stale) == []
        assert models_of(fresh) == ["m:7b"]
        assert Job.objects.filter(kind=SYNC_KIND, state=Job.State.PENDING).count() == 1
        assert str(stale.id) not in routing._failures  # a stale list is not a failure of the backend


def test_a_model_not_found_on_an_openai_compatible_backend_fails_over(client):
    with FakeOpenAI(name="gone", models=["m-chat"]) as gone, FakeOpenAI(name="there", models=["m-chat"]) as there:
        stale, fresh = register(gone, there, type="openai")
        tried_first(stale, fresh)
        gone.remove_model("m-chat")

        response = post(client, "/execute", {"prompt": "hi", "model_name": "m-chat"})

        assert response.status_code == 200, response.content
        assert response.json()["backend"] == "there"
        assert models_of(stale) == []
        assert Job.objects.filter(kind=SYNC_KIND, state=Job.State.PENDING).exists()


def test_a_model_gone_from_every_backend_is_404_naming_each(client):
    with FakeOllama(name="only", models=["m:7b"]) as only:
        (backend,) = register(only)
        only.remove_model("m:7b")

        response = post(client, "/execute", {"prompt": "hi", "model_name": "m:7b"})
        again = post(client, "/execute", {"prompt": "hi", "model_name": "m:7b"})

    assert response.status_code == 404
    assert response.json() == {
        "error": "no backend has model 'm:7b' any more: only: model 'm:7b' not found",
        "model": "m:7b",
    }
    # Routing knows now: no backend has it, so it is simply not there (404), not a failure to retry (503).
    assert (again.status_code, again.json()) == (404, {"error": "no backend has model 'm:7b'", "model": "m:7b"})
    assert models_of(backend) == []


def test_a_client_error_from_a_backend_does_not_count_against_it(client, settings):
    settings.MODELYARD_BACKEND_MAX_FAILURES = 1
    with FakeOllama(name="strict", models=["nomic-embed-text"]) as strict:
        (backend,) = register(strict)

        answers = [post(client, "/execute", {"prompt": "hi", "model_name": "nomic-embed-text"}) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [400, 400, 400]
    assert answers[0].json() == {
        "error": 'backend strict refused the request: "nomic-embed-text:latest" does not support chat'
    }  # sent under the name the backend reported, as every request is
    assert len(strict.requests_to("/api/generate")) == 3  # never skipped for a cool-down
    assert str(backend.id) not in routing._failures
    assert models_of(backend) == ["nomic-embed-text:latest"]  # a refusal does not touch its state
