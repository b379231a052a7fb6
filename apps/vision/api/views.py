"""HTTP views of the spec's Vision section (`{"detail": …}` errors): multipart in, one service call."""

from django.http import HttpRequest
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.schema import DetailErrorSerializer, ValidationErrorSerializer
from apps.core.validation import validated
from apps.vision import services
from apps.vision.api import serializers as s
from apps.vision.inputs import VisionInput, inputs_from_request

ERRORS = {
    400: OpenApiResponse(DetailErrorSerializer, description="No input, bad base64, unreadable document, bad option"),
    413: OpenApiResponse(DetailErrorSerializer, description="Past MODELYARD_VISION_MAX_PAGES or _MAX_PIXELS"),
    422: OpenApiResponse(ValidationErrorSerializer, description="A field of the wrong type"),
    503: OpenApiResponse(DetailErrorSerializer, description="No worker finished it in time"),
}


def _inputs(fields: dict) -> list[VisionInput]:
    upload = fields.get("file")
    return inputs_from_request(
        file_name=upload.name if upload is not None else None,
        file_data=upload.read() if upload is not None else None,
        images=fields.get("images"),
    )


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


class OcrView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="extract_text",
        summary="OCR text extraction",
        description="Text of each page image of an uploaded PDF or image (`file`) or of base64 images (`images`): "
        "one item per page. Runs on a worker; the call waits for it.",
        request={"multipart/form-data": s.OcrRequestSerializer},
        responses={200: s.OcrResponseSerializer, **ERRORS},
    )
    def post(self, request: HttpRequest) -> Response:
        fields = validated(s.OcrRequestSerializer, request.data)
        body = services.ocr_request(
            inputs=_inputs(fields),
            model=fields["model"],
            languages=_split(fields["languages"]) or ["en"],
            return_boxes=fields["return_boxes"],
        )
        return Response(s.OcrResponseSerializer(body).data)


class DocumentExtractView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="extract_from_documents",
        summary="Document extraction / VQA",
        description="Structured fields, answers or a document class from a Donut or LayoutLMv3 model of the model "
        "store (404 with how to pull it when it is not there). Runs on a worker; the call waits for it.",
        request={"multipart/form-data": s.ExtractionRequestSerializer},
        responses={200: s.DocumentResponseSerializer, 404: DetailErrorSerializer, **ERRORS},
    )
    def post(self, request: HttpRequest) -> Response:
        fields = validated(s.ExtractionRequestSerializer, request.data)
        body = services.extraction_request(
            inputs=_inputs(fields), model=fields["model"], prompts=_split(fields["prompts"]), task=fields["task"]
        )
        return Response(s.DocumentResponseSerializer(body).data)


@extend_schema_view(post=extend_schema(exclude=True))
class OcrSlashView(OcrView):
    """`/v1/vision/ocr/`: the same operation; the schema lists it once, without the slash."""


@extend_schema_view(post=extend_schema(exclude=True))
class DocumentExtractSlashView(DocumentExtractView):
    """`/v1/vision/documents/extract/`: the same operation, listed once in the schema."""
