"""Fixtures of the ML tests: a real Modelyard (daphne + worker cluster) with its own data directory,
driven over HTTP, and the intent classifier trained on it once per session (real MiniLM embeddings)."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection

from tests.fakes.servers import LiveServer, database_flush, start_live_server
from tests.ml.intents import HELD_OUT, TRAINING

VERSIONED = re.compile(r"^(?P<base>.+)_\d{8}_\d{6}$")


@dataclass
class MlServer:
    server: LiveServer
    home: Path

    @property
    def url(self) -> str:
        return self.server.url


# Package scope, never session: the server's workers take any job queued in the test database,
# and would run (with their own data directory) the jobs of the tests that follow.
@pytest.fixture(scope="package")
def ml_server(
    django_db_setup: None, django_db_blocker: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MlServer]:
    """`manage.py serve` on the test database with one worker: fits and predictions run on it."""
    home = tmp_path_factory.mktemp("ml-home")
    with django_db_blocker.unblock():
        # The embedded server runs while a connection of this process holds its lease.
        connection.ensure_connection()
        server = start_live_server(
            home / "serve.log",
            MODELYARD_HOME=str(home),
            # django-q2 signs queued tasks with the secret key: the same as this process's.
            MODELYARD_SECRET_KEY=settings.SECRET_KEY,
            HF_HUB_OFFLINE="1",
            # One worker: every job finds the libraries and models the previous ones loaded.
            MODELYARD_WORKERS="1",
        )
    yield MlServer(server=server, home=home)
    server.stop()
    database_flush(django_db_blocker)


@pytest.fixture(scope="package")
def api(ml_server: MlServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ml_server.url, timeout=300) as client:
        yield client


@pytest.fixture(scope="package")
def intent_fit(api: httpx.Client) -> dict:
    """The 4-class intent classifier, fitted once through the API (SetFit on all-MiniLM-L6-v2)."""
    response = api.post(
        "/v1/ml/classifier/fit",
        json={"model": "intents", "training_data": TRAINING, "num_iterations": 3, "batch_size": 16},
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def held_out() -> list[tuple[str, str]]:
    return HELD_OUT
