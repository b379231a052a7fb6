"""HTTP views of the model-store API (`/api/v1/…`) and of the models cache API (`/v1/models…`)."""

import logging
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers as drf_serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core import jobs, sse
from apps.core.schema import DetailErrorSerializer
from apps.core.sse import EventStreamRenderer, sse_data_response
from apps.core.validation import validated
from apps.modelstore import downloads, services
from apps.modelstore.api import serializers
from apps.modelstore.sources.base import SearchFilters

logger = logging.getLogger(__name__)

ERROR = DetailErrorSerializer
MODEL_ID_PARAMETER = OpenApiParameter(
    "model_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="Model identifier; may contain '/'"
)


# --- model-store API ---------------------------------------------------------------------------------


class FormatIsAFilter(DefaultContentNegotiation):
    """The spec's `format` query parameter is a search filter, not DRF's renderer override."""

    settings = SimpleNamespace(URL_FORMAT_OVERRIDE=None)


class SearchView(APIView):
    content_negotiation_class = FormatIsAFilter

    @extend_schema(
        operation_id="modelstore_search",
        parameters=[serializers.SearchQuerySerializer],
        responses={200: serializers.SearchResponseSerializer, 400: ERROR, 502: ERROR, 503: ERROR},
    )
    def get(self, request: HttpRequest) -> Response:
        query = validated(serializers.SearchQuerySerializer, request.query_params)
        filters = SearchFilters(
            query=query["query"],
            provider=query["provider"],
            params=query["params"],
            size=query["size"],
            format=query["format"],
            task=query["task"],
            license=query["license"],
            limit=query["limit"],
        )
        results = services.model_search(source=query["source"], filters=filters)
        body = {"query": query["query"], "source": query["source"], "count": len(results), "results": results}
        return Response(serializers.SearchResponseSerializer(body).data)


class ModelListView(APIView):
    @extend_schema(
        operation_id="modelstore_models_list",
        parameters=[serializers.ModelListQuerySerializer],
        responses=serializers.ModelListSerializer,
    )
    def get(self, request: HttpRequest) -> Response:
        query = validated(serializers.ModelListQuerySerializer, request.query_params)
        models = services.local_model_list(source=query["source"])
        return Response({"count": len(models), "models": serializers.LocalModelSerializer(models, many=True).data})


class ModelDetailView(APIView):
    @extend_schema(
        operation_id="modelstore_models_retrieve",
        parameters=[MODEL_ID_PARAMETER],
        responses={200: serializers.ModelDetailSerializer, 404: ERROR},
    )
    def get(self, request: HttpRequest, source: str, model_id: str) -> Response:
        found = services.model_describe(source=source, model_id=model_id)
        return Response(serializers.ModelDetailSerializer(found).data)

    @extend_schema(
        operation_id="modelstore_models_destroy",
        parameters=[MODEL_ID_PARAMETER],
        responses={200: serializers.ModelDeletedSerializer, 404: ERROR, 409: ERROR},
    )
    def delete(self, request: HttpRequest, source: str, model_id: str) -> Response:
        model = services.local_model_delete(source=source, model_id=model_id)
        deleted = {"deleted": True, "model_id": model.model_id, "source": model.source}
        return Response(serializers.ModelDeletedSerializer(deleted).data)


class DownloadView(APIView):
    @extend_schema(
        operation_id="modelstore_download",
        description="Download a model. Runs synchronously — set long client timeouts. Two requests for the "
        "same model share one download job; progress is at `/api/v1/jobs/?kind=modelstore.download`.",
        request=serializers.DownloadRequestSerializer,
        responses={
            200: serializers.DownloadResponseSerializer,
            400: ERROR,
            404: OpenApiResponse(ERROR, description="Model (or any file matching include_patterns) not found"),
            409: OpenApiResponse(ERROR, description="The download was cancelled while this request waited"),
            500: OpenApiResponse(ERROR, description="Download failed"),
            507: OpenApiResponse(ERROR, description="Not enough disk space"),
        },
    )
    def post(self, request: HttpRequest) -> Response:
        body = validated(serializers.DownloadRequestSerializer, request.data)
        start = services.download_start(
            model_id=body["model_id"],
            source=body["source"],
            include_patterns=body["include_patterns"],
            force=body["force"],
        )
        model = services.download_wait(start=start)
        return Response(serializers.DownloadResponseSerializer(services.download_payload(model)).data)


class StatusView(APIView):
    @extend_schema(operation_id="modelstore_status", responses=serializers.StatusSerializer)
    def get(self, request: HttpRequest) -> Response:
        return Response(serializers.StatusSerializer(services.store_status()).data)


