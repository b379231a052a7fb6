"""API keys: open without one, required with one, accepted as Bearer or X-API-Key."""

import pytest
from django.core.management import call_command

from apps.core import services
from apps.core.errors import Conflict
from apps.core.models import ApiKey

pytestmark = pytest.mark.django_db

UNAUTHORIZED = {"detail": "Invalid or missing API key"}


def test_with_no_key_configured_the_api_is_open(client):
    assert client.get("/api/v1/jobs/").status_code == 200


def test_with_an_environment_key_the_api_needs_it(client, settings):
    settings.MODELYARD_ENV_API_KEYS = ["env-secret"]

    missing = client.get("/api/v1/jobs/")
    wrong = client.get("/api/v1/jobs/", HTTP_AUTHORIZATION="Bearer nope")

    assert (missing.status_code, missing.json()) == (401, UNAUTHORIZED)
    assert missing["WWW-Authenticate"].startswith("Bearer")
    assert (wrong.status_code, wrong.json()) == (401, UNAUTHORIZED)
    assert client.get("/api/v1/jobs/", HTTP_AUTHORIZATION="Bearer env-secret").status_code == 200
    assert client.get("/api/v1/jobs/", HTTP_X_API_KEY="env-secret").status_code == 200


@pytest.mark.parametrize("path", ["/health", "/health/liveness"])
def test_health_routes_never_need_a_key(client, settings, path):
    settings.MODELYARD_ENV_API_KEYS = ["env-secret"]
    assert client.get(path).status_code in {200, 503}


@pytest.mark.parametrize("path", ["/", "/info", "/v1/system/disk", "/api/schema/"])
def test_every_other_api_path_needs_the_key(client, settings, path):
    settings.MODELYARD_ENV_API_KEYS = ["env-secret"]
    assert client.get(path).status_code == 401
    assert client.get(path, HTTP_X_API_KEY="env-secret").status_code == 200


def test_a_database_key_is_stored_hashed_works_and_records_its_use(client):
    key, raw_key = services.api_key_create(name="ci")

    assert raw_key not in {key.key_hash, key.prefix}
    assert key.key_hash == ApiKey.hash_key(raw_key)
    assert client.get("/api/v1/jobs/").status_code == 401  # a key now exists: the API is closed
    assert client.get("/api/v1/jobs/", HTTP_AUTHORIZATION=f"Bearer {raw_key}").status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_a_revoked_key_is_refused(client):
    _, raw_key = services.api_key_create(name="old")
    services.api_key_create(name="current")
    services.api_key_revoke(name="old")

    assert client.get("/api/v1/jobs/", HTTP_X_API_KEY=raw_key).status_code == 401


def test_a_staff_session_may_read_the_api(admin_client, settings):
    settings.MODELYARD_ENV_API_KEYS = ["env-secret"]
    assert admin_client.get("/api/v1/jobs/").status_code == 200


def test_the_apikey_command_prints_a_working_key_once(client, capsys):
    call_command("apikey", "create", "--name", "shell")
    raw_key = capsys.readouterr().out.strip()

    assert client.get("/api/v1/jobs/", HTTP_AUTHORIZATION=f"Bearer {raw_key}").status_code == 200
    call_command("apikey", "list")
    listing = capsys.readouterr().out
    assert "shell" in listing and raw_key not in listing


def test_duplicate_key_names_are_refused():
    services.api_key_create(name="dup")
    with pytest.raises(Conflict, match="already exists"):
        services.api_key_create(name="dup")
