"""Fixtures of the backends tests: fake inference servers on 127.0.0.1, stopped after each test."""

from collections.abc import Callable, Iterator
from typing import TypeVar

import httpx2
import openai
import pytest
from django.core.wsgi import get_wsgi_application

from apps.backends import routing
from tests.fakes.backends_ollama import FakeOllama
from tests.fakes.backends_openai import FakeOpenAI

Server = TypeVar("Server", FakeOllama, FakeOpenAI)


def _starter(server_class: type[Server]) -> Iterator[Callable[..., Server]]:
    """Yields a function that starts servers of `server_class`; stops them all afterwards."""
    started: list[Server] = []

    def start(**options: object) -> Server:
        server = server_class(**options)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def fake_ollama() -> Iterator[Callable[..., FakeOllama]]:
    """Starts fake Ollama servers: `fake_ollama(name="ollama-a", models=[...], chunk_delay_s=0.01)`."""
    yield from _starter(FakeOllama)


@pytest.fixture
def fake_openai() -> Iterator[Callable[..., FakeOpenAI]]:
    """Starts fake OpenAI-compatible servers: `fake_openai(api_key="sk-…", flavor="vllm", models=[...])`."""
    yield from _starter(FakeOpenAI)


@pytest.fixture
def fresh_routing() -> Iterator[None]:
    """A test that starts and ends with no cached routing table and no backend in cool-down."""
    routing.routing_invalidate()
    routing.routing_health_reset()
    yield
    routing.routing_invalidate()
    routing.routing_health_reset()


@pytest.fixture
def client_openai() -> openai.OpenAI:
    """The official `openai` client, talking to the platform in-process (WSGI, the test database)."""
    transport = httpx2.WSGITransport(app=get_wsgi_application())
    return openai.OpenAI(
        base_url="http://testserver/v1",
        api_key="unused",
        max_retries=0,
        http_client=httpx2.Client(transport=transport, base_url="http://testserver/v1"),
    )
