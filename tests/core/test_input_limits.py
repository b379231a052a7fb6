"""Client input never produces a 5xx (issue 10, A1 A3 A4 A5): integers past range, JSON nested too
deep, bodies too large, too many query parameters, text longer than its column. Each is the surface's
4xx in the surface's error body, on every surface."""

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.db import models
from django.test import AsyncClient
from drf_spectacular.generators import SchemaGenerator
from rest_framework import serializers

from apps.core.validation import INT32_MAX
from project.surfaces import PLATFORM, SURFACES
from tests.core.test_errors import call

pytestmark = pytest.mark.django_db

HUGE = 1000000000000000000000000000000  # the contextLength

TOO_LARGE = "request body too large: at most 8388608 bytes (setting MODELYARD_MAX_BODY_BYTES)"


# --- A1: every integer a client sends has both bounds -----------------------------------------------------


def unbounded_integers(node: object, where: str) -> list[str]:
    """Every `"type": "integer"` in this piece of schema that lacks a minimum or a maximum."""
    found = []
    if isinstance(node, dict):
        if node.get("type") == "integer" and not {"minimum", "maximum"} <= node.keys():
            found.append(where)
        for key, value in node.items():
            found += unbounded_integers(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += unbounded_integers(value, f"{where}[{index}]")
    return found


@pytest.mark.parametrize("surface", SURFACES, ids=lambda surface: surface.name)
def test_every_integer_input_of_every_route_has_both_bounds(surface):
    """The schema is generated from every URL pattern of the surface, so a new app's serializers
    and query parameters are checked as soon as they are routed: use core's BoundedIntegerField."""
    schema = SchemaGenerator(urlconf=surface.urlconf).get_schema(request=None, public=True)
    request_components = {
        name: component for name, component in schema["components"]["schemas"].items() if name.endswith("Request")
    }

    unbounded = unbounded_integers(request_components, "components")
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                unbounded += unbounded_integers(parameter["schema"], f"{method.upper()} {path} ?{parameter['name']}")
            unbounded += unbounded_integers(operation.get("requestBody", {}), f"{method.upper()} {path} body")

    assert unbounded == []


def test_a_context_length_past_its_column_is_400_in_the_runtime_shape(client):
    response = client.post("/models", {"model": "big-ctx", "contextLength": HUGE}, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {
        "error": f"invalid request: contextLength: Ensure this value is less than or equal to {INT32_MAX}."
    }


def test_the_largest_context_length_the_column_holds_is_accepted(client):
    response = client.post("/models", {"model": "big-ctx", "contextLength": INT32_MAX}, content_type="application/json")

    assert response.status_code == 201
    assert response.json()["contextLength"] == INT32_MAX


def test_a_page_limit_past_the_database_range_is_cut_to_the_largest_page(client):
    response = client.get("/api/v1/jobs/", {"limit": str(HUGE), "offset": str(HUGE)})

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_clean_days_past_date_arithmetic_is_422_in_the_model_store_shape(client):
    response = client.post("/api/v1/clean", {"unused": True, "days": 10**12}, content_type="application/json")

    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {"type": "max_value", "loc": ["body", "days"], "msg": "Ensure this value is less than or equal to 36500."}
        ]
    }


@pytest.mark.parametrize(
    ("limit", "message"),
    [
        (str(HUGE), f"Ensure this value is less than or equal to {INT32_MAX}."),
        ("²", "A valid integer is required."),  # str.isdigit() says yes, int() says no
    ],
)
def test_a_mirror_search_limit_that_is_no_usable_integer_is_400_in_the_hub_shape(client, limit, message):
    response = client.get("/hub/api/models", {"limit": limit})

    assert response.status_code == 400
    assert response.json() == {"error": f"invalid request: limit: {message}"}


@pytest.mark.parametrize(("port", "path"), [(8787, "/api/v1/models/top"), (8000, "/api/v1/placement")])
def test_a_max_context_past_range_on_the_node_fit_routes_is_refused(client, port, path):
    response = client.get(path, {"max_context": str(HUGE), "model": "x"}, SERVER_PORT=port)

    assert response.status_code == 400  # placement answers the node spec's errors on the platform port too
    assert str(INT32_MAX) in response.json()["error"]


