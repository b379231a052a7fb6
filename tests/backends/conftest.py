"""Fixtures of the backends tests: fake inference servers on 127.0.0.1, stopped after each test."""

from collections.abc import Callable, Iterator

import pytest

from tests.fakes.backends_ollama import FakeOllama
from tests.fakes.backends_openai import FakeOpenAI


@pytest.fixture
def fake_ollama() -> Iterator[Callable[..., FakeOllama]]:
    """Starts fake Ollama servers: `fake_ollama(name="ollama-a", models=[...], chunk_delay_s=0.01)`."""
    started: list[FakeOllama] = []

    def start(**options: object) -> FakeOllama:
        server = FakeOllama(**options)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def fake_openai() -> Iterator[Callable[..., FakeOpenAI]]:
    """Starts fake OpenAI-compatible servers: `fake_openai(api_key="sk-…", flavor="vllm", models=[...])`."""
    started: list[FakeOpenAI] = []

    def start(**options: object) -> FakeOpenAI:
        server = FakeOpenAI(**options)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
