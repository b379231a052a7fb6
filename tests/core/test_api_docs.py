"""Swagger UI (/api/docs/) groups every surface's operations by the spec they implement, under the
spec's operation ids, with the spec's request examples, and offers the node and forecast schemas."""

import json

import pytest
from django.test import Client

from apps.core.schema import REQUEST_EXAMPLES, SPEC_TAGS

pytestmark = pytest.mark.django_db


def schema_of(client: Client, url: str = "/api/schema/") -> dict:
    response = client.get(url, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def operations_of(schema: dict) -> dict[str, tuple[str, str, dict]]:
    """Operation id -> (method, path, operation)."""
    return {
        operation["operationId"]: (method.upper(), path, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }


@pytest.fixture(scope="module")
def platform_schema(django_db_setup, django_db_blocker) -> dict:  # noqa: ANN001
    with django_db_blocker.unblock():
        return schema_of(Client())


def test_every_operation_is_tagged_with_exactly_the_specs_it_implements(platform_schema):
    tags = {tag for _, _, operation in operations_of(platform_schema).values() for tag in operation["tags"]}

    assert tags <= set(SPEC_TAGS)
    assert [tag["name"] for tag in platform_schema["tags"]] == [name for name in SPEC_TAGS if name in tags]


@pytest.mark.parametrize(
    ("operation_id", "tags"),
    [
        ("createBackend", ["runtime"]),
        ("assignBackend", ["runtime"]),
        ("executeTaskChain", ["runtime"]),
        ("listRemoteHooks", ["runtime"]),
        ("createChatCompletion", ["OpenAI gateway"]),
        ("models_cache_list", ["OpenAI gateway", "projects / models cache"]),
        ("models_cache_download", ["projects / models cache"]),
        ("system_disk", ["projects / models cache"]),
        ("modelstore_download", ["model store"]),
        ("modelstore_models_list", ["model store"]),
        ("jobs_list", ["platform"]),
        ("health", ["platform"]),
    ],
)
def test_an_operation_is_listed_under_its_spec_with_the_specs_operation_id(platform_schema, operation_id, tags):
    assert operations_of(platform_schema)[operation_id][2]["tags"] == tags


@pytest.mark.parametrize(
    ("surface", "tag"), [("node", "node fit"), ("forecast", "forecast"), ("runtime", "model runtime")]
)
def test_the_node_and_forecast_schemas_group_their_operations_under_their_spec(client, surface, tag):
    schema = schema_of(client, f"/api/schema/{surface}/")

    assert {t for _, _, operation in operations_of(schema).values() for t in operation["tags"]} == {tag}
    assert schema["tags"] == [{"name": tag, "description": SPEC_TAGS[tag]}]


def test_every_request_example_belongs_to_an_operation_with_a_json_body(platform_schema):
    operations = operations_of(platform_schema)

    for operation_id, example in REQUEST_EXAMPLES.items():
        body = operations[operation_id][2]["requestBody"]["content"]["application/json"]
        assert body["examples"]["spec"]["value"] == example, operation_id


@pytest.mark.parametrize(
    ("operation_id", "status"),
    [
        ("createBackend", 201),
        ("createPool", 201),
        ("createModel", 201),
        ("create", 201),
        # Valid chains and completions: with no backend registered, the model call itself fails
        # (422 is the runtime spec's failed chain; 404 OpenAI's model_not_found), never a 400.
        ("executeTaskChain", 422),
        ("createChatCompletion", 404),
        ("createEmbedding", 404),
        ("modelstore_clean", 200),
        ("modelstore_export", 200),
    ],
)
def test_the_request_example_is_a_valid_request(client, platform_schema, operation_id, status):
    method, path, _ = operations_of(platform_schema)[operation_id]

    response = client.generic(method, path, json.dumps(REQUEST_EXAMPLES[operation_id]), content_type="application/json")

    assert response.status_code == status, response.content


def test_swagger_ui_offers_every_surfaces_schema_and_shows_operation_ids(client):
    page = client.get("/api/docs/").content.decode()

    for url in ["/api/schema/", "/api/schema/node/", "/api/schema/forecast/", "/api/schema/runtime/"]:
        assert f'"url": "{url}"' in page
    assert '"displayOperationId": true' in page
    assert 'layout: "StandaloneLayout"' in page  # the layout whose top bar selects a definition
