"""API keys: open to loopback without one, required with one, accepted as Bearer or X-API-Key;
long enough from the environment; a staff session reads and writes with CSRF."""

import asyncio
import os
import subprocess
import sys

import httpx
import pytest
from django.core.asgi import get_asgi_application
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils.crypto import get_random_string

from apps.core import services
from apps.core.errors import Conflict
from apps.core.models import ApiKey, Job
from tests.fakes.servers import ROOT

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


@pytest.mark.parametrize(
    ("authorization", "x_api_key"),
    [("Bearer garbage", "env-secret-key-1234"), ("Bearer env-secret-key-1234", "garbage")],
)
def test_a_valid_key_in_either_header_is_enough_whatever_the_other_carries(client, settings, authorization, x_api_key):
    settings.MODELYARD_ENV_API_KEYS = ["env-secret-key-1234"]

    response = client.get("/backends", HTTP_AUTHORIZATION=authorization, HTTP_X_API_KEY=x_api_key)

    assert response.status_code == 200


def test_the_schema_offers_either_header_not_both_at_once():
    from apps.core.schema import surface_schema

    security = surface_schema()["paths"]["/backends/"]["get"]["security"]

    assert {"bearer": []} in security and {"apiKey": []} in security
    assert all(len(requirement) <= 1 for requirement in security)


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
    settings.MODELYARD_ENV_API_KEYS = ["env-secret-0123456789"]
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


# --- no key: loopback clients only, on every request ----------------------------------------------

REMOTE = "203.0.113.7"  # TEST-NET-3: an address that is not this machine
LOOPBACK_ONLY = {
    "detail": "no API key is configured, so this server answers loopback clients only: create one with "
    "`manage.py apikey create --name NAME` or set MODELYARD_API_KEY"
}
# The requests of issue 11 B1: 200 for anyone once the last key was revoked.
OPEN_TO_ANYONE = [("get", "/api/v1/jobs/"), ("post", "/api/v1/clean"), ("get", "/info")]


def send(client, method: str, path: str, **extra: str):  # noqa: ANN001, ANN201
    return getattr(client, method)(path, content_type="application/json", **extra)


@pytest.mark.parametrize(("method", "path"), OPEN_TO_ANYONE)
def test_with_no_key_a_client_off_loopback_is_refused_403_naming_the_rule(client, method, path):
    response = send(client, method, path, REMOTE_ADDR=REMOTE)

    assert (response.status_code, response.json()) == (403, LOOPBACK_ONLY)


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "127.255.0.9", "::1", "::ffff:127.0.0.1"])
def test_with_no_key_every_loopback_address_may_use_the_api(client, address):
    assert client.get("/api/v1/jobs/", REMOTE_ADDR=address).status_code == 200


def test_revoking_the_last_key_closes_the_api_to_remote_clients_and_warns(client, capsys):
    _, raw_key = services.api_key_create(name="only")
    assert client.get("/api/v1/jobs/", REMOTE_ADDR=REMOTE, HTTP_X_API_KEY=raw_key).status_code == 200

    call_command("apikey", "revoke", "--name", "only")

    output = capsys.readouterr()
    assert output.out.strip() == "Revoked API key 'only'."
    assert "That was the last API key: the API now answers loopback clients only" in output.err
    for method, path in OPEN_TO_ANYONE:
        response = send(client, method, path, REMOTE_ADDR=REMOTE)
        assert (method, path, response.status_code, response.json()) == (method, path, 403, LOOPBACK_ONLY)
    assert client.get("/api/v1/jobs/").status_code == 200  # loopback keeps the open API


def test_revoking_a_key_that_is_not_the_last_does_not_warn(capsys):
    services.api_key_create(name="old")
    services.api_key_create(name="current")

    call_command("apikey", "revoke", "--name", "old")

    assert capsys.readouterr().err == ""


def test_revoking_a_revoked_key_says_so_and_fails_without_the_last_key_warning(capsys):
    services.api_key_create(name="only")
    call_command("apikey", "revoke", "--name", "only")
    capsys.readouterr()

    with pytest.raises(CommandError, match=r"^API key 'only' is already revoked$"):
        call_command("apikey", "revoke", "--name", "only")

    assert capsys.readouterr() == ("", "")


def test_creating_a_key_under_a_revoked_name_says_it_is_revoked_and_how_to_reuse_the_name(capsys):
    services.api_key_create(name="X")
    services.api_key_revoke(name="X")

    with pytest.raises(CommandError) as refused:
        call_command("apikey", "create", "--name", "X")
    call_command("apikey", "delete", "--name", "X")
    call_command("apikey", "create", "--name", "X")

    assert str(refused.value) == (
        "API key 'X' exists and is revoked; delete it first (`manage.py apikey delete --name X`) or choose another name"
    )
    assert ApiKey.objects.get(name="X").is_active


def test_an_active_key_cannot_be_deleted_before_it_is_revoked():
    services.api_key_create(name="live")

    with pytest.raises(CommandError, match=r"^API key 'live' is active; revoke it first"):
        call_command("apikey", "delete", "--name", "live")

    assert ApiKey.objects.filter(name="live").exists()


def test_listing_no_keys_says_there_are_none(capsys):
    call_command("apikey", "list")

    assert capsys.readouterr().out == "no API keys\n"