class BodyCommandView(APIView):
    """A POST whose validated body is the keyword arguments of one service, answered with its result.
    Subclasses declare the four parts (the OpenAPI operation is made from them) and a docstring."""

    operation_id: str
    body_serializer: type[drf_serializers.Serializer]
    answer_serializer: type[drf_serializers.Serializer]
    service: Callable[..., dict]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        schema = extend_schema(
            operation_id=cls.operation_id, request=cls.body_serializer, responses=cls.answer_serializer
        )
        extend_schema_view(post=schema)(cls)

    def post(self, request: HttpRequest) -> Response:
        answer = type(self).service(**validated(self.body_serializer, request.data))
        return Response(self.answer_serializer(answer).data)


class CleanView(BodyCommandView):
    """Clean unused or all models."""

    operation_id = "modelstore_clean"
    body_serializer = serializers.CleanRequestSerializer
    answer_serializer = serializers.CleanResponseSerializer
    service = services.store_clean


class ExportView(BodyCommandView):
    """Export model list: `kitt` (paths) or `json` (full details)."""

    operation_id = "modelstore_export"
    body_serializer = serializers.ExportRequestSerializer
    answer_serializer = serializers.ExportResponseSerializer
    service = services.store_export


# --- models cache API --------------------------------------------------------------------------------


class CacheDownloadView(APIView):
    renderer_classes = [JSONRenderer, EventStreamRenderer]  # errors before the stream are JSON (core.sse)

    @extend_schema(
        operation_id="models_cache_download",
        description=(
            'Server-Sent Events, `data:` lines only: `{"event": "progress", "downloaded", "total", "percent", '
            '"speed_bps", "eta_s"}` as the download goes, then `{"event": "complete", "model_name", "path", '
            '"size_bytes"}` or `{"event": "error", "message"}`. Closing the stream does not stop the download.'
        ),
        request=serializers.CacheDownloadRequestSerializer,
        responses={(200, sse.MEDIA_TYPE): OpenApiTypes.STR, 400: ERROR, 404: ERROR, 507: ERROR},
    )
    def post(self, request: HttpRequest) -> HttpResponseBase:
        body = validated(serializers.CacheDownloadRequestSerializer, request.data)
        start = services.download_start(
            model_id=body["model_name"],
            source=services.provider_download_source(provider=body["provider"]),
            include_patterns=body["include_patterns"],
            quantization=body["quantization"],
            force=body["force"],
        )
        return sse_data_response(_cache_download_events(start), error_data=_cache_download_error)


def _cache_download_error(message: str) -> dict:
    """The models cache API's stream has `data:` lines without `event:` names, as its spec shows;
    a failure after the headers are sent still ends it with its error event."""
    return {"event": "error", "message": message}


async def _cache_download_events(start: services.DownloadStart) -> AsyncIterator[dict]:
    """progress… then complete (or error) of the download."""
    model_name = start.model_id
    if start.job is None:
        model = start.model
        yield {"event": "complete", "model_name": model_name, "path": model.path, "size_bytes": model.size_bytes}
        return
    async for event, job in jobs.job_event_stream(job_id=str(start.job.id)):
        progress = job["progress"]
        if event in ("state", "progress") and progress.get("total"):
            total, done = progress["total"], progress.get("current") or 0
            download = downloads.download_progress(progress)
            yield {
                "event": "progress",
                "downloaded": done,
                "total": total,
                "percent": int(100 * done / total),
                "speed_bps": download["speed_bps"],
                "eta_s": download["eta_s"],
            }
        elif event == "complete":
            result = job["result"] or {}
            yield {
                "event": "complete",
                "model_name": model_name,
                "path": result.get("path"),
                "size_bytes": result.get("size_bytes"),
            }
        elif event == "cancelled":
            yield {"event": "error", "message": services.download_cancelled_message(start=start)}
        elif event == "error":
            yield {"event": "error", "message": job["error"] or "download failed"}


class ValidateDownloadView(APIView):
    @extend_schema(
        operation_id="models_cache_validate_download",
        request=serializers.ValidateDownloadRequestSerializer,
        responses={200: serializers.ValidateDownloadSerializer, 400: ERROR, 404: ERROR},
    )
    def post(self, request: HttpRequest) -> Response:
        body = validated(serializers.ValidateDownloadRequestSerializer, request.data)
        check = services.download_validate(
            model_id=body["model_name"],
            source=services.provider_download_source(provider=body["provider"]),
            include_patterns=body["include_patterns"],
        )
        return Response(serializers.ValidateDownloadSerializer(check).data)


class QuantizationsView(APIView):
    @extend_schema(
        operation_id="models_cache_quantizations",
        parameters=[MODEL_ID_PARAMETER],
        responses={200: serializers.QuantizationsSerializer, 404: ERROR},
    )
    def get(self, request: HttpRequest, model_id: str) -> Response:
        options = {"options": services.quantizations_list(model_id=model_id)}
        return Response(serializers.QuantizationsSerializer(options).data)
