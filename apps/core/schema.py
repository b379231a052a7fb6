"""OpenAPI building blocks shared by every app: the error bodies, and how our authentication
appears in the schema (a drf-spectacular extension)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class DetailErrorSerializer(serializers.Serializer):
    """`{"detail": "..."}`: the platform's error body (model store, projects)."""

    detail = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    """`{"error": "..."}`: the error body of the runtime, node and forecast specs."""

    error = serializers.CharField()


class NodeIdentitySerializer(serializers.Serializer):
    """`{"name", "os"}`: the node in every surface's `/health` and in the node-fit API."""

    name = serializers.CharField()
    os = serializers.CharField()


class DiskUsageSerializer(serializers.Serializer):
    """One disk as `apps.core.system.disk_usage` describes it (projects spec, model store)."""

    total_bytes = serializers.IntegerField()
    used_bytes = serializers.IntegerField()
    free_bytes = serializers.IntegerField()
    path = serializers.CharField()
    percent_free = serializers.FloatField()


ERROR_RESPONSE = OpenApiResponse(ErrorSerializer, description='`{"error": …}`')


class RuntimeApi:
    # Views of specs/runtime-api.md answer errors as `{"error": "..."}` on the platform port,
    # whose other specs say `{"detail": ...}` (a comment, not a docstring: the schema would show a
    # docstring as every operation's description).
    error_key = "error"


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "apps.core.auth.ApiKeyAuthentication"
    name = ["bearer", "apiKey"]

    def get_security_definition(self, auto_schema: object) -> list[dict]:
        return [
            {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <key>"},
            {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        ]