# --- A3: JSON nested too deep ----------------------------------------


def nested_list(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_a_task_input_nested_500_levels_deep_is_400_in_the_runtime_shape(client):
    body = '{"chain": {"id": "c", "tasks": []}, "input": ' + nested_list(500) + "}"

    response = client.post("/tasks", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"error": "invalid JSON body: JSON nested deeper than 64 levels"}


def test_remote_hook_args_nested_too_deep_are_refused_the_same_way(client):
    tasks = [{"id": "t", "handler": "hook", "hook": {"type": "echo", "args": json.loads(nested_list(80))}}]

    response = client.post("/tasks", {"chain": {"tasks": tasks}, "input": "hi"}, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"error": "invalid JSON body: JSON nested deeper than 64 levels"}


def test_json_nested_past_what_python_can_parse_is_refused_not_a_crash(client):
    response = client.post("/tasks", nested_list(100_000), content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"error": "invalid JSON body: JSON nested deeper than 64 levels"}


def test_nesting_up_to_the_limit_is_accepted():
    from apps.core.parsers import json_body_check

    at_limit = json.loads(nested_list(64))

    assert json_body_check(at_limit) is at_limit


def test_too_deep_json_on_a_detail_surface_is_422_with_the_reason(client):
    response = client.post("/api/v1/nodes/", nested_list(500), content_type="application/json")

    assert response.status_code == 422
    assert response.json() == {
        "detail": [{"type": "json_too_deep", "loc": ["body"], "msg": "JSON nested deeper than 64 levels"}]
    }


# --- A4: bodies too large, too many query parameters --------------------------------------------------


TEN_MB = 10 * 1024 * 1024


@pytest.mark.parametrize(
    ("port", "path", "body"),
    [
        (8000, "/api/v1/nodes/", {"detail": TOO_LARGE}),
        (8000, "/models", {"error": TOO_LARGE}),
        (8787, "/api/v1/models", {"error": TOO_LARGE}),
        (11435, "/health", {"error": TOO_LARGE}),
    ],
)
def test_a_10_mb_json_body_is_413_in_the_error_shape_of_its_route(client, port, path, body):
    payload = json.dumps({"model": "x" * TEN_MB})

    response = client.post(path, payload, content_type="application/json", SERVER_PORT=port)

    assert response.status_code == 413
    assert response.json() == body


def test_under_asgi_a_10_mb_body_is_413_as_well():
    client = AsyncClient()
    payload = json.dumps({"model": "x" * TEN_MB})

    response = async_to_sync(client.post)("/models", payload, content_type="application/json")

    assert response.status_code == 413
    assert response.json() == {"error": TOO_LARGE}


def test_the_body_limit_is_a_setting(client, settings):
    settings.MODELYARD_MAX_BODY_BYTES = 100

    response = client.post("/models", {"model": "m" * 200}, content_type="application/json")

    assert response.status_code == 413
    assert response.json() == {"error": "request body too large: at most 100 bytes (setting MODELYARD_MAX_BODY_BYTES)"}


@pytest.mark.parametrize(
    ("port", "path", "body"),
    [
        (8000, "/api/v1/jobs/", {"detail": "too many query or form parameters: at most 1000"}),
        (8000, "/pools", {"error": "too many query or form parameters: at most 1000"}),
        (8787, "/api/v1/models", {"error": "too many query or form parameters: at most 1000"}),
        (11435, "/health", {"error": "too many query or form parameters: at most 1000"}),
    ],
)
def test_more_than_1000_query_parameters_is_400_in_the_error_shape_of_its_route(client, port, path, body):
    query = "&".join(f"p{index}=1" for index in range(1001))

    response = client.get(f"{path}?{query}", SERVER_PORT=port)

    assert response.status_code == 400
    assert response.json() == body


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (RequestDataTooBig(), 413, TOO_LARGE),
        (TooManyFieldsSent(), 400, "too many query or form parameters: at most 1000"),
    ],
)
def test_the_same_limits_met_inside_a_view_answer_the_same(error, status, message):
    from project.surfaces import NODE

    response = call(NODE, '{"name": "x", "size": 1}', raise_error=error)

    assert response.status_code == status
    assert response.data == {"error": message}


