"""An external database that is down: every route answers 503 with `Retry-After` in its surface's
error body, whether DRF, a plain Django view or a middleware met the error (issue 10, A9)."""

from collections.abc import Iterator

import pytest
from asgiref.sync import async_to_sync
from django.db import connections
from django.db.backends.postgresql.base import DatabaseWrapper
from django.test import AsyncClient, Client

from tests.fakes.servers import free_port

RETRY_AFTER = "5"
MESSAGE = "database unavailable; retry later"


@pytest.fixture
def database_down(django_db_blocker: object) -> Iterator[None]:
    """The default connection pointed at a PostgreSQL server that is not there, as with a
    DATABASE_URL whose server is down (the plain postgresql backend: nothing starts one)."""
    original = connections["default"]
    unreachable = {
        **original.settings_dict,
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "OPTIONS": {"connect_timeout": 2},
    }
    connections["default"] = DatabaseWrapper(unreachable, alias="default")
    try:
        with django_db_blocker.unblock():
            yield
    finally:
        connections["default"].close()
        connections["default"] = original


@pytest.fixture
def browser() -> Client:
    """A client that gets the error page, as a real one does (Django's test client re-raises)."""
    return Client(raise_request_exception=False)


@pytest.mark.parametrize(
    ("port", "path", "body"),
    [
        (8000, "/api/v1/jobs/", {"detail": MESSAGE}),  # model store / projects shape
        (8000, "/backends", {"error": MESSAGE}),  # runtime-api route on the platform
        (8787, "/api/v1/models", {"error": MESSAGE}),  # node surface
    ],
)
def test_an_api_route_answers_503_with_retry_after_in_its_error_shape(database_down, browser, port, path, body):
    response = browser.get(path, SERVER_PORT=port)

    assert response.status_code == 503
    assert response["Retry-After"] == RETRY_AFTER
    assert response.json() == body


def test_an_api_call_with_a_session_cookie_answers_503_although_sessions_need_the_database(database_down, browser):
    browser.cookies["sessionid"] = "a-session-that-must-be-looked-up"

    response = browser.get("/backends")

    assert response.status_code == 503
    assert response["Retry-After"] == RETRY_AFTER
    assert response.json() == {"error": MESSAGE}


def test_the_admin_answers_a_plain_503_page(database_down, browser):
    browser.cookies["sessionid"] = "a-session-that-must-be-looked-up"

    response = browser.get("/admin/")

    assert response.status_code == 503
    assert response["Retry-After"] == RETRY_AFTER
    assert b"The database cannot be reached" in response.content


def test_health_keeps_its_own_body_when_the_database_is_down(database_down, browser):
    response = browser.get("/health")

    assert response.status_code == 503
    assert response["Retry-After"] == RETRY_AFTER
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["services"]["database"].startswith("unhealthy: OperationalError")


def test_under_asgi_the_admin_answers_the_same_503(database_down):
    """Under ASGI Django builds the error page in a worker thread: the exception must still be seen."""
    browser = AsyncClient(raise_request_exception=False)
    browser.cookies["sessionid"] = "a-session-that-must-be-looked-up"

    response = async_to_sync(browser.get)("/admin/")

    assert response.status_code == 503
    assert response["Retry-After"] == RETRY_AFTER