def test_with_an_environment_key_remote_clients_need_it_and_get_401_without(client, settings):
    settings.MODELYARD_ENV_API_KEYS = ["env-secret-0123456789"]

    missing = client.get("/api/v1/jobs/", REMOTE_ADDR=REMOTE)

    assert (missing.status_code, missing.json()) == (401, UNAUTHORIZED)
    assert client.get("/api/v1/jobs/", REMOTE_ADDR=REMOTE, HTTP_X_API_KEY="env-secret-0123456789").status_code == 200


@pytest.mark.parametrize("path", ["/health", "/health/liveness"])
def test_with_no_key_the_health_routes_still_answer_remote_clients(client, path):
    assert client.get(path, REMOTE_ADDR=REMOTE).status_code in {200, 503}


def test_the_refusal_is_in_the_error_body_of_the_route(client):
    runtime = client.get("/backends", REMOTE_ADDR=REMOTE)
    openai = send(client, "post", "/v1/chat/completions", REMOTE_ADDR=REMOTE)

    assert (runtime.status_code, runtime.json()) == (403, {"error": LOOPBACK_ONLY["detail"]})
    assert openai.status_code == 403
    assert openai.json()["error"]["message"] == LOOPBACK_ONLY["detail"]


@pytest.mark.django_db(transaction=True)
def test_an_asgi_request_from_a_remote_client_is_refused_too():
    async def get_from(address: str, path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=get_asgi_application(), client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
            return await client.get(path)

    remote = asyncio.run(get_from(REMOTE, "/api/v1/jobs/"))
    local = asyncio.run(get_from("127.0.0.3", "/info"))

    assert (remote.status_code, remote.json()) == (403, LOOPBACK_ONLY)
    assert local.status_code == 200


# --- keys from the environment are long enough ------------------------------------------------------


@pytest.mark.parametrize("name", ["MODELYARD_API_KEY", "DEVON_API_KEY"])
def test_an_environment_key_under_16_characters_stops_start_up_with_a_clear_error(name):
    short = run_manage_check(**{name: "x"})
    long_enough = run_manage_check(**{name: "0123456789abcdef"})

    assert short.returncode == 2
    assert short.stderr == (
        f"modelyard: configuration error: {name} must be at least 16 characters, got 1; "
        "make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'\n"
    )
    assert long_enough.returncode == 0, long_enough.stderr


@pytest.mark.parametrize("key", [" 0123456789abcdef", "0123456789abcdef\n", "0123456789abcdef "])
def test_an_environment_key_with_surrounding_whitespace_is_refused_in_one_line_saying_why(key):
    padded = run_manage_check(MODELYARD_API_KEY=key)

    assert padded.returncode == 2
    assert padded.stderr == (
        "modelyard: configuration error: MODELYARD_API_KEY has leading or trailing whitespace; "
        "remove it (clients send the key without it)\n"
    )


def test_an_unusable_setting_stops_the_asgi_application_in_one_line_too():
    clean = {key: value for key, value in os.environ.items() if key != "MODELYARD_API_KEY"}
    started = subprocess.run(
        [sys.executable, "-c", "import project.asgi"],
        cwd=ROOT,
        env={**clean, "MODELYARD_API_KEY": "x"},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert started.returncode == 2
    assert started.stderr.startswith("modelyard: configuration error: MODELYARD_API_KEY must be at least 16")
    assert started.stderr.count("\n") == 1


def run_manage_check(**env: str) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items() if key not in {"MODELYARD_API_KEY", "DEVON_API_KEY"}}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- a staff session reads and writes, with CSRF on writes ----------------------------------------


@pytest.fixture
def staff_browser(admin_user) -> Client:  # noqa: ANN001
    """A browser logged in to the admin as staff, whose writes are CSRF-checked like a real one's."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    return browser


def pending_job() -> Job:
    return Job.objects.create(kind="test.pending", func="tests.fakes.jobs.count_steps")


def test_a_staff_session_may_write_the_api_with_the_csrf_token(staff_browser, settings):
    settings.MODELYARD_ENV_API_KEYS = ["env-secret-0123456789"]
    job = pending_job()
    token = get_random_string(32)
    staff_browser.cookies[settings.CSRF_COOKIE_NAME] = token

    response = staff_browser.delete(f"/api/v1/jobs/{job.id}", HTTP_X_CSRFTOKEN=token)

    assert response.status_code == 200
    assert response.json()["state"] == "CANCELLED"


def test_a_staff_session_write_without_the_csrf_token_is_refused_403(staff_browser, settings):
    settings.MODELYARD_ENV_API_KEYS = ["env-secret-0123456789"]
    job = pending_job()

    response = staff_browser.delete(f"/api/v1/jobs/{job.id}")

    assert response.status_code == 403
    assert response.json() == {"detail": "CSRF Failed: CSRF cookie not set."}
    job.refresh_from_db()
    assert job.state == Job.State.PENDING


def test_a_session_of_a_user_who_is_not_staff_gets_no_access(client, django_user_model, settings):
    settings.MODELYARD_ENV_API_KEYS = ["env-secret-0123456789"]
    client.force_login(django_user_model.objects.create_user(username="visitor", password="pw-0123456789"))

    response = client.get("/api/v1/jobs/")

    assert (response.status_code, response.json()) == (403, UNAUTHORIZED)
