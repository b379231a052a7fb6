"""The forecast surface (port 11435): specs/forecast-api.txt, `{"error": …}` bodies, 400 for
invalid input. Each view validates with its serializer, calls one service and renders the result."""

from typing import Any

from django.http import HttpRequest
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.schema import ErrorSerializer, ModelyardAutoSchema
from apps.core.validation import validated
from apps.forecasting import services
from apps.forecasting.api import serializers as s

ERROR_MEANINGS = {
    400: "Invalid input, with the reason",
    404: "Unknown or not pulled model (with the command that pulls it)",
    409: "Conflicts with a running or installed model",
    500: "The model failed (the library's reason, never a traceback)",
    503: "The model runtime is busy or the model does not fit in memory now",
    507: "Not enough disk for the download",
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """The `{"error": …}` responses of an operation, by status code (the shared ones, 401, 413 and
    the database's 503, are added by `ModelyardAutoSchema`)."""
    return {code: OpenApiResponse(ErrorSerializer, description=ERROR_MEANINGS[code]) for code in codes}


class BodyOnDeleteSchema(ModelyardAutoSchema):
    """The schema of a DELETE that takes a JSON body (the spec's `DELETE /api/delete {"model"}`):
    drf-spectacular documents request bodies for POST, PUT and PATCH only."""

    def _get_request_body(self, direction: str = "request") -> Any:
        if self.method != "DELETE":
            return super()._get_request_body(direction)
        self.method = "POST"
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = "DELETE"


class ForecastView(APIView):
    @extend_schema(
        operation_id="forecast",
        summary="Run a time series forecast",
        description=(
            "`input` is one array per variate; `prediction_length` defaults to 1; each `future_exogenous` array "
            "is `prediction_length` long. Beyond the spec: `past_exogenous`, `quantiles`, `season_length` "
            "(baselines) and `warnings` (covariates dropped or used without history, horizons unrolled)."
        ),
        request=s.ForecastSerializer,
        responses={200: s.ForecastResponseSerializer, **errors(400, 404, 500, 503)},
    )
    def post(self, request: HttpRequest) -> Response:
        data = validated(s.ForecastSerializer, request.data)
        forecast = services.forecast_request_build(
            input=data["input"],
            prediction_length=data["prediction_length"],
            future_exogenous=data.get("future_exogenous"),
            past_exogenous=data.get("past_exogenous"),
            quantiles=data.get("quantiles"),
        )
        result = services.forecast_series(
            model=data["model"], request=forecast, season_length=data.get("season_length")
        )
        body = {
            "model": data["model"],
            "mean": result.output.mean.tolist(),
            "inference_time_ms": result.inference_time_ms,
        }
        if forecast.quantile_levels:
            # Keyed by the level as the client wrote it (0.123456789, not a rounded "0.123457").
            body["quantiles"] = {
                repr(float(level)): values.tolist() for level, values in result.output.quantiles.items()
            }
        if result.output.warnings:
            body["warnings"] = result.output.warnings
        return Response(body)


class TagsView(APIView):
    @extend_schema(
        operation_id="tags",
        summary="List models ready to use",
        description="Pulled and fine-tuned models whose files are in the store, then the statistical baselines "
        "(architecture `statistical`, size 0), which need no download.",
        responses={200: s.TagsSerializer},
    )
    def get(self, request: HttpRequest) -> Response:
        models = [
            {key: row[key] for key in ("name", "architecture", "size_bytes")} for row in services.installed_list()
        ]
        return Response({"models": models})


class PullView(APIView):
    @extend_schema(
        operation_id="pull",
        summary="Download a model from the registry in the background",
        description=(
            "No flags: the registry's default version, its smallest parameter count, f16 when available else f32. "
            'The older `{"model", "variant"}` form resolves through the legacy variants block. Progress: '
            "`job_id` (beyond the spec) on the platform's jobs stream, `/api/v1/jobs/<job_id>/events`. A "
            "statistical baseline is a 400: it has nothing to pull."
        ),
        request=s.PullSerializer,
        responses={200: s.PullStartedSerializer, **errors(400, 404, 507)},
    )
    def post(self, request: HttpRequest) -> Response:
        data = validated(s.PullSerializer, request.data)
        installed = services.model_pull(**data)
        job_id = str(installed.job_id) if installed.job_id else None
        return Response({"status": "started", "model": installed.name, "job_id": job_id})


class ShowView(APIView):
    @extend_schema(
        operation_id="show",
        summary="Metadata of a model",
        request=s.ModelNameSerializer,
        responses={200: s.ShowSerializer, **errors(400, 404)},
    )
    def post(self, request: HttpRequest) -> Response:
        return Response(services.installed_show(name=validated(s.ModelNameSerializer, request.data)["model"]))


class DeleteView(APIView):
    schema = BodyOnDeleteSchema()

    @extend_schema(
        operation_id="delete",
        summary="Remove a downloaded model from disk",
        description="A statistical baseline is a 400: it has no files.",
        request=s.ModelNameSerializer,
        responses={200: s.StatusModelSerializer, **errors(400, 404)},
    )
    def delete(self, request: HttpRequest) -> Response:
        name = validated(s.ModelNameSerializer, request.data)["model"]
        services.installed_delete(name=name)
        return Response({"status": "deleted", "model": name})


class FinetuneView(APIView):
    @extend_schema(
        operation_id="finetune",
        summary="Start a fine-tuning job",
        description=(
            "Chronos-2 bases only (`base_model`, default chronos2, must be pulled). `data_path` must be in "
            "MODELYARD_FORECAST_DATA_DIRS; the CSV is checked before the job starts. The result is listed by "
            "/api/tags as `output_model`. 409 while another fine-tune to the same `output_model` runs, or when a "
            "model of that name is installed and `overwrite` is not true."
        ),
        request=s.FinetuneSerializer,
        responses={200: s.FinetuneStartedSerializer, **errors(400, 404, 409)},
    )
    def post(self, request: HttpRequest) -> Response:
        finetune = services.finetune_start(**validated(s.FinetuneSerializer, request.data))
        return Response({"job_id": finetune.public_id, "status": "running"})


class FinetuneStatusView(APIView):
    @extend_schema(
        operation_id="finetune_status",
        summary="Check a fine-tuning job",
        parameters=[s.FinetuneStatusQuerySerializer],
        responses={200: s.FinetuneStatusSerializer, **errors(400, 404)},
    )
    def get(self, request: HttpRequest) -> Response:
        job_id = validated(s.FinetuneStatusQuerySerializer, request.query_params)["id"]
        return Response(services.finetune_status(job_id=job_id))


class EvaluateView(APIView):
    @extend_schema(
        operation_id="evaluate",
        summary="Backtest a model against seasonal naive",
        description=(
            "Beyond the spec: rolling-origin backtest over the last `windows` windows of `prediction_length` "
            "steps of `input` (`windows` default 1); MASE and WQL of the model and of seasonal naive, per window "
            "and overall, and their ratio (`relative`: below 1 the model is better). One `season_length` serves "
            "seasonal naive, MASE's scale and a baseline model; absent, it is inferred once from the history "
            "before the first window and `warnings` says which."
        ),
        request=s.EvaluateSerializer,
        responses={200: s.EvaluateResponseSerializer, **errors(400, 404, 500, 503)},
    )
    def post(self, request: HttpRequest) -> Response:
        return Response(services.model_evaluate(**validated(s.EvaluateSerializer, request.data)))
