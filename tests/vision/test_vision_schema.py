"""The Vision routes in the OpenAPI schema: both operations under the spec's paths, each with its
multipart body; the trailing-slash spelling is served too but listed once."""

import pytest
from django.urls import resolve

from apps.vision.api import views

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.mark.parametrize(
    ("path", "operation_id", "fields"),
    [
        ("/v1/vision/ocr", "extract_text", {"file", "images", "model", "languages", "return_boxes"}),
        ("/v1/vision/documents/extract", "extract_from_documents", {"file", "images", "model", "prompts", "task"}),
    ],
)
def test_the_schema_lists_each_vision_operation_with_its_multipart_body(schema, path, operation_id, fields):
    operation = schema["paths"][path]["post"]

    assert operation["operationId"] == operation_id
    body = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    component = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]
    assert set(component["properties"]) == fields
    assert component["properties"]["file"]["format"] == "binary"
    assert f"{path}/" not in schema["paths"]


@pytest.mark.parametrize(
    ("path", "view"),
    [
        ("/v1/vision/ocr", views.OcrView),
        ("/v1/vision/ocr/", views.OcrView),
        ("/v1/vision/documents/extract", views.DocumentExtractView),
        ("/v1/vision/documents/extract/", views.DocumentExtractView),
    ],
)
def test_both_spellings_of_each_path_are_served_by_the_same_view(path, view):
    assert issubclass(resolve(path).func.view_class, view)