def test_a_task_timeout_past_what_a_thread_can_wait_is_400_in_the_runtime_shape(client):
    tasks = [{"id": "t", "handler": "noop", "timeout": "99999999999999999999h"}]

    response = client.post("/tasks", {"chain": {"tasks": tasks}, "input": "hi"}, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"error": 'task "t": timeout: must be at most 168h', "task": "t", "field": "timeout"}


# --- A5: a text value no longer than its column, a header value a header can carry ------------------------

# Fields checked by their service instead, with a message of their own (each test of that app covers it).
CHECKED_BY_THEIR_SERVICE = {
    ("RemoteHookSerializer", "id"): "up to 64 letters, digits, '.', '_' or '-'",
    ("RemoteHookSerializer", "method"): "one of GET, POST, PUT, PATCH, DELETE",
    ("ModelUpdateSerializer", "model"): "a model's name cannot change",
}


def routed_serializers() -> list:
    """Every serializer the OpenAPI generator meets on every surface's URL patterns."""
    found = {}
    for surface in SURFACES:
        generator = SchemaGenerator(urlconf=surface.urlconf)
        generator.get_schema(request=None, public=True)
        for component in generator.registry._components.values():
            serializer = getattr(component.object, "child", component.object)
            if isinstance(serializer, serializers.ModelSerializer):
                found[type(serializer)] = serializer
    return list(found.values())


def test_every_text_input_of_a_model_serializer_is_no_longer_than_its_column():
    checked = routed_serializers()
    assert {"BackendSerializer", "PoolSerializer", "RemoteHookSerializer"} <= {type(s).__name__ for s in checked}

    too_long = []
    for serializer in checked:
        model = serializer.Meta.model
        for name, field in serializer.fields.items():
            if field.read_only or not isinstance(field, serializers.CharField):
                continue
            column = model._meta.get_field(field.source.split(".")[0])
            if isinstance(column, models.UUIDField) or (type(serializer).__name__, name) in CHECKED_BY_THEIR_SERVICE:
                continue  # a UUID is parsed, not stored as text
            if column.max_length and (field.max_length is None or field.max_length > column.max_length):
                too_long.append(f"{type(serializer).__name__}.{name}: {field.max_length} > {column.max_length}")

    assert too_long == []


def test_a_provider_api_key_that_no_header_can_carry_is_400_in_the_runtime_shape(client):
    response = client.post("/providers/openai/configure", {"apiKey": "clé-ü"}, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid request: apiKey: must be printable ASCII (it is sent as an HTTP header value)"
    }


async def asgi_post_chunked(path: str, body: bytes) -> tuple[int, dict]:
    """POST `body` to the platform through the ASGI application as a chunked request (no
    Content-Length), the way httpx sends a generator body."""
    from django.core.asgi import get_asgi_application

    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict] = []

    async def receive() -> dict:
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()  # the client stays connected until the answer

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", PLATFORM.port),
    }
    await get_asgi_application()(scope, receive, send)
    status = next(message["status"] for message in sent if message["type"] == "http.response.start")
    content = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
    return status, json.loads(content)


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_without_content_length_is_read_not_taken_for_empty():
    body = json.dumps({"prompt": "hi", "model_name": "bar-chat:latest", "model_provider": "frob"}).encode()

    status, answer = async_to_sync(asgi_post_chunked)("/execute", body)

    assert status == 400
    assert answer == {
        "error": "invalid request: model_provider: unknown provider 'frob': use one of local, ollama, openai, vllm"
    }


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_past_the_limit_is_413(settings):
    settings.MODELYARD_MAX_BODY_BYTES = 100

    status, answer = async_to_sync(asgi_post_chunked)("/execute", json.dumps({"prompt": "x" * 200}).encode())

    assert status == 413
    assert answer == {"error": "request body too large: at most 100 bytes (setting MODELYARD_MAX_BODY_BYTES)"}
