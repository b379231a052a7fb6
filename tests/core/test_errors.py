"""Errors: every API answer is JSON in its surface's shape (`detail` or `error`), never HTML."""

import logging

import pytest
from django.test import override_settings
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from apps.core.errors import Conflict, NotFound
from project.surfaces import FORECAST, NODE, PLATFORM

pytestmark = pytest.mark.django_db


class ModelInput(serializers.Serializer):
    name = serializers.CharField()
    size = serializers.IntegerField(min_value=1)


class ExampleView(APIView):
    """Stands for any API view: it validates its body, then calls a service that may raise."""

    permission_classes = [AllowAny]
    raise_error: Exception | None = None
    error_key: str | None = None  # a view may name its spec's error key

    def post(self, request):
        ModelInput(data=request.data).is_valid(raise_exception=True)
        if self.raise_error:
            raise self.raise_error
        return Response({"ok": True})


def call(surface, body, *, content_type="application/json", view_class=ExampleView, **view_attrs):
    request = APIRequestFactory().post("/example", body, content_type=content_type)
    request.surface = surface
    request.request_id = "req-1"
    return view_class.as_view(**view_attrs)(request)


def test_invalid_input_on_a_detail_surface_is_422_with_field_errors():
    response = call(PLATFORM, '{"size": 0}')

    assert response.status_code == 422
    assert response.data == {
        "detail": [
            {"type": "required", "loc": ["body", "name"], "msg": "This field is required."},
            {"type": "min_value", "loc": ["body", "size"], "msg": "Ensure this value is greater than or equal to 1."},
        ]
    }


def test_invalid_input_on_an_error_surface_is_400_with_one_message():
    response = call(NODE, '{"size": 0}')

    assert response.status_code == 400
    assert response.data == {
        "error": "invalid request: name: This field is required.; "
        "size: Ensure this value is greater than or equal to 1."
    }


@pytest.mark.parametrize(
    ("surface", "status", "body"),
    [
        (PLATFORM, 422, {"detail": [{"type": "json_invalid", "loc": ["body"], "msg": "JSON decode error"}]}),
        (FORECAST, 400, None),
    ],
)
def test_malformed_json_is_refused_in_the_surface_shape(surface, status, body):
    response = call(surface, '{"name": ')

    assert response.status_code == status
    if body:
        assert response.data == body
    else:
        assert response.data["error"].startswith("invalid JSON body: JSON parse error")


def test_json_nested_too_deeply_for_the_parser_is_a_parse_error_not_a_500():
    response = call(NODE, "[" * 100_000 + "]" * 100_000)

    assert response.status_code == 400
    assert response.data == {"error": "invalid JSON body: JSON nested deeper than 64 levels"}


@pytest.mark.parametrize(
    ("error", "status"), [(NotFound("pool 'x' not found"), 404), (Conflict("pool 'x' exists"), 409)]
)
def test_domain_errors_map_to_their_status_and_message(error, status):
    ok_body = '{"name": "m", "size": 1}'

    assert call(PLATFORM, ok_body, raise_error=error).data == {"detail": str(error)}
    assert call(NODE, ok_body, raise_error=error).status_code == status
    assert call(NODE, ok_body, raise_error=error).data == {"error": str(error)}


def test_a_view_may_use_the_error_key_of_its_spec_on_any_surface():
    response = call(
        PLATFORM, '{"name": "m", "size": 1}', raise_error=NotFound("backend 7 not found"), error_key="error"
    )

    assert (response.status_code, response.data) == (404, {"error": "backend 7 not found"})


def test_an_unexpected_error_is_logged_and_answers_500_without_a_traceback(caplog):
    with caplog.at_level(logging.ERROR, logger="modelyard.errors"):
        response = call(NODE, '{"name": "m", "size": 1}', raise_error=KeyError("secret internals"))

    assert response.status_code == 500
    assert response.data == {"error": "server error: unexpected KeyError (request id req-1)"}
    assert "Traceback" in caplog.text and "secret internals" in caplog.text


@pytest.mark.parametrize(("port", "key"), [(8000, "detail"), (8787, "error"), (11435, "error")])
def test_an_unknown_path_is_a_json_404_on_every_surface(client, port, key):
    response = client.get("/no/such/path", SERVER_PORT=port)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {key: "Not found"}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/backends/a/b", {"error": "Not found"}),  # a runtime-spec path: its `{"error"}`, not the platform's
        ("/pools/a/b/c", {"error": "Not found"}),
        (
            "/v1/chat/completions/extra",
            {"error": {"message": "Not found", "type": "not_found_error", "param": None, "code": "not_found"}},
        ),
        ("/api/v1/status/extra", {"detail": "Not found"}),
    ],
)
def test_an_unknown_path_under_a_route_answers_in_that_routes_error_body(client, path, body):
    response = client.get(path)

    assert response.status_code == 404
    assert response.json() == body


def test_a_mirror_file_path_with_a_newline_is_answered_by_the_mirror_in_its_error_body(client):
    response = client.get("/hub/org/name/resolve/main/a\nb")

    assert response.status_code == 404
    assert response.json()["error"]  # the hub's body (`.` in a route would have missed the newline)


def test_a_wrong_method_is_a_json_405(client):
    response = client.post("/health")

    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "POST" not allowed.'}


@override_settings(DEBUG=True)
def test_api_paths_answer_json_even_in_debug_mode(client):
    response = client.get("/api/v1/nothing-here")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found"}


def test_admin_pages_keep_their_html_404(admin_client):
    response = admin_client.get("/admin/core/job/00000000-0000-0000-0000-000000000000/change/")
    assert response.status_code in {302, 404}
    assert "application/json" not in response["Content-Type"]


def test_every_response_carries_a_request_id(client):
    assert client.get("/health/liveness")["X-Request-ID"]
    assert client.get("/health/liveness", HTTP_X_REQUEST_ID="abc")["X-Request-ID"] == "abc"
