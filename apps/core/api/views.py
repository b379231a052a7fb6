from pathlib import Path

from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core import jobs, system
from apps.core.api import serializers
from apps.core.error_handlers import DATABASE_RETRY_AFTER_S
from apps.core.errors import Conflict
from apps.core.models import Job
from apps.core.sse import MEDIA_TYPE, EventStreamRenderer, sse_response

NOT_FOUND = OpenApiResponse(serializers.DetailErrorSerializer, description="No such job")


class JobViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Background jobs: downloads, pulls, ingestions, fine-tunes, fits, syncs."""

    serializer_class = serializers.JobSerializer
    lookup_value_regex = "[^/]+"

    def get_serializer_class(self):  # noqa: ANN201
        return serializers.JobListItemSerializer if self.action == "list" else serializers.JobSerializer

    def get_queryset(self):  # noqa: ANN201
        filters = serializers.JobFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return Job.objects.filter(**filters.validated_data).order_by("-created_at")

    @extend_schema(operation_id="jobs_list", parameters=[serializers.JobFilterSerializer])
    def list(self, request: HttpRequest) -> Response:
        return super().list(request)

    @extend_schema(operation_id="jobs_retrieve", responses={200: serializers.JobSerializer, 404: NOT_FOUND})
    def retrieve(self, request: HttpRequest, pk: str) -> Response:
        return Response(self.get_serializer(jobs.job_get(job_id=pk)).data)

    @extend_schema(
        operation_id="jobs_cancel",
        description=(
            "Cancel a job: a pending one at once, a running one at its next check. 200 with the job and what "
            "the cancel did (`outcome`, `pending_children_cancelled`, `running_children_at_cancel`); 409 when "
            "it has finished."
        ),
        responses={
            200: serializers.JobCancelSerializer,
            404: NOT_FOUND,
            409: OpenApiResponse(serializers.JobFinishedErrorSerializer, description="Already finished"),
        },
    )
    def destroy(self, request: HttpRequest, pk: str) -> Response:
        report = jobs.job_cancel(job_id=pk)
        if report.outcome != "cancelled":  # this API answers 409 once the job has finished
            raise Conflict(f"job {report.job.id} already finished ({report.job.state})", state=report.job.state)
        return Response(serializers.JobCancelSerializer(report).data)

    @extend_schema(
        operation_id="jobs_events",
        description=(
            "Server-Sent Events: `state` with the job at once, `progress` as it happens (after a second "
            "without an event the job is re-read, so progress shows even when events are lost), then one "
            "of `complete`, `error` or `cancelled`, and the stream ends. Each `data:` is the job."
        ),
        responses={(200, MEDIA_TYPE): OpenApiTypes.STR, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, EventStreamRenderer])
    def events(self, request: HttpRequest, pk: str) -> HttpResponseBase:
        job = jobs.job_get(job_id=pk)
        return sse_response(jobs.job_event_stream(job_id=str(job.id)))


class PublicView(APIView):
    """Health routes: never need a key."""

    authentication_classes: list = []
    permission_classes = [AllowAny]


class PlatformHealthView(PublicView):
    @extend_schema(
        operation_id="health",
        responses={200: serializers.PlatformHealthSerializer, 503: serializers.PlatformHealthSerializer},
    )
    def get(self, request: HttpRequest) -> Response:
        health, database_up = system.platform_health()
        body = serializers.PlatformHealthSerializer(health).data
        if database_up:
            return Response(body)
        return Response(body, status=503, headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)})


class LivenessView(PublicView):
    @extend_schema(operation_id="health_liveness", responses=serializers.LivenessSerializer)
    def get(self, request: HttpRequest) -> Response:
        return Response(serializers.LivenessSerializer({"status": "alive"}).data)


class NodeHealthView(PublicView):
    @extend_schema(operation_id="node_health", responses=serializers.NodeHealthSerializer)
    def get(self, request: HttpRequest) -> Response:
        return Response(serializers.NodeHealthSerializer({"status": "ok", "node": system.node_identity()}).data)


class ForecastHealthView(PublicView):
    @extend_schema(operation_id="forecast_health", responses=serializers.VersionHealthSerializer)
    def get(self, request: HttpRequest) -> Response:
        return Response(
            serializers.VersionHealthSerializer({"status": "ok", "version": settings.MODELYARD_VERSION}).data
        )


class RootView(APIView):
    @extend_schema(operation_id="root", responses=serializers.MessageSerializer)
    def get(self, request: HttpRequest) -> Response:
        return Response(serializers.MessageSerializer({"message": "Hello, World!"}).data)


class InfoView(APIView):
    @extend_schema(operation_id="info", responses=serializers.InfoSerializer)
    def get(self, request: HttpRequest) -> Response:
        info = {"version": settings.MODELYARD_VERSION, "data_directory": str(system.data_dir())}
        return Response(serializers.InfoSerializer(info).data)


class DiskView(APIView):
    @extend_schema(operation_id="system_disk", responses=serializers.DiskSerializer)
    def get(self, request: HttpRequest) -> Response:
        disks = {"cache": system.disk_usage(system.models_dir()), "system": system.disk_usage(Path("/"))}
        return Response(serializers.DiskSerializer(disks).data)
