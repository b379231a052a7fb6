"""HTTP views of the spec's Projects and Datasets sections (`{"detail": …}` errors).

RAG and task views are `rag_views.py` and `task_views.py`.
"""

from django.conf import settings
from django.http import HttpRequest
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.parsers import JSONParser
from apps.core.renderers import BrowsableAPIRenderer
from apps.core.schema import DetailErrorSerializer, ValidationErrorSerializer
from apps.core.validation import validated
from apps.projects import services
from apps.projects.api import serializers as s
from apps.projects.api.formats import LegacyYAMLParser, LegacyYAMLRenderer, YAMLParser, YAMLRenderer
from apps.projects.models import Dataset, Project
from apps.projects.uploads import HashingUploadHandler

ERROR = DetailErrorSerializer
INVALID = OpenApiResponse(ValidationErrorSerializer, description="Invalid fields, each with its path")
YAML_TYPES = {YAMLParser.media_type, LegacyYAMLParser.media_type}
CONFIG_YAML = OpenApiResponse(OpenApiTypes.OBJECT, description="The config alone, as llamafarm.yaml")


def project_body(project: Project) -> dict:
    return {
        "namespace": project.namespace,
        "name": project.name,
        "config": services.project_config_render(project=project),
    }


def dataset_body(dataset: Dataset, *, details: bool) -> dict:
    entries = list(dataset.files.select_related("file").order_by("uploaded_at", "id"))
    body = {
        "name": dataset.name,
        "database": dataset.database,
        "data_processing_strategy": dataset.data_processing_strategy,
        "files": [entry.file.sha256 for entry in entries],
    }
    if details:
        body["details"] = {
            "total_files": len(entries),
            "total_size_bytes": sum(entry.file.size_bytes for entry in entries),
            "file_details": [
                {
                    "hash": entry.file.sha256,
                    "original_filename": entry.original_filename,
                    "size": entry.file.size_bytes,
                    "timestamp": entry.uploaded_at.timestamp(),
                }
                for entry in entries
            ],
        }
    return body


def wants_yaml(request: Request) -> bool:
    return getattr(request.accepted_renderer, "media_type", "") in YAML_TYPES


# --- projects ---------------------------------------------------------------------------------------


class ProjectListView(APIView):
    @extend_schema(
        operation_id="projects_list",
        summary="List projects",
        responses={200: s.ProjectListSerializer, 503: ERROR},
    )
    def get(self, request: HttpRequest, namespace: str) -> Response:
        projects = services.projects_list(namespace=namespace)
        return Response({"total": len(projects), "projects": [project_body(project) for project in projects]})

    @extend_schema(
        operation_id="project_create",
        summary="Create project",
        description="`config_template`: `server` (default, chat on the local runtime) or `rag` (plus one "
        "pgvector database with the runtime's embedding model and a universal processing strategy). "
        "409 when the project exists, 404 for an unknown template.",
        request=s.ProjectCreateSerializer,
        responses={200: s.ProjectEnvelopeSerializer, 400: ERROR, 404: ERROR, 409: ERROR, 422: INVALID},
    )
    def post(self, request: HttpRequest, namespace: str) -> Response:
        body = validated(s.ProjectCreateSerializer, request.data)
        project = services.project_create(
            namespace=namespace, name=body["name"], config_template_name=body.get("config_template")
        )
        return Response({"project": project_body(project)})


class ProjectDetailView(APIView):
    parser_classes = [JSONParser, YAMLParser, LegacyYAMLParser]
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, YAMLRenderer, LegacyYAMLRenderer]

    @extend_schema(
        operation_id="project_get",
        summary="Get project",
        description="With `Accept: application/yaml`, the config alone as llamafarm.yaml.",
        responses={
            (200, "application/json"): s.ProjectEnvelopeSerializer,
            (200, "application/yaml"): CONFIG_YAML,
            404: ERROR,
        },
    )
    def get(self, request: HttpRequest, namespace: str, project: str) -> Response:
        found = services.project_get(namespace=namespace, name=project)
        return self._answer(request, found)

    @extend_schema(
        operation_id="project_update",
        summary="Update project configuration",
        description='JSON `{"config": {...}}`, or the config itself as YAML (`Content-Type: application/yaml`). '
        "Legacy flat `runtime` and prompt lists are converted; every violation is a 422 entry with its path.",
        request={
            "application/json": s.ProjectUpdateSerializer,
            "application/yaml": OpenApiTypes.OBJECT,
            "application/x-yaml": OpenApiTypes.OBJECT,
        },
        responses={
            (200, "application/json"): s.ProjectEnvelopeSerializer,
            (200, "application/yaml"): CONFIG_YAML,
            400: ERROR,
            404: ERROR,
            422: INVALID,
        },
    )
    def put(self, request: HttpRequest, namespace: str, project: str) -> Response:
        found = services.project_get(namespace=namespace, name=project)
        if request.content_type.split(";")[0].strip() in YAML_TYPES:
            config = request.data
            if isinstance(config, dict) and set(config) == {"config"}:
                config = config["config"]
        else:
            config = validated(s.ProjectUpdateSerializer, request.data)["config"]
        updated = services.project_config_replace(project=found, config=config)
        return self._answer(request, updated)

    @extend_schema(
        operation_id="project_delete",
        summary="Delete project",
        description="Deletes the project, its datasets, files no other project holds and its vectors; "
        "answers the project as it was.",
        responses={200: s.ProjectEnvelopeSerializer, 404: ERROR},
    )
    def delete(self, request: HttpRequest, namespace: str, project: str) -> Response:
        found = services.project_get(namespace=namespace, name=project)
        return Response({"project": services.project_delete(project=found)})

    @staticmethod
    def _answer(request: Request, project: Project) -> Response:
        body = project_body(project)
        return Response(body["config"] if wants_yaml(request) else {"project": body})


