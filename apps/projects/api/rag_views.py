"""The projects spec's RAG section: query, databases (list, create, get, update, delete), a
database's documents, health and stats. The databases are the project's config
(`apps.projects.databases`); vectors are the rag app's."""

from django.http import HttpRequest
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.schema import DetailErrorSerializer, ValidationErrorSerializer
from apps.core.validation import validated
from apps.projects import databases
from apps.projects.api import rag_serializers as s
from apps.projects.services import database_config_get, project_get
from apps.rag import services as rag

NOT_FOUND = OpenApiResponse(DetailErrorSerializer, description="No such project, database or strategy")
# A query's fields are checked twice: their types by the serializer (a list of field errors), their
# meaning against the chosen strategy by the rag app (one message naming the field).
QUERY_INVALID = OpenApiResponse(
    PolymorphicProxySerializer(
        component_name="RagQueryInvalid",
        serializers=[ValidationErrorSerializer, DetailErrorSerializer],
        resource_type_field_name=None,
    ),
    description="Invalid fields, or an option the chosen strategy cannot honour",
)


class RagQueryView(APIView):
    @extend_schema(
        operation_id="rag_query",
        summary="Query a RAG database",
        description=(
            "Semantic (or hybrid) search of one database: the request's `database`, else the config's default. "
            "An unknown database or retrieval strategy is 404; every option is applied or refused (422). Each "
            "result carries what a citation needs: document id, file name, page, heading, chunk id, score."
        ),
        request=s.RagQuerySerializer,
        responses={200: s.RagQueryResponseSerializer, 404: NOT_FOUND, 422: QUERY_INVALID},
    )
    def post(self, request: HttpRequest, namespace: str, project: str) -> Response:
        owner = project_get(namespace=namespace, name=project)
        options = validated(s.RagQuerySerializer, request.data)
        database = database_config_get(project=owner, name=options.pop("database", None))
        body = rag.rag_query(scope=owner.scope, database=database, **options)
        return Response(s.RagQueryResponseSerializer(body).data)


class DatabaseListView(APIView):
    @extend_schema(
        operation_id="database_list",
        summary="List the project's RAG databases",
        responses={200: s.DatabaseListSerializer, 404: NOT_FOUND},
    )
    def get(self, request: HttpRequest, namespace: str, project: str) -> Response:
        owner = project_get(namespace=namespace, name=project)
        return Response(s.DatabaseListSerializer(databases.databases_list(project=owner)).data)

    @extend_schema(
        operation_id="database_create",
        summary="Create a RAG database",
        description="Adds it to the project's config (validated: 422 with each problem's path), then its storage.",
        request=s.DatabaseCreateSerializer,
        responses={
            201: s.DatabaseCreatedSerializer,
            404: NOT_FOUND,
            409: OpenApiResponse(DetailErrorSerializer, description="The name is taken"),
        },
    )
    def post(self, request: HttpRequest, namespace: str, project: str) -> Response:
        owner = project_get(namespace=namespace, name=project)
        database = validated(s.DatabaseCreateSerializer, request.data)
        created = databases.database_create(project=owner, database=database)
        return Response(s.DatabaseCreatedSerializer({"database": created}).data, status=status.HTTP_201_CREATED)


class DatabaseDetailView(APIView):
    @extend_schema(
        operation_id="database_get",
        summary="Get a RAG database",
        responses={200: s.DatabaseDetailSerializer, 404: NOT_FOUND},
    )
    def get(self, request: HttpRequest, namespace: str, project: str, database_name: str) -> Response:
        owner = project_get(namespace=namespace, name=project)
        return Response(s.DatabaseDetailSerializer(databases.database_get(project=owner, name=database_name)).data)

    @extend_schema(
        operation_id="database_update",
        summary="Update a RAG database's mutable fields",
        description="`name` and `type` are immutable (400 when a different value is sent); `config` is merged.",
        request=s.DatabaseUpdateSerializer,
        responses={200: s.DatabaseDetailSerializer, 404: NOT_FOUND},
    )
    def patch(self, request: HttpRequest, namespace: str, project: str, database_name: str) -> Response:
        owner = project_get(namespace=namespace, name=project)
        changes = validated(s.DatabaseUpdateSerializer, request.data)
        updated = databases.database_update(project=owner, name=database_name, changes=changes)
        return Response(s.DatabaseDetailSerializer(updated).data)

    @extend_schema(
        operation_id="database_delete",
        summary="Delete a RAG database",
        description=(
            "Fails (409) while datasets use it. `delete_collection=false` only removes it from the config and "
            "keeps its vectors."
        ),
        parameters=[s.DatabaseDeleteQuerySerializer],
        responses={
            200: s.DatabaseDeletedSerializer,
            404: NOT_FOUND,
            409: OpenApiResponse(DetailErrorSerializer, description="Datasets depend on it"),
        },
    )
    def delete(self, request: HttpRequest, namespace: str, project: str, database_name: str) -> Response:
        owner = project_get(namespace=namespace, name=project)
        query = validated(s.DatabaseDeleteQuerySerializer, request.query_params)
        deleted = databases.database_delete(
            project=owner, name=database_name, delete_collection=query["delete_collection"]
        )
        return Response(s.DatabaseDeletedSerializer(deleted).data)


class DatabaseDocumentsView(APIView):
    @extend_schema(
        operation_id="database_documents_list",
        summary="List the documents stored in a RAG database",
        parameters=[s.DocumentsQuerySerializer],
        responses={200: s.DocumentSerializer(many=True), 404: NOT_FOUND},
    )
    def get(self, request: HttpRequest, namespace: str, project: str, database_name: str) -> Response:
        owner = project_get(namespace=namespace, name=project)
        query = validated(s.DocumentsQuerySerializer, request.query_params)
        database = database_config_get(project=owner, name=database_name)
        documents = rag.documents_list(scope=owner.scope, database=database["name"], limit=query["limit"])
        return Response(s.DocumentSerializer(documents, many=True).data)


class RagHealthView(APIView):
    @extend_schema(
        operation_id="rag_health",
        summary="Health of a RAG database",
        description="The vector store and the embedder checked for real, with their latency.",
        parameters=[s.DatabaseQuerySerializer],
        responses={200: s.RagHealthSerializer, 404: NOT_FOUND},
    )
    def get(self, request: HttpRequest, namespace: str, project: str) -> Response:
        owner = project_get(namespace=namespace, name=project)
        query = validated(s.DatabaseQuerySerializer, request.query_params)
        database = database_config_get(project=owner, name=query.get("database"))
        return Response(s.RagHealthSerializer(rag.database_health(scope=owner.scope, database=database)).data)


class RagStatsView(APIView):
    @extend_schema(
        operation_id="rag_stats",
        summary="Statistics of a RAG database",
        parameters=[s.DatabaseQuerySerializer],
        responses={200: s.RagStatsSerializer, 404: NOT_FOUND},
    )
    def get(self, request: HttpRequest, namespace: str, project: str) -> Response:
        owner = project_get(namespace=namespace, name=project)
        query = validated(s.DatabaseQuerySerializer, request.query_params)
        database = database_config_get(project=owner, name=query.get("database"))
        return Response(s.RagStatsSerializer(rag.database_stats(scope=owner.scope, database=database)).data)
