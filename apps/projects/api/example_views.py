"""HTTP views of the spec's Examples section (`{"detail": …}` errors); the logic is `apps.projects.examples`."""

from django.http import HttpRequest
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.schema import DetailErrorSerializer, ValidationErrorSerializer
from apps.core.validation import validated
from apps.projects import examples
from apps.projects.api import example_serializers as s

ERROR = DetailErrorSerializer
INVALID = OpenApiResponse(ValidationErrorSerializer, description="Invalid fields, each with its path")


class ExampleListView(APIView):
    @extend_schema(
        operation_id="examples_list",
        summary="List examples",
        responses={200: s.ExampleListSerializer},
    )
    def get(self, request: HttpRequest) -> Response:
        return Response({"examples": [examples.example_summary(example) for example in examples.examples_all()]})


class ExampleDatasetsView(APIView):
    @extend_schema(
        operation_id="example_datasets_list",
        summary="List an example's datasets",
        responses={200: s.ExampleDatasetListSerializer, 404: ERROR},
    )
    def get(self, request: HttpRequest, example_id: str) -> Response:
        return Response({"datasets": examples.example_datasets(example_id=example_id)})


class ImportProjectView(APIView):
    @extend_schema(
        operation_id="example_import_project",
        summary="Import example as project",
        description="Creates the project from the example's config (its name and namespace replaced), its "
        "datasets with their files, and with `process` starts a dataset run each (`task_ids`). 404 for an "
        "unknown example, 409 when the project exists.",
        request=s.ImportProjectSerializer,
        responses={200: s.ImportedSerializer, 400: ERROR, 404: ERROR, 409: ERROR, 422: INVALID},
    )
    def post(self, request: HttpRequest, example_id: str) -> Response:
        examples.example_get(example_id=example_id)  # an unknown example is a 404 whatever the body
        body = validated(s.ImportProjectSerializer, request.data)
        return Response(examples.example_import_project(example_id=example_id, **body))


class ImportDataView(APIView):
    @extend_schema(
        operation_id="example_import_data",
        summary="Import example data",
        description="Adds the example's datasets to an existing project (with `include_strategies`, its "
        "databases and processing strategies to the project's config first). 404 for an unknown example "
        "or project, or a database or strategy the project lacks.",
        request=s.ImportDataSerializer,
        responses={200: s.ImportedSerializer, 400: ERROR, 404: ERROR, 409: ERROR, 422: INVALID},
    )
    def post(self, request: HttpRequest, example_id: str) -> Response:
        examples.example_get(example_id=example_id)  # an unknown example is a 404 whatever the body
        body = validated(s.ImportDataSerializer, request.data)
        return Response(examples.example_import_data(example_id=example_id, **body))


class ImportDatasetView(APIView):
    @extend_schema(
        operation_id="example_import_dataset",
        summary="Import one example dataset",
        description="Adds one dataset of the example to an existing project, as `target_dataset` when given. "
        "`task_id` is null without `process`.",
        request=s.ImportDatasetSerializer,
        responses={200: s.ImportedDatasetSerializer, 400: ERROR, 404: ERROR, 409: ERROR, 422: INVALID},
    )
    def post(self, request: HttpRequest, example_id: str) -> Response:
        examples.example_get(example_id=example_id)  # an unknown example is a 404 whatever the body
        body = validated(s.ImportDatasetSerializer, request.data)
        body.setdefault("target_dataset", None)
        return Response(examples.example_import_dataset(example_id=example_id, **body))
