"""The projects spec's Event Logs API: a project's recorded operations (chat completions,
dataset processing runs) and each one's timed sub-events (`apps.projects.event_logs`)."""

from django.http import HttpRequest
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.schema import DetailErrorSerializer, ValidationErrorSerializer
from apps.core.validation import validated
from apps.projects import event_logs
from apps.projects.api import event_log_serializers as s
from apps.projects.services import project_get

NOT_FOUND = OpenApiResponse(DetailErrorSerializer, description="No such project, or no such event in it")
INVALID = OpenApiResponse(ValidationErrorSerializer, description="A time that is not ISO 8601, a limit outside 1-100")


class EventLogListView(APIView):
    @extend_schema(
        operation_id="event_logs_list",
        summary="List a project's event logs",
        description=(
            "Newest first. `type` filters by event type (`inference`, `rag_processing`); `start_time` / `end_time` "
            "(ISO 8601) bound the start time, both inclusive. `total` counts every match across pages. Events are "
            "kept MODELYARD_EVENT_LOG_RETENTION_DAYS days."
        ),
        parameters=[s.EventLogListQuerySerializer],
        responses={200: s.EventLogListSerializer, 404: NOT_FOUND, 422: INVALID},
    )
    def get(self, request: HttpRequest, namespace: str, project: str) -> Response:
        owner = project_get(namespace=namespace, name=project)
        query = validated(s.EventLogListQuerySerializer, request.query_params)
        total, events = event_logs.event_logs_list(project=owner, **query)
        body = {"total": total, "events": events, "limit": query["limit"], "offset": query["offset"]}
        return Response(s.EventLogListSerializer(body).data)


class EventLogDetailView(APIView):
    @extend_schema(
        operation_id="event_log_get",
        summary="Get an event with its sub-events",
        description=(
            "`data` is the full record (model, messages, response, tokens, counts, error, `duration_ms`); "
            "`sub_events` the timed steps in order, each with `elapsed_ms` since the start and `duration_ms` since "
            "the step before. An unknown id, or one of another project, is 404."
        ),
        responses={200: s.EventLogDetailSerializer, 404: NOT_FOUND},
    )
    def get(self, request: HttpRequest, namespace: str, project: str, event_id: str) -> Response:
        owner = project_get(namespace=namespace, name=project)
        event = event_logs.event_log_get(project=owner, event_id=event_id)
        return Response(s.EventLogDetailSerializer(event_logs.event_log_detail(event=event)).data)
