"""Every operation of every surface answers what its OpenAPI schema says (schemathesis).

The schemas are generated from the views (drf-spectacular) exactly as `/api/schema/` serves them;
schemathesis sends a few derandomized requests per operation through the WSGI app on the test
database and checks each answer: no 5xx, a status the operation documents, and a body that
matches the documented schema of that status. A new view whose response drifts from its schema
fails here.
"""

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from apps.core.schema import surface_schema
from project.surfaces import SURFACES
from tests.fakes.modelstore_hub import Hub

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
EXAMPLES_PER_OPERATION = 3
KEY = "schema-conformance-key-0123456789"


def event_streams(schema: dict[str, Any]) -> list[str]:
    """Paths whose GET answers only a server-sent event stream. Not sent: such a stream stays open
    until its job ends, or for ever (`/queue/inProgress`), and has no JSON body to check; the
    tests of each app drive them over a live server."""
    return [
        path
        for path, operations in schema["paths"].items()
        if set(operations.get("get", {}).get("responses", {}).get("200", {}).get("content", {}))
        == {"text/event-stream"}
    ]


@pytest.fixture(autouse=True)
def connection_kept_across_requests() -> Iterator[None]:
    """The WSGI app closes the database connection after each request; the test database lives in
    this connection's transaction, so keep it open (as Django's test client does)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def loaded(surface_name: str) -> schemathesis.schemas.BaseSchema:
    surface = next(surface for surface in SURFACES if surface.name == surface_name)
    raw = surface_schema(surface.urlconf)
    schema = schemathesis.openapi.from_dict(raw)
    schema.app = get_wsgi_application()
    return schema.exclude(path=event_streams(raw)) if event_streams(raw) else schema


def conformance_test(surface_name: str) -> Any:
    schema = loaded(surface_name)
    port = next(surface.port for surface in SURFACES if surface.name == surface_name)

    @pytest.mark.django_db
    @schema.parametrize()
    @hypothesis_settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def test(case: schemathesis.Case, settings: Any, hub: Hub) -> None:
        settings.MODELYARD_ENV_API_KEYS = [KEY]
        settings.MODELYARD_HF_ENDPOINT, settings.MODELYARD_HF_TOKEN = hub.url, hub.token  # the hub is the test mirror
        settings.MODELYARD_ML_WAIT_S = 0  # no worker runs here: an ML job is answered 202 at once, not after 5 s
        case.call_and_validate(base_url=f"http://localhost:{port}", headers={"X-API-Key": KEY}, checks=CHECKS)

    return test


# One test per surface, each named for it: a new surface is checked as soon as it is in SURFACES.
for _surface in SURFACES:
    globals()[f"test_{_surface.name}_operations_answer_what_the_schema_says"] = conformance_test(_surface.name)