# --- datasets ---------------------------------------------------------------------------------------


class DatasetListView(APIView):
    @extend_schema(
        operation_id="dataset_list",
        summary="List datasets",
        parameters=[s.DatasetListQuerySerializer],
        responses={200: s.DatasetListSerializer, 404: ERROR},
    )
    def get(self, request: HttpRequest, namespace: str, project: str) -> Response:
        found = services.project_get(namespace=namespace, name=project)
        details = validated(s.DatasetListQuerySerializer, request.query_params)["include_extra_details"]
        datasets = services.datasets_list(project=found)
        return Response(
            {"total": len(datasets), "datasets": [dataset_body(dataset, details=details) for dataset in datasets]}
        )

    @extend_schema(
        operation_id="dataset_create",
        summary="Create dataset",
        description="The database (default: the config's default) and the strategy must exist in the config: "
        "422 with an entry (its `loc` the field, its `msg` naming those that exist) for each that does not; "
        "404 for an unknown project; 409 when the dataset exists.",
        request=s.DatasetCreateSerializer,
        responses={200: s.DatasetEnvelopeSerializer, 400: ERROR, 404: ERROR, 409: ERROR, 422: INVALID},
    )
    def post(self, request: HttpRequest, namespace: str, project: str) -> Response:
        found = services.project_get(namespace=namespace, name=project)
        body = validated(s.DatasetCreateSerializer, request.data)
        dataset = services.dataset_create(
            project=found,
            name=body["name"],
            database=body.get("database"),
            data_processing_strategy=body["data_processing_strategy"],
        )
        return Response({"dataset": dataset_body(dataset, details=False)})


class DatasetStrategiesView(APIView):
    @extend_schema(
        operation_id="dataset_strategies_list",
        summary="Get available strategies",
        responses={200: s.StrategiesSerializer, 404: ERROR},
    )
    def get(self, request: HttpRequest, namespace: str, project: str) -> Response:
        found = services.project_get(namespace=namespace, name=project)
        databases = [database["name"] for database in (found.config.get("rag") or {}).get("databases") or []]
        return Response({"data_processing_strategies": services.strategies_list(project=found), "databases": databases})


class DatasetDetailView(APIView):
    @extend_schema(
        operation_id="dataset_delete",
        summary="Delete dataset",
        description="Its files' chunks go too; files no other dataset holds are removed from disk.",
        responses={200: s.DatasetEnvelopeSerializer, 404: ERROR},
    )
    def delete(self, request: HttpRequest, namespace: str, project: str, dataset: str) -> Response:
        found = services.dataset_get(project=services.project_get(namespace=namespace, name=project), name=dataset)
        body = dataset_body(found, details=False)
        services.dataset_delete(dataset=found)
        return Response({"dataset": body})


class DatasetUploadView(APIView):
    """The upload streams into a temporary file while hashed (`HashingUploadHandler`), never into memory."""

    parser_classes = [MultiPartParser]

    def initialize_request(self, request: HttpRequest, *args: object, **kwargs: object) -> Request:
        self.upload_handler = HashingUploadHandler(
            field_name="file",
            temp_dir=services.upload_temp_dir(),
            max_bytes=settings.MODELYARD_PROJECTS_MAX_UPLOAD_MB * 1024 * 1024,
            request=request,
        )
        request.upload_handlers = [self.upload_handler]
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(
        operation_id="dataset_data_upload",
        summary="Upload file to dataset",
        description="Multipart field `file`, at most MODELYARD_PROJECTS_MAX_UPLOAD_MB (413 past it, nothing "
        "kept). Stored once per content (SHA-256); the same content in the same dataset answers "
        "`skipped: true`. Uploading does not process: use the dataset's actions.",
        request={"multipart/form-data": s.UploadSerializer},
        responses={200: s.UploadResultSerializer, 404: ERROR, 413: ERROR, 422: INVALID},
    )
    def post(self, request: HttpRequest, namespace: str, project: str, dataset: str) -> Response:
        try:
            found = services.dataset_get(project=services.project_get(namespace=namespace, name=project), name=dataset)
            upload = validated(s.UploadSerializer, request.data)["file"]
            entry, added = services.dataset_file_add(dataset=found, received=upload.received)
        finally:
            self.upload_handler.discard()
        return Response(
            {"filename": entry.original_filename, "hash": entry.file.sha256, "processed": False, "skipped": not added}
        )


class DatasetFileView(APIView):
    @extend_schema(
        operation_id="dataset_data_delete",
        summary="Remove file from dataset",
        description="Removes the file's chunks from every database; with `remove_from_disk=true` the bytes "
        "too, unless another dataset holds them. 404 for a hash the dataset does not have.",
        parameters=[s.FileRemoveQuerySerializer],
        responses={200: s.FileRemovedSerializer, 404: ERROR},
    )
    def delete(self, request: HttpRequest, namespace: str, project: str, dataset: str, file_hash: str) -> Response:
        found = services.dataset_get(project=services.project_get(namespace=namespace, name=project), name=dataset)
        remove = validated(s.FileRemoveQuerySerializer, request.query_params)["remove_from_disk"]
        services.dataset_file_remove(dataset=found, file_hash=file_hash, remove_from_disk=remove)
        return Response({"file_hash": file_hash})
