"""The forecast surface (port 11435): specs/forecast-api.txt, `{"error": …}` bodies, 400 for
invalid input. Each view validates with its serializer, calls one service and renders the result."""

from django.http import HttpRequest
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.schema import ERROR_RESPONSE as ERROR
from apps.core.validation import validated
from apps.forecasting import services
from apps.forecasting.api import serializers as s


class ForecastView(APIView):
    @extend_schema(
        operation_id="forecast",
        summary="Run a time series forecast",
        description=(
            "`input` is one array per variate; `prediction_length` defaults to 1; each `future_exogenous` array "
            "is `prediction_length` long. Beyond the spec: `past_exogenous`, `quantiles`, `season_length` "
            "(baselines) and `warnings` (covariates dropped or used without history, horizons unrolled)."
        ),
        request=s.ForecastRequestSerializer,
        responses={200: s.ForecastResponseSerializer, "default": ERROR},
    )
    def post(self, request: HttpRequest) -> Response:
        data = validated(s.ForecastRequestSerializer, request.data)
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
            body["quantiles"] = {f"{level:g}": values.tolist() for level, values in result.output.quantiles.items()}
        if result.output.warnings:
            body["warnings"] = result.output.warnings
        return Response(body)


class TagsView(APIView):
    @extend_schema(
        operation_id="tags",
        summary="List models ready to use",
        description="Pulled and fine-tuned models whose files are in the store, then the statistical baselines "
        "(architecture `statistical`, size 0), which need no download.",
        responses={200: s.TagsSerializer, "default": ERROR},
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
            'The older `{"model", "variant"}` form resolves through the legacy variants block. Progress: the job '
            "on the platform's jobs stream."
        ),
        request=s.PullRequestSerializer,
        responses={200: s.StatusModelSerializer, "default": ERROR},
    )
    def post(self, request: HttpRequest) -> Response:
        data = validated(s.PullRequestSerializer, request.data)
        installed = services.model_pull(**data)
        return Response({"status": "started", "model": installed.name})


class ShowView(APIView):
    @extend_schema(
        operation_id="show",
        summary="Metadata of a model",
        request=s.ModelNameSerializer,
        responses={200: s.ShowSerializer, "default": ERROR},
    )
    def post(self, request: HttpRequest) -> Response:
        return Response(services.installed_show(name=validated(s.ModelNameSerializer, request.data)["model"]))


class DeleteView(APIView):
    @extend_schema(
        operation_id="delete",
        summary="Remove a downloaded model from disk",
        request=s.ModelNameSerializer,
        responses={200: s.StatusModelSerializer, "default": ERROR},
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
            "/api/tags as `output_model`."
        ),
        request=s.FinetuneRequestSerializer,
        responses={200: s.FinetuneStartedSerializer, "default": ERROR},
    )
    def post(self, request: HttpRequest) -> Response:
        finetune = services.finetune_start(**validated(s.FinetuneRequestSerializer, request.data))
        return Response({"job_id": finetune.public_id, "status": "running"})


class FinetuneStatusView(APIView):
    @extend_schema(
        operation_id="finetune_status",
        summary="Check a fine-tuning job",
        parameters=[s.FinetuneStatusQuerySerializer],
        responses={200: s.FinetuneStatusSerializer, "default": ERROR},
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
            "steps of `input`; MASE and WQL of the model and of seasonal naive (`season_length`, default 1), "
            "per window and overall, and their ratio (`relative`: below 1 the model is better)."
        ),
        request=s.EvaluateRequestSerializer,
        responses={200: s.EvaluateResponseSerializer, "default": ERROR},
    )
    def post(self, request: HttpRequest) -> Response:
        return Response(services.model_evaluate(**validated(s.EvaluateRequestSerializer, request.data)))
