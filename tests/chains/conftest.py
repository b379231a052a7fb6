"""Fixtures of the chains tests: a fake Ollama registered as a backend, a remote hook server, and
helpers that post chains to POST /tasks through the Django test client."""

from collections.abc import Callable, Iterator

import pytest

from apps.backends import routing
from apps.backends import services as backends
from tests.fakes.backends_ollama import FakeOllama
from tests.fakes.chains_hook_server import HookServer


@pytest.fixture
def ollama(settings) -> Iterator[FakeOllama]:
    """A fake Ollama with llama3:8b registered as the only backend; llama3:8b is the default model.

    Tests using it need `django_db(transaction=True)`: model calls read the registry from another thread.
    """
    settings.MODELYARD_DEFAULT_MODEL = "llama3:8b"
    with FakeOllama(name="chains-ollama", models=["llama3:8b", "mistral:7b"]) as fake:
        backends.backend_create(name=fake.name, base_url=fake.url, type="ollama")
        routing.routing_invalidate()
        routing.routing_health_reset()
        yield fake
    routing.routing_invalidate()


@pytest.fixture
def hook_server() -> Iterator[HookServer]:
    with HookServer() as server:
        yield server


def chain_of(*tasks: dict, **fields: object) -> dict:
    return {"id": "test-chain", "description": "a test chain", "tasks": list(tasks), **fields}


def to_end(operator: str = "default", when: str = "") -> dict:
    return {"branches": [{"operator": operator, "when": when, "goto": "end"}]}


def step(task_id: str, handler: str, then: str = "end", **fields: object) -> dict:
    """A task whose only branch (default) goes to `then`."""
    return {
        "id": task_id,
        "handler": handler,
        "transition": {"branches": [{"operator": "default", "goto": then}]},
        **fields,
    }


@pytest.fixture
def run_chain(client) -> Callable[..., object]:
    """`run_chain(chain, input="...", input_type="string", query="")` → the test client's response."""

    def post(chain: dict | list, input: object = "hello", input_type: str = "string", query: str = "") -> object:
        body = {"chain": chain, "input": input, "inputType": input_type}
        return client.post(f"/tasks{query}", body, content_type="application/json")

    return post
