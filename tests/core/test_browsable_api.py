"""The browsable API: a browser asking for HTML on the platform port gets DRF's page; every machine
client (`Accept: application/json`, `*/*`, none) gets the same JSON bytes as before; who may read
the API does not change."""

import json

import pytest
from django.test import Client

from apps.core.models import Job

pytestmark = pytest.mark.django_db

# What Chromium and Firefox send for a page.
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
MACHINE_ACCEPTS = [None, "*/*", "application/json"]
KEY = "env-secret-0123456789"


def get(client: Client, path: str, accept: str | None, **extra: str):  # noqa: ANN201
    if accept is not None:
        extra["HTTP_ACCEPT"] = accept
    return client.get(path, **extra)


def json_bytes(body: object) -> bytes:
    """The bytes DRF's JSONRenderer writes for `body` (compact, UTF-8): what clients get today."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


@pytest.fixture
def backend(client: Client) -> dict:
    response = client.post(
        "/backends",
        {"name": "ollama-1", "baseUrl": "http://127.0.0.1:1", "type": "ollama"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()


# --- machine clients: exactly the bytes of before ----------------------------------------------------


@pytest.mark.parametrize("accept", MACHINE_ACCEPTS)
def test_machine_clients_get_the_bare_camelcase_list_as_compact_json(client, backend, accept):
    response = get(client, "/backends", accept)
    by_json = client.get("/backends", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.content == by_json.content == json_bytes(by_json.json())
    assert [(entry["id"], entry["baseUrl"]) for entry in response.json()] == [(backend["id"], backend["baseUrl"])]


@pytest.mark.parametrize("accept", MACHINE_ACCEPTS)
def test_machine_clients_get_the_paginated_jobs_page_as_compact_json(client, accept):
    Job.objects.create(kind="test.browsable")

    response = get(client, "/api/v1/jobs/", accept)
    by_json = client.get("/api/v1/jobs/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.content == by_json.content == json_bytes(by_json.json())
    assert response.json()["count"] == 1


@pytest.mark.parametrize("accept", MACHINE_ACCEPTS)
def test_machine_clients_get_the_runtime_error_body_as_compact_json(client, accept):
    response = get(client, "/backends/no-such-backend", accept)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.content == json_bytes({"error": response.json()["error"]})


@pytest.mark.parametrize("accept", MACHINE_ACCEPTS)
def test_machine_clients_without_the_key_get_the_401_json_body(client, settings, accept):
    settings.MODELYARD_ENV_API_KEYS = [KEY]

    response = get(client, "/api/v1/jobs/", accept)

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.content == b'{"detail":"Invalid or missing API key"}'


def test_a_browser_on_the_node_port_still_gets_the_specs_json(client, settings):
    response = get(client, "/health", BROWSER_ACCEPT, SERVER_PORT=str(settings.MODELYARD_NODE_PORT))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) >= {"status"}


# --- a browser: the browsable page ---------------------------------------------------------------------


def test_a_loopback_browser_with_no_key_configured_gets_the_browsable_list(client, backend):
    response = get(client, "/backends", BROWSER_ACCEPT)
    page = response.content.decode()

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert "Modelyard API" in page
    assert "ollama-1" in page and "baseUrl" in page  # the JSON underneath
    assert 'id="post-generic-content-form"' in page  # a form to create one
    assert "Log in" in page and "/admin/login/?next=/backends" in page


def test_a_staff_session_gets_the_browsable_page_on_a_keyed_install(admin_client, settings):
    settings.MODELYARD_ENV_API_KEYS = [KEY]

    response = get(admin_client, "/api/v1/jobs/", BROWSER_ACCEPT)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert "&quot;count&quot;" in response.content.decode()
    assert "admin" in response.content.decode()  # who is logged in, instead of "Log in"


def test_a_browser_with_no_session_on_a_keyed_install_is_sent_to_the_admin_login(client, settings):
    settings.MODELYARD_ENV_API_KEYS = [KEY]

    response = get(client, "/api/v1/jobs/?limit=5", BROWSER_ACCEPT)

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/api/v1/jobs/%3Flimit%3D5"


def test_a_browser_with_the_key_gets_the_page_without_a_session(client, settings):
    settings.MODELYARD_ENV_API_KEYS = [KEY]

    response = get(client, "/api/v1/jobs/", BROWSER_ACCEPT, HTTP_X_API_KEY=KEY)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"


def test_a_session_of_a_user_who_is_not_staff_gets_a_403_page(client, django_user_model, settings):
    settings.MODELYARD_ENV_API_KEYS = [KEY]
    client.force_login(django_user_model.objects.create_user(username="visitor", password="pw-0123456789"))

    response = get(client, "/api/v1/jobs/", BROWSER_ACCEPT)

    assert response.status_code == 403
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert "Invalid or missing API key" in response.content.decode()


def test_a_browser_gets_an_unknown_object_as_a_page_showing_the_error_body(client):
    response = get(client, "/backends/no-such-backend", BROWSER_ACCEPT)

    assert response.status_code == 404
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert "&quot;error&quot;" in response.content.decode()


def test_a_browser_gets_a_form_for_a_post_only_endpoint(client):
    response = get(client, "/execute", BROWSER_ACCEPT)

    assert response.status_code == 405
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert 'id="post-generic-content-form"' in response.content.decode()


def test_an_event_stream_client_still_gets_the_stream(client):
    job = Job.objects.create(kind="test.browsable", state=Job.State.SUCCESS)

    response = client.get(f"/api/v1/jobs/{job.id}/events", HTTP_ACCEPT="text/event-stream")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")


def test_the_content_form_of_a_post_starts_with_the_specs_example(client):
    page = get(client, "/backends", BROWSER_ACCEPT).content.decode()

    assert "&quot;baseUrl&quot;: &quot;http://ollama-prod.internal:11434&quot;" in page


def test_the_content_form_of_a_put_starts_with_the_objects_current_values(client, backend):
    page = get(client, f"/backends/{backend['id']}", BROWSER_ACCEPT).content.decode()

    assert 'id="put-generic-content-form"' in page
    assert f"&quot;name&quot;: &quot;{backend['name']}&quot;" in page  # sent unchanged, it changes nothing
    assert "ollama-production" not in page  # not the spec's example, which would overwrite the backend


def test_swagger_ui_sends_a_browser_without_a_session_on_a_keyed_install_to_the_admin_login(client, settings):
    settings.MODELYARD_ENV_API_KEYS = [KEY]

    response = get(client, "/api/docs/", BROWSER_ACCEPT)

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/api/docs/"
