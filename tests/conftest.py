"""Shared fixtures: the test database and real servers started as subprocesses."""

import logging
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.db import connection, connections

from apps.core import embedded_postgres, events
from tests.fakes.modelstore_hub import Hub, start_hub, stop_hub
from tests.fakes.servers import LiveServer, database_env, start_live_server

# The tests stop the embedded server at the end only if they started it.
EMBEDDED_STARTED_BY_TESTS = not settings.DATABASE_URL and not embedded_postgres.is_running(settings.EMBEDDED_PGDATA)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if EMBEDDED_STARTED_BY_TESTS:
        connections.close_all()
        embedded_postgres.stop(settings.EMBEDDED_PGDATA)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: object) -> Iterator[None]:
    """The test database, with the channel layer of this process pointed at it too."""
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS["default"]["CONFIG"]["NAME"] = connection.settings_dict["NAME"]
    channel_layers.backends.clear()
    yield
    # The channel layer's listener would reconnect to a database about to be dropped: stop it first.
    events.channel_layer_close()
    # Connections of killed subprocesses would block DROP DATABASE.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def fresh_api_key_cache() -> Iterator[None]:
    """Rolled-back tests delete keys without signals: start every test with an empty cache."""
    from apps.core.auth import api_key_cache_clear

    api_key_cache_clear()
    yield
    api_key_cache_clear()


@pytest.fixture
def subprocess_env(django_db_setup: None) -> dict[str, str]:
    """Environment for a `manage.py` subprocess that uses the test database.

    pytest-django creates the test database only for tests marked `django_db`: mark the test.
    """
    return database_env()


@pytest.fixture(scope="module")
def modelyard_server(
    django_db_setup: None, django_db_blocker: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A real daphne + qcluster on the test database, shared by the tests of a module."""
    with django_db_blocker.unblock():
        server = start_live_server(tmp_path_factory.mktemp("serve") / "serve.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def hub(django_db_setup: None, django_db_blocker: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """A Modelyard mirror with the tiny repositories, on its own database, behind an API key: the
    Hugging Face hub of every test that needs one (tests never reach the network)."""
    with django_db_blocker.unblock():
        started = start_hub(tmp_path_factory.mktemp("modelstore-hub"))
    yield started
    with django_db_blocker.unblock():
        stop_hub(started)
