"""HTTP views of the spec's ML section: validate, call one service, answer its body.

Fit, predict, score, detect and load run as jobs on a worker (`apps.ml.services`): the request
waits for the job; 202 with its `job_id` when no worker is running (it stays queued) or when it
outlasts MODELYARD_ML_WAIT_S (it goes on).
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.schema import DetailErrorSerializer, ValidationErrorSerializer
from apps.core.validation import validated
from apps.ml import services
from apps.ml.api import serializers as s

ERROR = DetailErrorSerializer
INVALID = OpenApiResponse(ValidationErrorSerializer, description="Invalid fields, each with its path")
ACCEPTED = OpenApiResponse(
    s.JobAcceptedSerializer,
    description="Queued (no worker is running) or still running after MODELYARD_ML_WAIT_S: "
    "follow /api/v1/jobs/{job_id}",
)
CANCELLED = OpenApiResponse(DetailErrorSerializer, description="The job was cancelled")
TAMPERED = OpenApiResponse(DetailErrorSerializer, description="The saved model's files fail their checksums")


def job_errors(**extra: object) -> dict:
    return {202: ACCEPTED, 400: ERROR, 404: ERROR, 409: TAMPERED, 422: INVALID, 500: ERROR, 503: CANCELLED, **extra}


# --- classifiers -------------------------------------------------------------------------------------


class ClassifierFitView(APIView):
    @extend_schema(
        operation_id="ml_classifier_fit",
        summary="Train custom text classifier (SetFit few-shot)",
        description="Trains on a worker and answers when done; the model is saved as "
        "`model_YYYYMMDD_HHMMSS` (or `model` with `overwrite`). A client that gives up does not stop it.",
        request=s.ClassifierFitRequestSerializer,
        responses={200: s.ClassifierFitResultSerializer, **job_errors()},
    )
    def post(self, request: Request) -> Response:
        body = validated(s.ClassifierFitRequestSerializer, request.data)
        return Response(
            s.ClassifierFitResultSerializer(
                services.classifier_fit(
                    model=body["model"],
                    training_data=body["training_data"],
                    base_model=body["base_model"],
                    num_iterations=body["num_iterations"],
                    batch_size=body["batch_size"],
                    overwrite=body["overwrite"],
                )
            ).data
        )


class ClassifierPredictView(APIView):
    @extend_schema(
        operation_id="ml_classifier_predict",
        summary="Classify texts using trained model",
        request=s.ClassifierPredictRequestSerializer,
        responses={200: s.ClassifierPredictResponseSerializer, **job_errors()},
    )
    def post(self, request: Request) -> Response:
        body = validated(s.ClassifierPredictRequestSerializer, request.data)
        return Response(services.classifier_predict(model=body["model"], texts=body["texts"]))


class ClassifierSaveView(APIView):
    @extend_schema(
        operation_id="ml_classifier_save",
        summary="Save trained classifier to disk",
        description="Fits save automatically; this confirms the model is saved and records `description`.",
        request=s.ClassifierSaveRequestSerializer,
        responses={200: s.SaveResultSerializer, 400: ERROR, 404: ERROR, 422: INVALID},
    )
    def post(self, request: Request) -> Response:
        body = validated(s.ClassifierSaveRequestSerializer, request.data)
        return Response(services.classifier_save(model=body["model"], description=body.get("description")))


class ClassifierLoadView(APIView):
    @extend_schema(
        operation_id="ml_classifier_load",
        summary="Load classifier from disk",
        request=s.LoadRequestSerializer,
        responses={200: s.LoadResultSerializer, **job_errors()},
    )
    def post(self, request: Request) -> Response:
        body = validated(s.LoadRequestSerializer, request.data)
        return Response(services.classifier_load(model=body["model"]))


class ClassifierModelsView(APIView):
    @extend_schema(
        operation_id="ml_classifier_models_list",
        summary="List saved classifiers",
        responses={200: s.ClassifierListSerializer},
    )
    def get(self, request: Request) -> Response:
        return Response({"object": "list", "data": services.classifier_list()})


class ClassifierModelDeleteView(APIView):
    @extend_schema(
        operation_id="ml_classifier_model_delete",
        summary="Delete saved classifier",
        parameters=[
            OpenApiParameter(
                "model_name",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                description="The classifier's folder name, as listed (e.g. intent-classifier_20251215_155054).",
            )
        ],
        responses={200: s.DeleteResultSerializer, 400: ERROR, 404: ERROR, 409: ERROR},
    )
    def delete(self, request: Request, model_name: str) -> Response:
        return Response(services.classifier_delete(name=model_name))


# --- anomaly detection -------------------------------------------------------------------------------


class AnomalyFitView(APIView):
    @extend_schema(
        operation_id="ml_anomaly_fit",
        summary="Train anomaly detector",
        request=s.AnomalyFitRequestSerializer,
        responses={200: s.AnomalyFitResultSerializer, **job_errors()},
    )
    def post(self, request: Request) -> Response:
        body = validated(s.AnomalyFitRequestSerializer, request.data)
        return Response(
            s.AnomalyFitResultSerializer(
                services.anomaly_fit(
                    model=body["model"],
                    backend=body["backend"],
                    data=body["data"],
                    schema=body.get("schema"),
                    contamination=body["contamination"],
                    normalization=body["normalization"],
                    overwrite=body["overwrite"],
                )
            ).data
        )


def _score(request: Request, *, only_anomalies: bool) -> Response:
    body = validated(s.AnomalyScoreRequestSerializer, request.data)
    return Response(
        services.anomaly_score(
            model=body["model"],
            data=body["data"],
            backend=body.get("backend"),
            threshold=body.get("threshold"),
            normalization=body.get("normalization"),
            only_anomalies=only_anomalies,
        )
    )


class AnomalyScoreView(APIView):
    @extend_schema(
        operation_id="ml_anomaly_score",
        summary="Score data points for anomalies",
        description="Every point's score (higher = more anomalous), `is_anomaly` (score ≥ threshold) and raw score.",
        request=s.AnomalyScoreRequestSerializer,
        responses={200: s.AnomalyScoreResponseSerializer, **job_errors()},
    )
    def post(self, request: Request) -> Response:
        return _score(request, only_anomalies=False)


class AnomalyDetectView(APIView):
    @extend_schema(
        operation_id="ml_anomaly_detect",
        summary="Detect anomalies (returns only anomalous points)",
        request=s.AnomalyScoreRequestSerializer,
        responses={200: s.AnomalyDetectResponseSerializer, **job_errors()},
    )
    def post(self, request: Request) -> Response:
        return _score(request, only_anomalies=True)


class AnomalySaveView(APIView):
    @extend_schema(
        operation_id="ml_anomaly_save",
        summary="Save trained anomaly model",
        description="Fits save automatically; this confirms the model is saved and records `description`.",
        request=s.AnomalySaveRequestSerializer,
        responses={200: s.SaveResultSerializer, 400: ERROR, 404: ERROR, 422: INVALID},
    )
    def post(self, request: Request) -> Response:
        body = validated(s.AnomalySaveRequestSerializer, request.data)
        return Response(
            services.anomaly_save(model=body["model"], backend=body.get("backend"), description=body.get("description"))
        )


class AnomalyLoadView(APIView):
    @extend_schema(
        operation_id="ml_anomaly_load",
        summary="Load anomaly model from disk",
        request=s.AnomalyLoadRequestSerializer,
        responses={200: s.LoadResultSerializer, **job_errors()},
    )
    def post(self, request: Request) -> Response:
        body = validated(s.AnomalyLoadRequestSerializer, request.data)
        return Response(services.anomaly_load(model=body["model"], backend=body.get("backend")))


class AnomalyModelsView(APIView):
    @extend_schema(
        operation_id="ml_anomaly_models_list",
        summary="List saved anomaly models",
        responses={200: s.AnomalyListSerializer},
    )
    def get(self, request: Request) -> Response:
        return Response({"object": "list", "data": services.anomaly_list()})


class AnomalyModelDeleteView(APIView):
    @extend_schema(
        operation_id="ml_anomaly_model_delete",
        summary="Delete saved anomaly model",
        description="`filename` as listed (`name_backend.pkl`), or the model's name.",
        parameters=[
            OpenApiParameter(
                "filename",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                description="The detector's file as listed "
                "(e.g. sensor-detector_20251215_160000_isolation_forest.pkl), or the model's name.",
            )
        ],
        responses={200: s.DeleteResultSerializer, 400: ERROR, 404: ERROR, 409: ERROR},
    )
    def delete(self, request: Request, filename: str) -> Response:
        return Response(services.anomaly_delete(filename=filename))
